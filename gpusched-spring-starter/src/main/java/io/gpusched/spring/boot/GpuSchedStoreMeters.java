package io.gpusched.spring.boot;

import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoredState;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;

/**
 * Meters of the scheduler's store commits, as a {@link GpuSchedStoreDecorator}: {@code
 * gpusched.store.commit.batch} (changes per commit: the group commit's batch size), {@code
 * gpusched.store.commit.latency} (time of each commit, successful or not) and {@code
 * gpusched.store.commit.failures} (commits that threw).
 */
public final class GpuSchedStoreMeters implements GpuSchedStoreDecorator {
  private final DistributionSummary batch;
  private final Timer latency;
  private final Counter failures;

  /**
   * Histogram buckets of {@code gpusched.store.commit.latency} ({@code
   * gpusched_store_commit_latency_seconds_bucket}): an embedded database commits in tens of
   * microseconds, PostgreSQL with fsync in milliseconds, a struggling one in seconds.
   */
  static final java.time.Duration[] LATENCY_BUCKETS = {
    java.time.Duration.ofNanos(100_000), java.time.Duration.ofNanos(500_000),
    java.time.Duration.ofMillis(1), java.time.Duration.ofMillis(2), java.time.Duration.ofMillis(5),
    java.time.Duration.ofMillis(10), java.time.Duration.ofMillis(25), java.time.Duration.ofMillis(100),
    java.time.Duration.ofMillis(500), java.time.Duration.ofSeconds(2)
  };

  /**
   * Registers the meters.
   *
   * @param registry where
   */
  public GpuSchedStoreMeters(MeterRegistry registry) {
    this.batch =
        DistributionSummary.builder("gpusched.store.commit.batch")
            .description("changes per store commit (group commit batch size)")
            .baseUnit("changes")
            .register(registry);
    this.latency =
        Timer.builder("gpusched.store.commit.latency")
            .description("time of each store commit")
            .serviceLevelObjectives(LATENCY_BUCKETS)
            .register(registry);
    this.failures =
        Counter.builder("gpusched.store.commit.failures")
            .description("store commits that failed (nothing of their batch written)")
            .register(registry);
  }

  @Override
  public SchedulerStore apply(SchedulerStore store) {
    return new SchedulerStore() {
      @Override
      public StoredState load() {
        return store.load();
      }

      @Override
      public void commit(List<StoreChange> changes) {
        long t = System.nanoTime();
        try {
          store.commit(changes);
        } catch (RuntimeException e) {
          failures.increment();
          throw e;
        } finally {
          latency.record(System.nanoTime() - t, java.util.concurrent.TimeUnit.NANOSECONDS);
          batch.record(changes.size());
        }
      }

      @Override
      public int pruneFinishedJobs(long endedBeforeMillis, int limit) {
        return store.pruneFinishedJobs(endedBeforeMillis, limit);
      }

      @Override
      public String toString() {
        return store.toString();
      }
    };
  }
}
