package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.NodeRemoval;
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

  /** Places a request of the test's setup, which must succeed. */
  private static Allocation placed(LockFreeCluster c, PlacementRequest r) {
    Allocation a = c.tryPlace(r);
    assertThat(a).as("setup: %s", r).isNotNull();
    return a;
  }

  /**
   * Releases an allocation on a thread of its own, parked at {@code point} of {@code group} until
   * {@link #close}; {@link #released} is the release's result.
   */
  private static final class ParkedRelease implements AutoCloseable {
    final CompletableFuture<Boolean> released = new CompletableFuture<>();
    private final Thread thread;
    private final RemovalRaceTest.Park park;
    private final Group group;

    ParkedRelease(Allocation a, Group group, ProbePoint point) throws InterruptedException {
      this.group = group;
      thread = new Thread(() -> released.complete(a.release()), "releaser");
      park = new RemovalRaceTest.Park(point, thread);
      group.hook = park;
      thread.start();
      assertThat(park.arrived.await(30, TimeUnit.SECONDS)).as("the releaser reached " + point).isTrue();
    }

    @Override
    public void close() {
      park.go.countDown();
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while the releaser finished", e);
      } finally {
        group.hook = null;
      }
    }
  }

  @Test
  @Timeout(60)
  void aPlacementAfterAReleasesWordStepSeesItsHostResourcesFree() throws Exception {
    LockFreeCluster c = cluster("w");
    Allocation first = placed(c, HOST);
    placed(c, HOST);
    assertThat(c.tryPlace(HOST)).as("both GPUs and all the CPU are taken").isNull();

    ParkedRelease r = new ParkedRelease(first, c.slot("w", 0).group, ProbePoint.RELEASED_WORDS);
    try (r) {
      // the release is linearized: its GPU and its 1,000 milli-CPU are free
      Allocation again = c.tryPlace(HOST);
      assertThat(again).as("a placement after the release's word step").isNotNull();
      assertThat(again.gpus().get(0).gpuIndex()).isEqualTo(0);
      assertThat(c.slot("w", 0).node.cpuUsed()).isEqualTo(2_000);
    }
    assertThat(r.released.get()).isTrue();
    assertThat(c.slot("w", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /** The same for a gang: its GPUs and the CPU charged for them on each node come back together. */
  @Test
  @Timeout(60)
  void aGangsReleaseGivesItsGpusAndHostResourcesBackAtOneInstant() throws Exception {
    LockFreeCluster c = cluster("a", "b");
    // a spread gang of three: two GPUs on a (2,000 milli-CPU), one on b (1,000); a single on b
    Allocation gang = placed(c, PlacementRequest.wholeGpus(3).withHost(3_000, 0));
    assertThat(gang.gpus()).extracting(g -> g.nodeId()).containsExactly("a", "a", "b");
    placed(c, HOST);
    assertThat(c.slot("a", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(c.slot("b", 0).node.cpuUsed()).isEqualTo(2_000);
    PlacementRequest big = PlacementRequest.wholeGpus(1).withHost(2_000, 0);
    assertThat(c.tryPlace(big)).isNull();

    ParkedRelease r = new ParkedRelease(gang, c.slot("a", 0).group, ProbePoint.RELEASED_WORDS);
    try (r) {
      assertThat(c.slot("a", 0).node.cpuUsed()).as("a's CPU back with the GPUs").isZero();
      assertThat(c.slot("b", 0).node.cpuUsed()).as("b's CPU back with the GPU").isEqualTo(1_000);
      assertThat(c.tryPlace(big)).as("a placement after the gang's step").isNotNull();
      assertThat(c.tryPlace(HOST)).as("b's GPU and CPU").isNotNull();
    }
    assertThat(r.released.get()).isTrue();
    assertThat(c.slot("a", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(c.slot("b", 0).node.cpuUsed()).isEqualTo(2_000);
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * A share's release on a GPU that holds another share: only its own milli and CPU come back, in
   * one step, and the other share keeps what it holds.
   */
  @Test
  @Timeout(60)
  void aSharesReleaseBesideAnotherShareGivesBackOnlyItsOwn() throws Exception {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .strategy(PlacementStrategy.BEST_FIT)
                .node(
                    NodeSpec.builder("s")
                        .gpus(1, GpuModels.H100_80GB, GpuMode.SHARED)
                        .hostResources(2_000, NodeSpec.UNTRACKED)
                        .build())
                .build();
    Allocation mine = placed(c, PlacementRequest.share(400, 0).withHost(1_500, 0));
    Allocation other = placed(c, PlacementRequest.share(300, 0).withHost(500, 0));
    PlacementRequest wants = PlacementRequest.share(600, 0).withHost(1_200, 0);
    assertThat(c.tryPlace(wants)).as("neither milli nor CPU is free yet").isNull();

    ParkedRelease r = new ParkedRelease(mine, c.slot("s", 0).group, ProbePoint.RELEASED_WORDS);
    try (r) {
      assertThat(c.slot("s", 0).node.cpuUsed()).isEqualTo(500);
      assertThat(Space.Shared.milliUsed(c.slot("s", 0).lvWord())).isEqualTo(300);
      assertThat(c.tryPlace(wants)).as("600 milli and 1,200 milli-CPU after the step").isNotNull();
    }
    assertThat(r.released.get()).isTrue();
    assertThat(other.isActive()).isTrue();
    assertThat(c.slot("s", 0).node.cpuUsed()).isEqualTo(1_700);
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * A forced removal whose step comes before a release's step: the release finds the GPU dead and
   * returns false, the removal reports the allocation lost, and the host charge is subtracted from
   * the removed node all the same (nothing is double-counted or left behind on the live node).
   */
  @Test
  @Timeout(60)
  void aReleaseWithHostResourcesAfterItsNodesRemovalFindsItLost() throws Exception {
    LockFreeCluster c = cluster("a", "b");
    Allocation x = placed(c, HOST);
    Allocation y = placed(c, HOST);
    assertThat(x.gpus().get(0).nodeId()).isEqualTo("a");
    assertThat(y.gpus().get(0).nodeId()).isEqualTo("a");
    NodeEntry a = c.slot("a", 0).node;
    ParkedRelease r = new ParkedRelease(x, c.slot("a", 0).group, ProbePoint.RELEASING);
    CompletableFuture<NodeRemoval> removal;
    try (r) {
      removal = CompletableFuture.supplyAsync(() -> c.removeNode("a", true));
      while (!a.gpus[0].isDead()) { // the removal's step came first
        Thread.sleep(1);
      }
    }

    assertThat(r.released.get()).isFalse();
    assertThat(removal.get(30, TimeUnit.SECONDS).lost()).containsExactlyInAnyOrder(x, y);
    assertThat(a.cpuUsed()).as("x's charge subtracted from the removed node").isEqualTo(1_000);
    assertThat(c.tryPlace(HOST)).as("b untouched").isNotNull();
    assertThat(c.slot("b", 0).node.cpuUsed()).isEqualTo(1_000);
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }
}
