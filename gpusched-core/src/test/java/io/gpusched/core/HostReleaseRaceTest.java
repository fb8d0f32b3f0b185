package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A release frees a GPU and the host resources charged with it at one instant: a placement that
 * runs entirely after the release's word step sees both free. The history checker found one that
 * did not ({@code PlacementHistoryTest}, seed 47238885029555): a release's host CPU came back
 * only after its GPU word, and a placement refused for host CPU in between returned a miss that no
 * order of the operations explains (the release had already freed the GPU, which a third placement
 * took). This puts the placement in that window deterministically: the releaser is parked right
 * after its word step.
 */
class HostReleaseRaceTest {
  /** Nodes of two WHOLE A100s with 2,000 milli-CPU each, under FIRST_FIT. */
  private static LockFreeCluster cluster(String... ids) {
    var b = GpuClusters.newBuilder().strategy(PlacementStrategy.FIRST_FIT);
    for (String id : ids) {
      b.node(
          NodeSpec.builder(id)
              .gpus(2, GpuModels.A100_40GB, GpuMode.WHOLE)
              .hostResources(2_000, NodeSpec.UNTRACKED)
              .build());
    }
    return (LockFreeCluster) b.build();
  }

  private static final PlacementRequest HOST = PlacementRequest.wholeGpus(1).withHost(1_000, 0);

  @Test
  @Timeout(60)
  void aPlacementAfterAReleasesWordStepSeesItsHostResourcesFree() throws Exception {
    LockFreeCluster c = cluster("w");
    Allocation first = c.tryPlace(HOST);
    Allocation second = c.tryPlace(HOST);
    assertThat(first).isNotNull();
    assertThat(second).isNotNull();
    assertThat(c.tryPlace(HOST)).as("both GPUs and all the CPU are taken").isNull();

    CompletableFuture<Boolean> released = new CompletableFuture<>();
    Thread releaser = new Thread(() -> released.complete(first.release()), "releaser");
    RemovalRaceTest.Park park = new RemovalRaceTest.Park(ProbePoint.RELEASED_WORDS, releaser);
    c.slot("w", 0).group.hook = park;
    releaser.start();
    assertThat(park.arrived.await(30, TimeUnit.SECONDS)).isTrue();
    try {
      // the release is linearized: its GPU and its 1,000 milli-CPU are free
      Allocation again = c.tryPlace(HOST);
      assertThat(again).as("a placement after the release's word step").isNotNull();
      assertThat(again.gpus().get(0).gpuIndex()).isEqualTo(0);
      assertThat(c.slot("w", 0).node.cpuUsed()).isEqualTo(2_000);
    } finally {
      park.go.countDown();
      releaser.join();
      c.slot("w", 0).group.hook = null;
    }
    assertThat(released.get()).isTrue();
    assertThat(c.slot("w", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /** The same for a gang: its GPUs and the CPU charged for them on each node come back together. */
  @Test
  @Timeout(60)
  void aGangsReleaseGivesItsGpusAndHostResourcesBackAtOneInstant() throws Exception {
    LockFreeCluster c = cluster("a", "b");
    // a spread gang of three: two GPUs on a (2,000 milli-CPU), one on b (1,000); a single on b
    Allocation gang = c.tryPlace(PlacementRequest.wholeGpus(3).withHost(3_000, 0));
    assertThat(gang).isNotNull();
    assertThat(gang.gpus()).extracting(g -> g.nodeId()).containsExactly("a", "a", "b");
    Allocation single = c.tryPlace(HOST);
    assertThat(single).isNotNull();
    assertThat(c.slot("a", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(c.slot("b", 0).node.cpuUsed()).isEqualTo(2_000);
    PlacementRequest big = PlacementRequest.wholeGpus(1).withHost(2_000, 0);
    assertThat(c.tryPlace(big)).isNull();

    CompletableFuture<Boolean> released = new CompletableFuture<>();
    Thread releaser = new Thread(() -> released.complete(gang.release()), "releaser");
    RemovalRaceTest.Park park = new RemovalRaceTest.Park(ProbePoint.RELEASED_WORDS, releaser);
    c.slot("a", 0).group.hook = park;
    releaser.start();
    assertThat(park.arrived.await(30, TimeUnit.SECONDS)).isTrue();
    try {
      assertThat(c.slot("a", 0).node.cpuUsed()).as("a's CPU back with the GPUs").isZero();
      assertThat(c.slot("b", 0).node.cpuUsed()).as("b's CPU back with the GPU").isEqualTo(1_000);
      assertThat(c.tryPlace(big)).as("a placement after the gang's step").isNotNull();
      assertThat(c.tryPlace(HOST)).as("b's GPU and CPU").isNotNull();
    } finally {
      park.go.countDown();
      releaser.join();
      c.slot("a", 0).group.hook = null;
    }
    assertThat(released.get()).isTrue();
    assertThat(c.slot("a", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(c.slot("b", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }
}
