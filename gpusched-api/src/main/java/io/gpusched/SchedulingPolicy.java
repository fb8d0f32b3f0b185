package io.gpusched;

/** The order in which a scheduler considers pending jobs. */
public enum SchedulingPolicy {
  /** Submission order across all queues; weights, quotas and priorities are ignored for order. */
  FIFO,
  /** Priority (higher first) across all queues, then submission order. */
  PRIORITY,
  /**
   * Queues below their guaranteed quota first, then by weighted dominant share of recent usage
   * (decayed with the configured half-life); priority then submission order inside a queue.
   */
  FAIR_SHARE
}
