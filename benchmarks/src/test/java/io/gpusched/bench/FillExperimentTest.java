package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.bench.FillExperiment.MixMode;
import io.gpusched.bench.FillExperiment.SeedResult;
import io.gpusched.bench.FillExperiment.Workload;
import io.gpusched.bench.workload.Trace;
import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.Trace.PodRow;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FillExperimentTest {
  static final String NODES = "classpath:workloads/nodes-small.csv";
  static final String PODS = "classpath:workloads/pods-small.csv";
  static Workload small;

  @BeforeAll
  static void load() {
    small = FillExperiment.workload(Trace.readNodes(NODES), Trace.readPods(PODS));
  }

  @Test
  void mapsRowsToRequests() {
    List<NodeRow> nodes =
        List.of(new NodeRow("n1", 8000, 16384, 2, "T4"), new NodeRow("cpu", 64000, 1024, 0, ""),
            new NodeRow("n2", 8000, 16384, 1, "A100_80GB"));
    List<PodRow> pods =
        List.of(
            new PodRow("d-multi", 16000, 4096, 2, 1000, ""),
            new PodRow("a-share", 1000, 512, 1, 250, "T4"),
            new PodRow("b-whole", 2000, 1024, 1, 1000, "a100-80gb|T4"),
            new PodRow("c-cpu", 2000, 1024, 0, 0, ""),
            new PodRow("e-zero", 1000, 512, 1, 0, ""),
            new PodRow("f-over", 1000, 512, 1, 1500, ""));
    Workload w = FillExperiment.workload(nodes, pods);
    assertThat(w.nodes()).hasSize(3);
    assertThat(w.nodes().get(1).gpus()).isEmpty();
    assertThat(w.nodes().get(2).gpus().get(0).model().name()).isEqualTo("A100-80GB"); // built-in
    assertThat(w.totalGpuMilli()).isEqualTo(3000);
    assertThat(w.cpuOnlyNodes()).isEqualTo(1);
    assertThat(w.cpuOnlyPods()).isEqualTo(1);
    assertThat(w.skippedRows()).isEqualTo(2);
    assertThat(w.pods()).extracting(PodRow::name).containsExactly("a-share", "b-whole", "d-multi");
    assertThat(w.requests().get(0))
        .isEqualTo(PlacementRequest.share(250, 0).withHost(1000, 512)
            .withConstraints(Constraints.models("T4")));
    assertThat(w.requests().get(1).gpus()).isEqualTo(new GpuDemand.Whole(1, false));
    assertThat(w.requests().get(1).constraints().gpuModels()).isEqualTo(Set.of("A100-80GB", "T4"));
    assertThat(w.requests().get(2)).isEqualTo(PlacementRequest.wholeGpus(2, true).withHost(16000, 4096));
    assertThat(w.milli()).containsExactly(250, 1000, 2000);
  }

  @Test
  void arrivalsAreDeterministicPerSeedAndStopAtTheTarget() {
    long target = (long) (1.3 * small.totalGpuMilli());
    int[] a = FillExperiment.arrivals(small.milli(), target, 42);
    assertThat(FillExperiment.arrivals(small.milli(), target, 42)).isEqualTo(a);
    assertThat(FillExperiment.arrivals(small.milli(), target, 43)).isNotEqualTo(a);
    long sum = Arrays.stream(a).mapToLong(i -> small.milli()[i]).sum();
    long last = small.milli()[a[a.length - 1]];
    assertThat(sum).isGreaterThanOrEqualTo(target);
    assertThat(sum - last).isLessThan(target);
    // the small workload has more demand than 1.3x: a prefix of the shuffle, no repeats
    assertThat(Arrays.stream(a).distinct().count()).isEqualTo(a.length);
  }

  @Test
  void shortListsAreExtendedBySamplingWithReplacement() {
    long[] milli = {1000, 500, 250};
    int[] a = FillExperiment.arrivals(milli, 10_000, 7);
    assertThat(a.length).isGreaterThan(3);
    // the first three are the shuffled list itself
    assertThat(Arrays.stream(a, 0, 3).sorted().toArray()).containsExactly(0, 1, 2);
    assertThat(FillExperiment.arrivals(milli, 10_000, 7)).isEqualTo(a);
    long sum = Arrays.stream(a).mapToLong(i -> milli[i]).sum();
    assertThat(sum).isGreaterThanOrEqualTo(10_000);
    assertThat(sum - milli[a[a.length - 1]]).isLessThan(10_000);
  }

  @ParameterizedTest
  @ValueSource(strings = {"FIRST_FIT", "BEST_FIT", "SPREAD", "FRAGMENTATION_AWARE"})
  void everyStrategyFillsMonotonicallyUpTo100(String name) {
    SeedResult r = FillExperiment.run(small, PlacementStrategy.named(name), 42, 1.3, MixMode.LEARNED);
    double[] at = r.allocatedPct();
    assertThat(at).hasSize(FillExperiment.MAX_PCT + 1).doesNotContain(Double.NaN);
    assertThat(at[0]).isZero();
    for (int p = 1; p < at.length; p++) {
      assertThat(at[p]).isGreaterThanOrEqualTo(at[p - 1]).isLessThanOrEqualTo(100.0);
      assertThat(at[p]).isLessThanOrEqualTo(p + 8.0); // at most one pod (<= 8 GPUs) beyond arrival
    }
    assertThat(r.allocatedMilli()).isEqualTo(r.snapshotAllocatedMilli());
    assertThat(r.allocAt(100)).isGreaterThan(60.0);
    assertThat(r.placed()).isPositive().isLessThan(r.attempted());
    assertThat(r.finalArrivedPct()).isGreaterThanOrEqualTo(130.0);
    assertThat(r.decisionsPerSecond()).isPositive();
  }

  @Test
  void lowerTuneReportsOnlyReachedPercents() {
    SeedResult r = FillExperiment.run(small, PlacementStrategy.BEST_FIT, 1, 0.5, MixMode.LEARNED);
    assertThat(r.allocAt(50)).isNotNaN();
    assertThat(r.allocAt(60)).isNaN();
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    FillExperiment.printRows(r, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
    assertThat(lines[lines.length - 1]).startsWith("BEST_FIT,1,");
    assertThat(lines.length).isBetween(51, 60);
  }

  @Test
  void cliPrintsCsvThenSummaries() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int rc =
        FillExperiment.cli(
            new String[] {"--nodes", NODES, "--pods", PODS, "--strategy", "first-fit", "--seeds", "42,43",
              "--tune", "1.3"},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(rc).isZero();
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertThat(lines.get(0)).isEqualTo("strategy,seed,arrived_pct,allocated_pct");
    assertThat(lines).hasSize(1 + 2 * 131 + 2);
    assertThat(lines.get(1)).isEqualTo("FIRST_FIT,42,0,0.000");
    for (String l : lines.subList(1, 1 + 2 * 131)) {
      assertThat(l).matches("FIRST_FIT,4[23],\\d{1,3},\\d{1,3}\\.\\d{3}");
    }
    assertThat(lines.get(131)).startsWith("FIRST_FIT,42,130,");
    assertThat(lines.get(263))
        .matches("SUMMARY strategy=FIRST_FIT seed=42 alloc_at_100=\\d+\\.\\d{3} alloc_at_130=\\d+\\.\\d{3}"
            + " decisions_per_s=\\d+ decisions_per_cpu_s=(\\d+|NaN)");
    assertThat(lines.get(264)).startsWith("SUMMARY strategy=FIRST_FIT seed=43 ");
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("CPU-only pods left out");
  }

  @Test
  void cliRejectsBadArguments() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8);
    PrintStream o = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    assertThat(FillExperiment.cli(new String[] {"--nodes", NODES}, o, e)).isEqualTo(2);
    assertThat(FillExperiment.cli(new String[] {"--nodes", NODES, "--pods", PODS, "--strategy", "LIFO"}, o, e))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("unknown placement strategy LIFO");
  }

  /**
   * Placement quality on the small workload: FRAGMENTATION_AWARE must not pack worse than
   * FIRST_FIT beyond noise, and SPREAD is the worst (it fragments on purpose).
   */
  @Test
  void fragmentationAwareIsNotWorseThanFirstFit() {
    double ff = meanAt100(PlacementStrategy.FIRST_FIT, MixMode.LEARNED);
    double fgd = meanAt100(PlacementStrategy.FRAGMENTATION_AWARE, MixMode.LEARNED);
    double fgdTrace = meanAt100(PlacementStrategy.FRAGMENTATION_AWARE, MixMode.TRACE);
    double spread = meanAt100(PlacementStrategy.SPREAD, MixMode.LEARNED);
    System.out.printf("small workload, alloc at 100%% arrived: FIRST_FIT %.2f, FGD learned %.2f,"
        + " FGD trace mix %.2f, SPREAD %.2f%n", ff, fgd, fgdTrace, spread);
    assertThat(fgd).isGreaterThanOrEqualTo(ff - 2.0);
    assertThat(fgdTrace).isGreaterThanOrEqualTo(ff - 2.0);
    assertThat(spread).isLessThan(Math.min(ff, fgd));
  }

  private static double meanAt100(PlacementStrategy s, MixMode mix) {
    return IntStream.of(42, 43, 44)
        .mapToDouble(seed -> FillExperiment.run(small, s, seed, 1.3, mix).allocAt(100))
        .average()
        .orElseThrow();
  }

  @Test
  void traceMixCountsShapes() {
    var mix = FillExperiment.traceMix(small);
    assertThat(mix.values().stream().mapToDouble(Double::doubleValue).sum())
        .isCloseTo(small.pods().size(), within(1e-9));
    assertThat(mix.keySet().stream().map(d -> d.getClass().getSimpleName()).collect(Collectors.toSet()))
        .containsExactlyInAnyOrder("Whole", "Share");
  }

  @Test
  void theDecisionDigestIsTheSameForTheSameDecisionsOnly() {
    PlacementStrategy fa = PlacementStrategy.FRAGMENTATION_AWARE;
    SeedResult a = FillExperiment.run(small, fa, 42, 1.3, MixMode.LEARNED);
    SeedResult again = FillExperiment.run(small, fa, 42, 1.3, MixMode.LEARNED);
    // a fresh cluster makes the same decisions: the same digest
    assertThat(again.decisionDigest()).isEqualTo(a.decisionDigest());
    // other arrivals, or other choices on the same arrivals: other digests
    assertThat(FillExperiment.run(small, fa, 43, 1.3, MixMode.LEARNED).decisionDigest())
        .isNotEqualTo(a.decisionDigest());
    assertThat(FillExperiment.run(small, PlacementStrategy.FIRST_FIT, 42, 1.3, MixMode.LEARNED)
            .decisionDigest())
        .isNotEqualTo(a.decisionDigest());
    assertThat(FillExperiment.runReference(small, 42, 1.3).decisionDigest())
        .isEqualTo(FillExperiment.runReference(small, 42, 1.3).decisionDigest());
  }

  @Test
  void theDigestCoversWhereEachRequestWentAndWhichFailed() {
    var cluster = FillExperiment.cluster(small, PlacementStrategy.FIRST_FIT, MixMode.LEARNED);
    var reqs = small.requests();
    io.gpusched.Allocation first = cluster.tryPlace(reqs.get(0));
    io.gpusched.Allocation second = cluster.tryPlace(reqs.get(1));
    assertThat(first).isNotNull();
    assertThat(second).isNotNull();
    long both = FillExperiment.digestOf(new io.gpusched.Allocation[] {first, second}, 2);
    assertThat(FillExperiment.digestOf(new io.gpusched.Allocation[] {second, first}, 2))
        .isNotEqualTo(both);
    assertThat(FillExperiment.digestOf(new io.gpusched.Allocation[] {first, null}, 2))
        .isNotEqualTo(both)
        .isNotEqualTo(FillExperiment.digestOf(new io.gpusched.Allocation[] {first, second}, 1));
    assertThat(FillExperiment.digestOf(new io.gpusched.Allocation[] {first, second, null}, 2))
        .isEqualTo(both);
  }
}
