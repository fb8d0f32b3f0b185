package io.gpusched.demo.spring;

import io.gpusched.GpuScheduler;
import io.gpusched.UsageSummary;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.stereotype.Component;

/** Allocated and fragmented share of the cluster, sampled every second, for the last 10 minutes. */
@Component
class UtilizationHistory {
  static final int KEEP = 600;

  private final GpuScheduler scheduler;
  private final Deque<Map<String, Object>> points = new ArrayDeque<>();

  UtilizationHistory(GpuScheduler scheduler) {
    this.scheduler = scheduler;
  }

  @Scheduled(fixedRate = 1000)
  void sample() {
    UsageSummary u = scheduler.snapshot().cluster().total();
    Map<String, Object> p =
        Map.of(
            "t", System.currentTimeMillis(),
            "allocated", u.allocatedPercent(),
            "fragmented", u.capacityMilli() == 0 ? 0 : 100.0 * u.fragmentedMilli() / u.capacityMilli());
    synchronized (points) {
      points.addLast(p);
      while (points.size() > KEEP) {
        points.removeFirst();
      }
    }
  }

  List<Map<String, Object>> points() {
    synchronized (points) {
      return new ArrayList<>(points);
    }
  }
}
