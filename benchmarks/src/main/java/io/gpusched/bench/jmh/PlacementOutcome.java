package io.gpusched.bench.jmh;

import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Placements that found capacity and that did not, per second (JMH secondary counters). */
@AuxCounters(AuxCounters.Type.OPERATIONS)
@State(Scope.Thread)
public class PlacementOutcome {
  /** Successful placements. */
  public long placed;

  /** Placements that found no capacity. */
  public long failed;

  /** Resets per iteration. */
  @Setup(Level.Iteration)
  public void reset() {
    placed = 0;
    failed = 0;
  }

  /** Counts one step of a {@link SteadyRing} and passes its result through. */
  @Nullable Object count(@Nullable Object handle) {
    if (handle != null) {
      placed++;
    } else {
      failed++;
    }
    return handle;
  }
}
