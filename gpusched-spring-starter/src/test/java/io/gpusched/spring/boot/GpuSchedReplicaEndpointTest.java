package io.gpusched.spring.boot;

import static io.gpusched.spring.boot.GpuSchedReplicaTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.endpoint.web.WebEndpointResponse;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * A replica application behaves like a single-scheduler one as far as it can: the {@code gpusched}
 * endpoint (snapshot, node reads, cordon and drain) on the leader and 409 naming the leader on a
 * follower; the replica health with role, epoch, store reachability and the leader's scheduler;
 * the scheduler's meters on the leader only, moved by a failover and bound again, without a clash,
 * when a replica leads a second time. Two applications on one H2 database.
 */
class GpuSchedReplicaEndpointTest {
  private static final AtomicInteger DBS = new AtomicInteger();
  private final String url =
      "jdbc:h2:mem:starter-replica-endpoint" + DBS.incrementAndGet() + ";DB_CLOSE_DELAY=-1;LOCK_TIMEOUT=10000";

  private ApplicationContextRunner runner(String name) {
    return GpuSchedReplicaTest.runner(url, name)
        .withPropertyValues(
            "management.endpoints.web.exposure.include=gpuschedreplica,gpusched",
            "gpusched.endpoint.write-enabled=true");
  }

  private static MeterRegistry meters(ConfigurableApplicationContext ctx) {
    return ctx.getBean(MeterRegistry.class);
  }

  @SuppressWarnings("unchecked") // the endpoint's JSON maps
  private static Map<String, Object> replica(Map<String, Object> snapshot) {
    return (Map<String, Object>) snapshot.get("replica");
  }

  @Test
  void theLeaderServesTheEndpointAndMetersAFollowerRefusesNodeCallsNamingTheLeaderAndAFailoverMovesThem()
      throws Exception {
    runner("one").run(one -> {
      SchedulerReplica r1 = one.getBean(SchedulerReplica.class);
      await("one leads", () -> r1.status().role() == ReplicaStatus.Role.LEADER);
      GpuSchedWebExtension.Writable web1 = (GpuSchedWebExtension.Writable) one.getBean(GpuSchedWebExtension.class);
      await("one's scheduler meters", () -> meters(one).find("gpusched.capacity").gauge() != null);
      assertThat(meters(one).get("gpusched.capacity").gauge().value()).isEqualTo(2.0);
      assertThat(meters(one).get("gpusched.jobs.submitted").tag("queue", "default").counter()).isNotNull();

      Map<String, Object> snap1 = one.getBean(GpuSchedEndpoint.class).snapshot();
      assertThat(replica(snap1)).containsEntry("role", "LEADER").containsEntry("epoch", 1L).containsEntry("leader", "one");
      assertThat(snap1).containsKeys("nodes", "queues", "capacityGpus");
      assertThat(web1.node("a").getStatus()).isEqualTo(200);
      assertThat(web1.change("a", "cordon", null).getStatus()).isEqualTo(200);
      await("a is cordoned", () -> r1.leader().orElseThrow().snapshot().cluster().nodes().get(0).state()
          == NodeState.CORDONED);
      assertThat(web1.change("a", "uncordon", null).getStatus()).isEqualTo(200);

      Health h1 = one.getBean(GpuSchedReplicaHealthIndicator.class).health(true);
      assertThat(h1.getStatus()).isEqualTo(Status.UP);
      assertThat(h1.getDetails())
          .containsEntry("role", "LEADER").containsEntry("epoch", 1L).containsEntry("storeReachable", true)
          .containsEntry("leader", "one").containsEntry("capacityGpus", 2.0)
          .containsKeys("jobs", "nodes");

      runner("two").run(two -> {
        SchedulerReplica r2 = two.getBean(SchedulerReplica.class);
        await("two sees one lead", () -> "one".equals(r2.status().leader()));
        r2.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j").build());
        await("j runs", () -> r2.state("j").equals(java.util.Optional.of(JobState.RUNNING)));

        GpuSchedWebExtension.Writable web2 = (GpuSchedWebExtension.Writable) two.getBean(GpuSchedWebExtension.class);
        WebEndpointResponse<Map<String, Object>> read = web2.node("a");
        assertThat(read.getStatus()).isEqualTo(409);
        assertThat(read.getBody()).containsEntry("error", "Conflict");
        assertThat((String) read.getBody().get("message")).contains("follows in epoch 1", "leader one");
        WebEndpointResponse<Map<String, Object>> write = web2.change("a", "drain", "PT1M");
        assertThat(write.getStatus()).isEqualTo(409);
        assertThat((String) write.getBody().get("message")).contains("a node change is served by the leader one");
        assertThat(r1.leader().orElseThrow().snapshot().cluster().nodes().get(0).state())
            .as("nothing changed").isEqualTo(NodeState.READY);

        Map<String, Object> snap2 = two.getBean(GpuSchedEndpoint.class).snapshot();
        assertThat(replica(snap2)).containsEntry("role", "FOLLOWER").containsEntry("leader", "one");
        assertThat(snap2.get("jobs")).isEqualTo(SchedulerViews.jobsByState(Map.of(JobState.RUNNING, 1)));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> nodes2 = (List<Map<String, Object>>) snap2.get("nodes");
        assertThat(nodes2).singleElement()
            .satisfies(n -> assertThat(n).containsEntry("id", "a").containsEntry("state", "READY"));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> queues2 = (List<Map<String, Object>>) snap2.get("queues");
        assertThat(queues2).extracting(q -> q.get("name")).contains((Object) "default");
        assertThat(meters(two).find("gpusched.capacity").gauge()).as("no scheduler meters on a follower").isNull();
        assertThat(two.getBean(GpuSchedReplicaHealthIndicator.class).health(true).getDetails())
            .containsEntry("role", "FOLLOWER").containsEntry("leader", "one").doesNotContainKey("capacityGpus");

        one.close(); // the leader's application stops
        await("two leads", () -> r2.status().role() == ReplicaStatus.Role.LEADER);
        Health h2 = two.getBean(GpuSchedReplicaHealthIndicator.class).health(true);
        assertThat(h2.getDetails()).containsEntry("role", "LEADER").containsEntry("epoch", 2L)
            .containsEntry("storeReachable", true).containsEntry("leader", "two");
        await("two's scheduler meters", () -> meters(two).find("gpusched.capacity").gauge() != null);
        assertThat(meters(two).get("gpusched.jobs").tag("state", "RUNNING").gauge().value()).isEqualTo(1.0);
        assertThat(web2.node("a").getStatus()).isEqualTo(200);

        // two is deposed (another holder takes the row), then leads again when that one never renews
        try (Connection c = GpuSchedReplicaTest.ds(url).getConnection(); Statement s = c.createStatement()) {
          s.executeUpdate("UPDATE gpusched_leader SET epoch = 3, holder = 'gone/x', renewals = 0 WHERE id = 1");
        }
        await("two steps down", () -> r2.status().role() == ReplicaStatus.Role.FOLLOWER);
        await("its scheduler meters are removed", () -> meters(two).find("gpusched.capacity").gauge() == null);
        assertThat(web2.node("a").getStatus()).isEqualTo(409);
        await("two leads again", () -> r2.status().role() == ReplicaStatus.Role.LEADER);
        assertThat(r2.status().epoch()).isEqualTo(4);
        await("bound again", () -> meters(two).find("gpusched.capacity").gauge() != null);
        assertThat(meters(two).get("gpusched.jobs").tag("state", "RUNNING").gauge().value())
            .as("read from epoch 4's scheduler").isEqualTo(1.0);
        assertThat(meters(two).get("gpusched.store.failovers").functionCounter().count()).isEqualTo(2.0);
        assertThat(meters(two).find("gpusched.capacity").gauges()).hasSize(1);
      });
    });
  }
}
