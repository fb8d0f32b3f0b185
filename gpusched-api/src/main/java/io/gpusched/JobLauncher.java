package io.gpusched;

import java.time.Instant;

/**
 * Service-provider interface through which the scheduler tells the host to start and stop the real
 * work. The host reports back through {@link JobHandle#complete()}, {@link JobHandle#fail(String)}
 * and {@link JobHandle#stopped()}.
 *
 * <p>Both methods are called on the scheduler's dispatching thread (often the thread that released
 * capacity), except {@code stop} for {@link StopReason#CANCELLED}, which runs on the thread that
 * called {@link JobHandle#cancel()}, before the GPUs are released. They <b>must not block</b>: hand
 * the work to your own executor. An exception thrown by {@code start} fails the job and releases
 * its GPUs. One thrown by {@code stop} is logged and the same {@code stop} is made again on the
 * dispatching thread by later ticks, 100 ms after the first throw, the wait doubling up to 30 s,
 * ten attempts in all; in durable mode the job's record keeps asking for the stop until one
 * returned, so a scheduler recovered after a crash (or after the attempts ran out) sends it again.
 * A {@code stop} may therefore come more than once for a run, also after the run ended: make it
 * idempotent. For one job, {@code stop} is always called before
 * the scheduler can give its GPUs to another job: for {@code CANCELLED} because it runs before the
 * release; for the reasons whose GPUs are released first (see {@link #stop}) because the release
 * and the call happen on the dispatching thread, before its next placement.
 *
 * <p><b>Order within a run.</b> For each run of a job, {@code stop} is called only after {@code
 * start} of that run returned (or threw), never before or during it; if the run ends before its
 * {@code start} was called (a cancel, a report or a node loss that came first), neither is called.
 * A stop that arrives while {@code start} is still running is made by the thread that called
 * {@code start}, right after it returns, and for a cancel the GPUs are released only then. (After
 * a crash, a stop that the store recorded as not yet delivered is sent again, possibly for a run
 * this host never started: ignore a stop of a job you do not know.)
 *
 * <p>With a durable store ({@code GpuSchedulers.Builder.store}), each call follows the commit of
 * the change it announces: {@code start} is called after the start is committed, {@code stop}
 * after the stop is. If that commit fails, the call waits for the next commit that succeeds and is
 * then made on the dispatching thread (for a cancel too). After a restart, {@link #reconcile} is
 * asked about each job the scheduler recovered as running.
 */
public interface JobLauncher {

  /**
   * Starts the job, whose {@link JobHandle#allocations()} say where.
   *
   * <p>The handle given here belongs to this run (attempt) of the job: report on it. Its {@code
   * complete}, {@code fail}, {@code cancel}, {@code stopped}, {@code heartbeat} and {@code
   * checkpoint} act only while this run is current, so a late report from the host of an earlier
   * run (for example on a node that was lost, after the job was requeued and started elsewhere)
   * cannot end the new run. The handle returned by {@code submit} acts on whichever run is
   * current.
   *
   * @param job this run of the job, in state RUNNING
   */
  void start(JobHandle job);

  /**
   * Asks the host to stop the job. When the GPUs are released depends on the reason:
   *
   * <ul>
   *   <li>{@link StopReason#PRIORITY}, {@link StopReason#QUOTA_RECLAIM}, {@link
   *       StopReason#NODE_DRAIN}, {@link StopReason#SPOT_INTERRUPTION}: the job is PREEMPTING and
   *       still holds its GPUs. Checkpoint (see {@link JobHandle#checkpoint(String)}) and stop
   *       before {@code deadline}, then call {@link JobHandle#stopped()}; at the deadline the
   *       scheduler releases the GPUs anyway. A drain of the node may call {@code stop} again
   *       with an earlier deadline.
   *   <li>{@link StopReason#CANCELLED}: called on the cancelling thread <em>before</em> the GPUs
   *       are released, with the deadline now; the release follows when this returns. If the
   *       {@code start} of the same run is still running, the call and the release are made by the
   *       starting thread when {@code start} returns.
   *   <li>{@link StopReason#NODE_LOST}, {@link StopReason#IDLE_RECLAIM}, {@link
   *       StopReason#LEASE_EXPIRED}, {@link StopReason#TIME_LIMIT}: the job has already left its
   *       GPUs (released, or gone with the node) and the deadline is now: stop the work at once.
   * </ul>
   *
   * <p>The default does nothing.
   *
   * @param job the job
   * @param reason why
   * @param deadline when the scheduler releases the GPUs
   */
  default void stop(JobHandle job, StopReason reason, Instant deadline) {}

  /**
   * Asks the host whether a job the scheduler recovered from its durable store as running (after
   * a restart or a crash) still runs. Called once per recovered running or preempting job, while
   * the scheduler is being built, on the building thread, before the builder returns and before
   * any {@link #start}; the job already holds exactly the GPUs it held before. See {@link
   * Reconciliation} for what each answer does. An exception counts as {@link
   * Reconciliation#UNKNOWN} (logged).
   *
   * <p>The default answers {@link Reconciliation#UNKNOWN}: a launcher that cannot tell never makes
   * the scheduler start a job twice, and a job with a lease is reclaimed when the lease runs out.
   *
   * @param job this run of the recovered job (report on it as on a handle given to {@link #start})
   * @return what the host knows of it; {@code null} counts as {@code UNKNOWN}
   */
  default Reconciliation reconcile(JobHandle job) {
    return Reconciliation.UNKNOWN;
  }

  /** A launcher that does nothing: the host drives jobs only through their handles. */
  JobLauncher NONE = job -> {};
}
