package io.gpusched.spring.boot;

import io.gpusched.AllocatedGpu;
import io.gpusched.DailyCost;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuUsage;
import io.gpusched.MigGeometry;
import io.gpusched.JobHandle;
import io.gpusched.JobState;
import io.gpusched.NodeUsage;
import io.gpusched.QueueStats;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.UsageSummary;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON-friendly views (maps, lists, strings and numbers only) of a scheduler's state, as the
 * actuator endpoint shows them; applications may serve the same from their own controllers.
 */
public final class SchedulerViews {
  private SchedulerViews() {}

  /**
   * The whole snapshot: time, capacity, jobs per state, queues, cost per UTC day and nodes.
   */
  public static Map<String, Object> snapshot(SchedulerSnapshot s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("at", s.at().toString());
    m.put("capacityGpus", s.capacityGpus());
    m.put("jobs", jobsByState(s.jobsByState()));
    m.put("queues", s.queues().stream().map(SchedulerViews::queue).toList());
    m.put("costByDay", s.costByDay().stream().map(SchedulerViews::dailyCost).toList());
    m.put("total", summary(s.cluster().total()));
    m.put("nodes", s.cluster().nodes().stream().map(SchedulerViews::node).toList());
    return m;
  }

  /** Every job state with its count, zeros included, in life-cycle order. */
  public static Map<String, Integer> jobsByState(Map<JobState, Integer> counts) {
    Map<JobState, Integer> all = new EnumMap<>(JobState.class);
    for (JobState st : JobState.values()) {
      all.put(st, counts.getOrDefault(st, 0));
    }
    Map<String, Integer> m = new LinkedHashMap<>();
    all.forEach((k, v) -> m.put(k.name(), v));
    return m;
  }

  /** One queue: configuration, counts (pending by reason too), usage vs entitlement, share and cost. */
  public static Map<String, Object> queue(QueueStats q) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", q.spec().name());
    m.put("weight", q.spec().weight());
    m.put("guaranteedGpus", q.spec().guaranteedGpus());
    m.put("pending", q.pendingJobs());
    Map<String, Integer> waiting = new LinkedHashMap<>();
    q.pendingByReason().entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(e -> waiting.put(e.getKey().name(), e.getValue()));
    m.put("pendingByReason", waiting);
    m.put("running", q.runningJobs());
    m.put("usedGpus", q.usedGpus());
    m.put("entitledGpus", q.entitledGpus());
    m.put("dominantShare", q.dominantShare());
    m.put("cost", q.cost());
    m.put("allowSpot", q.spec().allowSpot());
    return m;
  }

  /**
   * One queue as the database holds it (a follower's view, {@link
   * io.gpusched.store.SchedulerReplica#queues}): {@code name}, {@code weight}, {@code
   * guaranteedGpus}, {@code dominantShare}, {@code endedCost} (cost of its ended runs),
   * {@code decayedShare} (GPU model to decayed share of that model's capacity, sorted by model) and
   * {@code decayedAtMillis} (when the leader last decayed it, epoch milliseconds; -1 if never).
   */
  public static Map<String, Object> storedQueue(io.gpusched.store.StoredQueue q) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", q.spec().name());
    m.put("weight", q.spec().weight());
    m.put("guaranteedGpus", q.spec().guaranteedGpus());
    m.put("dominantShare", q.dominantShare());
    m.put("endedCost", q.endedCost());
    m.put("decayedShare", new java.util.TreeMap<>(q.decayedShare()));
    m.put("decayedAtMillis", q.decayedAtMillis());
    return m;
  }

  /**
   * One node as the database holds it (a follower's view, {@link
   * io.gpusched.store.SchedulerReplica#nodes}): {@code id}, {@code state}, {@code capacityClass},
   * {@code labels}, {@code gpus} (how many) and {@code addedAtRunTime}.
   */
  public static Map<String, Object> storedNode(io.gpusched.store.StoredNode n) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", n.spec().id());
    m.put("state", n.state().name());
    m.put("capacityClass", n.spec().capacityClass().name());
    m.put("labels", n.spec().labels());
    m.put("gpus", n.spec().gpus().size());
    m.put("addedAtRunTime", n.addedAtRunTime());
    return m;
  }

  /**
   * One UTC day's cost: {@code day} (ISO date, UTC), {@code total} and {@code byQueue} (queue name
   * to cost, sorted by name), in the currency of the nodes' {@code price-per-gpu-hour}.
   */
  public static Map<String, Object> dailyCost(DailyCost d) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("day", d.day().toString());
    m.put("total", d.total());
    m.put("byQueue", new java.util.TreeMap<>(d.byQueue()));
    return m;
  }

  /** One node: state, labels, totals and every GPU. */
  public static Map<String, Object> node(NodeUsage n) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", n.nodeId());
    m.put("state", n.state().name());
    m.put("capacityClass", n.capacityClass().name());
    m.put("labels", n.labels());
    m.put("allocations", n.allocations());
    m.put("summary", summary(n.summary()));
    m.put("gpus", n.gpus().stream().map(SchedulerViews::gpu).toList());
    return m;
  }

  /** One GPU: model, mode, and what is taken (MIG slice mask, milli-GPU). */
  public static Map<String, Object> gpu(GpuUsage g) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("index", g.index());
    m.put("model", g.model());
    m.put("mode", g.mode().name());
    m.put("free", g.free());
    m.put("migSlices", migSlices(g));
    m.put("migSlotMask", g.migSlotMask());
    m.put("migComputeUsed", g.migComputeUsed());
    m.put("milliUsed", g.milliUsed());
    m.put("memoryUsedMiB", g.memoryUsedMiB());
    m.put("allocatedMilli", g.allocatedMilli());
    return m;
  }

  /** Memory slices of a MIG GPU of a catalog model (for drawing its slots), else 0. */
  private static int migSlices(GpuUsage g) {
    if (g.mode() != GpuMode.MIG_DYNAMIC && g.mode() != GpuMode.MIG_STATIC) {
      return 0;
    }
    return GpuModels.byName(g.model())
        .map(GpuModel::mig)
        .map(MigGeometry::memorySlices)
        .orElse(MigGeometry.MAX_SLICES);
  }

  /** Totals of a set of GPUs. */
  public static Map<String, Object> summary(UsageSummary u) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("gpus", u.gpus());
    m.put("freeGpus", u.freeGpus());
    m.put("allocatedGpus", u.allocatedGpus());
    m.put("allocatedPercent", u.allocatedPercent());
    m.put("fragmentationPercent", u.fragmentationPercent());
    return m;
  }

  /** One job: spec essentials, state (and why it waits), times, where it runs and its cost. */
  public static Map<String, Object> job(JobHandle j) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", j.id());
    m.put("queue", j.spec().queue());
    m.put("priority", j.spec().priority());
    m.put("request", RequestText.of(j.spec().request(), j.allocations()));
    m.put("state", j.state().name());
    m.put("pendingReason", j.pendingReason().map(Enum::name).orElse(null));
    m.put("attempts", j.attempts());
    m.put("submittedAt", j.submittedAt().toString());
    m.put("startedAt", j.startedAt().map(Object::toString).orElse(null));
    m.put("endedAt", j.endedAt().map(Object::toString).orElse(null));
    m.put("endReason", j.endReason().orElse(null));
    List<Map<String, Object>> gpus = new ArrayList<>();
    j.allocations().forEach(a -> a.gpus().forEach(g -> gpus.add(allocated(g))));
    m.put("gpus", gpus);
    m.put("cost", j.cost());
    m.put("metadata", j.spec().metadata());
    return m;
  }

  /** One GPU (or MIG slice, or share) a job holds. */
  public static Map<String, Object> allocated(AllocatedGpu g) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("node", g.nodeId());
    m.put("gpu", g.gpuIndex());
    m.put("model", g.model());
    m.put("mode", g.mode().name());
    m.put("migProfile", g.migProfile());
    m.put("migStartSlot", g.migStartSlot());
    m.put("milliGpu", g.milliGpu());
    m.put("memoryMiB", g.memoryMiB());
    return m;
  }
}
