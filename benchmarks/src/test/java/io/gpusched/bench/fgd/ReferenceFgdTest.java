package io.gpusched.bench.fgd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class ReferenceFgdTest {
  static NodeSpec node(String name, int gpus, String model, long cpu) {
    return NodeSpec.builder(name)
        .hostResources(cpu, 1 << 20)
        .gpus(gpus, GpuModels.byName(model).orElseGet(() -> new GpuModel(model, 16_384, 80, null)),
            GpuMode.SHARED)
        .build();
  }

  static List<PlacementRequest> times(int n, PlacementRequest r) {
    return IntStream.range(0, n).mapToObj(i -> r).collect(Collectors.toList());
  }

  @Test
  void aShareGoesWhereTheFreeGpusAreAlreadyStrandedByCpu() {
    // typical pod: one whole GPU with 8 cores. Node 1 has 4 cores: its GPUs are fragmented for it
    // already, so a CPU-free share there adds no fragmentation; on node 0 it would strand 500 milli.
    ReferenceFgd fgd =
        new ReferenceFgd(
            List.of(node("plenty", 2, "T4", 64_000), node("poor", 2, "T4", 4_000)),
            times(10, PlacementRequest.wholeGpus(1).withHost(8_000, 0)));
    assertThat(fgd.place(PlacementRequest.share(500, 0))).isEqualTo(1);
    assertThat(fgd.allocatedMilli()).isEqualTo(500);
    // the typical pod itself fits only on node 0
    assertThat(fgd.place(PlacementRequest.wholeGpus(1).withHost(8_000, 0))).isZero();
  }

  @Test
  void aShareJoinsAPartlyUsedGpuBeforeBreakingAnEmptyOne() {
    ReferenceFgd fgd =
        new ReferenceFgd(
            List.of(node("a", 2, "T4", 64_000), node("b", 2, "T4", 64_000)),
            times(10, PlacementRequest.wholeGpus(1)));
    assertThat(fgd.place(PlacementRequest.share(300, 0))).isZero();
    // node 1 is untouched: a second share on node 0's used GPU adds no fragmentation for whole pods
    assertThat(fgd.place(PlacementRequest.share(300, 0))).isZero();
    assertThat(fgd.place(PlacementRequest.wholeGpus(2))).isEqualTo(1);
    assertThat(fgd.place(PlacementRequest.wholeGpus(2))).isEqualTo(-1);
  }

  @Test
  void unconstrainedWorkAvoidsTheModelThatConstrainedPodsNeed() {
    // half of the typical pods may run only on the A100: an unconstrained pod on the T4 frees
    // fragmentation for them (the T4's GPUs are all unusable to them), so it goes there
    PlacementRequest onA100 = PlacementRequest.wholeGpus(1).withConstraints(Constraints.models("A100-80GB"));
    ReferenceFgd fgd =
        new ReferenceFgd(
            List.of(node("a100", 2, "A100-80GB", 64_000), node("t4", 2, "T4", 64_000)),
            List.of(onA100, PlacementRequest.wholeGpus(1)));
    assertThat(fgd.typeCount()).isEqualTo(2);
    assertThat(fgd.place(PlacementRequest.wholeGpus(1))).isEqualTo(1);
    assertThat(fgd.place(onA100)).isZero();
  }

  @Test
  void migRequestsAreRefused() {
    ReferenceFgd fgd = new ReferenceFgd(List.of(node("a", 1, "T4", 1000)), List.of(PlacementRequest.wholeGpus(1)));
    assertThatThrownBy(() -> fgd.place(PlacementRequest.mig("1g.10gb")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("shares and whole GPUs");
  }
}
