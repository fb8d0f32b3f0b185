package io.gpusched.core;

import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoredState;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Times the store calls of a replica's takeover (load, commits) until {@link #stop}, for the log
 * line that splits a takeover's time into its phases: the wait for the work thread, the load, the
 * commits, and the rest (configuration, restore, reconciliation with the launcher, re-sent stops).
 * Wraps the leader's store for the whole epoch; after {@code stop} it only passes calls through.
 */
final class RecoveryTimes {
  private volatile boolean recording = true;
  private long loadNanos;
  private long commitNanos;
  private int commits;

  /** The store, timed while recording. */
  SchedulerStore wrap(SchedulerStore store) {
    return new SchedulerStore() {
      @Override
      public StoredState load() {
        long t = System.nanoTime();
        try {
          return store.load();
        } finally {
          if (recording) {
            add(true, System.nanoTime() - t);
          }
        }
      }

      @Override
      public void commit(List<StoreChange> changes) {
        long t = System.nanoTime();
        try {
          store.commit(changes);
        } finally {
          if (recording) {
            add(false, System.nanoTime() - t);
          }
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

  private synchronized void add(boolean load, long nanos) {
    if (load) {
      loadNanos += nanos;
    } else {
      commitNanos += nanos;
      commits++;
    }
  }

  /** Stops recording; returns "load a ms, b commits c ms". */
  synchronized String stop() {
    recording = false;
    return "load " + TimeUnit.NANOSECONDS.toMillis(loadNanos) + " ms, " + commits + " commit(s) "
        + TimeUnit.NANOSECONDS.toMillis(commitNanos) + " ms";
  }
}
