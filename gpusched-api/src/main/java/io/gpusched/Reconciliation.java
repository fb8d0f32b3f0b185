package io.gpusched;

/**
 * What the host says of a running job that a scheduler recovered from its store after a restart
 * (see {@link JobLauncher#reconcile}).
 */
public enum Reconciliation {
  /**
   * The host still runs it: the job keeps its GPUs and stays RUNNING (or PREEMPTING, with its
   * stored deadline).
   */
  RUNNING,
  /**
   * The host does not run it (its process or node went away while the scheduler was down): its
   * GPUs are released at once and it is requeued like a job whose node was lost ({@link
   * StopReason#NODE_LOST}) if its spec requeues on preemption, otherwise it FAILS with the reason
   * "gone at recovery". A job that was PREEMPTING finishes its stop as its reason says.
   */
  GONE,
  /**
   * The host cannot tell now. The job keeps its GPUs and its state. With a lease ({@link
   * JobSpec#leaseTtl()}) the lease restarts at the recovery, so the job fails with {@link
   * StopReason#LEASE_EXPIRED} unless the host heartbeats within its TTL; without a lease the job
   * keeps its GPUs until the host reports on it, a user cancels it, or its time limit is reached.
   */
  UNKNOWN
}
