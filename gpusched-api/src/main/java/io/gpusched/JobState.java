package io.gpusched;

/**
 * Life-cycle state of a scheduled job.
 *
 * <pre>
 * PENDING ──start──▶ RUNNING ──▶ COMPLETED | FAILED | CANCELLED
 *    ▲                  │
 *    │             PREEMPTING (stop callback, grace deadline)
 *    │                  ▼
 *    └──requeue──── PREEMPTED
 * </pre>
 *
 * <p>{@link #PREEMPTING} is the first phase of a preemption: the job still holds its GPUs and the
 * host was asked (through {@link JobLauncher#stop}) to checkpoint and stop before a deadline. A
 * preempted job whose spec allows it (always, for node drain and node loss) goes back to {@link
 * #PENDING} with the same id; otherwise {@link #PREEMPTED} is final.
 */
public enum JobState {
  /** Waiting in its queue for capacity. */
  PENDING,
  /** Holds its allocation; the launcher was told to start it. */
  RUNNING,
  /** Asked to stop before a grace deadline; still holds its allocation. */
  PREEMPTING,
  /** Finished successfully (reported by the host). Final. */
  COMPLETED,
  /** Failed (reported by the host, time limit, or lease expiry). Final. */
  FAILED,
  /** Cancelled by a user. Final. */
  CANCELLED,
  /** Preempted and not requeued. Final. */
  PREEMPTED;

  /** Returns whether no further transition can happen from this state. */
  public boolean isFinal() {
    return this == COMPLETED || this == FAILED || this == CANCELLED || this == PREEMPTED;
  }

  /** Returns whether a job in this state holds GPUs. */
  public boolean holdsGpus() {
    return this == RUNNING || this == PREEMPTING;
  }
}
