package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.Allocation;
import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import java.util.Arrays;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Regression tests for issue 10, items 13-15: stale decision tables, cached constraint filters and
 * removed nodes counted by the "could never fit" checks.
 * Each lands in its race window through a {@link Probe}, on one thread where it can (the placing
 * thread runs the management call inside the probe) and with latches where two threads must
 * interleave.
 */
class TablesAndFiltersRegressionTest {

  private static NodeSpec whole(String id, int gpus) {
    return NodeSpec.builder(id).gpus(gpus, GpuModels.A100_80GB, GpuMode.WHOLE).build();
  }

  /** FRAGMENTATION_AWARE with a learned mix: the default. */
  private static LockFreeCluster cluster(NodeSpec... nodes) {
    return (LockFreeCluster) GpuClusters.newBuilder().nodes(Arrays.asList(nodes)).build();
  }

  /** Places and releases {@code req} up to {@code times} times, until {@code stop} is set. */
  private static void churn(LockFreeCluster c, PlacementRequest req, int times, AtomicBoolean stop) {
    for (int i = 0; i < times && !stop.get(); i++) {
      c.place(req).orElseThrow().release();
    }
  }

  /** Every group's tables were built from the current node sizes and the current table weights. */
  private static void assertTablesCurrent(LockFreeCluster c) {
    for (Group g : c.groups()) {
      assertThat(g.tables.maxF).as("maxF of %s", g).isEqualTo(Math.max(1, g.maxNodeGpus));
      assertThat(g.tables.weights)
          .as("weights of %s", g)
          .containsExactly(g.tables.groupWeights(c.tableWeights()));
    }
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  // ------------------------------------------------------------------ item 13: decision tables

  @Test
  void relearnDoesNotOverwriteTheTablesOfANewlyAddedLargerNode() {
    LockFreeCluster c = cluster(whole("a", 8));
    AtomicBoolean folded = new AtomicBoolean();
    AtomicBoolean added = new AtomicBoolean();
    c.probe(
        (point, subject) -> {
          if (point == ProbePoint.WEIGHTS_FOLDED) {
            folded.set(true);
          }
          // the relearn built its table for 8-GPU nodes; a 16-GPU node arrives before it publishes
          if (point == ProbePoint.TABLES_BUILT && folded.get() && added.compareAndSet(false, true)) {
            c.addNode(whole("b", 16));
          }
        });
    churn(c, PlacementRequest.wholeGpus(1), 4 * Mix.RELEARN_EVERY, added);
    assertThat(added).as("the relearn rebuilt the tables").isTrue();

    // only node b can host 16 GPUs on one node
    Optional<Allocation> big = c.place(PlacementRequest.wholeGpus(16, true));
    assertThat(big).isPresent();
    assertThat(big.get().gpus()).allMatch(g -> g.nodeId().equals("b"));
    assertTablesCurrent(c);
  }

  @Test
  void aRelearnRacingAnotherDoesNotPublishOlderWeights() {
    LockFreeCluster c = cluster(whole("a", 8));
    AtomicInteger folds = new AtomicInteger();
    AtomicInteger nestedRelearns = new AtomicInteger();
    AtomicBoolean inside = new AtomicBoolean();
    AtomicBoolean done = new AtomicBoolean();
    c.probe(
        (point, subject) -> {
          if (point == ProbePoint.RELEARN && inside.get()) {
            nestedRelearns.incrementAndGet();
          }
          if (point == ProbePoint.WEIGHTS_FOLDED && folds.incrementAndGet() == 1) {
            // relearn 1 folded W1 (all 1-GPU requests) and has not rebuilt yet; meanwhile enough
            // 2-GPU requests arrive for a second relearn, whose weights W2 differ a lot from W1
            inside.set(true);
            churn(c, PlacementRequest.wholeGpus(2, true), (int) Mix.MIN_SAMPLES + 2 * Mix.RELEARN_EVERY, new AtomicBoolean());
            inside.set(false);
            done.set(true);
          }
        });
    churn(c, PlacementRequest.wholeGpus(1), 4 * Mix.RELEARN_EVERY, done);
    assertThat(done).as("the first relearn folded new weights").isTrue();
    assertThat(nestedRelearns.get()).as("relearns attempted inside the first").isPositive();
    // after a relearn the tables are within the rebuild distance of the mix's weights
    assertThat(Mix.distance(c.mix().weights(), c.tableWeights()))
        .isLessThanOrEqualTo(Mix.REBUILD_DISTANCE);
    assertTablesCurrent(c);
  }

  @Test
  void relearnRunsOnlyAfterThePlacementThatTriggeredItIsPublished() {
    LockFreeCluster c = cluster(whole("a", 8));
    AtomicInteger activeDuringRelearn = new AtomicInteger(-1);
    c.probe(
        (point, subject) -> {
          if (point == ProbePoint.RELEARN && activeDuringRelearn.get() < 0) {
            activeDuringRelearn.set(c.allocations("a").size());
          }
        });
    for (int i = 0; i < 2 * Mix.RELEARN_EVERY && activeDuringRelearn.get() < 0; i++) {
      c.place(PlacementRequest.wholeGpus(1)).orElseThrow().release();
    }
    // the placement that triggered the relearn holds a GPU: it must be ACTIVE by then, not a
    // reservation left pending for the whole rebuild
    assertThat(activeDuringRelearn.get()).isEqualTo(1);
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  // ------------------------------------------------------------------ item 14: constraint filters

  private static NodeSpec labelled(String id, int gpus) {
    return NodeSpec.builder(id).label("zone", "z").gpus(gpus, GpuModels.A100_80GB, GpuMode.WHOLE).build();
  }

  private static final Constraints ZONE = Constraints.NONE.withLabel("zone", "z");

  @Test
  void filterBuildRacingAnUncordonDoesNotHideTheNodeForever() throws Exception {
    LockFreeCluster c = cluster(labelled("a", 1));
    c.setNodeState("a", NodeState.CORDONED);
    CountDownLatch applied = new CountDownLatch(1);
    CountDownLatch builderDone = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean started = new AtomicBoolean();
    Thread uncordon =
        new Thread(
            () -> {
              try {
                c.setNodeState("a", NodeState.READY);
              } catch (Throwable t) {
                failure.set(t);
              }
            },
            "uncordon");
    c.probe(
        (point, subject) -> {
          try {
            if (point == ProbePoint.FILTER_NODE_READ
                && Thread.currentThread() != uncordon
                && started.compareAndSet(false, true)) {
              // the builder read "a" as cordoned; the uncordon runs and applies now
              uncordon.start();
              assertThat(applied.await(10, TimeUnit.SECONDS)).isTrue();
            } else if (point == ProbePoint.FILTER_APPLIED && Thread.currentThread() == uncordon) {
              applied.countDown();
              // the builder finishes its build before the uncordon returns
              builderDone.await(10, TimeUnit.SECONDS);
            }
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
        });
    Optional<Allocation> first;
    try {
      first = c.place(PlacementRequest.wholeGpus(1).withConstraints(ZONE));
    } finally {
      builderDone.countDown();
    }
    uncordon.join(10_000);
    assertThat(started).isTrue();
    assertThat(failure.get()).isNull();
    // "a" was READY before the first placement returned; at the latest the next one finds it
    first.ifPresent(Allocation::release);
    assertThat(c.place(PlacementRequest.wholeGpus(1).withConstraints(ZONE))).isPresent();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  @Test
  void aConcurrentPlacementNeverSearchesAHalfBuiltFilter() throws Exception {
    LockFreeCluster c = cluster(labelled("a", 2));
    AtomicReference<Optional<Allocation>> other = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean started = new AtomicBoolean();
    Thread main = Thread.currentThread();
    c.probe(
        (point, subject) -> {
          if (point == ProbePoint.FILTER_NODE_READ
              && Thread.currentThread() == main
              && started.compareAndSet(false, true)) {
            // the first filter build for ZONE is under way; a second placement with ZONE runs now
            Thread t =
                new Thread(
                    () -> {
                      try {
                        other.set(c.place(PlacementRequest.wholeGpus(1).withConstraints(ZONE)));
                      } catch (Throwable e) {
                        failure.set(e);
                      }
                    });
            t.start();
            try {
              t.join(10_000);
            } catch (InterruptedException e) {
              throw new AssertionError(e);
            }
          }
        });
    Optional<Allocation> first = c.place(PlacementRequest.wholeGpus(1).withConstraints(ZONE));
    assertThat(started).isTrue();
    assertThat(failure.get()).isNull();
    // node a had two free GPUs throughout: both placements must get one
    assertThat(other.get()).isPresent();
    assertThat(first).isPresent();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  // ------------------------------------------------------------------ item 15: removed nodes

  @Test
  void aSpreadGangLargerThanTheRemainingNodesThrows() {
    LockFreeCluster c = cluster(whole("a", 8), whole("b", 8));
    c.removeNode("b", false);
    assertThatThrownBy(() -> c.place(PlacementRequest.wholeGpus(12)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("12");
    assertThat(c.place(PlacementRequest.wholeGpus(8))).isPresent(); // unchanged: all 8 still free
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  @Test
  void aSameNodeGangOnlyARemovedNodeCouldHostThrows() {
    LockFreeCluster c = cluster(whole("a", 8), whole("big", 16));
    c.removeNode("big", false);
    assertThatThrownBy(() -> c.place(PlacementRequest.wholeGpus(16, true)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("16");
    assertThat(c.place(PlacementRequest.wholeGpus(8, true))).isPresent();
    // the node comes back: the request fits again
    c.addNode(whole("big", 16));
    assertThat(c.place(PlacementRequest.wholeGpus(16, true))).isPresent();
    assertTablesCurrent(c);
  }

  @Test
  void sharesAndMigOfAModelWhoseNodesAreAllRemovedThrow() {
    LockFreeCluster c =
        cluster(
            whole("a", 8),
            NodeSpec.builder("s").gpus(2, GpuModels.H100_80GB, GpuMode.SHARED).build(),
            NodeSpec.builder("m").gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build());
    assertThat(c.place(PlacementRequest.share(100, 1024))).isPresent().get().satisfies(Allocation::release);
    assertThat(c.place(PlacementRequest.mig("1g.10gb"))).isPresent().get().satisfies(Allocation::release);
    c.removeNode("s", false);
    c.removeNode("m", false);
    assertThatThrownBy(() -> c.place(PlacementRequest.share(100, 1024)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.place(PlacementRequest.mig("1g.10gb")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1g.10gb");
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }
}
