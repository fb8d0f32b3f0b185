package io.gpusched;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Job scheduler on top of a {@link GpuCluster}: queues with fair share and quotas, priorities,
 * gangs, backfill, preemption, idle reclaim, leases, node drain and cost.
 *
 * <p>Jobs start <b>in the call that freed the capacity</b>: {@link JobHandle#complete()}, a
 * release, a node addition or a submission runs the dispatcher on the calling thread unless another
 * thread is already dispatching, in which case that thread picks the work up before it returns. A
 * call that has been dispatching work other threads keep adding for more than about a millisecond
 * hands the rest to the scheduler's own thread (not with manual ticks), so no call is held
 * indefinitely. Job calls and placements never wait for another thread (no locks); dispatch decisions are
 * serialized. (With a durable store, calls wait for their change to be committed instead: see
 * below.) Node additions and removals ({@link #addNode}, {@link #nodeDown}) serialize among
 * themselves on a short node-management section, as the engine's node management does, so that
 * node calls take effect in the order they were made.
 *
 * <p>Time-based work (grace deadlines, leases, idle checks, time limits, drain deadlines) runs in
 * {@link #tick()}, which the scheduler's own timer calls periodically unless it was built for
 * manual ticking (simulations).
 *
 * <p><b>Durable state.</b> A scheduler built with a {@link io.gpusched.store.SchedulerStore} writes
 * every change ahead (see {@code docs/durability.md}): {@link #submit} returns after the job is
 * committed, a start is committed before {@link JobLauncher#start} and a stop before {@link
 * JobLauncher#stop}, and the host's reports, {@link #addNode} and {@link #nodeDown} return after
 * their change is committed. Concurrent callers and the changes of one dispatch round share a
 * commit. A store failure surfaces as {@link io.gpusched.store.StoreException}: a submission is
 * then not accepted; any other change stands in memory and is written by the next commit that
 * succeeds. Without a store nothing is written and nothing waits.
 *
 * <p>All methods are thread-safe. Methods throw {@link IllegalStateException} after {@link
 * #close()}, except read-only ones.
 *
 * <p>What the host's callbacks (launcher, listeners, placement observer, telemetry) throw never
 * stops the scheduler: it is logged, and a launcher's failure to start a job fails that job. The
 * one exception that reaches a caller is a {@link VirtualMachineError} (out of memory, stack
 * overflow) caught while dispatching: a call that ran the dispatcher rethrows it once that work is
 * done, and the scheduler stays usable.
 */
public interface GpuScheduler extends AutoCloseable {

  /**
   * Submits a job. It is PENDING on return, or already RUNNING if capacity was free.
   *
   * @param spec the job
   * @return its handle
   * @throws IllegalArgumentException if the queue is unknown or a job with the same id has not
   *     reached a final state (a final one's id may be reused at once; the new job replaces it in
   *     {@link #job(String)})
   * @throws IllegalStateException if the scheduler is closed
   * @throws io.gpusched.store.StoreException with a durable store, if the store could not commit
   *     the submission: the job is not accepted (not listed, never started, never written later)
   */
  JobHandle submit(JobSpec spec);

  /**
   * Finds a job by id: live jobs, and final ones while they are retained.
   *
   * @param id job id
   * @return the handle, or empty
   */
  Optional<JobHandle> job(String id);

  /** Returns the live (pending, running, preempting) jobs plus the retained final ones. */
  List<JobHandle> jobs();

  /** Returns the queues in configuration order. */
  List<QueueSpec> queues();

  /**
   * Adds a node; pending jobs may start on it in this call.
   *
   * @param node the node
   * @throws IllegalArgumentException if a node with that id exists
   */
  void addNode(NodeSpec node);

  /**
   * Cordons a node: running jobs stay, nothing new starts there.
   *
   * <p>With a durable store, returns once the change is committed (called from the scheduler's own
   * dispatching thread, such as from a launcher call, it returns at once and the change is
   * committed with the dispatch round that applies it).
   *
   * @param nodeId node id
   * @throws IllegalArgumentException if the node is unknown
   * @throws io.gpusched.store.StoreException with a durable store, if the commit failed (the change
   *     stands in memory and is written by the next commit that succeeds)
   */
  void cordon(String nodeId);

  /**
   * Returns a cordoned or draining node to READY.
   *
   * <p>With a durable store, returns once the change is committed (called from the scheduler's own
   * dispatching thread, such as from a launcher call, it returns at once and the change is
   * committed with the dispatch round that applies it).
   *
   * @param nodeId node id
   * @throws IllegalArgumentException if the node is unknown
   * @throws io.gpusched.store.StoreException with a durable store, if the commit failed (the change
   *     stands in memory and is written by the next commit that succeeds)
   */
  void uncordon(String nodeId);

  /**
   * Drains a node: nothing new starts there; each running job is asked to stop (grace = the
   * smaller of its grace period and {@code deadline}), then released and requeued.
   *
   * <p>With a durable store, returns once the change is committed (called from the scheduler's own
   * dispatching thread, such as from a launcher call, it returns at once and the change is
   * committed with the dispatch round that applies it).
   *
   * @param nodeId node id
   * @param deadline time from now until all its jobs are released (&ge; 0, at most {@link
   *     JobSpec#MAX_DURATION})
   * @throws IllegalArgumentException if the node is unknown or the deadline negative or longer
   *     than {@link JobSpec#MAX_DURATION}
   * @throws io.gpusched.store.StoreException with a durable store, if the commit failed (the change
   *     stands in memory and is written by the next commit that succeeds)
   */
  void drain(String nodeId, Duration deadline);

  /**
   * Handles a spot interruption notice: a drain that ends at {@code terminationTime}.
   *
   * <p>With a durable store, returns once the change is committed (called from the scheduler's own
   * dispatching thread, such as from a launcher call, it returns at once and the change is
   * committed with the dispatch round that applies it).
   *
   * @param nodeId node id
   * @param terminationTime when the provider takes the node away (a time already past drains at
   *     once)
   * @throws IllegalArgumentException if the node is unknown, or the termination time is more than
   *     {@link JobSpec#MAX_DURATION} from now or outside the millisecond range of the clock
   * @throws io.gpusched.store.StoreException with a durable store, if the commit failed (the change
   *     stands in memory and is written by the next commit that succeeds)
   */
  void spotInterruption(String nodeId, Instant terminationTime);

  /**
   * Marks a node lost: it is removed, its jobs are requeued at once (none is lost), and the host
   * gets {@link JobLauncher#stop} with {@link StopReason#NODE_LOST}. When this returns the node is
   * gone from the engine, its jobs are PENDING and its id is free: the node may be added back under
   * the same id straight away.
   *
   * @param nodeId node id
   * @throws IllegalArgumentException if the node is unknown
   */
  void nodeDown(String nodeId);

  /**
   * Confirms that a node is up: after a restart of a durable scheduler built with a node recovery
   * timeout ({@code GpuSchedulers.Builder.nodeRecoveryTimeout}), each node recovered from the store
   * must be confirmed within that time, or it is treated as lost ({@link #nodeDown}). Without such
   * a timeout, or for a node that needs no confirmation (confirmed already, or not recovered), it
   * does nothing. Lock-free.
   *
   * <p>The default implementation does nothing.
   *
   * @param nodeId node id
   * @throws IllegalArgumentException if the node is unknown (a node that was treated as lost is
   *     unknown: add it again with {@link #addNode})
   */
  default void confirmNode(String nodeId) {}

  /**
   * Registers a listener for all further events.
   *
   * @param listener the listener
   */
  void addListener(SchedulerListener listener);

  /**
   * Unregisters a listener.
   *
   * @param listener the listener
   * @return whether it was registered
   */
  boolean removeListener(SchedulerListener listener);

  /** Returns a snapshot of queues, jobs and the cluster. */
  SchedulerSnapshot snapshot();

  /** Returns the placement engine underneath (for snapshots; placing on it bypasses queues). */
  GpuCluster cluster();

  /**
   * Runs due time-based work now: grace deadlines, lease expiry, idle detection and reclaim, time
   * limits, fair-share decay; with a durable store also, on the calling thread, recovered nodes
   * not confirmed in time (removed as lost, see {@link #confirmNode}) and the pruning of old final
   * jobs from the store. Called by the scheduler's timer; simulations call it after advancing
   * their clock.
   */
  void tick();

  /** Returns whether {@link #close()} was called. */
  boolean isClosed();

  /**
   * Stops the timer and dispatching. Running jobs keep their allocations; further submissions
   * throw. Idempotent. Returns once work the timer thread had in progress is done (at most 30
   * seconds, then that thread is interrupted), so that nothing of this scheduler uses its store
   * afterwards; called on the timer thread itself (from a listener), it does not wait.
   */
  @Override
  void close();
}
