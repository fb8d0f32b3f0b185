package io.gpusched.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.Constraints;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The simulator's cost comparison (docs/simulator.md): the shipped workload, made model-agnostic,
 * on the mixed-price cluster with and without cost-aware placement.
 */
class CostComparisonTest {

  private static Workload workload;
  private static List<CostComparison.Run> runs;

  @BeforeAll
  static void runBoth() {
    workload = CostComparison.modelAgnostic(Workload.read(Workload.SHIPPED));
    SimCluster c =
        SimCluster.costDemo().withRandomDisruptions(workload.lastArrivalSeconds() + 86_400, 24 * 14, 24, 42);
    runs = CostComparison.run(c, workload);
  }

  @Test
  void theSameWorkloadRunsBothWaysWithNoJobLost() {
    assertThat(runs).extracting(CostComparison.Run::label).containsExactly("not cost-aware", "cost-aware");
    for (CostComparison.Run r : runs) {
      assertThat(r.result().jobsLost()).as(r.label() + " " + r.result().anomalies()).isZero();
      assertThat(r.result().jobs()).hasSize(workload.jobs().size());
    }
  }

  @Test
  void costAwarePlacementCostsLessOnTheMixedPriceCluster() {
    // what docs/simulator.md reports: the same work, a lower bill
    assertThat(runs.get(1).result().totalCost()).isLessThan(runs.get(0).result().totalCost());
  }

  @Test
  void singleMemberWholeGpuJobsBecomeModelAgnostic() {
    long agnostic = workload.jobs().stream().filter(j -> j.model().equals(">=40GiB")).count();
    assertThat(agnostic).isPositive();
    for (SimJob j : workload.jobs()) {
      if (j.model().equals(">=40GiB")) {
        assertThat(j.request()).startsWith("gpu:");
        assertThat(j.gang()).isEqualTo(1);
        assertThat(j.placementRequest().constraints()).isEqualTo(Constraints.minGpuMemoryGiB(40));
      }
    }
  }

  @Test
  void aBadMemoryFloorIsRejectedNamingIt() {
    SimJob j = workload.jobs().get(0);
    assertThatThrownBy(() -> j.withModel(">=lots"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(">=lots");
    assertThatThrownBy(() -> j.withModel(">=0GiB"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was 0 GiB");
  }

  @Test
  void printsTheTableAndWritesTheChart(@TempDir Path dir) throws IOException {
    var bytes = new ByteArrayOutputStream();
    CostComparison.print(runs, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String table = bytes.toString(StandardCharsets.UTF_8);
    assertThat(table).contains("not cost-aware").contains("cost-aware").contains("wait p50 / p95");
    Path png = CostComparison.writeChart(runs, dir.resolve("cost.png"));
    byte[] head = new byte[8];
    try (var in = Files.newInputStream(png)) {
      assertThat(in.read(head)).isEqualTo(8);
    }
    assertThat(head[1]).isEqualTo((byte) 'P');
    assertThat(Files.size(png)).isGreaterThan(10_000);
  }
}
