package io.gpusched.core;

import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes final jobs from a durable scheduler's store once they are older than the retention
 * ({@link GpuSchedulers.Builder#finishedJobRetention}), so the store does not grow forever. Runs
 * from {@code tick()} on the ticking thread (the timer thread, or the caller with manual ticks),
 * never on the placement path and never under the journal's monitor: at most once per {@link
 * #INTERVAL_MILLIS} of the scheduler's clock, in batches of {@link #BATCH} jobs (each batch one
 * transaction), at most {@link #MAX_BATCHES} batches per run. One run at a time (a flag, not a
 * lock: a tick that finds a run in progress skips it). A store that fails is logged and tried again
 * at the next interval.
 */
final class Pruner {

  private static final Logger log = LoggerFactory.getLogger(Pruner.class);

  /** Jobs per batch (one transaction each). */
  static final int BATCH = 1000;

  /** Batches per run, so one tick is never held long; the rest waits for the next interval. */
  static final int MAX_BATCHES = 20;

  /** How often, on the scheduler's clock, a tick prunes. */
  static final long INTERVAL_MILLIS = 60_000;

  private final SchedulerStore store;
  private final long retentionMillis;
  private final AtomicBoolean running = new AtomicBoolean();
  private volatile long nextAtMillis = Long.MIN_VALUE;

  Pruner(SchedulerStore store, long retentionMillis) {
    this.store = store;
    this.retentionMillis = retentionMillis;
  }

  /** Prunes if the interval has passed since the last run; returns the jobs deleted. Any thread. */
  int maybePrune(long nowMillis) {
    if (nowMillis < nextAtMillis || !running.compareAndSet(false, true)) {
      return 0;
    }
    int deleted = 0;
    try {
      nextAtMillis = nowMillis + INTERVAL_MILLIS;
      long before = nowMillis - retentionMillis;
      for (int b = 0; b < MAX_BATCHES; b++) {
        int n = store.pruneFinishedJobs(before, BATCH);
        deleted += n;
        if (n < BATCH) {
          break;
        }
      }
      if (deleted > 0) {
        log.debug("gpusched: pruned {} finished jobs from {}", deleted, store);
      }
    } catch (StoreException e) {
      log.warn("gpusched: pruning finished jobs from {} failed; tried again in {} ms", store, INTERVAL_MILLIS, e);
    } finally {
      running.set(false);
    }
    return deleted;
  }
}
