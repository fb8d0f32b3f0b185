package io.gpusched.store;

import io.gpusched.GpuScheduler;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One of N scheduler replicas sharing one database, of which exactly one leads: it holds a lease
 * in the database, runs the {@link GpuScheduler} on the durable store and calls the launcher; the
 * others follow, accept {@link #submit} and {@link #cancel} into an inbox table that the leader
 * consumes, and read job states from the database. When the leader stops renewing its lease (it
 * died, hung, or lost the database), a follower takes over: it wins a higher epoch, loads the
 * state, reconciles the running jobs with the launcher and goes on. Every commit of a leader is
 * fenced by its epoch, so a deposed leader cannot write. See {@code docs/durability.md}.
 *
 * <p>Thread-safe. Calls do not wait for the leader: a follower's call returns when its inbox row
 * is committed.
 */
public interface SchedulerReplica extends AutoCloseable {

  /**
   * Submits a job. On the leader: as {@link GpuScheduler#submit}, returns after the job is
   * committed. On a follower: returns after the submission is committed to the inbox; the leader
   * queues it with its next poll (a job whose id is already live, or whose queue is unknown to the
   * leader, is then rejected there, and {@link #state} says so by returning empty).
   *
   * @param spec the job
   * @throws IllegalArgumentException if the job's queue is unknown here, or a job of that id is
   *     pending or running (as far as this replica can see); nothing written
   * @throws StoreException if the database is unreachable or the commit failed, or this replica
   *     lost its leadership during the call: the submission is not accepted; retry
   */
  void submit(JobSpec spec);

  /**
   * Cancels a job. On the leader: as {@link io.gpusched.JobHandle#cancel}. On a follower: returns
   * after the request is committed to the inbox; the leader cancels the job with its next poll
   * (nothing happens if it has ended by then).
   *
   * @param jobId the job
   * @return on the leader whether this call cancelled it; on a follower {@code true} if the job is
   *     pending or running as far as the database shows (the request was written), {@code false}
   *     if not (nothing written)
   * @throws StoreException if the database is unreachable or the commit failed; retry
   */
  boolean cancel(String jobId);

  /**
   * A job's state. On the leader: its state in memory now. On a follower: the state the leader
   * last committed (the leader commits each change before it tells anyone of it, so this lags the
   * leader by at most the change's commit), or {@code PENDING} for a submission still in the inbox.
   *
   * @param jobId the job
   * @return its state, or empty if no replica knows it (never submitted, or rejected by the leader)
   * @throws StoreException if a follower cannot reach the database
   */
  Optional<JobState> state(String jobId);

  /**
   * A job as the database shows it, on any replica (the leader too): what the leader last
   * committed of it, or a submission still waiting in the inbox ({@link CommittedJob#inInbox()}).
   * The leader commits each change before it tells anyone of it (the launcher, the caller), so this
   * lags the leader's memory by at most the group commit in progress; a follower's submission
   * shows as in the inbox for up to about one poll interval. One read transaction per call. For
   * the live handle use {@link #leader()} on the leader.
   *
   * @param jobId the job
   * @return the job, or empty if the database holds neither a record nor a waiting submission of it
   *     (never submitted, pruned, or rejected by the leader)
   * @throws StoreException if the database cannot be reached
   */
  Optional<CommittedJob> job(String jobId);

  /**
   * The pending jobs of a queue as the database shows them, on any replica: the committed PENDING
   * records in submission order, then the submissions to that queue still waiting in the inbox, in
   * the order they were taken; at most {@code limit}. Staleness as for {@link #job}. The order is
   * the order of submission, not the order the leader will start them in (priorities, fair share
   * and backfill decide that).
   *
   * @param queue the queue
   * @param limit the most jobs to return
   * @return the jobs, at most {@code limit}
   * @throws IllegalArgumentException if {@code limit} is not positive
   * @throws StoreException if the database cannot be reached
   */
  List<CommittedJob> pending(String queue, int limit);

  /**
   * How many jobs the database holds per state, on any replica, submissions waiting in the inbox
   * counted as {@link JobState#PENDING}; final jobs only until they are pruned. One read
   * transaction (a count over the job table). Staleness as for {@link #job}.
   *
   * @return jobs per state; states without jobs are absent
   * @throws StoreException if the database cannot be reached
   */
  Map<JobState, Long> jobCounts();

  /**
   * The queues as the database shows them, on any replica: each queue's spec with its decayed
   * usage per GPU model, the time it was last decayed ({@link StoredQueue#decayedAtMillis}, the
   * leader's clock, epoch milliseconds), its ended cost and its dominant share. The leader writes a
   * queue's record with the round that moved its usage, its start counter or its ended cost, and
   * about once a second (with its tick) while time alone decays it, so a follower's view of usage
   * is about a second old at most while a leader runs (the record's {@code decayedAtMillis} says
   * how old it is). One read transaction per call.
   *
   * @return the queues, in no particular order; empty before a leader first committed
   * @throws StoreException if the database cannot be reached, or a row cannot be read
   */
  List<StoredQueue> queues();

  /**
   * The nodes as the database shows them, on any replica: each node's spec and state (cordoned,
   * draining, down) as the leader last committed them, in the order the scheduler added them. The
   * leader commits a node's change before the call that made it returns, so a follower lags it by
   * at most the commit in progress. Nodes that exist only in a replica's configuration and no
   * leader has committed yet are absent. One read transaction per call.
   *
   * @return the nodes, in the order they were added
   * @throws StoreException if the database cannot be reached, or a row cannot be read
   */
  List<StoredNode> nodes();

  /**
   * Adds a listener of this replica's leadership. If this replica leads when it is added, it hears
   * {@link LeadershipListener#leading} at once (on the replica's work thread). Calls are made one
   * at a time, in order, on that thread.
   *
   * @param listener the listener
   * @throws IllegalStateException if this replica is closed
   */
  void addLeadershipListener(LeadershipListener listener);

  /**
   * Hears when a replica starts and stops leading (e.g. to bind and remove a scheduler's meters).
   * Called on the replica's work thread, one call at a time: a slow listener delays the replica's
   * inbox consumption and its next takeover. An exception it throws is logged and ignored.
   */
  interface LeadershipListener {
    /**
     * This replica leads: its scheduler is built (state loaded, running jobs reconciled, recovery
     * committed).
     *
     * @param scheduler the scheduler of this epoch (closed when leadership ends: do not keep it
     *     beyond {@link #stoppedLeading})
     * @param epoch the epoch
     */
    void leading(GpuScheduler scheduler, long epoch);

    /**
     * This replica stopped leading (deposed, or closed), just before its scheduler is closed.
     *
     * @param scheduler the scheduler of that epoch
     * @param epoch the epoch
     */
    void stoppedLeading(GpuScheduler scheduler, long epoch);
  }

  /** Returns this replica's role, epoch and store reachability now. */
  ReplicaStatus status();

  /**
   * Returns the scheduler while this replica leads (for reads, node management and the launcher's
   * reports), else empty. It is closed when leadership is lost: do not keep it.
   */
  Optional<GpuScheduler> leader();

  /**
   * Stops this replica: a leader closes its scheduler and releases its lease, so a follower takes
   * over at its next poll instead of waiting for the lease to run out.
   */
  @Override
  void close();
}
