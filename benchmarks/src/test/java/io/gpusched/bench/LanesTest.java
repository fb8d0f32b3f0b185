package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
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
    // NAME@N: every thread keeps its lane; NAME@Nc: the default, lanes only after lost races
    assertThat(Lanes.offsetsOf("BEST_FIT@4")).isEqualTo(ThreadOffsets.ALWAYS);
    assertThat(Lanes.offsetsOf("BEST_FIT@4c")).isEqualTo(ThreadOffsets.WHEN_CONTENDED);
    assertThat(Lanes.offsetsOf("BEST_FIT")).isEqualTo(ThreadOffsets.WHEN_CONTENDED);
    assertThat(Lanes.countOf("BEST_FIT@4c")).isEqualTo(4);
    assertThat(Lanes.strategyOf("BEST_FIT@4c")).isEqualTo("BEST_FIT");
    assertThat(Lanes.suffixOf("BEST_FIT@4c")).isEqualTo("@4c");
    assertThat(Lanes.suffixOf("BEST_FIT@4")).isEqualTo("@4");
    assertThat(Lanes.suffixOf("BEST_FIT")).isEmpty();
  }

  /**
   * Threads that take turns lose no race, so with the default offsets they place exactly as one
   * thread (a strategy that does not learn from the allocation ids); each keeping its lane, they
   * do not.
   */
  @Test
  void threadsTakingTurnsWithTheDefaultOffsetsPlaceLikeOneThread() {
    Workload w =
        FillExperiment.workload(
            Trace.readNodes(FillExperimentTest.NODES), Trace.readPods(FillExperimentTest.PODS));
    SeedResult one = FillExperiment.run(w, PlacementStrategy.BEST_FIT, 42, 1.3, MixMode.LEARNED);
    SeedResult turns =
        FillExperiment.run(
            w, PlacementStrategy.BEST_FIT, 42, 1.3, MixMode.LEARNED, 4,
            ThreadOffsets.WHEN_CONTENDED);
    SeedResult lanes = FillExperiment.run(w, PlacementStrategy.BEST_FIT, 42, 1.3, MixMode.LEARNED, 4);
    assertThat(turns.strategy()).isEqualTo("BEST_FIT@4c");
    assertThat(turns.allocatedPct()).isEqualTo(one.allocatedPct());
    assertThat(turns.placed()).isEqualTo(one.placed());
    assertThat(lanes.allocatedPct()).isNotEqualTo(one.allocatedPct());
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
