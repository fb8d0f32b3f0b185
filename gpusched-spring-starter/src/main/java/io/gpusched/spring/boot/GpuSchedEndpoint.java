package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.NodeUsage;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;

/**
 * Actuator endpoint {@code gpusched}: the cluster and queue snapshot ({@code GET
 * /actuator/gpusched}) and one node ({@code GET /actuator/gpusched/{node}}). Read-only; {@link
 * GpuSchedWritableEndpoint} adds cordon and drain when {@code gpusched.endpoint.write-enabled}.
 */
@Endpoint(id = "gpusched")
public class GpuSchedEndpoint {
  final GpuScheduler scheduler;

  GpuSchedEndpoint(GpuScheduler scheduler) {
    this.scheduler = scheduler;
  }

  /** Returns the snapshot of queues, jobs per state and nodes. */
  @ReadOperation
  public Map<String, Object> snapshot() {
    return SchedulerViews.snapshot(scheduler.snapshot());
  }

  /**
   * Returns one node.
   *
   * @param node node id
   * @return the node, or {@code null} (404) when unknown
   */
  @ReadOperation
  public @Nullable Map<String, Object> node(@Selector String node) {
    for (NodeUsage n : scheduler.snapshot().cluster().nodes()) {
      if (n.nodeId().equals(node)) {
        return SchedulerViews.node(n);
      }
    }
    return null;
  }
}
