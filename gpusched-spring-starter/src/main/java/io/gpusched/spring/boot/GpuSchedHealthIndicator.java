package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.NodeUsage;
import io.gpusched.SchedulerSnapshot;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Health of the scheduler: DOWN once it was stopped, or when NVML fails after it had worked at
 * start-up; UP otherwise, with capacity, jobs per state and, per node, its state and free and
 * allocated GPUs. What NVML refuses this process for lack of privilege (e.g. MIG devices it cannot
 * map, so idle detection is off for their GPU) is the detail {@code nvmlNeedsPrivilege}; it does
 * not make the health DOWN.
 */
public class GpuSchedHealthIndicator extends AbstractHealthIndicator {
  private final GpuScheduler scheduler;
  private final @Nullable GpuSchedLifecycle lifecycle;
  private final @Nullable GpuSchedNvml nvml;

  GpuSchedHealthIndicator(
      GpuScheduler scheduler, @Nullable GpuSchedLifecycle lifecycle, @Nullable GpuSchedNvml nvml) {
    super("gpusched health check failed");
    this.scheduler = scheduler;
    this.lifecycle = lifecycle;
    this.nvml = nvml;
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) {
    builder.up();
    if (scheduler.isClosed() || (lifecycle != null && lifecycle.isClosed())) {
      builder.down().withDetail("scheduler", "stopped");
    }
    if (nvml != null) {
      Optional<String> failure = nvml.check();
      builder.withDetail("nvml", failure.orElse(nvml.status()));
      if (failure.isPresent()) {
        builder.down();
      }
      List<String> refused = nvml.needsPrivilege();
      if (!refused.isEmpty()) {
        builder.withDetail("nvmlNeedsPrivilege", refused);
      }
    }
    details(builder, scheduler.snapshot());
  }

  /** Capacity, jobs per state and, per node, its state and free and allocated GPUs. */
  static void details(Health.Builder builder, SchedulerSnapshot s) {
    builder.withDetail("capacityGpus", s.capacityGpus());
    builder.withDetail("jobs", SchedulerViews.jobsByState(s.jobsByState()));
    Map<String, Object> nodes = new LinkedHashMap<>();
    for (NodeUsage n : s.cluster().nodes()) {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("state", n.state().name());
      d.put("gpus", n.summary().gpus());
      d.put("freeGpus", n.summary().freeGpus());
      d.put("allocatedGpus", n.summary().allocatedGpus());
      nodes.put(n.nodeId(), d);
    }
    builder.withDetail("nodes", nodes);
  }
}
