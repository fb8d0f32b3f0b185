package io.gpusched.demo.spring;

import io.gpusched.GpuScheduler;
import io.gpusched.spring.boot.SchedulerViews;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the dashboard draws: the snapshot, the newest jobs (the newest with their log tails), the
 * utilization history, and whether the GPUs are simulated.
 */
final class DashboardState {
  private DashboardState() {}

  static Map<String, Object> of(
      GpuScheduler scheduler, UtilizationHistory history, DemoInventory inventory, List<DemoJob> jobs) {
    Map<String, Object> m = new LinkedHashMap<>(SchedulerViews.snapshot(scheduler.snapshot()));
    m.put("simulatedGpus", inventory.simulated());
    m.put("jobList", jobs);
    m.put("history", history.points());
    return m;
  }
}
