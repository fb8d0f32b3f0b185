package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/**
 * The strict check of {@link NodePlacementLincheckOps}: {@link PlacementLincheckTest}'s placements
 * and releases with node x added, force-removed and cordoned concurrently. A removal reports how
 * many allocations it lost, so where a placement landed is part of the result here: a choice must
 * be linearizable too, not only a miss. Run by hand with {@code -Dgpusched.lincheck.iterations=...
 * -Dgpusched.lincheck.invocations=...}; it passes 50 x 2,000 but not 100 x 5,000 (see the reason).
 */
public class NodeOpsPlacementLincheckTest extends NodePlacementLincheckOps {
  @Disabled(
      "open (issue 10, proof 1): a placement's choice is not linearizable under a concurrent"
          + " release (only a miss is re-checked), and removal reports where placements landed."
          + " 100 x 5,000 found host(2) +, then whole(1) + || release(2) true, then removeX() 1:"
          + " the whole GPU went to node x although, in either order, node w had one free first."
          + " 50 x 2,000 passes. See docs/placement.md, Proof")
  @Test
  void stress() {
    LinChecker.check(
        NodeOpsPlacementLincheckTest.class,
        LincheckClusters.stress(2, PlacementLincheckTest.ITERATIONS, PlacementLincheckTest.INVOCATIONS));
    assertThat(LincheckClusters.DISCARDED.get()).as("pooled clusters not back to their start").isZero();
  }
}
