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
import org.junit.jupiter.api.Test;

class FenzoPeerTest {

  private static NodeSpec node(String id, int gpus, GpuMode mode) {
    return NodeSpec.builder(id).gpus(gpus, GpuModels.H100_80GB, mode).build();
  }

  @Test
  void placesWholeGpusUntilFullAndReleaseGivesThemBack() {
    try (var f =
        new FenzoPeer(
            List.of(node("a", 8, GpuMode.WHOLE), node("b", 4, GpuMode.WHOLE)),
            PlacementStrategy.BEST_FIT)) {
      List<FenzoPeer.Task> held = new ArrayList<>();
      for (int i = 0; i < 12; i++) {
        FenzoPeer.Task t = f.place(PlacementRequest.wholeGpus(1));
        assertThat(t).as("placement %d", i).isNotNull();
        held.add(t);
      }
      assertThat(f.place(PlacementRequest.wholeGpus(1))).isNull();
      assertThat(f.release(held.get(0))).isTrue();
      assertThat(f.release(held.get(0))).isFalse();
      FenzoPeer.Task again = f.place(PlacementRequest.wholeGpus(1));
      assertThat(again).isNotNull();
      assertThat(again.hostname()).isEqualTo(held.get(0).hostname());
    }
  }

  @Test
  void binPackingFillsTheFullerHostAndGangsStayOnOneHost() {
    try (var f =
        new FenzoPeer(
            List.of(node("a", 8, GpuMode.WHOLE), node("b", 8, GpuMode.WHOLE)),
            PlacementStrategy.BEST_FIT)) {
      FenzoPeer.Task first = f.place(PlacementRequest.wholeGpus(1));
      FenzoPeer.Task second = f.place(PlacementRequest.wholeGpus(1));
      assertThat(second.hostname()).isEqualTo(first.hostname());
      FenzoPeer.Task gang = f.place(PlacementRequest.wholeGpus(8, true));
      assertThat(gang).isNotNull();
      assertThat(gang.hostname()).isNotEqualTo(first.hostname());
      assertThat(f.place(PlacementRequest.wholeGpus(7, true))).isNull();
      assertThat(f.place(PlacementRequest.wholeGpus(6, true))).isNotNull();
      f.release(gang);
      assertThat(f.place(PlacementRequest.wholeGpus(8, true))).isNotNull();
    }
  }

  @Test
  void spreadUsesTheEmptierHost() {
    try (var f =
        new FenzoPeer(
            List.of(node("a", 8, GpuMode.WHOLE), node("b", 8, GpuMode.WHOLE)),
            PlacementStrategy.SPREAD)) {
      FenzoPeer.Task first = f.place(PlacementRequest.wholeGpus(1));
      FenzoPeer.Task second = f.place(PlacementRequest.wholeGpus(1));
      assertThat(second.hostname()).isNotEqualTo(first.hostname());
    }
  }

  @Test
  void migIsAScalarFractionOfTheNode() {
    try (var f =
        new FenzoPeer(List.of(node("m", 1, GpuMode.MIG_DYNAMIC)), PlacementStrategy.BEST_FIT)) {
      FenzoPeer.Task a = f.place(PlacementRequest.mig("3g.40gb"));
      FenzoPeer.Task b = f.place(PlacementRequest.mig("3g.40gb"));
      assertThat(a).isNotNull();
      assertThat(b).isNotNull();
      assertThat(f.place(PlacementRequest.mig("1g.10gb"))).isNull();
      f.release(a);
      assertThat(f.place(PlacementRequest.mig("2g.20gb"))).isNotNull();
      assertThat(f.place(PlacementRequest.mig("2g.20gb"))).isNotNull();
      assertThat(f.place(PlacementRequest.mig("1g.10gb"))).isNull();
      assertThatThrownBy(() -> f.place(PlacementRequest.mig("9g.99gb")))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void sharesAndConstraints() {
    try (var f =
        new FenzoPeer(
            List.of(
                node("s", 1, GpuMode.SHARED),
                NodeSpec.builder("a").gpus(1, GpuModels.A100_80GB, GpuMode.SHARED).build()),
            PlacementStrategy.BEST_FIT)) {
      FenzoPeer.Task a =
          f.place(PlacementRequest.share(600, 1000).withConstraints(Constraints.models("A100-80GB")));
      assertThat(a.hostname()).isEqualTo("a");
      assertThat(
              f.place(PlacementRequest.share(600, 1000).withConstraints(Constraints.models("A100-80GB"))))
          .isNull();
      FenzoPeer.Task b = f.place(PlacementRequest.share(400, 1000));
      assertThat(b.hostname()).isEqualTo("a");
      FenzoPeer.Task c = f.place(PlacementRequest.share(400, 1000));
      assertThat(c.hostname()).isEqualTo("s");
      f.release(a);
      assertThat(
              f.place(PlacementRequest.share(600, 1000).withConstraints(Constraints.models("A100-80GB"))))
          .isNotNull();
    }
  }

  @Test
  void steadyPlaceReleaseDoesNotLeakCapacity() {
    List<NodeSpec> nodes = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      nodes.add(node("n" + i, 8, GpuMode.WHOLE));
    }
    try (var f = new FenzoPeer(nodes, PlacementStrategy.BEST_FIT)) {
      List<Object> held = new ArrayList<>();
      for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 160; i++) {
          Object t = f.place(PlacementRequest.wholeGpus(1));
          assertThat(t).as("round %d placement %d", round, i).isNotNull();
          held.add(t);
        }
        assertThat(f.place(PlacementRequest.wholeGpus(1))).isNull();
        held.forEach(f::release);
        held.clear();
      }
    }
  }
}
