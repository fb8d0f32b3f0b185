package io.gpusched;

/** Why the scheduler stops a running job (see {@link JobLauncher#stop}). */
public enum StopReason {
  /** A user cancelled the job. */
  CANCELLED,
  /** A higher-priority job of the same queue needs the capacity. */
  PRIORITY,
  /** A queue below its guaranteed quota reclaims capacity this job's queue borrowed. */
  QUOTA_RECLAIM,
  /** The node is being drained. The job is requeued. */
  NODE_DRAIN,
  /** The node (spot capacity) received an interruption notice. The job is requeued. */
  SPOT_INTERRUPTION,
  /** The node went down or was lost. The job is requeued at once. */
  NODE_LOST,
  /** The job's GPUs were idle and the job was marked reclaimable. */
  IDLE_RECLAIM,
  /** The job ran past its time limit. */
  TIME_LIMIT,
  /** The job's lease was not renewed in time. */
  LEASE_EXPIRED;

  /** Returns whether a job stopped for this reason goes back to its queue regardless of its spec. */
  public boolean alwaysRequeues() {
    return this == NODE_DRAIN || this == SPOT_INTERRUPTION || this == NODE_LOST;
  }
}
