package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuScheduler;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.PlacementRequest;
import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * {@code gpusched.store.replica.enabled}: two applications on one database (H2 in memory, shared
 * in this JVM), one leading; health, endpoint and meters show role, epoch, store reachability,
 * leadership and failovers, and the leader's commits are metered; the follower takes over when the
 * leader's application stops.
 */
class GpuSchedReplicaTest {
  private static final AtomicInteger DBS = new AtomicInteger();

  private final String url = "jdbc:h2:mem:starter-replica" + DBS.incrementAndGet() + ";DB_CLOSE_DELAY=-1;LOCK_TIMEOUT=10000";

  static DataSource ds(String url) {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL(url);
    ds.setUser("sa");
    return ds;
  }

  private ApplicationContextRunner runner(String name) {
    return runner(url, name);
  }

  /** An application that is replica {@code name} on the H2 database at {@code url}. */
  static ApplicationContextRunner runner(String url, String name) {
    return new ApplicationContextRunner()
        .withConfiguration(
            AutoConfigurations.of(
                GpuSchedAutoConfiguration.class,
                GpuSchedMetricsAutoConfiguration.class,
                GpuSchedEndpointAutoConfiguration.class,
                GpuSchedHealthAutoConfiguration.class,
                GpuSchedReplicaAutoConfiguration.class,
                HealthContributorAutoConfiguration.class,
                MetricsAutoConfiguration.class))
        .withBean(SimpleMeterRegistry.class)
        .withBean(DataSource.class, () -> ds(url))
        .withPropertyValues(
            "gpusched.nodes[0].id=a",
            "gpusched.nodes[0].model=h100_80gb",
            "gpusched.nodes[0].gpus=2",
            "gpusched.store.type=jdbc",
            "gpusched.store.replica.enabled=true",
            "gpusched.store.replica.name=" + name,
            "gpusched.store.replica.lease-duration=600ms",
            "gpusched.store.replica.poll-interval=20ms",
            "management.endpoints.web.exposure.include=gpuschedreplica");
  }

  static void await(String what, BooleanSupplier c) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(5);
    }
  }

  static double gauge(ConfigurableApplicationContext ctx, String name) {
    return ctx.getBean(MeterRegistry.class).get(name).gauge().value();
  }

  @Test
  void twoApplicationsOneLeaderHealthMetricsAndFailover() throws Exception {
    runner("one").run(one -> {
      assertThat(one).hasNotFailed().hasSingleBean(SchedulerReplica.class).doesNotHaveBean(GpuScheduler.class);
      SchedulerReplica r1 = one.getBean(SchedulerReplica.class);
      await("one leads", () -> r1.status().role() == ReplicaStatus.Role.LEADER);
      var h1 = one.getBean(GpuSchedReplicaHealthIndicator.class);
      Health health = h1.health(true);
      assertThat(health.getStatus()).isEqualTo(Status.UP);
      assertThat(health.getDetails())
          .containsEntry("role", "LEADER")
          .containsEntry("epoch", 1L)
          .containsEntry("storeReachable", true);
      assertThat(gauge(one, "gpusched.leader")).isEqualTo(1.0);
      assertThat(one.getBean(GpuSchedReplicaEndpoint.class).status()).containsKey("scheduler");

      runner("two").run(two -> {
        SchedulerReplica r2 = two.getBean(SchedulerReplica.class);
        await("two follows epoch 1", () -> r2.status().epoch() == 1 && r2.status().storeReachable());
        assertThat(two.getBean(GpuSchedReplicaHealthIndicator.class).health(true).getDetails())
            .containsEntry("role", "FOLLOWER");
        assertThat(gauge(two, "gpusched.leader")).isZero();

        r2.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j").build());
        await("j runs", () -> r2.state("j").equals(Optional.of(JobState.RUNNING)));
        MeterRegistry m1 = one.getBean(MeterRegistry.class);
        assertThat(m1.get("gpusched.store.commit.batch").summary().count()).isPositive();
        assertThat(m1.get("gpusched.store.commit.latency").timer().count()).isPositive();

        one.close(); // the leader's application stops: it releases its lease
        await("two leads", () -> r2.status().role() == ReplicaStatus.Role.LEADER);
        assertThat(r2.status().epoch()).isEqualTo(2);
        assertThat(gauge(two, "gpusched.leader")).isEqualTo(1.0);
        assertThat(two.getBean(MeterRegistry.class).get("gpusched.store.failovers").functionCounter().count())
            .isEqualTo(1.0);
        assertThat(r2.leader().orElseThrow().job("j").orElseThrow().state()).isEqualTo(JobState.RUNNING);
      });
    });
  }

  @Test
  void aReplicaNeedsTheJdbcStore() {
    runner("x")
        .withPropertyValues("gpusched.store.type=memory")
        .run(
            ctx ->
                assertThat(ctx)
                    .hasFailed()
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("gpusched.store.replica.enabled=true needs gpusched.store.type=jdbc"));
  }
}
