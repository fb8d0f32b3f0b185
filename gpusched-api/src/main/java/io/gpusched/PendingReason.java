package io.gpusched;

/**
 * Why a {@link JobState#PENDING} job has not started, as of the scheduler's latest dispatch pass
 * (the {@code Reason} column of a batch system's queue listing). See {@link
 * JobHandle#pendingReason()}.
 */
public enum PendingReason {
  /**
   * Jobs ahead of it go first: it waits behind an earlier job of the same request shape in its
   * queue, or the latest pass did not reach it (strict order without backfill stops at the first
   * job that cannot start), or no pass has considered it yet.
   */
  QUEUED,
  /** Considered in the latest pass: no capacity it may use is free now. */
  CAPACITY,
  /**
   * Considered in the latest pass: capacity it could use is held for another job, either the
   * reservation of an earlier blocked job (starting this one would delay it; backfill) or capacity
   * being freed by preemption for someone else.
   */
  RESERVED,
  /**
   * Considered in the latest pass: starting it would exceed its queue's borrow limit or a
   * per-model quota, or eat into capacity another queue does not lend.
   */
  QUOTA,
  /** Jobs are being preempted to make room for it; it starts when they have stopped. */
  PREEMPTION,
  /**
   * Considered in the latest pass, inside the scheduler's MIG stranding hold ({@code
   * GpuSchedulers.Builder.migStrandingHold}): it takes only a place that strands no compute
   * slice until its hold runs out, and none is free. Whether a place that strands compute is
   * free is not checked. It holds no reservation and preempts no one meanwhile.
   */
  STRANDING,
  /**
   * No node present could ever host it (for example more GPUs on one node than any node has, a
   * MIG profile or GPU model no node offers, or constraints no node meets). It starts only if a
   * suitable node is added.
   */
  UNSCHEDULABLE
}
