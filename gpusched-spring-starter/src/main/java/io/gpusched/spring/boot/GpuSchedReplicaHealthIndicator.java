package io.gpusched.spring.boot;

import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * Health of a scheduler replica ({@code gpusched.store.replica.enabled}): its role (LEADER or
 * FOLLOWER), the epoch, whether the store is reachable, the leader's name ({@code leader}, absent
 * while none holds the lease) and how many times it took over; on the leader also what the {@code
 * gpusched} indicator shows of a single scheduler (capacity, jobs per state, nodes). DOWN while
 * the store is unreachable (a follower cannot take submits then, a leader cannot commit); a
 * follower is UP: following is its normal state.
 */
public class GpuSchedReplicaHealthIndicator extends AbstractHealthIndicator {
  private final SchedulerReplica replica;

  GpuSchedReplicaHealthIndicator(SchedulerReplica replica) {
    super("gpusched replica health check failed");
    this.replica = replica;
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) {
    ReplicaStatus s = replica.status();
    (s.storeReachable() ? builder.up() : builder.down())
        .withDetail("role", s.role().name())
        .withDetail("epoch", s.epoch())
        .withDetail("storeReachable", s.storeReachable())
        .withDetail("takeovers", s.takeovers());
    if (s.leader() != null) {
      builder.withDetail("leader", s.leader());
    }
    replica.leader().ifPresent(sched -> GpuSchedHealthIndicator.details(builder, sched.snapshot()));
  }
}
