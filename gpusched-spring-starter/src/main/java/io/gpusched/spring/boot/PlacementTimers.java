package io.gpusched.spring.boot;

import io.gpusched.GpuDemand;
import io.gpusched.PlacementObserver;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * {@code gpusched.placement.latency{kind=whole|mig|share, outcome=placed|no_capacity}}: the time
 * of each engine placement call the scheduler makes. The six timers are registered once, so the
 * dispatch path only records. They have histogram buckets from 10 microseconds to 100 milliseconds
 * ({@code gpusched_placement_latency_seconds_bucket} in Prometheus).
 */
final class PlacementTimers implements PlacementObserver {
  static final String NAME = "gpusched.placement.latency";
  private static final String[] KINDS = {"whole", "mig", "share"};

  /** Histogram buckets: placement calls take microseconds, a slow one milliseconds. */
  static final Duration[] BUCKETS = {
    micros(10), micros(25), micros(50), micros(100), micros(250), micros(500),
    micros(1000), micros(2500), micros(5000), micros(10_000), micros(25_000), micros(100_000)
  };

  /** [kind][placed ? 1 : 0]. */
  private final Timer[][] timers = new Timer[KINDS.length][2];

  PlacementTimers(MeterRegistry registry) {
    for (int k = 0; k < KINDS.length; k++) {
      for (int placed = 0; placed < 2; placed++) {
        timers[k][placed] =
            Timer.builder(NAME)
                .tags("kind", KINDS[k], "outcome", placed == 1 ? "placed" : "no_capacity")
                .description("Time of one placement call on the lock-free engine")
                .serviceLevelObjectives(BUCKETS)
                .register(registry);
      }
    }
  }

  private static Duration micros(long us) {
    return Duration.ofNanos(us * 1000);
  }

  @Override
  public void placed(GpuDemand demand, boolean placed, long elapsedNanos) {
    int kind = demand instanceof GpuDemand.Whole ? 0 : demand instanceof GpuDemand.Mig ? 1 : 2;
    timers[kind][placed ? 1 : 0].record(elapsedNanos, TimeUnit.NANOSECONDS);
  }
}
