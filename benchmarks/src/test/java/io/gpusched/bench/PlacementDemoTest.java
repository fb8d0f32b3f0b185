package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.NodeSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class PlacementDemoTest {

  @Test
  void clusterIsHeterogeneous() {
    List<NodeSpec> nodes = PlacementDemo.cluster();
    Set<GpuMode> modes =
        nodes.stream().flatMap(n -> n.gpus().stream()).map(g -> g.mode()).collect(Collectors.toSet());
    assertThat(modes).contains(GpuMode.MIG_DYNAMIC, GpuMode.WHOLE, GpuMode.SHARED);
    assertThat(nodes.stream().map(NodeSpec::capacityClass).distinct().count()).isEqualTo(2);
    assertThat(nodes.size()).isBetween(24, 60);
  }

  @Test
  void runsEveryStrategyAndPrintsATable() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    List<PlacementDemo.Stats> stats = PlacementDemo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), 2_000, 1);
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertThat(stats).hasSize(4);
    for (PlacementDemo.Stats s : stats) {
      assertThat(s.placed + s.rejected).isEqualTo(2_000);
      assertThat(s.placed).isGreaterThan(1_000);
      assertThat(s.peakAllocatedPct).isBetween(1.0, 100.0);
      assertThat(s.meanFragmentationPct).isBetween(0.0, 100.0);
      assertThat(out).contains(s.strategy);
    }
    assertThat(out).contains("H100-80GB", "A100-80GB", "A30-24GB", "decisions/s");
    assertThat(out).doesNotContainIgnoringCase("exception").doesNotContainIgnoringCase("error");
  }
}
