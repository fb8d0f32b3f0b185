package io.gpusched.store;

import io.gpusched.GpuScheduler;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
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
