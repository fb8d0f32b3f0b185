package io.gpusched;

/**
 * Told the outcome and duration of each placement call a scheduler makes on its {@link GpuCluster}
 * (one call per gang member, and with {@code preferCheapest} per spot try), for latency metrics such as {@code
 * gpusched.placement.latency}.
 *
 * <p>Called on the thread that placed, which is usually the scheduler's dispatching thread: it must
 * be thread-safe, fast (it sits on the dispatch path) and must not block. An exception it throws is
 * logged and ignored; the placement stands.
 */
@FunctionalInterface
public interface PlacementObserver {

  /** Observes nothing; the scheduler then takes no timestamps at all. */
  PlacementObserver NONE = (demand, placed, elapsedNanos) -> {};

  /**
   * One placement call ended.
   *
   * @param demand what was asked for
   * @param placed whether the call returned an allocation (false: no eligible capacity free now)
   * @param elapsedNanos wall time of the call, in nanoseconds ({@link System#nanoTime()}), &ge; 0
   */
  void placed(GpuDemand demand, boolean placed, long elapsedNanos);
}
