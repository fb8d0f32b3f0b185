package io.gpusched.spring.boot;

import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuSpec;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.MigInstance;
import io.gpusched.ModelQuota;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementStrategy;
import io.gpusched.QueueSpec;
import io.gpusched.core.GpuSchedulers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;

/**
 * Turns {@link GpuSchedProperties} into a scheduler builder. Every value the core rejects becomes
 * an {@link InvalidConfigurationPropertyValueException} naming the property and its value, which
 * Spring Boot's failure analyzer prints at start-up.
 */
final class SchedulerFactory {
  private static final String P = "gpusched.";

  private SchedulerFactory() {}

  /** Applies everything but nodes, launcher, listeners and telemetry. */
  static void configure(GpuSchedulers.Builder b, GpuSchedProperties p) {
    b.strategy(check(P + "strategy", p.getStrategy(), () -> PlacementStrategy.named(p.getStrategy())));
    b.policy(p.getPolicy());
    b.backfill(p.isBackfill());
    b.preemption(p.getPreemption().isEnabled());
    Duration minRun = p.getPreemption().getMinRunTime();
    check(P + "preemption.min-run-time", minRun, () -> b.minRunTimeBeforePreemption(minRun));
    check(P + "fair-share-half-life", p.getFairShareHalfLife(),
        () -> b.fairShareHalfLife(p.getFairShareHalfLife()));
    check(P + "tick-interval", p.getTickInterval(), () -> b.tickInterval(p.getTickInterval()));
    check(P + "mig-stranding-hold", p.getMigStrandingHold(),
        () -> b.migStrandingHold(p.getMigStrandingHold()));
    check(P + "retain-finished-jobs", p.getRetainFinishedJobs(),
        () -> b.retainFinishedJobs(p.getRetainFinishedJobs()));
    GpuSchedProperties.Store st = p.getStore();
    check(P + "store.finished-job-retention", st.getFinishedJobRetention(),
        () -> b.finishedJobRetention(st.getFinishedJobRetention()));
    Duration nodeTimeout = st.getNodeRecoveryTimeout();
    if (nodeTimeout != null) {
      check(P + "store.node-recovery-timeout", nodeTimeout, () -> b.nodeRecoveryTimeout(nodeTimeout));
    }
    b.preferCheapest(p.isPreferCheapest());
    List<QueueSpec> queues = queues(p);
    for (QueueSpec q : queues) {
      b.queue(q);
    }
    String dq = p.getDefaultQueue();
    if (dq != null) {
      List<String> names = queues.isEmpty()
          ? List.of(io.gpusched.JobSpec.DEFAULT_QUEUE)
          : queues.stream().map(QueueSpec::name).toList();
      if (!names.contains(dq)) {
        throw new InvalidConfigurationPropertyValueException(
            P + "default-queue", dq, "not one of gpusched.queues: " + names);
      }
      b.defaultQueue(dq);
    }
    // gpusched.idle.* is checked whether or not idle detection is on: a wrong value waiting to
    // take effect the day it is switched on is still wrong
    idlePolicy(p.getIdle());
  }

  /**
   * Warns when a queue's guarantee exceeds the cluster's GPUs, or the guarantees together do:
   * legal (nodes may be added later) but not what anyone expects to start with.
   */
  static void warnAboutGuarantees(List<QueueSpec> queues, int clusterGpus, org.slf4j.Logger log) {
    double sum = 0;
    for (QueueSpec q : queues) {
      sum += q.guaranteedGpus();
      if (q.guaranteedGpus() > clusterGpus) {
        log.warn(
            "gpusched: queue {} is guaranteed {} GPU(s) but the cluster has {}; the guarantee"
                + " cannot be met until nodes are added",
            q.name(), number(q.guaranteedGpus()), clusterGpus);
      }
    }
    if (sum > clusterGpus && queues.size() > 1) {
      log.warn(
          "gpusched: the queues' guarantees add up to {} GPU(s), more than the cluster's {}; they"
              + " cannot all be met at once",
          number(sum), clusterGpus);
    }
  }

  private static String number(double v) {
    return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
  }

  /** Enables idle detection on {@code telemetry}. */
  static void idle(GpuSchedulers.Builder b, GpuSchedProperties.Idle idle, GpuTelemetry telemetry) {
    b.telemetry(telemetry, idlePolicy(idle));
    check(P + "idle.reclaim-grace", idle.getReclaimGrace(),
        () -> b.idleReclaimGrace(idle.getReclaimGrace()));
  }

  /** Returns the idle policy of {@code gpusched.idle.*}, validated. */
  static IdlePolicy idlePolicy(GpuSchedProperties.Idle idle) {
    String at = P + "idle.";
    check(at + "reclaim-grace", idle.getReclaimGrace(), () -> nonNegative(idle.getReclaimGrace()));
    return
        new IdlePolicy(
            check(at + "max-utilization-percent", idle.getMaxUtilizationPercent(),
                () -> inRange(idle.getMaxUtilizationPercent(), 0, 100)),
            check(at + "window", idle.getWindow(), () -> positive(idle.getWindow())),
            idle.isRequireNoProcesses(),
            check(at + "max-memory-used-mib-without-utilization",
                idle.getMaxMemoryUsedMibWithoutUtilization(),
                () -> nonNegative(idle.getMaxMemoryUsedMibWithoutUtilization())),
            check(at + "max-sample-age", idle.getMaxSampleAge(),
                () -> positive(idle.getMaxSampleAge())));
  }

  /** Returns the queues, validated. */
  static List<QueueSpec> queues(GpuSchedProperties p) {
    List<QueueSpec> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < p.getQueues().size(); i++) {
      GpuSchedProperties.Queue q = p.getQueues().get(i);
      String at = P + "queues[" + i + "].";
      String name = unique(seen, at + "name", q.getName());
      QueueSpec.Builder qb =
          QueueSpec.builder(name)
              .weight(check(at + "weight", q.getWeight(), () -> positive(q.getWeight())))
              .guaranteedGpus(
                  check(at + "guaranteed-gpus", q.getGuaranteedGpus(),
                      () -> nonNegative(q.getGuaranteedGpus())))
              .allowSpot(q.isAllowSpot());
      Double borrow = q.getBorrowLimitGpus();
      if (borrow != null) {
        qb.borrowLimitGpus(check(at + "borrow-limit-gpus", borrow, () -> nonNegative(borrow)));
      }
      Double lend = q.getLendLimitGpus();
      if (lend != null) {
        qb.lendLimitGpus(check(at + "lend-limit-gpus", lend, () -> nonNegative(lend)));
      }
      for (var e : q.getModelQuotas().entrySet()) {
        String mq = at + "model-quotas[" + e.getKey() + "]";
        // map keys may arrive lower-cased (relaxed binding): match model names ignoring case
        String model = check(mq, e.getKey(), () -> GpuModels.all().stream()
            .map(GpuModel::name)
            .filter(n -> n.equalsIgnoreCase(e.getKey()))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException("unknown GPU model; known: "
                + GpuModels.all().stream().map(GpuModel::name).toList())));
        GpuSchedProperties.Quota m = e.getValue();
        double g = check(mq + ".guaranteed-gpus", m.getGuaranteedGpus(),
            () -> nonNegative(m.getGuaranteedGpus()));
        Double b = m.getBorrowLimitGpus();
        Double l = m.getLendLimitGpus();
        qb.modelQuota(model, new ModelQuota(g,
            b == null ? Double.POSITIVE_INFINITY : check(mq + ".borrow-limit-gpus", b, () -> nonNegative(b)),
            l == null ? Double.POSITIVE_INFINITY : check(mq + ".lend-limit-gpus", l, () -> nonNegative(l))));
      }
      out.add(qb.build());
    }
    return out;
  }

  /** Returns the static nodes, validated. */
  static List<NodeSpec> nodes(GpuSchedProperties p) {
    List<NodeSpec> out = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < p.getNodes().size(); i++) {
      GpuSchedProperties.Node n = p.getNodes().get(i);
      String at = P + "nodes[" + i + "].";
      String id = unique(seen, at + "id", n.getId());
      String modelName = required(at + "model", n.getModel());
      GpuModel model =
          GpuModels.byName(modelName)
              .orElseThrow(
                  () ->
                      new InvalidConfigurationPropertyValueException(
                          at + "model",
                          modelName,
                          "unknown GPU model; known: "
                              + GpuModels.all().stream().map(GpuModel::name).toList()));
      check(at + "gpus", n.getGpus(), () -> inRange(n.getGpus(), 1, NodeSpec.MAX_GPUS));
      List<MigInstance> instances = migInstances(at + "mig-instances", n);
      NodeSpec.Builder nb =
          NodeSpec.builder(id)
              .pricePerGpuHour(
                  check(at + "price-per-gpu-hour", n.getPricePerGpuHour(),
                      () -> nonNegative(n.getPricePerGpuHour())))
              .capacityClass(n.getCapacityClass());
      n.getLabels().forEach(nb::label);
      for (int g = 0; g < n.getGpus(); g++) {
        int index = g;
        nb.gpu(
            check(
                n.getMode() == GpuMode.MIG_STATIC ? at + "mig-instances" : at + "mode",
                n.getMode() == GpuMode.MIG_STATIC ? String.join(",", n.getMigInstances()) : n.getMode(),
                () -> new GpuSpec(index, "GPU-" + id + "-" + index, model, n.getMode(), instances)));
      }
      out.add(check(at + "id", id, nb::build));
    }
    return out;
  }

  private static List<MigInstance> migInstances(String at, GpuSchedProperties.Node n) {
    if (n.getMode() != GpuMode.MIG_STATIC) {
      if (!n.getMigInstances().isEmpty()) {
        throw new InvalidConfigurationPropertyValueException(
            at, String.join(",", n.getMigInstances()), "static MIG instances need mode MIG_STATIC");
      }
      return List.of();
    }
    if (n.getMigInstances().isEmpty()) {
      throw new InvalidConfigurationPropertyValueException(
          at, "", "mode MIG_STATIC needs the pre-made instances as profile@startSlot");
    }
    List<MigInstance> out = new ArrayList<>();
    for (String s : n.getMigInstances()) {
      int cut = s.indexOf('@');
      out.add(
          check(at, s, () -> {
            if (cut < 0) {
              throw new IllegalArgumentException("expected profile@startSlot, e.g. 3g.40gb@0");
            }
            return new MigInstance(s.substring(0, cut).trim(), Integer.parseInt(s.substring(cut + 1).trim()));
          }));
    }
    return out;
  }

  /** Returns the set, non-repeated value of a name or id property. */
  private static String unique(Set<String> seen, String name, @Nullable String value) {
    String v = required(name, value);
    if (!seen.add(v)) {
      throw new InvalidConfigurationPropertyValueException(name, v, "duplicate");
    }
    return v;
  }

  private static String required(String name, @Nullable String value) {
    if (value == null || value.isBlank()) {
      throw new InvalidConfigurationPropertyValueException(name, value, "must be set");
    }
    return value;
  }

  private static int inRange(int v, int min, int max) {
    if (v < min || v > max) {
      throw new IllegalArgumentException("must be in " + min + ".." + max);
    }
    return v;
  }

  private static <N extends Number> N nonNegative(N v) {
    if (!(v.doubleValue() >= 0) || Double.isInfinite(v.doubleValue())) {
      throw new IllegalArgumentException("must be >= 0 and finite");
    }
    return v;
  }

  private static double positive(double v) {
    if (!(v > 0) || Double.isInfinite(v)) {
      throw new IllegalArgumentException("must be positive and finite");
    }
    return v;
  }

  private static Duration nonNegative(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("must not be negative");
    }
    return d;
  }

  private static Duration positive(Duration d) {
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("must be positive");
    }
    return d;
  }

  /** Runs {@code f}; turns the core's IllegalArgumentException into one naming the property. */
  private static <T> T check(String name, @Nullable Object value, Supplier<T> f) {
    try {
      return f.get();
    } catch (IllegalArgumentException e) {
      throw new InvalidConfigurationPropertyValueException(name, value, e.getMessage());
    }
  }
}
