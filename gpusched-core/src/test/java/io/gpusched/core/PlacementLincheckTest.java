package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.PlacementRequest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.annotations.Param;
import org.jetbrains.kotlinx.lincheck.paramgen.ThreadIdGen;
import org.jetbrains.kotlinx.lincheck.strategy.managed.modelchecking.ModelCheckingOptions;
import org.jetbrains.kotlinx.lincheck.strategy.stress.StressOptions;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Strict linearizability of place / release on one H100 in MIG_DYNAMIC mode with FIRST_FIT (whose
 * choice is a function of the GPU's state, so results are deterministic sequentially).
 *
 * <p>Allocations are handles, so each thread keeps its own stack of them (indexed by Lincheck's
 * thread id, touched only by that thread): {@code place*} returns the start slot chosen or -1 and
 * pushes the handle; {@code release} pops this thread's latest handle and returns what {@code
 * Allocation.release()} returned ({@code false} when the thread holds none). The sequential
 * specification is the same class run sequentially.
 *
 * <p>CI runs a short stress check; run longer with {@code -Dgpusched.lincheck.iterations=200
 * -Dgpusched.lincheck.invocations=5000}.
 */
public class PlacementLincheckTest {
  private final Object token = new Object();
  private final List<ArrayDeque<Allocation>> held = new ArrayList<>();

  public PlacementLincheckTest() {
    LincheckClusters.newH100(token);
    for (int i = 0; i < 16; i++) {
      held.add(new ArrayDeque<>());
    }
  }

  private int place(int tid, String profile) {
    Optional<Allocation> a = LincheckClusters.get(token).place(PlacementRequest.mig(profile));
    if (a.isEmpty()) {
      return -1;
    }
    held.get(tid).push(a.get());
    return a.get().gpus().get(0).migStartSlot();
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

  /**
   * The strict check. It found a spurious miss (a release's clear-then-repair window hid a GPU from
   * a concurrent search; fixed with {@code Group.busy}). It runs by hand with {@code
   * -Dgpusched.lincheck.strict=true} until it has a long clean record; CI runs {@link
   * RetryingPlacementLincheckTest}.
   */
  @EnabledIfSystemProperty(named = "gpusched.lincheck.strict", matches = "true")
  @Test
  void stress() {
    LinChecker.check(
        PlacementLincheckTest.class,
        new StressOptions()
            .threads(2)
            .actorsPerThread(3)
            .actorsBefore(1)
            .actorsAfter(1)
            .iterations(Integer.getInteger("gpusched.lincheck.iterations", 20))
            .invocationsPerIteration(Integer.getInteger("gpusched.lincheck.invocations", 500)));
  }
}
