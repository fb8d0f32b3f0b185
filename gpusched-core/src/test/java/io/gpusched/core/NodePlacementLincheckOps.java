package io.gpusched.core;

import io.gpusched.NodeState;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.annotations.Param;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;

/**
 * {@link PlacementLincheckOps} plus adding, force-removing and cordoning node x, concurrently with
 * the placements (see {@link NodeOpsPlacementLincheckTest}).
 */
public abstract class NodePlacementLincheckOps extends PlacementLincheckOps {
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
