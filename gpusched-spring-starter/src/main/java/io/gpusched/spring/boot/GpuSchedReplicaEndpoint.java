package io.gpusched.spring.boot;

import io.gpusched.store.SchedulerReplica;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * Actuator endpoint {@code gpuschedreplica} ({@code GET /actuator/gpuschedreplica}): the replica's
 * role, epoch, store reachability, the leader's name and takeovers, and while it leads the
 * scheduler's snapshot (as the {@code gpusched} endpoint shows it for a single scheduler).
 * Read-only. The {@code gpusched} endpoint is there too on every replica, with node reads and
 * changes on the leader.
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
    Map<String, Object> out = new LinkedHashMap<>(SchedulerSource.status(replica.status()));
    replica.leader().ifPresent(sched -> out.put("scheduler", SchedulerViews.snapshot(sched.snapshot())));
    return out;
  }
}
