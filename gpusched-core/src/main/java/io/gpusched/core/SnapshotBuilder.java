package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.GpuCluster;
import io.gpusched.JobState;
import io.gpusched.NodeState;
import io.gpusched.NodeUsage;
import io.gpusched.PendingReason;
import io.gpusched.QueueStats;
import io.gpusched.SchedulerSnapshot;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Builds {@link SchedulerSnapshot}s: per-queue statistics (usage, entitlement, cost, why jobs
 * wait), job counts by state, idle GPUs by model, cost per UTC day ({@link CostDays}), and the
 * engine's own snapshot.
 *
 * <p>Owns nothing; it reads the volatile queue counters, the live and retained jobs and the
 * capacity total. Threads: any caller thread, concurrently with the dispatcher, so a snapshot is a
 * consistent view of each value it reads, not of all of them together.
 */
final class SnapshotBuilder {

  private final GpuCluster cluster;
  private final Capacity capacity;
  private final List<QueueState> queueList;
  private final JobBook book;
  private final CostDays costDays;

  SnapshotBuilder(
      GpuCluster cluster, Capacity capacity, List<QueueState> queueList, JobBook book, CostDays costDays) {
    this.cluster = cluster;
    this.costDays = costDays;
    this.capacity = capacity;
    this.queueList = queueList;
    this.book = book;
  }

  SchedulerSnapshot snapshot(long now) {
    ClusterSnapshot cs = drainsDone(cluster.snapshot());
    double cap = capacity.totalCap / 1000.0;
    // Weights are summed relative to the largest active one, so weights up to Double.MAX_VALUE
    // never make the sum infinite (and the split NaN).
    double maxWeight = 0;
    for (QueueState q : queueList) {
      if (q.pending > 0 || q.runningJobs > 0) {
        maxWeight = Math.max(maxWeight, q.spec.weight());
      }
    }
    double active = 0;
    for (QueueState q : queueList) {
      if (q.pending > 0 || q.runningJobs > 0) {
        active += q.spec.weight() / maxWeight;
      }
    }
    Map<String, Double> runningCost = new HashMap<>();
    List<CostDays.Running> runningRates = new ArrayList<>();
    Map<JobState, Integer> counts = new EnumMap<>(JobState.class);
    Map<QueueState, Map<PendingReason, Integer>> waiting = new HashMap<>();
    Map<String, String> idleGpuModel = new HashMap<>(); // GPU uuid → model, while all holders idle
    Set<String> busyGpus = new HashSet<>();
    var liveJobs = new ArrayList<>(book.live());
    for (Job j : liveJobs) {
      counts.merge(j.state(), 1, Integer::sum);
      j.pendingReason()
          .ifPresent(
              r -> waiting.computeIfAbsent(j.queue, k -> new EnumMap<>(PendingReason.class)).merge(r, 1, Integer::sum));
      if (j.state().holdsGpus()) {
        runningCost.merge(j.queue.spec.name(), j.cost() - j.accruedCost, Double::sum);
        long started = j.startedAtMillis;
        if (started >= 0) {
          runningRates.add(new CostDays.Running(j.queue.spec.name(), j.costPerMs, started));
        }
        boolean idle = j.idle;
        for (Allocation a : j.allocations()) {
          for (AllocatedGpu g : a.gpus()) {
            if (idle) {
              idleGpuModel.put(g.gpuUuid(), g.model());
            } else {
              busyGpus.add(g.gpuUuid());
            }
          }
        }
      }
    }
    Map<String, Integer> idleByModel = new TreeMap<>();
    idleGpuModel.forEach(
        (uuid, model) -> {
          if (!busyGpus.contains(uuid)) {
            idleByModel.merge(model, 1, Integer::sum);
          }
        });
    for (Job j : book.finishedNotLive(liveJobs)) {
      counts.merge(j.state(), 1, Integer::sum);
    }
    var stats = new ArrayList<QueueStats>();
    for (QueueState q : queueList) {
      boolean isActive = q.pending > 0 || q.runningJobs > 0;
      // an idle queue is still entitled to its guarantee: it gets it back as soon as it has work
      double entitled =
          isActive
              ? Math.min(cap, Math.max(q.spec.guaranteedGpus(), cap * (q.spec.weight() / maxWeight) / active))
              : Math.min(cap, q.spec.guaranteedGpus());
      stats.add(
          new QueueStats(
              q.spec,
              q.pending,
              q.runningJobs,
              q.usedMilli / 1000.0,
              entitled,
              q.dominantShare,
              q.endedCost + runningCost.getOrDefault(q.spec.name(), 0.0),
              waiting.getOrDefault(q, Map.of())));
    }
    return new SchedulerSnapshot(
        Instant.ofEpochMilli(now), stats, counts, cs, cap, idleByModel, costDays.report(now, runningRates));
  }

  /** A draining node with no allocation left reads DRAINED: its drain is done. */
  private static ClusterSnapshot drainsDone(ClusterSnapshot cs) {
    if (cs.nodes().stream().noneMatch(n -> n.state() == NodeState.DRAINING && n.allocations() == 0)) {
      return cs;
    }
    List<NodeUsage> nodes = new ArrayList<>(cs.nodes().size());
    for (NodeUsage n : cs.nodes()) {
      nodes.add(n.state() == NodeState.DRAINING && n.allocations() == 0
          ? new NodeUsage(n.nodeId(), NodeState.DRAINED, n.capacityClass(), n.labels(), n.gpus(), n.summary(), n.allocations())
          : n);
    }
    return new ClusterSnapshot(cs.takenAtNanos(), List.copyOf(nodes), cs.byModel(), cs.byLabel(), cs.total());
  }
}
