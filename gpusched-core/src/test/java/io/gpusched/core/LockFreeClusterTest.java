package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.CapacityClass;
import io.gpusched.ClusterSnapshot;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuSpec;
import io.gpusched.MigInstance;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.UsageSummary;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class LockFreeClusterTest {

  static List<PlacementStrategy> strategies() {
    return List.of(
        PlacementStrategy.FIRST_FIT,
        PlacementStrategy.BEST_FIT,
        PlacementStrategy.SPREAD,
        PlacementStrategy.FRAGMENTATION_AWARE);
  }

  static GpuCluster cluster(PlacementStrategy s, NodeSpec... nodes) {
    return GpuClusters.newBuilder().strategy(s).nodes(List.of(nodes)).build();
  }

  static NodeSpec node(String id, int gpus, GpuModel model, GpuMode mode) {
    return NodeSpec.builder(id).gpus(gpus, model, mode).build();
  }

  static void assertInvariants(GpuCluster c) {
    assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
  }

  @ParameterizedTest
  @MethodSource("strategies")
  void sevenOneSliceInstancesFillAnH100AndTheEighthFails(PlacementStrategy s) {
    GpuCluster c = cluster(s, node("n", 1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC));
    Set<Integer> starts = new HashSet<>();
    for (int i = 0; i < 7; i++) {
      Allocation a = c.place(PlacementRequest.mig("1g.10gb")).orElseThrow();
      AllocatedGpu g = a.gpus().get(0);
      assertThat(g.migProfile()).isEqualTo("1g.10gb");
      assertThat(g.migStartSlot()).isBetween(0, 6);
      assertThat(starts.add(g.migStartSlot())).isTrue();
    }
    assertThat(c.place(PlacementRequest.mig("1g.10gb"))).isEmpty();
    assertThat(c.place(PlacementRequest.mig("7g.80gb"))).isEmpty();
    assertInvariants(c);
  }

  @ParameterizedTest
  @MethodSource("strategies")
  void computeSlicesLimitBesideMemorySlots(PlacementStrategy s) {
    GpuCluster c = cluster(s, node("n", 1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC));
    // 4g.40gb (4 compute, slots 0-3) + 3g.40gb (3 compute, slots 4-7) = 7 compute, 8 slots
    assertThat(c.place(PlacementRequest.mig("4g.40gb"))).isPresent();
    Allocation three = c.place(PlacementRequest.mig("3g.40gb")).orElseThrow();
    assertThat(three.gpus().get(0).migStartSlot()).isEqualTo(4);
    assertThat(c.place(PlacementRequest.mig("1g.10gb"))).isEmpty();
    three.release();
    // 2g at 4 and 1g at 6 fit again: 4 + 2 + 1 = 7 compute slices
    assertThat(c.place(PlacementRequest.mig("2g.20gb"))).isPresent();
    assertThat(c.place(PlacementRequest.mig("1g.10gb"))).isPresent();
    assertThat(c.place(PlacementRequest.mig("1g.10gb"))).isEmpty();
    assertInvariants(c);
  }

  @Test
  void mediaExtensionProfileOncePerGpu() {
    GpuCluster c =
        cluster(PlacementStrategy.FIRST_FIT, node("n", 1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC));
    assertThat(c.place(PlacementRequest.mig("1g.10gb+me"))).isPresent();
    assertThat(c.place(PlacementRequest.mig("1g.10gb+me"))).isEmpty();
    assertThat(c.place(PlacementRequest.mig("1g.10gb"))).isPresent();
  }

  @Test
  void fragmentationAwarePutsAOneSliceInstanceWhereItKeepsBigBlocksFree() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            node("n", 1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC));
    Allocation a = c.place(PlacementRequest.mig("1g.10gb")).orElseThrow();
    int start = a.gpus().get(0).migStartSlot();
    assertThat(start).isGreaterThanOrEqualTo(4); // keeps 4g.40gb (only at slot 0) possible
    assertThat(c.place(PlacementRequest.mig("4g.40gb"))).isPresent();
  }

  @ParameterizedTest
  @MethodSource("strategies")
  void wholeGangOnOneNodeIsAllOrNothing(PlacementStrategy s) {
    GpuCluster c =
        cluster(
            s,
            node("a", 8, GpuModels.H100_80GB, GpuMode.WHOLE),
            node("b", 4, GpuModels.H100_80GB, GpuMode.WHOLE));
    Allocation eight = c.place(PlacementRequest.wholeGpus(8, true)).orElseThrow();
    assertThat(eight.gpus()).hasSize(8).allMatch(g -> g.nodeId().equals("a"));
    assertThat(c.place(PlacementRequest.wholeGpus(5, true))).isEmpty();
    assertInvariants(c);
    assertThatThrownBy(() -> c.place(PlacementRequest.wholeGpus(9, true)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("9");
    // spread: 4 on b plus nothing else: 5 fails and leaves nothing behind
    assertThat(c.place(PlacementRequest.wholeGpus(5, false))).isEmpty();
    assertThat(c.snapshot().total().freeGpus()).isEqualTo(4);
    assertInvariants(c);
    eight.release();
    Allocation spread = c.place(PlacementRequest.wholeGpus(10, false)).orElseThrow();
    assertThat(spread.gpus()).hasSize(10);
    assertThat(spread.gpus().stream().map(AllocatedGpu::nodeId).distinct()).hasSize(2);
    assertInvariants(c);
  }

  @Test
  void bestFitPacksOnePartiallyUsedNodeBeforeTouchingAnEmptyOne() {
    GpuCluster c =
        cluster(
            PlacementStrategy.BEST_FIT,
            node("a", 8, GpuModels.A100_80GB, GpuMode.WHOLE),
            node("b", 8, GpuModels.A100_80GB, GpuMode.WHOLE));
    c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    c.place(PlacementRequest.wholeGpus(1, true)).orElseThrow();
    assertThat(c.snapshot().nodes().get(1).summary().freeGpus()).isEqualTo(8);
    // an 8-GPU gang still fits on b
    assertThat(c.place(PlacementRequest.wholeGpus(8, true))).isPresent();
  }

  @Test
  void sharesNeverOvercommitAndAWholeRequestTakesAnEmptySharedGpu() {
    GpuCluster c =
        cluster(PlacementStrategy.BEST_FIT, node("n", 2, GpuModels.A100_40GB, GpuMode.SHARED));
    Allocation a = c.place(PlacementRequest.share(600, 10_000)).orElseThrow();
    Allocation b = c.place(PlacementRequest.share(400, 10_000)).orElseThrow();
    assertThat(b.gpus().get(0).gpuIndex()).isEqualTo(a.gpus().get(0).gpuIndex());
    Allocation whole = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(whole.gpus().get(0).gpuIndex()).isNotEqualTo(a.gpus().get(0).gpuIndex());
    assertThat(c.place(PlacementRequest.share(1, 0))).isEmpty();
    assertInvariants(c);
    assertThatThrownBy(() -> c.place(PlacementRequest.share(100, 50_000)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("50000");
  }

  @Test
  void hundredThreadsRaceForTheLastShare() throws Exception {
    GpuCluster c =
        cluster(PlacementStrategy.BEST_FIT, node("n", 1, GpuModels.H100_80GB, GpuMode.SHARED));
    c.place(PlacementRequest.share(900, 0)).orElseThrow();
    ExecutorService pool = Executors.newFixedThreadPool(100);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<Optional<Allocation>>> results = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      results.add(
          pool.submit(
              () -> {
                go.await();
                return c.place(PlacementRequest.share(100, 0));
              }));
    }
    go.countDown();
    int won = 0;
    for (var f : results) {
      if (f.get().isPresent()) {
        won++;
      }
    }
    pool.shutdown();
    assertThat(won).isEqualTo(1);
    assertThat(c.snapshot().total().sharedMilliUsed()).isEqualTo(1000);
    assertInvariants(c);
  }

  @Test
  void releaseIsIdempotentAndRestoresTheExactState() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            node("n", 2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC));
    Allocation a = c.place(PlacementRequest.mig("3g.40gb")).orElseThrow();
    ClusterSnapshot before = c.snapshot();
    Allocation b = c.place(PlacementRequest.mig("2g.20gb")).orElseThrow();
    assertThat(b.release()).isTrue();
    assertThat(b.release()).isFalse();
    assertThat(b.isActive()).isFalse();
    assertThat(c.snapshot().nodes()).isEqualTo(before.nodes());
    assertThat(a.release()).isTrue();
    assertThat(c.snapshot().total().freeGpus()).isEqualTo(2);
    assertInvariants(c);
  }

  @Test
  void badRequestsThrowAndChangeNothing() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            node("n", 1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC));
    ClusterSnapshot before = c.snapshot();
    assertThatThrownBy(() -> c.place(PlacementRequest.mig("1g.5gb")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1g.5gb")
        .hasMessageContaining("3g.40gb");
    assertThatThrownBy(() -> c.place(PlacementRequest.wholeGpus(1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> c.place(PlacementRequest.share(10, 0)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () -> c.place(PlacementRequest.mig("3g.40gb").withConstraints(Constraints.models("A30-24GB"))))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> PlacementRequest.share(1001, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1001");
    assertThatThrownBy(() -> PlacementRequest.wholeGpus(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0");
    assertThat(c.snapshot().nodes()).isEqualTo(before.nodes());
  }

  @Test
  void constraintsSelectNodesByLabelAndCapacityClass() {
    NodeSpec spot =
        NodeSpec.builder("spot")
            .label("zone", "b")
            .capacityClass(CapacityClass.SPOT)
            .gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE)
            .build();
    NodeSpec ondemand =
        NodeSpec.builder("od").label("zone", "a").gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build();
    GpuCluster c = cluster(PlacementStrategy.FIRST_FIT, ondemand, spot);
    PlacementRequest r =
        PlacementRequest.wholeGpus(1)
            .withConstraints(Constraints.NONE.withCapacityClasses(CapacityClass.SPOT));
    assertThat(c.place(r).orElseThrow().nodeId()).isEqualTo("spot");
    PlacementRequest zoneA =
        PlacementRequest.wholeGpus(2, true).withConstraints(Constraints.NONE.withLabel("zone", "a"));
    assertThat(c.place(zoneA).orElseThrow().nodeId()).isEqualTo("od");
    assertThat(c.place(zoneA)).isEmpty();
    c.addNode(NodeSpec.builder("od2").label("zone", "a").gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build());
    assertThat(c.place(zoneA).orElseThrow().nodeId()).isEqualTo("od2");
  }

  @Test
  void hostResourcesAreReservedAndLimitPlacement() {
    NodeSpec n =
        NodeSpec.builder("n").gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE).hostResources(8000, 64_000).build();
    GpuCluster c = cluster(PlacementStrategy.BEST_FIT, n);
    Allocation a = c.place(PlacementRequest.wholeGpus(1).withHost(6000, 1000)).orElseThrow();
    assertThat(c.place(PlacementRequest.wholeGpus(1).withHost(3000, 1000))).isEmpty();
    assertThat(c.place(PlacementRequest.wholeGpus(1).withHost(2000, 1000))).isPresent();
    a.release();
    assertThat(c.place(PlacementRequest.wholeGpus(1).withHost(6000, 1000))).isPresent();
    assertInvariants(c);
  }

  /**
   * Issue 13, item 4, as a new user met it: {@code wholeGpus(2)} with four A100s free took one A100
   * and the whole shared H200 of a spot node. A multi-GPU request stays on one model unless it asks
   * otherwise, and an empty SHARED GPU is taken whole only when no WHOLE GPU fits.
   */
  @ParameterizedTest
  @MethodSource("strategies")
  void wholeGpusStayOnOneModelAndTakeASharedGpuOnlyWhenNoWholeGpuFits(PlacementStrategy strategy) {
    GpuCluster c =
        cluster(
            strategy,
            NodeSpec.builder("spot")
                .gpus(1, GpuModels.H200_141GB, GpuMode.SHARED)
                .capacityClass(CapacityClass.SPOT)
                .build(),
            node("a", 2, GpuModels.A100_40GB, GpuMode.WHOLE),
            node("b", 2, GpuModels.A100_40GB, GpuMode.WHOLE),
            node("h", 2, GpuModels.H100_80GB, GpuMode.WHOLE));
    Allocation one = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(one.gpus().get(0).mode()).isEqualTo(GpuMode.WHOLE);
    one.release();
    Allocation two = c.place(PlacementRequest.wholeGpus(2)).orElseThrow();
    assertThat(two.gpus()).extracting(AllocatedGpu::mode).containsOnly(GpuMode.WHOLE);
    assertThat(two.gpus().stream().map(AllocatedGpu::model).distinct()).hasSize(1);
    // five A100s or H100s of one model do not exist: refused as never fitting, unless mixed
    assertThatThrownBy(() -> c.place(PlacementRequest.wholeGpus(5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("any one model");
    two.release();
    Allocation mixed = c.place(PlacementRequest.wholeGpus(6).withMixedModels()).orElseThrow();
    assertThat(mixed.gpus()).extracting(AllocatedGpu::mode).containsOnly(GpuMode.WHOLE);
    // with every WHOLE GPU taken, the shared H200 is taken whole
    Allocation last = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(last.gpus().get(0).nodeId()).isEqualTo("spot");
    // four A100s taken: a 3-GPU spread request finds no single model with room
    mixed.release();
    last.release();
    Allocation a100s = c.place(PlacementRequest.wholeGpus(4)).orElseThrow();
    assertThat(a100s.gpus()).extracting(AllocatedGpu::model).containsOnly("A100-40GB");
    assertThat(c.place(PlacementRequest.wholeGpus(3))).isEmpty(); // 2 H100 + 1 H200: no one model
    assertThat(c.place(PlacementRequest.wholeGpus(3).withMixedModels())).isPresent();
    assertInvariants(c);
  }

  /**
   * Issue 10: a forced removal that takes one node of a spread gang severs the gang. Its GPUs on
   * the other nodes stay held (its workers there still run) until {@code release()}, which gives
   * them back at one instant and returns true once; before the change the removal gave them back
   * itself, after hiding the node, so a search in between could miss them.
   */
  @Test
  void aRemovalSeversASpreadGangThatKeepsItsOtherGpusUntilReleased() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FIRST_FIT,
            NodeSpec.builder("a")
                .gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE)
                .hostResources(4000, 4000)
                .build(),
            NodeSpec.builder("b")
                .gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE)
                .hostResources(4000, 4000)
                .build());
    Allocation gang = c.place(PlacementRequest.wholeGpus(3, false).withHost(3000, 3000)).orElseThrow();
    assertThat(gang.gpus()).extracting(AllocatedGpu::nodeId).containsExactly("a", "b", "b");
    var removal = c.removeNode("a", true);
    assertThat(removal.lost()).containsExactly(gang);
    assertThat(gang.isActive()).isFalse();
    assertThat(c.allocations("b")).isEmpty(); // lost: no longer listed as active
    // b's GPUs and host resources are still the gang's
    assertThat(c.snapshot().total().allocatedGpus()).isEqualTo(2);
    assertThat(c.place(PlacementRequest.wholeGpus(1))).isEmpty();
    assertInvariants(c);
    assertThat(c.snapshot().nodes()).extracting(n -> n.allocations()).containsExactly(0);
    assertThat(gang.release()).isTrue();
    assertThat(gang.release()).isFalse();
    assertThat(c.snapshot().total().allocatedGpus()).isZero();
    assertThat(c.place(PlacementRequest.wholeGpus(2, true).withHost(4000, 4000))).isPresent();
    assertInvariants(c);
  }

  /** A severed gang whose other node was removed too gives back nothing on either, and says so once. */
  @Test
  void aSeveredGangLosingItsLastNodeIsNotReportedTwice() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FIRST_FIT,
            node("a", 1, GpuModels.H100_80GB, GpuMode.WHOLE),
            node("b", 1, GpuModels.H100_80GB, GpuMode.WHOLE),
            node("c", 1, GpuModels.H100_80GB, GpuMode.WHOLE));
    Allocation gang = c.place(PlacementRequest.wholeGpus(2, false)).orElseThrow();
    assertThat(gang.gpus()).extracting(AllocatedGpu::nodeId).containsExactly("a", "b");
    assertThat(c.removeNode("a", true).lost()).containsExactly(gang);
    assertThat(c.removeNode("b", true).lost()).isEmpty();
    assertThat(gang.release()).isTrue(); // it was severed; nothing left to give back
    assertThat(gang.release()).isFalse();
    assertThat(c.snapshot().total().allocatedGpus()).isZero();
    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("c");
    assertInvariants(c);
  }

  @Test
  void cordonedNodesTakeNoPlacementsAndRemovalReportsLostAllocations() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FIRST_FIT,
            node("a", 1, GpuModels.H100_80GB, GpuMode.WHOLE),
            node("b", 1, GpuModels.H100_80GB, GpuMode.WHOLE));
    c.setNodeState("a", NodeState.CORDONED);
    Allocation onB = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(onB.nodeId()).isEqualTo("b");
    assertThat(c.place(PlacementRequest.wholeGpus(1))).isEmpty();
    c.setNodeState("a", NodeState.READY);
    assertThatThrownBy(() -> c.removeNode("b", false))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("b");
    assertThat(c.allocations("b")).containsExactly(onB);
    var removal = c.removeNode("b", true);
    assertThat(removal.lost()).containsExactly(onB);
    assertThat(onB.isActive()).isFalse();
    assertThat(onB.release()).isFalse();
    assertThat(c.nodes()).extracting(NodeSpec::id).containsExactly("a");
    assertThatThrownBy(() -> c.allocations("b")).isInstanceOf(IllegalArgumentException.class);
    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("a");
    assertInvariants(c);
  }

  @Test
  void staticMigHandsOutPreMadeInstances() {
    GpuSpec gpu =
        new GpuSpec(
            0,
            "GPU-s",
            GpuModels.H100_80GB,
            GpuMode.MIG_STATIC,
            List.of(new MigInstance("3g.40gb", 0), new MigInstance("2g.20gb", 4), new MigInstance("1g.10gb", 6)));
    GpuCluster c = cluster(PlacementStrategy.FIRST_FIT, NodeSpec.builder("n").gpu(gpu).build());
    assertThat(c.place(PlacementRequest.mig("3g.40gb")).orElseThrow().gpus().get(0).migStartSlot()).isZero();
    assertThat(c.place(PlacementRequest.mig("3g.40gb"))).isEmpty();
    assertThat(c.place(PlacementRequest.mig("1g.10gb")).orElseThrow().gpus().get(0).migStartSlot()).isEqualTo(6);
    // no pre-made 4g.40gb instance anywhere: the request can never be placed
    assertThatThrownBy(() -> c.place(PlacementRequest.mig("4g.40gb")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("4g.40gb");
    assertInvariants(c);
  }

  @Test
  void snapshotAddsUpAcrossNodesModelsAndLabels() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            NodeSpec.builder("a").label("zone", "x").gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build(),
            NodeSpec.builder("b").label("zone", "y").gpus(2, GpuModels.A100_40GB, GpuMode.SHARED).build());
    c.place(PlacementRequest.mig("3g.40gb")).orElseThrow();
    c.place(PlacementRequest.share(300, 1000)).orElseThrow();
    ClusterSnapshot s = c.snapshot();
    assertThat(s.total().gpus()).isEqualTo(4);
    assertThat(s.total().allocatedGpus()).isEqualTo(2);
    assertThat(s.byModel().get("H100-80GB").migSlicesUsed()).isEqualTo(4);
    assertThat(s.byModel().get("A100-40GB").sharedMilliUsed()).isEqualTo(300);
    assertThat(s.byLabel().get("zone=x").gpus() + s.byLabel().get("zone=y").gpus()).isEqualTo(4);
    assertThat(s.total().allocatedPercent()).isBetween(0.0, 100.0);
    assertThat(s.total().fragmentationPercent()).isBetween(0.0, 100.0);
    assertThat(s.total().allocatedMilli()).isEqualTo(500 + 300);
  }

  /**
   * Issue 15: an empty cluster reported 18 % fragmentation, because capacity the expected mix can
   * never use on its hardware (8-GPU gangs on 4-GPU nodes, whole GPUs on one-GPU nodes) counted.
   * Only fragmentation that placements cause is reported: none when empty, some once a placement
   * leaves a node where the mix's gangs no longer fit, none again once it is released.
   */
  @Test
  void anEmptyClusterIsNotFragmentedAndAPlacementThatSplitsANodeIs() {
    GpuCluster c =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.FRAGMENTATION_AWARE)
            .expectedMix(Map.of(new GpuDemand.Whole(4, true), 1.0, new GpuDemand.Whole(8, true), 1.0))
            .nodes(List.of(
                NodeSpec.builder("four").gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE).build(),
                NodeSpec.builder("shared").gpus(1, GpuModels.H200_141GB, GpuMode.SHARED).build(),
                NodeSpec.builder("mig").gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build()))
            .build();
    assertThat(c.snapshot().total().fragmentedMilli()).isZero();
    assertThat(c.snapshot().total().fragmentationPercent()).isZero();

    Allocation one = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    UsageSummary four = c.snapshot().nodes().stream()
        .filter(n -> n.nodeId().equals("four")).findFirst().orElseThrow().summary();
    assertThat(four.fragmentedMilli()).isCloseTo(1500.0, within(1e-6)); // 3 free GPUs, no gang of 4 fits: half the mix
    one.release();
    assertThat(c.snapshot().total().fragmentedMilli()).isZero();
  }

  @Test
  void expectedMixCanBeFixed() {
    GpuCluster c =
        GpuClusters.newBuilder()
            .expectedMix(Map.of(new GpuDemand.Mig("4g.40gb"), 1.0))
            .node(node("n", 1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC))
            .build();
    Allocation one = c.place(PlacementRequest.mig("1g.10gb")).orElseThrow();
    assertThat(one.gpus().get(0).migStartSlot()).isGreaterThanOrEqualTo(4);
    assertThatThrownBy(() -> GpuClusters.newBuilder().expectedMix(Map.of()))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
