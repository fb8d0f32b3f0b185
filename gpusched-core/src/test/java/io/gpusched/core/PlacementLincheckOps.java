package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.PlacementRequest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.annotations.Param;
import org.jetbrains.kotlinx.lincheck.paramgen.ThreadIdGen;

/**
 * Lincheck operations on one H100 in MIG_DYNAMIC mode with FIRST_FIT (whose choice is a function of
 * the GPU's state, so results are deterministic sequentially), shared by {@link
 * PlacementLincheckTest} and {@link RetryingPlacementLincheckTest}.
 *
 * <p>Allocations are handles, so each thread keeps its own stack of them (indexed by Lincheck's
 * thread id, touched only by that thread): {@code place*} returns the start slot chosen or -1 and
 * pushes the handle; {@code release} pops this thread's latest handle and returns what {@code
 * Allocation.release()} returned ({@code false} when the thread holds none). The sequential
 * specification is the same class run sequentially.
 */
public abstract class PlacementLincheckOps {
  private final Object token = new Object();
  private final List<ArrayDeque<Allocation>> held = new ArrayList<>();

  private final int attempts;

  /** A placement that finds nothing is tried up to {@code attempts} times. */
  PlacementLincheckOps(int attempts) {
    this.attempts = attempts;
    LincheckClusters.newH100(token);
    for (int i = 0; i < 16; i++) {
      held.add(new ArrayDeque<>());
    }
  }

  private int place(int tid, String profile) {
    for (int attempt = 0; attempt < attempts; attempt++) {
      Optional<Allocation> a = LincheckClusters.get(token).place(PlacementRequest.mig(profile));
      if (a.isPresent()) {
        held.get(tid).push(a.get());
        return a.get().gpus().get(0).migStartSlot();
      }
    }
    return -1;
  }

  @Operation
  public int place1g(@Param(gen = ThreadIdGen.class) int tid) {
    return place(tid, "1g.10gb");
  }

  @Operation
  public int place3g(@Param(gen = ThreadIdGen.class) int tid) {
    return place(tid, "3g.40gb");
  }

  @Operation
  public int place4g(@Param(gen = ThreadIdGen.class) int tid) {
    return place(tid, "4g.40gb");
  }

  @Operation
  public boolean release(@Param(gen = ThreadIdGen.class) int tid) {
    Allocation a = held.get(tid).poll();
    return a != null && a.release();
  }

}
