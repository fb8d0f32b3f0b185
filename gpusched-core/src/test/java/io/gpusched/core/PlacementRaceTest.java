package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Deterministic regressions for spurious placement misses (issue 10, items 10-12): a test hook
 * ({@link Group#hook}) parks a thread, or runs a nested placement, at an exact point of the
 * placement path, so each race lands the same way on every run.
 */
class PlacementRaceTest {

  private static LockFreeCluster oneGpu(GpuMode mode, io.gpusched.GpuModel model) {
    return (LockFreeCluster)
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.FIRST_FIT)
            .node(NodeSpec.builder("n").gpus(1, model, mode).build())
            .build();
  }

  /**
   * A whole GPU went to an empty SHARED GPU while a WHOLE one was free: the search of the WHOLE
   * group passed over a node whose index entry lagged (here a releaser parked in its window: the
   * GPU is free, its node not yet back in the "1 free" bucket), found nothing, and took the first
   * SHARED candidate; a success was never checked, only a miss. The strict Lincheck check found it
   * once placers walked from one front (every strategy: the tier comes before any score). Now the
   * first candidate of a worse tier is tried only after the better tier's miss is checked as a
   * miss is, announced windows included.
   */
  @Test
  @Timeout(60)
  void aWholeGpuGoesToASharedGpuOnlyWhenNoWholeGpuIsFree() {
    for (PlacementStrategy strategy :
        List.of(PlacementStrategy.FIRST_FIT, PlacementStrategy.BEST_FIT, PlacementStrategy.FRAGMENTATION_AWARE)) {
      LockFreeCluster c =
          (LockFreeCluster)
              GpuClusters.newBuilder()
                  .strategy(strategy)
                  .node(NodeSpec.builder("w").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build())
                  .node(NodeSpec.builder("s").gpus(1, GpuModels.H100_80GB, GpuMode.SHARED).build())
                  .build();
      Allocation x = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
      assertThat(x.gpus().get(0).nodeId()).as("%s: WHOLE first", strategy).isEqualTo("w");
      Allocation y;
      ParkedReleaser releaser = new ParkedReleaser(x); // x's GPU is free: released, not re-indexed
      try {
        y = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
      } finally {
        releaser.close();
      }
      assertThat(y.gpus().get(0).nodeId())
          .as("%s: the WHOLE GPU the release freed, not the SHARED one", strategy)
          .isEqualTo("w");
      assertThat(c.place(PlacementRequest.share(700, 40_000)))
          .as("%s: the SHARED GPU is still free for a share", strategy)
          .isPresent();
      assertThat(EngineInvariants.verify(c)).isEmpty();
    }
  }

  /**
   * Item 10. A releaser parked between its index clear and its repair, after a placement moved the
   * GPU back into the class it clears, hid the GPU: every concurrent search failed (64 passes
   * waiting on the releaser's open window, then empty) although six slices were free throughout.
   */
  @Test
  @Timeout(60)
  void stalledReleaserDoesNotHideTheGpu() throws Exception {
    LockFreeCluster c = oneGpu(GpuMode.MIG_DYNAMIC, GpuModels.H100_80GB);
    Allocation x = c.place(PlacementRequest.mig("1g.10gb")).orElseThrow();
    Optional<Allocation> z;
    Allocation y;
    try (var releaser = new ParkedReleaser(x)) {
      // another placement moves the GPU back into the "one 1g used" class
      y = c.place(PlacementRequest.mig("1g.10gb")).orElseThrow();
      releaser.clearAndPark(); // the releaser cleared that class while the GPU is in it
      z = c.place(PlacementRequest.mig("1g.10gb"));
    }
    assertThat(z).as("a 1g.10gb on a GPU with six free slices").isPresent();
    assertThat(EngineInvariants.verify(c)).isEmpty();
    assertThat(y.release()).isTrue();
    assertThat(z.get().release()).isTrue();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * The same window when the placing thread's previous placement missed: it then reads the miss
   * stamp before its first walk instead of walking twice ({@code Placer#placeOne} with {@code
   * expectMiss}), and the GPU must still be found.
   */
  @Test
  @Timeout(60)
  void stalledReleaserDoesNotHideTheGpuFromAThreadThatJustMissed() throws Exception {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .strategy(PlacementStrategy.FIRST_FIT)
                .node(NodeSpec.builder("n").gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build())
                .node(NodeSpec.builder("m").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build())
                .build();
    Allocation whole = c.place(PlacementRequest.wholeGpus(1)).orElseThrow(); // the A100
    Allocation x = c.place(PlacementRequest.mig("1g.10gb")).orElseThrow();
    Optional<Allocation> z;
    Allocation y;
    try (var releaser = new ParkedReleaser(x)) {
      y = c.place(PlacementRequest.mig("1g.10gb")).orElseThrow();
      releaser.clearAndPark();
      // a miss on the other group only: the H100's index stays as the releaser left it
      assertThat(c.place(PlacementRequest.wholeGpus(1))).as("a second whole A100").isEmpty();
      z = c.place(PlacementRequest.mig("1g.10gb"));
    }
    assertThat(z).as("a 1g.10gb on a GPU with six free slices, after a miss").isPresent();
    assertThat(EngineInvariants.verify(c)).isEmpty();
    assertThat(y.release()).isTrue();
    assertThat(z.get().release()).isTrue();
    assertThat(whole.release()).isTrue();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * Item 12. Churn that keeps a SHARED GPU inside one bucket makes every CAS of a placement fail;
   * the placement gave up after 8 tries and its search was trusted (no index move), so a share
   * that fitted all along was refused.
   */
  @Test
  @Timeout(60)
  void shareChurnInsideOneBucketDoesNotRefuse() {
    LockFreeCluster c = oneGpu(GpuMode.SHARED, GpuModels.H100_80GB);
    List<Allocation> churn = new ArrayList<>();
    churn.add(c.place(PlacementRequest.share(1, 1)).orElseThrow()); // 999 milli free: one bucket
    Group g = ((AllocationImpl) churn.get(0)).slots[0].group;
    int before = g.space.state(((AllocationImpl) churn.get(0)).slots[0].lvWord());
    AtomicInteger nested = new AtomicInteger();
    boolean[] inside = {false};
    g.hook =
        (point, subject) -> {
          if (point == ProbePoint.BEFORE_CAS && !inside[0] && nested.get() < 8) {
            inside[0] = true; // one churn placement before each CAS of the share under test
            nested.incrementAndGet();
            churn.add(c.place(PlacementRequest.share(1, 1)).orElseThrow());
            inside[0] = false;
            assertThat(g.space.state(((AllocationImpl) churn.get(0)).slots[0].lvWord()))
                .as("the churn stays in one bucket")
                .isEqualTo(before);
          }
        };
    Optional<Allocation> big = c.place(PlacementRequest.share(100, 100));
    g.hook = null;
    assertThat(nested.get()).isEqualTo(8);
    assertThat(big).as("share(100,100) with 990 milli free").isPresent();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * Item 11. A placement reserved host resources on a candidate before checking that the GPU still
   * fitted; a request that needed those resources, on a free GPU of the same node, was refused
   * while the doomed reservation was held (host changes never made a search re-run).
   */
  @Test
  @Timeout(60)
  void hostHeldForAGpuThatNoLongerFitsDoesNotRefuseOthers() {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .strategy(PlacementStrategy.FIRST_FIT)
                .node(
                    NodeSpec.builder("n")
                        .gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
                        .gpus(1, GpuModels.A100_40GB, GpuMode.WHOLE)
                        .hostResources(1000, NodeSpec.UNTRACKED)
                        .build())
                .build();
    Constraints h100 = Constraints.NONE.withGpuModels(Set.of(GpuModels.H100_80GB.name()));
    Constraints a100 = Constraints.NONE.withGpuModels(Set.of(GpuModels.A100_40GB.name()));
    PlacementRequest a = PlacementRequest.mig("7g.80gb").withHost(1000, 0).withConstraints(h100);
    PlacementRequest p = PlacementRequest.mig("7g.80gb").withConstraints(h100);
    PlacementRequest b = PlacementRequest.wholeGpus(1).withHost(1000, 0).withConstraints(a100);
    Group mig = c.slot("n", 0).group;
    AtomicReference<Optional<Allocation>> bResult = new AtomicReference<>();
    AtomicInteger step = new AtomicInteger();
    mig.hook =
        (point, subject) -> {
          if (point == ProbePoint.CANDIDATE && step.compareAndSet(0, -1)) {
            c.place(p).orElseThrow(); // takes the H100 that `a` is about to try
            step.set(1);
          } else if (point == ProbePoint.HOST_HELD && step.compareAndSet(1, 2)) {
            bResult.set(c.place(b)); // while `a` holds the node's CPU for a GPU that is gone
          }
        };
    Optional<Allocation> aResult = c.place(a);
    mig.hook = null;
    if (bResult.get() == null) {
      bResult.set(c.place(b)); // `a` never held the host for a GPU that did not fit
    }
    assertThat(aResult).isEmpty();
    assertThat(bResult.get()).as("a whole A100 with the node's CPU free").isPresent();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * Item 11, the host-race hold. A placement took a GPU, and only then reserved the node's CPU: a
   * placement that took the CPU in between made it give the GPU back, and a request for a GPU
   * without CPU, refused while it was held, had no explanation (the first placement returned
   * empty). GPU and host resources are now taken in one step: the first placement holds both, the
   * CPU request is refused, and the GPU request gets the other GPU.
   */
  @Test
  @Timeout(60)
  void aHostRaceNeverHoldsAGpuOthersNeed() {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .strategy(PlacementStrategy.FIRST_FIT)
                .node(
                    NodeSpec.builder("n")
                        .gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE)
                        .hostResources(1000, NodeSpec.UNTRACKED)
                        .build())
                .build();
    PlacementRequest withCpu = PlacementRequest.wholeGpus(1).withHost(1000, 0);
    PlacementRequest gpuOnly = PlacementRequest.wholeGpus(1);
    AtomicReference<Optional<Allocation>> q1 = new AtomicReference<>();
    AtomicReference<Optional<Allocation>> q2 = new AtomicReference<>();
    AtomicInteger step = new AtomicInteger();
    Group g = c.slot("n", 0).group;
    g.hook =
        (point, subject) -> {
          if (point == ProbePoint.GANG_TOOK && step.compareAndSet(0, 1)) {
            q1.set(c.place(withCpu)); // the CPU: the first placement's, or free on old code
            q2.set(c.place(gpuOnly)); // a GPU without CPU: the second one is free
          }
        };
    Optional<Allocation> p = c.place(withCpu);
    g.hook = null;
    assertThat(step.get()).isEqualTo(1);
    assertThat(p).as("the first placement, which took GPU and CPU").isPresent();
    assertThat(q1.get()).as("the node's CPU was the first placement's").isEmpty();
    assertThat(q2.get()).as("a GPU without CPU, one of two free").isPresent();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }
}
