package io.gpusched.spring.boot;

import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * What a replica ({@code gpusched.store.replica.enabled=true}) shows: the health indicator {@code
 * gpuschedReplica} (role, epoch, store reachability, the leader's name; on the leader the
 * scheduler's capacity, jobs and nodes too), the endpoints {@code gpuschedreplica} and {@code
 * gpusched} (as for a single scheduler, with the replica's status; on a follower node reads and
 * changes answer 409 naming the leader), the meters {@code gpusched.leader} (1 while this replica
 * leads, else 0: alert when no replica of a deployment shows 1) and {@code
 * gpusched.store.failovers} (times this replica took over), and on the leader the scheduler's
 * meters ({@link GpuSchedLeaderMetrics}) and the placement timers. The store commit meters ({@link
 * GpuSchedStoreMeters}) apply to a replica's leader and to a single scheduler alike. Each part only
 * when its library is on the classpath.
 */
@AutoConfiguration(
    after = GpuSchedAutoConfiguration.class,
    afterName = {
      "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration"
    })
@ConditionalOnBooleanProperty(name = "gpusched.enabled", matchIfMissing = true)
public final class GpuSchedReplicaAutoConfiguration {

  /** Store commit meters, for a single scheduler with a store or a replica's leader. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(MeterBinder.class)
  @ConditionalOnBean(MeterRegistry.class)
  static class StoreMetersConfiguration {
    @Bean
    @ConditionalOnMissingBean
    GpuSchedStoreDecorator gpuschedStoreMeters(MeterRegistry registry) {
      return new GpuSchedStoreMeters(registry);
    }
  }

  /** The leader gauge and the failover counter. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(MeterBinder.class)
  @ConditionalOnBean({MeterRegistry.class, SchedulerReplica.class})
  static class ReplicaMetersConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "gpuschedReplicaMeters")
    MeterBinder gpuschedReplicaMeters(SchedulerReplica replica) {
      return registry -> {
        Gauge.builder("gpusched.leader", replica, r -> r.status().role() == ReplicaStatus.Role.LEADER ? 1 : 0)
            .description("1 while this replica leads, else 0")
            .register(registry);
        FunctionCounter.builder("gpusched.store.failovers", replica, r -> r.status().takeovers())
            .description("times this replica became the leader")
            .register(registry);
      };
    }

    /** The scheduler's meters while this replica leads. */
    @Bean
    @ConditionalOnMissingBean
    GpuSchedLeaderMetrics gpuschedLeaderMetrics(SchedulerReplica replica, MeterRegistry registry) {
      GpuSchedLeaderMetrics m = new GpuSchedLeaderMetrics(registry);
      replica.addLeadershipListener(m);
      return m;
    }

    /** Placement timers on each leader's scheduler (its builder is made on each takeover). */
    @Bean
    @ConditionalOnMissingBean(name = "gpuschedPlacementTimers")
    GpuSchedulerBuilderCustomizer gpuschedPlacementTimers(MeterRegistry registry) {
      PlacementTimers timers = new PlacementTimers(registry);
      return b -> b.placementObserver(timers);
    }
  }

  /** The health indicator. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
  @ConditionalOnBean(SchedulerReplica.class)
  static class HealthConfiguration {
    /** Nested so that the class condition above is evaluated before this one is loaded. */
    @Configuration(proxyBeanMethods = false)
    @ConditionalOnEnabledHealthIndicator("gpuschedReplica")
    static class IndicatorConfiguration {
      @Bean
      @ConditionalOnMissingBean(name = "gpuschedReplicaHealthIndicator")
      GpuSchedReplicaHealthIndicator gpuschedReplicaHealthIndicator(SchedulerReplica replica) {
        return new GpuSchedReplicaHealthIndicator(replica);
      }
    }
  }

  /** The actuator endpoint. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({Endpoint.class, ConditionalOnAvailableEndpoint.class})
  @ConditionalOnBean(SchedulerReplica.class)
  static class EndpointConfiguration {
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnAvailableEndpoint
    GpuSchedReplicaEndpoint gpuschedReplicaEndpoint(SchedulerReplica replica) {
      return new GpuSchedReplicaEndpoint(replica);
    }

    /** The {@code gpusched} endpoint on every replica: the leader's scheduler, or 409 on a follower. */
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnAvailableEndpoint
    GpuSchedEndpoint gpuschedEndpoint(SchedulerReplica replica, GpuSchedProperties properties) {
      SchedulerSource source = SchedulerSource.of(replica);
      return properties.getEndpoint().isWriteEnabled()
          ? new GpuSchedWritableEndpoint(source)
          : new GpuSchedEndpoint(source);
    }

    /** Over HTTP: errors with their reason and status, 409 naming the leader on a follower. */
    @Bean
    @ConditionalOnMissingBean
    @ConditionalOnBean(GpuSchedEndpoint.class)
    GpuSchedWebExtension gpuschedWebExtension(SchedulerReplica replica, GpuSchedProperties properties) {
      SchedulerSource source = SchedulerSource.of(replica);
      return properties.getEndpoint().isWriteEnabled()
          ? new GpuSchedWebExtension.Writable(source)
          : new GpuSchedWebExtension(source);
    }
  }
}
