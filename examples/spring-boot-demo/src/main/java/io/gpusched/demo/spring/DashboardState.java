package io.gpusched.demo.spring;

import io.gpusched.GpuScheduler;
import io.gpusched.spring.boot.SchedulerViews;
import java.util.LinkedHashMap;
import java.util.Map;

/** What the dashboard draws: the snapshot, the newest jobs and the utilization history. */
final class DashboardState {
  private DashboardState() {}

  static Map<String, Object> of(GpuScheduler scheduler, UtilizationHistory history) {
    Map<String, Object> m = new LinkedHashMap<>(SchedulerViews.snapshot(scheduler.snapshot()));
    m.put("jobList", JobController.newestJobs(scheduler));
    m.put("history", history.points());
    return m;
  }
}
