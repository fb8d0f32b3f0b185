package io.gpusched.core;

import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.annotations.Param;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.kotlinx.lincheck.paramgen.ThreadIdGen;

/**
 * {@link PlacementLincheckOps} plus gangs of two (same-node and spread) and adding, force-removing
 * and cordoning node x. See {@link GangPlacementLincheckTest} for why it does not run in CI yet.
 */
public abstract class WidePlacementLincheckOps extends PlacementLincheckOps {
  @Operation
  public String gang(
      @Param(gen = ThreadIdGen.class) int tid, @Param(gen = IntGen.class, conf = "0:1") int spread) {
    return placeForSubclass(tid, PlacementRequest.wholeGpus(2, spread == 0));
  }

  @Operation
  public boolean cordonX(@Param(gen = IntGen.class, conf = "0:1") int on) {
    try {
      clusterForSubclass().setNodeState("x", on == 1 ? NodeState.CORDONED : NodeState.READY);
      return true;
    } catch (IllegalArgumentException e) {
      return false; // x is removed
    }
  }

  @Operation
  public int removeX() {
    try {
      return clusterForSubclass().removeNode("x", true).lost().size();
    } catch (IllegalArgumentException e) {
      return -1;
    }
  }

  @Operation
  public boolean addX() {
    try {
      clusterForSubclass().addNode(LincheckClusters.nodeX());
      return true;
    } catch (IllegalArgumentException e) {
      return false; // already there
    }
  }
}
