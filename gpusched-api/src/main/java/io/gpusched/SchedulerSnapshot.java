package io.gpusched;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A point-in-time view of a scheduler: queues, job counts and the cluster's usage.
 *
 * <p>Taken without stopping the scheduler, so counts from different parts may be a few operations
 * apart; each part is internally consistent. Immutable.
 *
 * @param at when it was taken
 * @param queues every queue, in configuration order
 * @param jobsByState number of known jobs per state (final jobs as long as they are retained)
 * @param cluster the placement engine's snapshot
 * @param capacityGpus total schedulable capacity of READY nodes in GPU-equivalents
 * @param idleGpusByModel per GPU model, the allocated GPUs on which every job holding a part is
 *     flagged idle by telemetry ({@link JobHandle#idle()}); models with none are absent, and the map
 *     is empty without telemetry
 * @param costByDay cost per UTC day and queue, oldest first, for the last {@link #COST_DAYS} days
 *     up to the day of {@code at} (days with no cost are absent). Kept in memory: after a restart
 *     from a durable store the history starts again, while {@link QueueStats#cost()} (the queues'
 *     totals) is restored
 */
public record SchedulerSnapshot(
    Instant at,
    List<QueueStats> queues,
    Map<JobState, Integer> jobsByState,
    ClusterSnapshot cluster,
    double capacityGpus,
    Map<String, Integer> idleGpusByModel,
    List<DailyCost> costByDay) {

  /** How many UTC days of cost {@link #costByDay()} covers, today included. */
  public static final int COST_DAYS = 31;

  /** A snapshot without per-day cost. */
  public SchedulerSnapshot(
      Instant at,
      List<QueueStats> queues,
      Map<JobState, Integer> jobsByState,
      ClusterSnapshot cluster,
      double capacityGpus,
      Map<String, Integer> idleGpusByModel) {
    this(at, queues, jobsByState, cluster, capacityGpus, idleGpusByModel, List.of());
  }

  /** Copies the collections. */
  public SchedulerSnapshot {
    queues = List.copyOf(queues);
    jobsByState = Map.copyOf(jobsByState);
    idleGpusByModel = Map.copyOf(idleGpusByModel);
    costByDay = List.copyOf(costByDay);
  }
}
