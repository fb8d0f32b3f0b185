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
 */
public record SchedulerSnapshot(
    Instant at,
    List<QueueStats> queues,
    Map<JobState, Integer> jobsByState,
    ClusterSnapshot cluster,
    double capacityGpus,
    Map<String, Integer> idleGpusByModel) {

  /** Copies the collections. */
  public SchedulerSnapshot {
    queues = List.copyOf(queues);
    jobsByState = Map.copyOf(jobsByState);
    idleGpusByModel = Map.copyOf(idleGpusByModel);
  }
}
