package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.jetbrains.kotlinx.lincheck.strategy.managed.modelchecking.ModelCheckingOptions;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * Strict linearizability of {@link PlacementLincheckOps}: every placement is tried once, so a miss
 * must be linearizable as it is. Runs in every build with {@value #ITERATIONS} x {@value
 * #INVOCATIONS} invocations; a long run: {@code -Dgpusched.lincheck.iterations=200
 * -Dgpusched.lincheck.invocations=5000}, with a larger heap ({@code JAVA_TOOL_OPTIONS=-Xmx16g}:
 * Lincheck keeps the sequential specification's explored states, each a whole cluster; see
 * docs/placement.md, "Proof").
 */
public class PlacementLincheckTest extends PlacementLincheckOps {
  static final int ITERATIONS = 50;
  static final int INVOCATIONS = 2000;

  @Disabled(
      "Lincheck 2.39 internal error: ConcurrentModificationException in"
          + " SnapshotTracker.restoreValues (static memory snapshot)")
  @Test
  void modelChecking() {
    LinChecker.check(
        PlacementLincheckTest.class,
        new ModelCheckingOptions()
            .threads(2)
            .actorsPerThread(2)
            .actorsBefore(1)
            .actorsAfter(1)
            .iterations(20)
            .invocationsPerIteration(200));
  }

  /** The strict check, in stress mode (the model-checking mode above crashes inside Lincheck). */
  @Test
  void stress() {
    LinChecker.check(
        PlacementLincheckTest.class, LincheckClusters.stress(2, ITERATIONS, INVOCATIONS));
    assertThat(LincheckClusters.DISCARDED.get()).as("pooled clusters not back to their start").isZero();
  }
}
