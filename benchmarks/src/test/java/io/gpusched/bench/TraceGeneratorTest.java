package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.bench.workload.Trace;
import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.Trace.PodRow;
import io.gpusched.bench.workload.TraceGenerator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceGeneratorTest {

  @Test
  void deterministicPerSeed() {
    assertThat(TraceGenerator.nodes(100, 1)).isEqualTo(TraceGenerator.nodes(100, 1));
    assertThat(TraceGenerator.nodes(100, 1)).isNotEqualTo(TraceGenerator.nodes(100, 2));
    List<NodeRow> nodes = TraceGenerator.nodes(100, 1);
    assertThat(TraceGenerator.pods(500, nodes, 3)).isEqualTo(TraceGenerator.pods(500, nodes, 3));
  }

  @Test
  void largeClusterLooksLikeTheAlibabaTrace() {
    List<NodeRow> nodes = TraceGenerator.nodes(1200, 7);
    int gpus = nodes.stream().mapToInt(NodeRow::gpus).sum();
    assertThat(nodes).hasSize(1200);
    assertThat(gpus).isBetween(6000, 6500); // trace: 1,213 GPU nodes, 6,212 GPUs
  }

  @Test
  void podMixIsMostlyFractionalAndWholeWithValidConstraints() {
    List<NodeRow> nodes = TraceGenerator.nodes(60, 7);
    List<PodRow> pods = TraceGenerator.pods(5000, nodes, 8);
    long cpuOnly = pods.stream().filter(p -> p.numGpu() == 0).count();
    long shares = pods.stream().filter(p -> p.numGpu() == 1 && p.gpuMilli() < 1000).count();
    long whole = pods.stream().filter(p -> p.numGpu() == 1 && p.gpuMilli() == 1000).count();
    long multi = pods.stream().filter(p -> p.numGpu() > 1).count();
    long smallShares =
        pods.stream().filter(p -> p.numGpu() == 1 && p.gpuMilli() >= 100 && p.gpuMilli() <= 500).count();
    assertThat(cpuOnly).isBetween(500L, 800L);
    assertThat(shares).isBetween(1700L, 2100L);
    assertThat(smallShares).isGreaterThan(shares * 6 / 10);
    assertThat(whole).isBetween(2100L, 2500L);
    assertThat(multi).isBetween(100L, 250L);
    Map<String, Integer> maxPerNode = new HashMap<>();
    nodes.forEach(n -> maxPerNode.merge(n.model(), n.gpus(), Math::max));
    long constrained = 0;
    for (PodRow p : pods) {
      for (String m : p.allowedModels()) {
        constrained++;
        assertThat(maxPerNode).containsKey(m);
        assertThat(maxPerNode.get(m)).isGreaterThanOrEqualTo(p.numGpu());
      }
      assertThat(p.gpuMilli()).isBetween(0, 1000);
      assertThat(p.cpuMilli()).isPositive();
    }
    assertThat(constrained).isPositive();
  }

  @Test
  void cliWritesFiles(@TempDir Path dir) throws Exception {
    Path n = dir.resolve("n.csv");
    Path p = dir.resolve("sub/p.csv");
    TraceGenerator.main(
        new String[] {"--nodes", "20", "--pods", "50", "--seed", "3", "--out-nodes", n.toString(),
          "--out-pods", p.toString()});
    assertThat(Trace.readNodes(n.toString())).hasSize(20);
    assertThat(Trace.readPods(p.toString())).hasSize(50);
    assertThat(Files.readString(n)).startsWith(Trace.NODE_HEADER);
  }

  @Test
  void shippedSmallPairIsThePresetOutput() {
    List<NodeRow> nodes = TraceGenerator.nodes(60, 7);
    assertThat(Trace.readNodes("classpath:workloads/nodes-small.csv")).isEqualTo(nodes);
    assertThat(Trace.readPods("classpath:workloads/pods-small.csv"))
        .isEqualTo(TraceGenerator.pods(2000, nodes, 8));
  }
}
