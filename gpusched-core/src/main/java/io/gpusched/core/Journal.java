package io.gpusched.core;

import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The write-ahead journal of a durable scheduler, with group commit. Exists only when the builder
 * was given a {@link SchedulerStore}; without one nothing is journaled and no class calls this.
 *
 * <h2>Entries</h2>
 *
 * Whoever changes durable state appends an {@link Entry} ({@link #job}, {@link #change}): for a
 * job, just "this job changed", appended after the transition's compare-and-set and before the
 * GPUs it gave up are released; the job's record is read when the batch is built ({@link
 * #snapshot}), so a batch always writes each job's latest state, whatever order racing threads
 * appended in. Because a job's entry is appended before its release, and a later start on those
 * GPUs is appended after it, a batch never holds two jobs on the same capacity: the store never
 * shows a double grant.
 *
 * <h2>Group commit</h2>
 *
 * A thread that needs its entry durable calls {@link #await}. If no commit is in progress it
 * becomes the committer: it takes every pending entry (its own and everyone else's, the dispatch
 * pass's included), builds one batch and commits it with one {@link SchedulerStore#commit};
 * threads arriving meanwhile wait on the monitor and are served by the next batch, which one of
 * them commits. Commits are therefore serialized and in append order; the monitor is held only to
 * move entries, never during the store call. This lock exists only in durable mode; placements
 * never take it.
 *
 * <h2>Failures</h2>
 *
 * A failed commit wakes every waiter of the batch with a {@link StoreException}. Entries marked
 * {@linkplain #submitted reject-on-failure} (a submit, which is then not accepted) are dropped;
 * every other entry goes back to the head of the pending entries and is written by the next
 * commit that succeeds (a change already made in memory is never forgotten, only late).
 *
 * <h2>Launcher calls</h2>
 *
 * A launcher call that must follow a commit (a start, a stop decided on the dispatcher) is
 * {@linkplain #later deferred} with the entry it needs; {@link #runDeferred} runs the deferred
 * calls in order, each only once its entry is committed (dispatcher).
 */
final class Journal {

  private static final Logger log = LoggerFactory.getLogger(Journal.class);

  /** One appended change; its fields are guarded by the journal's monitor. */
  static final class Entry {
    final @Nullable Job job;
    final @Nullable StoreChange change;
    final boolean rejectOnFailure;
    boolean committed;
    /** Commit attempts that included this entry and failed. */
    int failures;

    @Nullable StoreException error;

    Entry(@Nullable Job job, @Nullable StoreChange change, boolean rejectOnFailure) {
      this.job = job;
      this.change = change;
      this.rejectOnFailure = rejectOnFailure;
    }
  }

  private record Deferred(Entry needs, Runnable call) {}

  private final SchedulerStore store;
  private final Function<Job, @Nullable StoreChange> snapshot;
  private final Object lock = new Object();
  private List<Entry> pending = new ArrayList<>();
  private boolean committing;
  private final ConcurrentLinkedQueue<Deferred> deferred = new ConcurrentLinkedQueue<>();

  /**
   * @param store where batches go
   * @param snapshot a job's record as of now, or {@code null} to write nothing for it (its id
   *     belongs to a newer job)
   */
  Journal(SchedulerStore store, Function<Job, @Nullable StoreChange> snapshot) {
    this.store = store;
    this.snapshot = snapshot;
  }

  /** Appends "job {@code j} changed" (any thread). */
  Entry job(Job j) {
    return append(new Entry(j, null, false));
  }

  /** Appends a new job's submission, dropped (not retried) if its first commit fails. */
  Entry submitted(Job j) {
    return append(new Entry(j, null, true));
  }

  /** Appends a queue or node change (any thread). */
  Entry change(StoreChange c) {
    return append(new Entry(null, Objects.requireNonNull(c, "change"), false));
  }

  private Entry append(Entry e) {
    synchronized (lock) {
      pending.add(e);
    }
    return e;
  }

  /**
   * Returns when {@code e} is committed, committing a batch on this thread if no other thread is.
   *
   * @throws StoreException if the first commit that included {@code e} failed
   */
  void await(Entry e) {
    boolean interrupted = false;
    try {
      for (; ; ) {
        List<Entry> batch;
        synchronized (lock) {
          while (!e.committed && e.failures == 0 && committing) {
            try {
              lock.wait();
            } catch (InterruptedException ie) {
              interrupted = true; // the commit in progress is not abandoned; the flag is kept
            }
          }
          if (e.committed) {
            return;
          }
          if (e.failures > 0) {
            StoreException cause = Objects.requireNonNull(e.error);
            throw new StoreException(Objects.requireNonNullElse(cause.getMessage(), cause.toString()), cause);
          }
          committing = true;
          batch = pending;
          pending = new ArrayList<>();
        }
        commitBatch(batch);
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Returns when everything appended before this call is committed (any thread).
   *
   * @throws StoreException if that commit failed (the entries are kept for the next one)
   */
  void flush() {
    synchronized (lock) {
      if (pending.isEmpty() && !committing) {
        return;
      }
    }
    await(append(new Entry(null, null, false)));
  }

  private void commitBatch(List<Entry> batch) {
    StoreException failure = null;
    Error fatal = null;
    int n = 0;
    try {
      List<StoreChange> changes = build(batch);
      n = changes.size();
      if (n > 0) {
        store.commit(changes);
      }
    } catch (StoreException e) {
      failure = e;
    } catch (RuntimeException e) {
      failure = new StoreException("the store " + store + " failed to commit " + n + " changes: " + e, e);
    } catch (Error e) {
      fatal = e;
      failure = new StoreException("the commit to " + store + " failed: " + e, e);
    }
    synchronized (lock) {
      if (failure == null) {
        for (Entry e : batch) {
          e.committed = true;
        }
      } else {
        var keep = new ArrayList<Entry>(batch.size() + pending.size());
        for (Entry e : batch) {
          e.failures++;
          e.error = failure;
          if (!e.rejectOnFailure) {
            keep.add(e);
          }
        }
        keep.addAll(pending);
        pending = keep;
      }
      committing = false;
      lock.notifyAll();
    }
    if (failure != null) {
      log.warn("gpusched: commit to {} failed; {} entries kept for the next commit", store, batch.size(), failure);
    }
    if (fatal != null) {
      throw fatal;
    }
  }

  /** The batch: each job once (its record as of now), then queue and node changes in order. */
  private List<StoreChange> build(List<Entry> batch) {
    var out = new ArrayList<StoreChange>(batch.size());
    IdentityHashMap<Job, Boolean> seen = new IdentityHashMap<>();
    for (Entry e : batch) {
      Job j = e.job;
      if (j != null) {
        if (seen.put(j, Boolean.TRUE) == null) {
          StoreChange c = snapshot.apply(j);
          if (c != null) {
            out.add(c);
          }
        }
      } else if (e.change != null) {
        out.add(e.change);
      }
    }
    return out;
  }

  /** Defers a launcher call until {@code needs} is committed (any thread). */
  void later(Entry needs, Runnable call) {
    deferred.add(new Deferred(needs, call));
  }

  /**
   * Runs the deferred launcher calls whose entries are committed, in order, stopping at the first
   * that is not (dispatcher). Each call handles its own exceptions.
   */
  void runDeferred() {
    for (Deferred d; (d = deferred.peek()) != null; ) {
      synchronized (lock) {
        if (!d.needs.committed) {
          return;
        }
      }
      deferred.poll();
      d.call.run();
    }
  }
}
