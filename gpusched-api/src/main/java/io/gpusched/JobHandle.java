package io.gpusched;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * A submitted job as the scheduler tracks it, and the host's way to report on it.
 *
 * <p><b>Thread-safety.</b> All methods may be called from any thread. State transitions are atomic
 * compare-and-set operations: of two racing transitions (say {@link #complete()} and {@link
 * #cancel()}) exactly one wins and the other returns {@code false}. Methods never block, except
 * with a durable store: then {@link #cancel()}, {@link #complete()}, {@link #fail(String)} and
 * {@link #stopped()} return after their change is committed, and throw {@link
 * io.gpusched.store.StoreException} if the commit failed (the change stands in memory and is
 * written by the next commit that succeeds; for a cancel, the launcher hears of it only then).
 * Heartbeats and checkpoints never wait: they are written with the job's next change.
 */
public interface JobHandle {

  /** Returns the job id. */
  String id();

  /** Returns the spec it was submitted with. */
  JobSpec spec();

  /** Returns the current state. */
  JobState state();

  /**
   * Returns the allocations held while {@linkplain JobState#holdsGpus() running}: one per gang
   * member; empty otherwise.
   */
  List<Allocation> allocations();

  /**
   * Returns why the job is waiting while it is {@link JobState#PENDING}, as of the latest dispatch
   * pass; empty in every other state. A hint for people and dashboards: it may be a pass behind the
   * state it describes.
   */
  Optional<PendingReason> pendingReason();

  /** Returns how many times the job was started (0 while it never ran). */
  int attempts();

  /** Returns the last checkpoint reference the host gave through {@link #checkpoint(String)}. */
  Optional<String> checkpointRef();

  /** Returns when it was first submitted. */
  Instant submittedAt();

  /** Returns when its current or last run started. */
  Optional<Instant> startedAt();

  /** Returns when it reached a final state. */
  Optional<Instant> endedAt();

  /** Returns why it failed, was cancelled or preempted, if it did. */
  Optional<String> endReason();

  /**
   * Returns the cost accrued so far over all its runs, in the currency of the nodes' {@link
   * NodeSpec#pricePerGpuHour()} (price × GPU-equivalents × hours; see {@link QueueSpec} for the
   * unit, in which a share counts the larger of its compute and memory fractions).
   */
  double cost();

  /** Returns whether telemetry currently shows all its GPUs idle (see {@link IdlePolicy}). */
  boolean idle();

  /**
   * Completes with the job's handle when the job first starts, or exceptionally with an {@link
   * IllegalStateException} if it reaches a final state without ever starting (cancelled while
   * pending, for example; the exception carries its message and no stack trace). Actions registered before completion run on the scheduler's event
   * executor. Each call returns a new future, so completing or cancelling it affects only the
   * caller.
   */
  CompletableFuture<JobHandle> whenStarted();

  /**
   * Completes with the final state once the job reaches one. Actions registered before
   * completion run on the scheduler's event executor. Each call returns a new future.
   */
  CompletableFuture<JobState> whenFinished();

  /**
   * Cancels the job: a pending one leaves its queue, a running one is told to stop ({@link
   * JobLauncher#stop} with {@link StopReason#CANCELLED}) and its GPUs are released at once. If
   * the launcher's {@code start} of the running job has not been called yet, it never is, and the
   * launcher is not told to stop either; if that {@code start} is still running, this call does not
   * wait for it: the stop and the release are made when it returns (see {@link JobLauncher}).
   *
   * @return whether this call cancelled it ({@code false} if it already was final)
   */
  boolean cancel();

  /**
   * Reports that the job finished successfully; its GPUs are released and the next job may start
   * in the same call.
   *
   * @return whether this call completed it ({@code false} unless running or preempting)
   */
  boolean complete();

  /**
   * Reports that the job failed; its GPUs are released.
   *
   * @param reason a short description (non-null)
   * @return whether this call failed it ({@code false} unless running or preempting)
   */
  boolean fail(String reason);

  /**
   * Acknowledges a stop request early (the job checkpointed and stopped before its grace deadline):
   * its GPUs are released now and it is requeued or preempted as it would be at the deadline.
   *
   * @return whether the job was preempting and this call stopped it
   */
  boolean stopped();

  /** Renews the job's lease, if its spec has one. No effect otherwise. */
  void heartbeat();

  /**
   * Records a checkpoint reference (a path, an object key) that travels with the job when it is
   * requeued.
   *
   * @param ref the reference (non-null)
   */
  void checkpoint(String ref);

  /**
   * The leadership epoch of the scheduler that holds this handle: with replicas on one database
   * ({@code io.gpusched.store.SchedulerReplica}), the epoch the leader won, which rises with each
   * failover; {@code 0} for a scheduler that is not a replica. Every launcher call is made by the
   * leader of this epoch, so a host can refuse a stale leader: remember the highest epoch seen and
   * ignore {@code start} and {@code stop} from a lower one (a deposed leader that woke from a long
   * pause). Constant for a handle.
   *
   * @return the epoch, {@code >= 0}
   */
  default long leaderEpoch() {
    return 0;
  }
}
