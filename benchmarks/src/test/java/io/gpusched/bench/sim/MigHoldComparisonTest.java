package io.gpusched.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.JobState;
import io.gpusched.bench.mig.MigFillExperiment;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link MigHoldComparison}: its workload, and a short run with and without the hold. */
class MigHoldComparisonTest {

  @Test
  void theWorkloadAsksForTheLoadItIsGivenAndIsDeterministic() {
    Workload w = MigHoldComparison.workload(MigFillExperiment.Mix.UNIFORM, 1.1, 24, 5);
    assertThat(MigHoldComparison.workload(MigFillExperiment.Mix.UNIFORM, 1.1, 24, 5)).isEqualTo(w);
    int[] compute = {1, 1, 2, 3, 4, 7};
    double sliceSeconds = 0;
    for (SimJob j : w.jobs()) {
      assertThat(j.request()).isEqualTo("mig:" + j.kind());
      assertThat(j.durationSeconds()).isBetween(1_800L, 8 * 3_600L);
      assertThat(j.arrivalSeconds()).isLessThan(24 * 3_600L);
      sliceSeconds += compute[MigFillExperiment.PROFILES.indexOf(j.kind())] * j.durationSeconds();
    }
    double capacity = 7.0 * 100 * 24 * 3_600;
    assertThat(sliceSeconds / capacity).isBetween(1.0, 1.2); // a Poisson draw around 1.1
  }

  @Test
  void aShortRunWithAndWithoutTheHoldLosesNoJobAndTheHoldMakesMemoryHeavyJobsWait() {
    Workload w = MigHoldComparison.workload(MigFillExperiment.Mix.UNIFORM, 1.1, 12, 1);
    List<MigHoldComparison.Run> runs =
        MigHoldComparison.run(MigHoldComparison.cluster(), w, List.of(Duration.ZERO, Duration.ofHours(6)));
    for (MigHoldComparison.Run r : runs) {
      assertThat(r.result().jobsLost()).as("%s %s", r.hold(), r.result().anomalies()).isZero();
      assertThat(r.result().jobs()).hasSize(w.jobs().size());
      assertThat(r.result().jobs()).allSatisfy(o -> assertThat(o.state()).isEqualTo(JobState.COMPLETED));
    }
    // what docs/fill-experiment.md reports: held, the memory-heavy jobs wait longer
    assertThat(medianHeavyWait(runs.get(1).result())).isGreaterThan(medianHeavyWait(runs.get(0).result()));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    MigHoldComparison.print(runs, new PrintStream(out, true, StandardCharsets.UTF_8));
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("off ").contains("6h ");
  }

  private static double medianHeavyWait(SimResult r) {
    double[] w =
        r.jobs().stream()
            .filter(o -> MigHoldComparison.memoryHeavy(o.job()))
            .mapToDouble(o -> o.waitSeconds(r.endSeconds()))
            .sorted()
            .toArray();
    assertThat(w).isNotEmpty();
    return SimResult.percentile(w, 50);
  }

  @Test
  void holdsParseAndPrint() {
    assertThat(MigHoldComparison.parseHold("0")).isZero();
    assertThat(MigHoldComparison.parseHold(" 10m")).isEqualTo(Duration.ofMinutes(10));
    assertThat(MigHoldComparison.parseHold("6h")).isEqualTo(Duration.ofHours(6));
    assertThat(MigHoldComparison.label(Duration.ZERO)).isEqualTo("off");
    assertThat(MigHoldComparison.label(Duration.ofMinutes(90))).isEqualTo("90m");
    assertThat(MigHoldComparison.label(Duration.ofHours(6))).isEqualTo("6h");
    assertThatThrownBy(() -> MigHoldComparison.parseHold("6d"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("6d");
  }
}
