package io.gpusched.bench.mig;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.PlacementStrategy;
import io.gpusched.bench.mig.MigFillExperiment.Mix;
import io.gpusched.bench.mig.MigFillExperiment.SeedResult;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The MIG fill experiment's protocol (100 H100-80GB GPUs, 25 nodes of 4, streams to 130 % of
 * compute), run on ten seeds: a few seconds.
 */
class MigFillExperimentTest {
  static final long[] SEEDS = MigFillExperiment.seeds("1-10");
  static final List<PlacementStrategy> STRATEGIES =
      List.of(PlacementStrategy.FIRST_FIT, PlacementStrategy.BEST_FIT, PlacementStrategy.FRAGMENTATION_AWARE);

  static double mean(List<SeedResult> rs, String strategy) {
    return rs.stream().filter(r -> r.strategy().equals(strategy)).mapToDouble(SeedResult::pct).average().orElseThrow();
  }

  @Test
  void theDefaultStrategyGrantsAtLeast97PercentOfTheOptimumOnAverage() {
    for (Mix mix : List.of(Mix.UNIFORM, Mix.BENCH)) {
      List<SeedResult> rs = MigFillExperiment.run(mix, STRATEGIES, SEEDS, 25, 4, 1.3, false);
      for (SeedResult r : rs) {
        assertThat(r.granted()).as("%s", r).isLessThanOrEqualTo(r.optimum());
        assertThat(r.optimum()).as("%s", r).isLessThanOrEqualTo(700);
      }
      double fa = mean(rs, "FRAGMENTATION_AWARE");
      assertThat(fa).as("%s: FRAGMENTATION_AWARE mean %% of optimum", mix).isGreaterThanOrEqualTo(97.0);
      assertThat(fa).as("%s vs FIRST_FIT", mix).isGreaterThan(mean(rs, "FIRST_FIT"));
      assertThat(fa).as("%s vs BEST_FIT", mix).isGreaterThan(mean(rs, "BEST_FIT"));
    }
  }

  @Test
  void streamsReachTheTargetAndAreDeterministic() {
    var a = MigFillExperiment.stream(Mix.SMALL, 20, 1.3, 5);
    var b = MigFillExperiment.stream(Mix.SMALL, 20, 1.3, 5);
    assertThat(a.profiles()).isEqualTo(b.profiles());
    int[] c = {1, 1, 2, 3, 4, 7};
    int sum = 0;
    for (int p : a.profiles()) {
      sum += c[p];
    }
    int target = (int) Math.ceil(1.3 * 7 * 20);
    assertThat(sum).isGreaterThanOrEqualTo(target);
    assertThat(sum - c[a.profiles()[a.profiles().length - 1]]).isLessThan(target);
    assertThatThrownBy(() -> MigFillExperiment.stream(Mix.SMALL, 20, 0, 5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0");
  }

  @Test
  void printsRowsAndSummaries() {
    var out = new ByteArrayOutputStream();
    MigFillExperiment.print(
        MigFillExperiment.run(Mix.UNIFORM, List.of(PlacementStrategy.FIRST_FIT), new long[] {1, 2}, 2, 4, 1.3, true),
        new PrintStream(out, true, StandardCharsets.UTF_8));
    String s = out.toString(StandardCharsets.UTF_8);
    assertThat(s).startsWith("mix,strategy,seed,requests,granted,optimum,pct\n");
    assertThat(s).contains("UNIFORM,FIRST_FIT,1,").contains("UNIFORM,FIRST_FIT,2,");
    assertThat(s).contains("SUMMARY mix=UNIFORM strategy=FIRST_FIT seeds=2 min_pct=");
  }
}
