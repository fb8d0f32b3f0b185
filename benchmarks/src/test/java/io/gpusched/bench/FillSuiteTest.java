package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.bench.FillExperiment.Workload;
import io.gpusched.bench.FillSuite.WorkloadResult;
import io.gpusched.bench.workload.SuiteWorkloads;
import io.gpusched.bench.workload.SuiteWorkloads.Profile;
import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.Trace.PodRow;
import io.gpusched.bench.workload.TraceGenerator;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The quality suite's cheap checks (seconds): the generated workloads have the shape their profile
 * asks for, and on a small cluster of each the default strategy keeps up with FIRST_FIT at every
 * arrived percent and with the reference FGD at 130 %.
 */
class FillSuiteTest {
  static final List<String> STRATEGIES =
      List.of("FRAGMENTATION_AWARE", "FIRST_FIT", "BEST_FIT", FillExperiment.REFERENCE_FGD);

  @Test
  void suiteWorkloadsFollowTheirProfile() {
    List<NodeRow> nodes = TraceGenerator.nodes(1200, 7);
    Map<String, Integer> maxPerNode = new HashMap<>();
    Map<String, Integer> gpusOf = new HashMap<>();
    nodes.forEach(n -> {
      maxPerNode.merge(n.model(), n.gpus(), Math::max);
      gpusOf.merge(n.model(), n.gpus(), Integer::sum);
    });
    for (Profile p : Profile.SUITE) {
      List<PodRow> pods = SuiteWorkloads.pods(p, 5000, nodes, 8);
      assertThat(SuiteWorkloads.pods(p, 5000, nodes, 8)).isEqualTo(pods);
      long shares = pods.stream().filter(x -> x.numGpu() == 1 && x.gpuMilli() < 1000).count();
      long multi = pods.stream().filter(x -> x.numGpu() > 1).count();
      long spec = pods.stream().filter(x -> !x.gpuSpec().isEmpty()).count();
      assertThat(shares / 5000.0).as(p.name() + " shares").isCloseTo(p.shareFraction(), within(0.03));
      assertThat(multi / 5000.0).as(p.name() + " multi").isCloseTo(p.multiFraction(), within(0.02));
      assertThat(spec / 5000.0).as(p.name() + " spec").isCloseTo(p.specFraction(), within(0.03));
      for (PodRow x : pods) {
        assertThat(x.numGpu()).isPositive();
        for (String m : x.allowedModels()) {
          assertThat(maxPerNode.get(m)).as(x.toString()).isGreaterThanOrEqualTo(x.numGpu());
        }
      }
      if (p.shareFraction() > 0) { // the long tail: sizes off the trace's clusters, up to 990
        assertThat(pods).anyMatch(x -> x.numGpu() == 1 && x.gpuMilli() > 900 && x.gpuMilli() < 1000);
        assertThat(pods).anyMatch(x -> x.numGpu() == 1 && x.gpuMilli() < 50);
      }
      if (p.specFraction() >= 0.2) { // rare models asked for more than their share of capacity
        long onG2 = pods.stream().filter(x -> x.gpuSpec().equals("G2")).count();
        double g2Capacity = gpusOf.get("G2") / (double) nodes.stream().mapToInt(NodeRow::gpus).sum();
        assertThat(onG2 / (double) spec).isLessThan(g2Capacity - 0.1);
      }
    }
    assertThatThrownBy(() -> Profile.named("nope")).hasMessageContaining("gpuspec33");
    assertThatThrownBy(() -> new Profile("bad", 0.8, 0.3, 0)).hasMessageContaining("multi 0.3");
  }

  @ParameterizedTest
  @ValueSource(strings = {"default", "share40", "share100", "multigpu50", "gpuspec20", "gpuspec33"})
  void defaultStrategyKeepsUpWithFirstFitAndTheReferenceFgd(String name) {
    Workload w = FillSuite.generated(Profile.named(name), 150, 1000);
    WorkloadResult r = FillSuite.run(name, w, STRATEGIES, List.of(42L), 1.3);
    double[] gap = r.worstGap("FRAGMENTATION_AWARE", "FIRST_FIT");
    assertThat(gap[0]).as("worst gap to FIRST_FIT, at %s %% arrived", gap[1]).isGreaterThanOrEqualTo(-0.5);
    assertThat(r.meanAt("FRAGMENTATION_AWARE", 130))
        .isGreaterThanOrEqualTo(r.meanAt(FillExperiment.REFERENCE_FGD, 130) - 1.0);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    FillSuite.print(List.of(r), STRATEGIES, new PrintStream(out, true, StandardCharsets.UTF_8));
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("| " + name + " |")
        .contains("worst gap FRAGMENTATION_AWARE - FIRST_FIT");
  }

  private static org.assertj.core.data.Offset<Double> within(double d) {
    return org.assertj.core.data.Offset.offset(d);
  }
}
