package io.gpusched.spring.boot;

import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * Actuator endpoint {@code gpuschedreplica} ({@code GET /actuator/gpuschedreplica}): the replica's
 * role, epoch, store reachability and takeovers, and while it leads the scheduler's snapshot (as
 * the {@code gpusched} endpoint shows it for a single scheduler). Read-only.
 */
@Endpoint(id = "gpuschedreplica")
public class GpuSchedReplicaEndpoint {
  private final SchedulerReplica replica;

  GpuSchedReplicaEndpoint(SchedulerReplica replica) {
    this.replica = replica;
  }

  /** Returns the replica's status and, on the leader, the scheduler's snapshot. */
  @ReadOperation
  public Map<String, Object> status() {
    ReplicaStatus s = replica.status();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("role", s.role().name());
    out.put("epoch", s.epoch());
    out.put("storeReachable", s.storeReachable());
    out.put("takeovers", s.takeovers());
    replica.leader().ifPresent(sched -> out.put("scheduler", SchedulerViews.snapshot(sched.snapshot())));
    return out;
  }
}
