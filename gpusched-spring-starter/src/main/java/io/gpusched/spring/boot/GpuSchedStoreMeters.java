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
