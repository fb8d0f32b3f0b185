package io.gpusched;

import java.util.Map;

/**
 * One queue's state in a {@link SchedulerSnapshot}. Capacity is in GPU-equivalents (see {@link
 * QueueSpec}).
 *
 * @param spec the queue's configuration
 * @param pendingJobs jobs waiting
 * @param runningJobs jobs holding GPUs (running or preempting)
 * @param usedGpus GPU-equivalents its running jobs hold
 * @param entitledGpus its fair share of the cluster now: capacity split by weight among the queues
 *     that have work, never less than its guarantee when it has work; a queue without work is
 *     entitled to its guarantee (capped by the capacity), which it gets back once it has work
 * @param dominantShare its weighted dominant share (running plus decayed recent usage, per GPU
 *     model) divided by its weight, the key fair-share ordering sorts by; 0 when idle, always
 *     finite (a weight so small that the quotient overflows reads {@code Double.MAX_VALUE})
 * @param cost cost accrued by its jobs, in the nodes' currency
 * @param pendingByReason its pending jobs counted by {@link JobHandle#pendingReason()}; reasons with
 *     none are absent
 */
public record QueueStats(
    QueueSpec spec,
    int pendingJobs,
    int runningJobs,
    double usedGpus,
    double entitledGpus,
    double dominantShare,
    double cost,
    Map<PendingReason, Integer> pendingByReason) {

  /** Copies the map. */
  public QueueStats {
    pendingByReason = Map.copyOf(pendingByReason);
  }
}
