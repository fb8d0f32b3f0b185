package io.gpusched.bench.peer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;

class LockedBestFitTest {

  private static NodeSpec node(String id, int gpus, GpuMode mode) {
    return NodeSpec.builder(id).gpus(gpus, GpuModels.H100_80GB, mode).build();
  }

  @Test
  void wholeGangsGoOnOneNodeAndBestFitPacksTheFullestNode() {
    var s =
        new LockedBestFit(
            List.of(node("a", 8, GpuMode.WHOLE), node("b", 4, GpuMode.WHOLE)),
            PlacementStrategy.BEST_FIT);
    LockedBestFit.Grant g = s.place(PlacementRequest.wholeGpus(2, true));
    assertThat(g).isNotNull();
    assertThat(g.nodeIds()).containsExactly("b", "b");
    assertThat(g.gpuIndices()).containsExactly(0, 1);
    LockedBestFit.Grant eight = s.place(PlacementRequest.wholeGpus(8, true));
    assertThat(eight.nodeIds()).containsOnly("a").hasSize(8);
    assertThat(s.place(PlacementRequest.wholeGpus(3, true))).isNull();
    assertThat(s.freeGpus()).isEqualTo(2);
    assertThat(s.release(eight)).isTrue();
    assertThat(s.release(eight)).isFalse();
    assertThat(s.freeGpus()).isEqualTo(10);
    assertThat(s.place(PlacementRequest.wholeGpus(3, true)).nodeIds()).containsOnly("a");
  }

  @Test
  void spreadPrefersTheEmptiestNodeAndFirstFitTheFirst() {
    var nodes = List.of(node("a", 4, GpuMode.WHOLE), node("b", 8, GpuMode.WHOLE));
    assertThat(new LockedBestFit(nodes, PlacementStrategy.SPREAD).place(PlacementRequest.wholeGpus(1)).nodeIds())
        .containsExactly("b");
    assertThat(new LockedBestFit(nodes, PlacementStrategy.FIRST_FIT).place(PlacementRequest.wholeGpus(1)).nodeIds())
        .containsExactly("a");
  }

  @Test
  void wholeGpusSpreadOverNodesAllOrNothing() {
    var s =
        new LockedBestFit(
            List.of(node("a", 2, GpuMode.WHOLE), node("b", 2, GpuMode.WHOLE)),
            PlacementStrategy.BEST_FIT);
    var g = s.place(PlacementRequest.wholeGpus(3, false));
    assertThat(g.nodeIds()).hasSize(3);
    assertThat(s.place(PlacementRequest.wholeGpus(2, false))).isNull();
    assertThat(s.freeGpus()).isEqualTo(1);
    s.release(g);
    assertThat(s.freeGpus()).isEqualTo(4);
  }

  @Test
  void migFollowsGeometry() {
    var s = new LockedBestFit(List.of(node("m", 1, GpuMode.MIG_DYNAMIC)), PlacementStrategy.BEST_FIT);
    var a = s.place(PlacementRequest.mig("3g.40gb"));
    var b = s.place(PlacementRequest.mig("3g.40gb"));
    assertThat(a.migStartSlot()).isEqualTo(0);
    assertThat(b.migStartSlot()).isEqualTo(4);
    assertThat(s.migSlotMask("m", 0)).isEqualTo(0xFF);
    assertThat(s.place(PlacementRequest.mig("1g.10gb"))).isNull();
    s.release(b);
    // 4g.40gb only starts at 0, which is taken
    assertThat(s.place(PlacementRequest.mig("4g.40gb"))).isNull();
    var c = s.place(PlacementRequest.mig("2g.20gb"));
    assertThat(c.migStartSlot()).isEqualTo(4);
    var d = s.place(PlacementRequest.mig("1g.10gb"));
    assertThat(d.migStartSlot()).isEqualTo(6);
    // compute: 3 + 2 + 1 = 6 of 7 used, one 1g left at slot 7? no: 1g starts 0..6 only
    assertThat(s.place(PlacementRequest.mig("1g.10gb"))).isNull();
    s.release(a);
    s.release(c);
    s.release(d);
    assertThat(s.migSlotMask("m", 0)).isZero();
    assertThat(s.place(PlacementRequest.mig("7g.80gb"))).isNotNull();
  }

  @Test
  void migComputeLimitIsChecked() {
    var s = new LockedBestFit(List.of(node("m", 1, GpuMode.MIG_DYNAMIC)), PlacementStrategy.FIRST_FIT);
    // seven 1g.10gb use all 7 compute slices and slots 0..6
    for (int i = 0; i < 7; i++) {
      assertThat(s.place(PlacementRequest.mig("1g.10gb"))).isNotNull();
    }
    assertThat(s.place(PlacementRequest.mig("1g.10gb"))).isNull();
    assertThat(s.migSlotMask("m", 0)).isEqualTo(0x7F);
  }

  @Test
  void sharesRespectMilliAndMemoryAndBestFitStacks() {
    var s = new LockedBestFit(List.of(node("s", 2, GpuMode.SHARED)), PlacementStrategy.BEST_FIT);
    var a = s.place(PlacementRequest.share(600, 10_000));
    var b = s.place(PlacementRequest.share(400, 10_000));
    assertThat(a.gpuIndices()).containsExactly(0);
    assertThat(b.gpuIndices()).containsExactly(0);
    assertThat(s.sharedMilliUsed("s", 0)).isEqualTo(1000);
    var c = s.place(PlacementRequest.share(100, 81_000));
    assertThat(c.gpuIndices()).containsExactly(1);
    assertThat(s.place(PlacementRequest.share(100, 1_000))).isNull();
    assertThat(s.place(PlacementRequest.wholeGpus(1))).isNull();
    s.release(a);
    s.release(b);
    assertThat(s.place(PlacementRequest.wholeGpus(1)).gpuIndices()).containsExactly(0);
    assertThatThrownBy(() -> s.place(PlacementRequest.share(100, 90_000)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void constraintsAndUnknownProfiles() {
    var s =
        new LockedBestFit(
            List.of(
                NodeSpec.builder("a").label("zone", "x").gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build(),
                NodeSpec.builder("h").label("zone", "y").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).build()),
            PlacementStrategy.FIRST_FIT);
    assertThat(s.place(PlacementRequest.wholeGpus(1).withConstraints(Constraints.models("H100-80GB"))).nodeIds())
        .containsExactly("h");
    assertThat(s.place(PlacementRequest.wholeGpus(1).withConstraints(Constraints.NONE.withLabel("zone", "y"))).nodeIds())
        .containsExactly("h");
    assertThat(s.place(PlacementRequest.wholeGpus(1).withConstraints(Constraints.NONE.withLabel("zone", "y")))).isNull();
    assertThatThrownBy(() -> s.place(PlacementRequest.mig("1g.10gb")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> s.place(PlacementRequest.wholeGpus(3, true)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void hostResourcesAreReserved() {
    var s =
        new LockedBestFit(
            List.of(NodeSpec.builder("a").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).hostResources(1000, 1000).build()),
            PlacementStrategy.BEST_FIT);
    var a = s.place(PlacementRequest.wholeGpus(1).withHost(800, 10));
    assertThat(a).isNotNull();
    assertThat(s.place(PlacementRequest.wholeGpus(1).withHost(300, 10))).isNull();
    s.release(a);
    assertThat(s.place(PlacementRequest.wholeGpus(1).withHost(300, 10))).isNotNull();
  }

  @Test
  void concurrentPlaceReleaseLeavesTheClusterEmpty() throws Exception {
    List<NodeSpec> nodes = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      nodes.add(node("w" + i, 8, GpuMode.WHOLE));
      nodes.add(node("m" + i, 8, GpuMode.MIG_DYNAMIC));
      nodes.add(node("s" + i, 8, GpuMode.SHARED));
    }
    var s = new LockedBestFit(nodes, PlacementStrategy.BEST_FIT);
    String[] profiles = {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"};
    var errors = new ConcurrentLinkedQueue<Throwable>();
    Thread[] ts = new Thread[4];
    for (int t = 0; t < ts.length; t++) {
      int seed = t;
      ts[t] =
          new Thread(
              () -> {
                try {
                  Random r = new Random(seed);
                  List<Object> held = new ArrayList<>();
                  for (int i = 0; i < 20_000; i++) {
                    PlacementRequest req =
                        switch (r.nextInt(3)) {
                          case 0 -> PlacementRequest.wholeGpus(1 << r.nextInt(4), true);
                          case 1 -> PlacementRequest.mig(profiles[r.nextInt(profiles.length)]);
                          default -> PlacementRequest.share(100 + r.nextInt(900), r.nextInt(40_000));
                        };
                    Object h = s.place(req);
                    if (h != null) {
                      held.add(h);
                    }
                    if (held.size() > 40) {
                      assertThat(s.release(held.remove(r.nextInt(held.size())))).isTrue();
                    }
                  }
                  held.forEach(s::release);
                } catch (Throwable e) {
                  errors.add(e);
                }
              });
      ts[t].start();
    }
    for (Thread t : ts) {
      t.join();
    }
    assertThat(errors).isEmpty();
    assertThat(s.freeGpus()).isEqualTo(8 * 24);
  }
}
