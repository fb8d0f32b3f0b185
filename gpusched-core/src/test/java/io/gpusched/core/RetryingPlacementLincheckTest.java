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
import org.jetbrains.kotlinx.lincheck.strategy.stress.StressOptions;
import org.junit.jupiter.api.Test;

/**
 * Linearizability of place / release on one H100 (MIG_DYNAMIC, FIRST_FIT) where a placement that
 * finds nothing is retried up to {@value #RETRIES} times before it counts as "no capacity".
 *
 * <p>This is the variant CI runs while {@link PlacementLincheckTest#stress()} (no retries) builds a
 * clean record after the fix of a rare spurious miss under a concurrent release. Every
 * other property is checked exactly: chosen slots follow FIRST_FIT's sequential choice, no slot is
 * granted twice, releases return true exactly once. Run longer with {@code
 * -Dgpusched.lincheck.iterations=200 -Dgpusched.lincheck.invocations=5000}.
 */
public class RetryingPlacementLincheckTest {
  static final int RETRIES = 4;

  private final Object token = new Object();
  private final List<ArrayDeque<Allocation>> held = new ArrayList<>();

  public RetryingPlacementLincheckTest() {
    LincheckClusters.newH100(token);
    for (int i = 0; i < 16; i++) {
      held.add(new ArrayDeque<>());
    }
  }

  private int place(int tid, String profile) {
    for (int attempt = 0; attempt < RETRIES; attempt++) {
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

  @Test
  void stress() {
    LinChecker.check(
        RetryingPlacementLincheckTest.class,
        new StressOptions()
            .threads(2)
            .actorsPerThread(3)
            .actorsBefore(1)
            .actorsAfter(1)
            .iterations(Integer.getInteger("gpusched.lincheck.iterations", 20))
            .invocationsPerIteration(Integer.getInteger("gpusched.lincheck.invocations", 500)));
  }
}
