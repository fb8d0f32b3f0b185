package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementStrategy;
import io.gpusched.Reconciliation;
import io.gpusched.StopReason;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredNode;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Issue 12, item 4: after a restart, a node the store recorded that the host does not confirm
 * within the configured time is treated as lost, as a live node loss would be. Driven by a manual
 * clock and explicit ticks.
 */
class NodeRecoveryTimeoutTest {

  final SchedulerHarness h = new SchedulerHarness();
  final List<String> stops = new CopyOnWriteArrayList<>();
  /** Jobs the host says run (RUNNING); the others are UNKNOWN. */
  volatile Set<String> running = Set.of();

  GpuSchedulers.Builder builder(SchedulerStore store, NodeSpec... nodes) {
    return GpuSchedulers.newBuilder()
        .clock(h.clock)
        .manualTicks()
        .eventExecutor(Runnable::run)
        .store(store)
        .nodes(List.of(nodes))
        .strategy(PlacementStrategy.FIRST_FIT)
        .launcher(
            new io.gpusched.JobLauncher() {
              @Override
              public void start(JobHandle job) {}

              @Override
              public void stop(JobHandle job, StopReason reason, Instant deadline) {
                stops.add(job.id() + ":" + reason);
              }

              @Override
              public Reconciliation reconcile(JobHandle job) {
                return running.contains(job.id()) ? Reconciliation.RUNNING : Reconciliation.UNKNOWN;
              }
            });
  }

  /** Jobs a on n1, b on n2, c on n3 (added at run time), and d pending (needs 2 GPUs). */
  SchedulerStore threeNodesThreeJobs() {
    SchedulerStore store = SchedulerStores.inMemory();
    GpuScheduler s = builder(store, whole("n1", 1), whole("n2", 1)).build();
    s.addNode(whole("n3", 1));
    s.submit(job("a", 1).build());
    s.submit(job("b", 1).build());
    s.submit(job("c", 1).build());
    s.submit(job("d", 2).build());
    assertThat(s.job("c").orElseThrow().allocations().get(0).gpus().get(0).nodeId()).isEqualTo("n3");
    s.close();
    return store;
  }

  static NodeState stored(SchedulerStore store, String node) {
    return store.load().nodes().stream()
        .filter(n -> n.spec().id().equals(node))
        .map(StoredNode::state)
        .findFirst()
        .orElseThrow();
  }

  @Test
  void aRecoveredNodeTheHostDoesNotConfirmInTimeIsTreatedAsLost() {
    SchedulerStore store = threeNodesThreeJobs();
    running = Set.of("a"); // the host says a runs: n1 is confirmed by the reconciliation
    GpuScheduler s =
        builder(store, whole("n1", 1), whole("n2", 1)).nodeRecoveryTimeout(Duration.ofMinutes(1)).build();
    h.clock.advance(Duration.ofSeconds(30));
    s.confirmNode("n2"); // the host re-registered n2
    h.clock.advance(Duration.ofSeconds(29));
    s.tick(); // 59 s: not yet
    assertThat(s.cluster().nodes()).extracting(NodeSpec::id).containsExactly("n1", "n2", "n3");
    assertThat(s.job("c").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    assertThat(stops).isEmpty();

    h.clock.advance(Duration.ofSeconds(1));
    s.tick(); // 60 s: n3 was never confirmed, so it is lost
    assertThat(s.cluster().nodes()).extracting(NodeSpec::id).containsExactly("n1", "n2");
    JobHandle c = s.job("c").orElseThrow();
    assertThat(c.state()).isEqualTo(JobState.PENDING); // requeued, as a live node loss would
    assertThat(stops).containsExactly("c:" + StopReason.NODE_LOST);
    assertThat(s.job("a").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    assertThat(s.job("b").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    assertThat(stored(store, "n3")).isEqualTo(NodeState.DOWN);
    assertThat(store.load().jobs()).filteredOn(j -> j.id().equals("c")).singleElement()
        .extracting(StoredJob::state).isEqualTo(JobState.PENDING);
    ((DefaultScheduler) s).verifyInvariants();

    assertThatThrownBy(() -> s.confirmNode("n3")) // too late: it is gone, add it again
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown node n3");
    s.addNode(whole("n3", 1));
    s.tick();
    assertThat(c.state()).isEqualTo(JobState.RUNNING); // back on the node that came back
    h.clock.advance(Duration.ofMinutes(5));
    s.tick(); // nothing else expires
    assertThat(s.cluster().nodes()).extracting(NodeSpec::id).containsExactly("n1", "n2", "n3");
  }

  @Test
  void everyConfirmationCountsAndNothingIsLostWhenAllCameBack() {
    SchedulerStore store = threeNodesThreeJobs();
    GpuScheduler s =
        builder(store, whole("n1", 1), whole("n2", 1)).nodeRecoveryTimeout(Duration.ofMinutes(1)).build();
    s.confirmNode("n1");
    s.nodeDown("n2"); // the host says n2 is lost: it is, at once, and nothing waits for it
    assertThat(s.job("b").orElseThrow().state()).isEqualTo(JobState.PENDING);
    s.addNode(whole("n2", 1)); // and registers it again
    s.confirmNode("n3");
    s.confirmNode("n3"); // twice is harmless
    h.clock.advance(Duration.ofMinutes(2));
    s.tick();
    assertThat(s.cluster().nodes()).extracting(NodeSpec::id).containsExactlyInAnyOrder("n1", "n2", "n3");
    assertThat(stops).containsExactly("b:" + StopReason.NODE_LOST);
    assertThatThrownBy(() -> s.confirmNode("ghost")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void withoutATimeoutRecoveredNodesAreTrustedAndAFreshStoreNeedsNoConfirmation() {
    SchedulerStore store = threeNodesThreeJobs();
    GpuScheduler s = builder(store, whole("n1", 1), whole("n2", 1)).build();
    h.clock.advance(Duration.ofDays(1));
    s.tick();
    assertThat(s.cluster().nodes()).extracting(NodeSpec::id).containsExactly("n1", "n2", "n3");
    s.confirmNode("n3"); // does nothing
    s.close();

    GpuScheduler fresh =
        builder(SchedulerStores.inMemory(), whole("n1", 1)).nodeRecoveryTimeout(Duration.ofSeconds(1)).build();
    h.clock.advance(Duration.ofMinutes(1));
    fresh.tick();
    assertThat(fresh.cluster().nodes()).extracting(NodeSpec::id).containsExactly("n1");
  }

  @Test
  void aTimeoutMustBePositive() {
    assertThatThrownBy(() -> GpuSchedulers.newBuilder().nodeRecoveryTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nodeRecoveryTimeout");
  }
}
