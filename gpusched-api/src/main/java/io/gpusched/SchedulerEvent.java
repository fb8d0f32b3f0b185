package io.gpusched;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Something that happened in a scheduler. Every job and node transition produces one.
 *
 * <p>Java 17 callers dispatch with {@code instanceof}; all types are immutable records.
 */
public sealed interface SchedulerEvent {

  /** Returns when it happened, by the scheduler's clock. */
  Instant at();

  /** An event about one job. */
  sealed interface JobEvent extends SchedulerEvent {
    /** Returns the job id. */
    String jobId();

    /** Returns the job's queue. */
    String queue();
  }

  /**
   * A job entered its queue.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param priority its priority
   */
  record JobSubmitted(Instant at, String jobId, String queue, int priority) implements JobEvent {}

  /**
   * A job started (PENDING → RUNNING).
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param attempt 1 for the first run, more after requeues
   * @param gpus the GPUs (and MIG slots or shares) it got, all gang members
   * @param waited time since it was (re)queued
   */
  record JobStarted(
      Instant at, String jobId, String queue, int attempt, List<AllocatedGpu> gpus, Duration waited)
      implements JobEvent {
    /** Copies the GPU list. */
    public JobStarted {
      gpus = List.copyOf(gpus);
    }
  }

  /**
   * A job completed.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param runTime duration of the last run
   * @param cost total cost of all its runs
   */
  record JobCompleted(Instant at, String jobId, String queue, Duration runTime, double cost)
      implements JobEvent {}

  /**
   * A job failed.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param reason what the host or the scheduler said
   */
  record JobFailed(Instant at, String jobId, String queue, String reason) implements JobEvent {}

  /**
   * A job was cancelled.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param from the state it was cancelled in
   */
  record JobCancelled(Instant at, String jobId, String queue, JobState from)
      implements JobEvent {}

  /**
   * A running job was asked to stop (RUNNING → PREEMPTING).
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param reason why
   * @param deadline when its GPUs are released at the latest
   * @param forJobId the job the capacity is for, if any
   */
  record PreemptionRequested(
      Instant at,
      String jobId,
      String queue,
      StopReason reason,
      Instant deadline,
      @Nullable String forJobId)
      implements JobEvent {}

  /**
   * A job lost its GPUs to preemption, node drain, node loss or idle reclaim.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param reason why
   * @param lostRunTime run time since its last checkpoint, or since it started if it gave none
   * @param requeued whether it goes back to PENDING (a {@link JobRequeued} follows)
   */
  record JobPreempted(
      Instant at,
      String jobId,
      String queue,
      StopReason reason,
      Duration lostRunTime,
      boolean requeued)
      implements JobEvent {}

  /**
   * A preempted job is pending again with the same id.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param attempts runs so far
   * @param checkpointRef the last checkpoint the host recorded, if any
   */
  record JobRequeued(
      Instant at, String jobId, String queue, int attempts, @Nullable String checkpointRef)
      implements JobEvent {}

  /**
   * Telemetry shows all of a running job's GPUs idle for the idle window.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param idleSince since when its GPUs look idle
   * @param willReclaimAt when its GPUs are taken back if it stays idle, or {@code null} if the job
   *     is not reclaimable
   */
  record IdleDetected(
      Instant at, String jobId, String queue, Instant idleSince, @Nullable Instant willReclaimAt)
      implements JobEvent {}

  /**
   * An idle, reclaimable job lost its GPUs (it ends PREEMPTED, not requeued).
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   */
  record IdleReclaimed(Instant at, String jobId, String queue) implements JobEvent {}

  /**
   * A job's lease expired; its GPUs were released and it FAILED.
   *
   * @param at when
   * @param jobId job id
   * @param queue queue
   * @param lastHeartbeat the last renewal (or the start)
   */
  record LeaseExpired(Instant at, String jobId, String queue, Instant lastHeartbeat)
      implements JobEvent {}

  /**
   * A node changed state (cordon, drain, spot interruption, down, added).
   *
   * @param at when
   * @param nodeId node
   * @param from previous state, or {@code null} for a new node
   * @param to new state; {@link NodeState#DOWN} for a lost or removed node
   * @param reason a short explanation
   */
  record NodeStateChanged(
      Instant at, String nodeId, @Nullable NodeState from, NodeState to, String reason)
      implements SchedulerEvent {}
}
