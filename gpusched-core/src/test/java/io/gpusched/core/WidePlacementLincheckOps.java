package io.gpusched.core;

import io.gpusched.PlacementRequest;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.annotations.Param;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.kotlinx.lincheck.paramgen.ThreadIdGen;

/**
 * {@link NodePlacementLincheckOps} plus gangs of two (same-node and spread). See {@link
 * GangPlacementLincheckTest} for why it does not run in CI yet.
 */
public abstract class WidePlacementLincheckOps extends NodePlacementLincheckOps {
  @Operation
  public String gang(
      @Param(gen = ThreadIdGen.class) int tid, @Param(gen = IntGen.class, conf = "0:1") int spread) {
    return placeForSubclass(tid, PlacementRequest.wholeGpus(2, spread == 0));
  }
}
