package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.function.UnaryOperator;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * {@link GpuCluster#restore}: a recorded allocation comes back exactly (same GPUs, MIG instances,
 * shares and host charges), a conflict or a bad record is refused with the value named, and a
 * refusal leaves the cluster as it was.
 */
class RestoreTest {

  private static final List<PlacementRequest> REQUESTS =
      List.of(
          PlacementRequest.mig("1g.10gb"),
          PlacementRequest.mig("3g.40gb"),
          PlacementRequest.mig("2g.20gb"),
          PlacementRequest.mig("1g.6gb"),
          PlacementRequest.mig("2g.12gb"),
          PlacementRequest.share(100, 1),
          PlacementRequest.share(250, 2560),
          PlacementRequest.share(500, 20_000),
          PlacementRequest.wholeGpus(1),
          PlacementRequest.wholeGpus(1).withHost(1000, 1024),
          PlacementRequest.wholeGpus(2, true),
          PlacementRequest.wholeGpus(2, false).withHost(3000, 0),
          PlacementRequest.wholeGpus(3, false));

  /**
   * Fill a random cluster with random placements (and some releases), record what is live, then
   * restore every record on a fresh cluster with the same nodes in a random order: the snapshot,
   * host usage included, is the same, and restoring any record a second time is a conflict that
   * changes nothing.
   */
  @Property(tries = 200, seed = "20261206")
  void restoredAllocationsGiveTheSameCluster(
      @ForAll @IntRange(min = 0, max = 4) int strategy,
      @ForAll("clusters") List<ClusterPropertiesTest.NodeGen> gens,
      @ForAll long seed) {
    Random rnd = new Random(seed);
    List<NodeSpec> specs = new ArrayList<>();
    for (int i = 0; i < gens.size(); i++) {
      specs.add(ClusterPropertiesTest.node("n" + i, gens.get(i)));
    }
    GpuCluster original = ClusterPropertiesTest.build(strategy, specs);
    List<Allocation> live = new ArrayList<>();
    for (int step = 0; step < 40; step++) {
      if (!live.isEmpty() && rnd.nextInt(5) == 0) {
        live.remove(rnd.nextInt(live.size())).release();
        continue;
      }
      PlacementRequest r = REQUESTS.get(rnd.nextInt(REQUESTS.size()));
      try {
        original.place(r).ifPresent(live::add);
      } catch (IllegalArgumentException neverFits) {
        // this cluster has no GPU of that kind
      }
    }
    net.jqwik.api.statistics.Statistics.label("records")
        .collect(live.isEmpty() ? "0" : live.size() < 5 ? "1-4" : live.size() < 10 ? "5-9" : "10+");
    GpuCluster restored = ClusterPropertiesTest.build(strategy, specs);
    List<Allocation> order = new ArrayList<>(live);
    Collections.shuffle(order, rnd);
    List<Allocation> back = new ArrayList<>();
    for (Allocation a : order) {
      Allocation b = restored.restore(a.request(), a.gpus());
      assertThat(b.isActive()).isTrue();
      assertThat(b.request()).isEqualTo(a.request());
      assertThat(b.gpus()).containsExactlyInAnyOrderElementsOf(a.gpus());
      back.add(b);
    }
    assertThat(ReferenceModel.comparable(restored.snapshot()))
        .isEqualTo(ReferenceModel.comparable(original.snapshot()));
    assertThat(EngineInvariants.verify((LockFreeCluster) restored)).isEmpty();
    hostUsageMatches((LockFreeCluster) original, (LockFreeCluster) restored);
    // a second copy of a share may legitimately fit beside the first; any other record conflicts
    List<Allocation> exclusive =
        order.stream().filter(a -> !(a.request().gpus() instanceof io.gpusched.GpuDemand.Share)).toList();
    if (!exclusive.isEmpty()) {
      Allocation again = exclusive.get(rnd.nextInt(exclusive.size()));
      ClusterSnapshot before = restored.snapshot();
      assertThatThrownBy(() -> restored.restore(again.request(), again.gpus()))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("cannot restore");
      assertThat(ReferenceModel.comparable(restored.snapshot()))
          .isEqualTo(ReferenceModel.comparable(before));
      assertThat(EngineInvariants.verify((LockFreeCluster) restored)).isEmpty();
    }
    for (Allocation b : back) {
      assertThat(b.release()).isTrue();
    }
    assertThat(restored.snapshot().total().freeGpus()).isEqualTo(restored.snapshot().total().gpus());
    assertThat(EngineInvariants.verify((LockFreeCluster) restored)).isEmpty();
  }

  @net.jqwik.api.Provide
  net.jqwik.api.Arbitrary<List<ClusterPropertiesTest.NodeGen>> clusters() {
    return ClusterPropertiesTest.nodeGen().list().ofMinSize(1).ofMaxSize(3);
  }

  private static void hostUsageMatches(LockFreeCluster a, LockFreeCluster b) {
    List<NodeEntry> na = a.nodeEntries();
    List<NodeEntry> nb = b.nodeEntries();
    for (int i = 0; i < na.size(); i++) {
      assertThat(nb.get(i).cpuUsed()).as("cpu of %s", na.get(i).spec.id()).isEqualTo(na.get(i).cpuUsed());
      assertThat(nb.get(i).memUsed()).as("mem of %s", na.get(i).spec.id()).isEqualTo(na.get(i).memUsed());
    }
  }

  // ---------------------------------------------------------------- refusals

  private static GpuCluster cluster() {
    return GpuClusters.newBuilder()
        .strategy(PlacementStrategy.BEST_FIT)
        .node(
            NodeSpec.builder("m")
                .gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
                .gpus(1, GpuModels.H100_80GB, GpuMode.SHARED)
                .build())
        .node(
            NodeSpec.builder("w")
                .gpus(2, GpuModels.A100_40GB, GpuMode.WHOLE)
                .hostResources(2000, NodeSpec.UNTRACKED)
                .build())
        .node(LincheckClusters.nodeX())
        .build();
  }

  /** Restoring {@code gpus} (an edit of a real record) is refused with {@code message}; nothing changes. */
  private static void refused(
      GpuCluster c,
      PlacementRequest r,
      List<AllocatedGpu> gpus,
      Class<? extends RuntimeException> type,
      String message) {
    ClusterSnapshot before = c.snapshot();
    assertThatThrownBy(() -> c.restore(r, gpus)).isInstanceOf(type).hasMessageContaining(message);
    assertThat(ReferenceModel.comparable(c.snapshot())).isEqualTo(ReferenceModel.comparable(before));
    assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
  }

  /** A recorded allocation of {@code r} on a scratch cluster, released again. */
  private static List<AllocatedGpu> record(PlacementRequest r) {
    GpuCluster scratch = cluster();
    Allocation a = scratch.place(r).orElseThrow();
    return a.gpus();
  }

  private static List<AllocatedGpu> edit(List<AllocatedGpu> gpus, UnaryOperator<AllocatedGpu> f) {
    List<AllocatedGpu> out = new ArrayList<>(gpus);
    out.set(0, f.apply(out.get(0)));
    return out;
  }

  @Test
  void badRecordsAreRefusedWithTheValueNamed() {
    GpuCluster c = cluster();
    PlacementRequest mig = PlacementRequest.mig("3g.40gb");
    List<AllocatedGpu> m = record(mig);
    AllocatedGpu g = m.get(0);
    refused(c, mig, List.of(), IllegalArgumentException.class, "a record of 0 GPUs");
    refused(
        c,
        mig,
        edit(m, x -> new AllocatedGpu("nope", 0, x.gpuUuid(), x.model(), x.mode(), x.migProfile(), x.migStartSlot(), 0, x.memoryMiB())),
        IllegalArgumentException.class,
        "unknown node nope");
    refused(
        c,
        mig,
        edit(m, x -> new AllocatedGpu(x.nodeId(), 7, x.gpuUuid(), x.model(), x.mode(), x.migProfile(), x.migStartSlot(), 0, x.memoryMiB())),
        IllegalArgumentException.class,
        "has no GPU index 7");
    refused(
        c,
        mig,
        edit(m, x -> new AllocatedGpu(x.nodeId(), x.gpuIndex(), "GPU-other", x.model(), x.mode(), x.migProfile(), x.migStartSlot(), 0, x.memoryMiB())),
        IllegalArgumentException.class,
        "not GPU-other");
    refused(
        c,
        mig,
        edit(m, x -> new AllocatedGpu(x.nodeId(), x.gpuIndex(), x.gpuUuid(), x.model(), x.mode(), x.migProfile(), 2, 0, x.memoryMiB())),
        IllegalArgumentException.class,
        "cannot hold 3g.40gb at slice 2");
    refused(
        c,
        mig,
        edit(m, x -> new AllocatedGpu(x.nodeId(), x.gpuIndex(), x.gpuUuid(), x.model(), x.mode(), "1g.10gb", x.migStartSlot(), 0, x.memoryMiB())),
        IllegalArgumentException.class,
        "recorded with profile 1g.10gb");
    refused(
        c,
        mig,
        edit(m, x -> new AllocatedGpu(x.nodeId(), x.gpuIndex(), x.gpuUuid(), "A100-40GB", x.mode(), x.migProfile(), x.migStartSlot(), 0, x.memoryMiB())),
        IllegalArgumentException.class,
        "not a A100-40GB");
    refused(
        c,
        mig.withConstraints(io.gpusched.Constraints.minGpuMemoryGiB(100)),
        m,
        IllegalArgumentException.class,
        "below the request's GPU memory floor of 102400 MiB");
    refused(
        c,
        mig.withConstraints(io.gpusched.Constraints.models("A100-40GB")),
        m,
        IllegalArgumentException.class,
        "models exclude");
    PlacementRequest share = PlacementRequest.share(250, 2560);
    List<AllocatedGpu> s = record(share);
    refused(
        c,
        share,
        edit(s, x -> new AllocatedGpu(x.nodeId(), x.gpuIndex(), x.gpuUuid(), x.model(), x.mode(), null, -1, 300, x.memoryMiB())),
        IllegalArgumentException.class,
        "recorded with 300 milli");
    refused(c, PlacementRequest.share(250, 2560), m, IllegalArgumentException.class, "not SHARED");
    refused(c, PlacementRequest.mig("3g.40gb"), s, IllegalArgumentException.class, "not in a MIG mode");
    PlacementRequest gang = PlacementRequest.wholeGpus(2, true);
    List<AllocatedGpu> two = record(gang);
    refused(c, gang, List.of(two.get(0), two.get(0)), IllegalArgumentException.class, "recorded twice");
    refused(c, gang, List.of(two.get(0)), IllegalArgumentException.class, "a record of 1 GPUs");
    AllocatedGpu onX =
        new AllocatedGpu("x", 0, "GPU-x-0", "A100-40GB", GpuMode.WHOLE, null, -1, 1000, 40_960);
    List<AllocatedGpu> split = List.of(two.get(0), onX);
    assertThat(cluster().restore(PlacementRequest.wholeGpus(2, false), split).gpus()).hasSize(2);
    refused(c, gang, split, IllegalArgumentException.class, "a same-node gang recorded on two nodes");
    assertThat(g.migProfile()).isEqualTo("3g.40gb");
  }

  @Test
  void conflictsAreRefusedAndLeaveTheClusterAsItWas() {
    GpuCluster c = cluster();
    PlacementRequest whole = PlacementRequest.wholeGpus(1);
    Optional<Allocation> held = c.place(PlacementRequest.wholeGpus(2, true));
    assertThat(held).isPresent();
    String node = held.get().nodeId();
    AllocatedGpu taken = held.get().gpus().get(1);
    refused(c, whole, List.of(taken), IllegalStateException.class, "is not free for it now");
    // a spread gang whose second GPU is held: its first GPU is given back
    AllocatedGpu free =
        new AllocatedGpu(node.equals("x") ? "w" : "x", 0, "GPU-" + (node.equals("x") ? "w" : "x") + "-0",
            "A100-40GB", GpuMode.WHOLE, null, -1, 1000, 40_960);
    refused(c, PlacementRequest.wholeGpus(2, false), List.of(free, taken), IllegalStateException.class, "is not free");
    // host resources: node w has 2000 milli of CPU
    GpuCluster h = cluster();
    AllocatedGpu w0 = new AllocatedGpu("w", 0, "GPU-w-0", "A100-40GB", GpuMode.WHOLE, null, -1, 1000, 40_960);
    AllocatedGpu w1 = new AllocatedGpu("w", 1, "GPU-w-1", "A100-40GB", GpuMode.WHOLE, null, -1, 1000, 40_960);
    assertThat(h.restore(PlacementRequest.wholeGpus(1).withHost(1500, 0), List.of(w0)).isActive())
        .isTrue();
    refused(
        h,
        PlacementRequest.wholeGpus(1).withHost(1000, 0),
        List.of(w1),
        IllegalStateException.class,
        "node w lacks the host resources");
    assertThat(h.restore(PlacementRequest.wholeGpus(1).withHost(500, 0), List.of(w1)).isActive())
        .isTrue();
    assertThat(EngineInvariants.verify((LockFreeCluster) h)).isEmpty();
  }

  @Test
  void cordonedNodesTakeTheirRecordsBackRemovedOnesDoNot() {
    GpuCluster c = cluster();
    List<AllocatedGpu> rec = record(PlacementRequest.wholeGpus(1));
    String node = rec.get(0).nodeId();
    c.setNodeState(node, NodeState.CORDONED);
    Allocation a = c.restore(PlacementRequest.wholeGpus(1), rec);
    assertThat(a.isActive()).isTrue();
    assertThat(c.place(PlacementRequest.wholeGpus(2, true)).map(Allocation::nodeId)).isNotEqualTo(Optional.of(node));
    assertThat(c.removeNode(node, true).lost()).containsExactly(a);
    refused(c, PlacementRequest.wholeGpus(1), rec, IllegalArgumentException.class, "unknown node " + node);
  }
}
