package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.PlacementStrategy;
import io.gpusched.bench.FillExperiment.MixMode;
import io.gpusched.bench.FillExperiment.SeedResult;
import io.gpusched.bench.FillExperiment.Workload;
import io.gpusched.bench.workload.Trace;
import org.junit.jupiter.api.Test;

/** Placing through threads in turn ({@link Lanes}): names, and a deterministic result. */
class LanesTest {

  @Test
  void namesCarryTheLaneCount() {
    assertThat(Lanes.strategyOf("FRAGMENTATION_AWARE@16")).isEqualTo("FRAGMENTATION_AWARE");
    assertThat(Lanes.countOf("FRAGMENTATION_AWARE@16")).isEqualTo(16);
    assertThat(Lanes.countOf("BEST_FIT")).isEqualTo(1);
    assertThatThrownBy(() -> Lanes.countOf("BEST_FIT@0")).hasMessageContaining("BEST_FIT@0");
  }

  @Test
  void threadsTakingTurnsGiveTheSameResultEveryRun() {
    Workload w =
        FillExperiment.workload(
            Trace.readNodes(FillExperimentTest.NODES), Trace.readPods(FillExperimentTest.PODS));
    SeedResult a =
        FillExperiment.run(w, PlacementStrategy.BEST_FIT, 42, 1.3, MixMode.LEARNED, 4);
    SeedResult b =
        FillExperiment.run(w, PlacementStrategy.BEST_FIT, 42, 1.3, MixMode.LEARNED, 4);
    assertThat(a.strategy()).isEqualTo("BEST_FIT@4");
    assertThat(a.allocatedPct()).isEqualTo(b.allocatedPct());
    assertThat(a.placed()).isPositive();
  }
}
