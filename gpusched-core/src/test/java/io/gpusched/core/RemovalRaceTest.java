package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Deterministic regressions for placements and releases racing a forced node removal (issue 10,
 * the back-out hold and the release racing the removal's sweep): a test hook ({@link Group#hook})
 * parks a placement after it took its GPUs, or a release before its word step, while another thread
 * removes the node. The removal kills the node's words in one step ({@link GangClaims#DEAD}), so
 * each racing operation is ordered before or after it, and its result says which.
 */
class RemovalRaceTest {

  private static LockFreeCluster cluster(String... nodes) {
    var b = GpuClusters.newBuilder().strategy(PlacementStrategy.FIRST_FIT);
    for (String n : nodes) {
      b.node(NodeSpec.builder(n).gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build());
    }
    return (LockFreeCluster) b.build();
  }

  /** Parks the calling thread at {@code point} of {@code group}, once, until {@link #go}. */
  static final class Park implements Probe {
    final ProbePoint point;
    final Thread thread;
    final CountDownLatch arrived = new CountDownLatch(1);
    final CountDownLatch go = new CountDownLatch(1);

    Park(ProbePoint point, Thread thread) {
      this.point = point;
      this.thread = thread;
    }

    @Override
    public void at(ProbePoint p, Object subject) {
      if (p == point && Thread.currentThread() == thread && arrived.getCount() > 0) {
        arrived.countDown();
        try {
          go.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }

  private static void awaitDead(LockFreeCluster c, String node) throws InterruptedException {
    GpuSlot s = c.slot(node, 0);
    while (!s.isDead()) {
      Thread.sleep(1);
    }
  }

  /**
   * A spread gang took a's and b's GPU, then a was force-removed before it published. It used to
   * back out (its removal reported nothing) and find no room for two GPUs any more, so it returned
   * empty, while b's GPU had been held in between: a request for one GPU refused in that window had
   * no explanation. Now the gang is placed before the removal and reported lost by it: severed,
   * keeping b's GPU until released. (The placement may return before the removal's sweep: the
   * allocation is then still active when returned and reported lost by the removal right after,
   * as the scheduler's own start path already handles.)
   */
  @Test
  @Timeout(60)
  void aGangThatTookANodeJustBeforeItsRemovalIsReportedLostNotBackedOut() throws Exception {
    LockFreeCluster c = cluster("a", "b");
    CompletableFuture<Optional<Allocation>> gang = new CompletableFuture<>();
    Thread placer =
        new Thread(() -> gang.complete(c.place(PlacementRequest.wholeGpus(2, false))), "placer");
    Park park = new Park(ProbePoint.HOST_HELD, placer);
    c.slot("a", 0).group.hook = park;
    placer.start();
    assertThat(park.arrived.await(30, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<NodeRemoval> removal =
        CompletableFuture.supplyAsync(() -> c.removeNode("a", true));
    awaitDead(c, "a"); // the removal's step is done: the gang's take came before it
    // b's GPU is the gang's: refused, and explained by the gang placed before the removal
    assertThat(c.place(PlacementRequest.wholeGpus(1))).isEmpty();
    assertThat(removal).isNotDone(); // it waits for the gang to be registered
    park.go.countDown();
    placer.join();
    c.slot("b", 0).group.hook = null;

    Allocation g = gang.get().orElseThrow(); // old code: empty (backed out, then no room)
    assertThat(g.gpus()).extracting(AllocatedGpu::nodeId).containsExactly("a", "b");
    assertThat(removal.get(30, TimeUnit.SECONDS).lost()).containsExactly(g);
    assertThat(g.isActive()).isFalse();
    assertThat(c.place(PlacementRequest.wholeGpus(1))).as("b still held by the severed gang").isEmpty();
    assertThat(g.release()).isTrue();
    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().gpus().get(0).nodeId())
        .isEqualTo("b");
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * One GPU taken on a just before a's removal: the placement is returned lost, and the removal
   * reports it (it used to back out and land on b, with the removal reporting nothing).
   */
  @Test
  @Timeout(60)
  void aPlacementThatTookANodeJustBeforeItsRemovalIsReturnedLost() throws Exception {
    LockFreeCluster c = cluster("a", "b");
    CompletableFuture<Optional<Allocation>> placed = new CompletableFuture<>();
    Thread placer =
        new Thread(() -> placed.complete(c.place(PlacementRequest.wholeGpus(1))), "placer");
    Park park = new Park(ProbePoint.HOST_HELD, placer);
    c.slot("a", 0).group.hook = park;
    placer.start();
    assertThat(park.arrived.await(30, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<NodeRemoval> removal =
        CompletableFuture.supplyAsync(() -> c.removeNode("a", true));
    awaitDead(c, "a");
    park.go.countDown();
    placer.join();
    c.slot("b", 0).group.hook = null;

    Allocation a = placed.get().orElseThrow();
    assertThat(a.gpus().get(0).nodeId()).isEqualTo("a");
    assertThat(removal.get(30, TimeUnit.SECONDS).lost()).containsExactly(a);
    assertThat(a.isActive()).isFalse();
    assertThat(a.release()).isFalse(); // lost with its node
    assertThat(c.place(PlacementRequest.wholeGpus(1))).isPresent(); // b was never touched
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * A release whose word step comes after the removal's step is ordered after the removal: the
   * removal reports the allocation lost and the release returns false. It used to return true
   * (its state CAS came first) while the removal, sweeping after it, reported nothing.
   */
  @Test
  @Timeout(60)
  void aReleaseWhoseStepFollowsTheRemovalFindsTheAllocationLost() throws Exception {
    LockFreeCluster c = cluster("a", "b");
    Allocation x = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(x.gpus().get(0).nodeId()).isEqualTo("a");
    CompletableFuture<Boolean> released = new CompletableFuture<>();
    Thread releaser = new Thread(() -> released.complete(x.release()), "releaser");
    Park park = new Park(ProbePoint.RELEASING, releaser);
    c.slot("a", 0).group.hook = park;
    releaser.start();
    assertThat(park.arrived.await(30, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<NodeRemoval> removal =
        CompletableFuture.supplyAsync(() -> c.removeNode("a", true));
    awaitDead(c, "a");
    assertThat(removal).isNotDone(); // it waits for the release to decide
    park.go.countDown();
    releaser.join();

    assertThat(released.get()).isFalse();
    assertThat(removal.get(30, TimeUnit.SECONDS).lost()).containsExactly(x);
    assertThat(x.release()).isFalse();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /** A release whose step comes first frees the GPU; the removal then reports nothing. */
  @Test
  @Timeout(60)
  void aReleaseBeforeTheRemovalIsNotReportedLost() {
    LockFreeCluster c = cluster("a", "b");
    Allocation x = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(x.release()).isTrue();
    assertThat(c.removeNode("a", true).lost()).isEmpty();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * A removal without force is one step too: it turns every word of an empty node dead at once, or
   * fails changing nothing if any GPU is held, and a placement racing it is ordered either way.
   */
  @Test
  @Timeout(60)
  void aRemovalWithoutForceFailsWithoutATrace() {
    LockFreeCluster c = cluster("a", "b");
    Allocation x = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> c.removeNode("a", false))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("a has active allocations");
    assertThat(c.slot("a", 0).isDead()).isFalse();
    assertThat(x.isActive()).isTrue();
    assertThat(x.release()).isTrue();
    assertThat(c.removeNode("a", false).lost()).isEmpty();
    assertThat(c.nodes()).extracting(NodeSpec::id).containsExactly("b");
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }
}
