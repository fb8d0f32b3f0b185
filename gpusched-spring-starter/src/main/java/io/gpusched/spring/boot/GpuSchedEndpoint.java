package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.NodeUsage;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;

/**
 * Actuator endpoint {@code gpusched}: the cluster and queue snapshot ({@code GET
 * /actuator/gpusched}) and one node ({@code GET /actuator/gpusched/{node}}). Read-only; {@link
 * GpuSchedWritableEndpoint} adds cordon and drain when {@code gpusched.endpoint.write-enabled}.
 *
 * <p>With replicas ({@code gpusched.store.replica.enabled}) every replica has it: the snapshot adds
 * the replica's status under {@code replica} (role, epoch, store reachability, the leader's name,
 * takeovers); on the leader it is the leader scheduler's snapshot, on a follower the jobs per state
 * the database holds. A node read on a follower finds nothing here (over HTTP: 409 naming the
 * leader, see {@link GpuSchedWebExtension}).
 */
@Endpoint(id = "gpusched")
public class GpuSchedEndpoint {
  final SchedulerSource source;

  GpuSchedEndpoint(GpuScheduler scheduler) {
    this(SchedulerSource.of(scheduler));
  }

  GpuSchedEndpoint(SchedulerSource source) {
    this.source = source;
  }

  /** Returns the snapshot of queues, jobs per state and nodes (and a replica's status). */
  @ReadOperation
  public Map<String, Object> snapshot() {
    return source.snapshot();
  }

  /**
   * Returns one node.
   *
   * @param node node id
   * @return the node, or {@code null} (404) when unknown or when this replica does not lead
   */
  @ReadOperation
  public @Nullable Map<String, Object> node(@Selector String node) {
    Optional<GpuScheduler> s = source.scheduler();
    if (s.isEmpty()) {
      return null;
    }
    for (NodeUsage n : s.get().snapshot().cluster().nodes()) {
      if (n.nodeId().equals(node)) {
        return SchedulerViews.node(n);
      }
    }
    return null;
  }
}
