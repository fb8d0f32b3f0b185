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
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
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
 * pass's included), builds one batch and commits it with one {@link SchedulerStore#commit}.
 * Threads arriving meanwhile register on their own entry and park ({@link LockSupport}); they are
 * served by the next batch. Commits are therefore serialized and in append order; the monitor is
 * held only to move entries and register waiters, never during the store call or while parked.
 * This lock exists only in durable mode; placements never take it.
 *
 * <p>Wake-ups: when a commit ends, the committer first wakes one thread waiting on a pending
 * entry, which commits the next batch, then the batch's own waiters through a binary tree (it
 * wakes the first two; each woken waiter wakes two more), so the next commit does not wait for
 * the committer's dozens of wake-up system calls, and threads whose entries are not yet written
 * stay parked (a {@code notifyAll} on the monitor woke them all at every commit, to park again).
 * The whole tree is written before any entry of the batch is marked committed, and entries are
 * marked last first: a waiter that sees its mark early (a spurious wake-up) wakes its children at
 * once, so it must find them in the tree with their entries marked already.
 * An interrupt does not end a wait: the commit in progress is not abandoned, and the interrupt
 * flag is restored on return.
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
    /** For a job's entry: the job's {@link Job#journalSeq} this append made. */
    final long seq;
    /** Written under the monitor; read without it by a woken waiter (volatile). */
    volatile boolean committed;
    /** Commit attempts that included this entry and failed (volatile, as {@link #committed}). */
    volatile int failures;

    @Nullable StoreException error;
    /** The thread parked until this entry's commit, if any (monitor). */
    @Nullable Thread waiter;

    /** Further threads waiting on this same entry: none in practice, allowed (monitor). */
    @Nullable List<Thread> moreWaiters;
    /**
     * The committed batch's wake-up tree, if this entry's one waiter is in it (at {@link
     * #treeIndex}): written before {@link #committed}, read after it.
     */
    Thread @Nullable [] tree;

    int treeIndex;

    Entry(@Nullable Job job, @Nullable StoreChange change, boolean rejectOnFailure) {
      this.job = job;
      this.change = change;
      this.rejectOnFailure = rejectOnFailure;
      this.seq = job == null ? 0 : Job.JOURNAL_SEQ.incrementAndGet(job);
    }
  }

  private record Deferred(Entry needs, Runnable call) {}

  private final SchedulerStore store;
  private final Function<Job, @Nullable StoreChange> snapshot;
  private final Object lock = new Object();
  private List<Entry> pending = new ArrayList<>();
  /** A commit is in progress (written under the monitor, read by parked waiters: volatile). */
  private volatile boolean committing;
  private final ConcurrentLinkedQueue<Deferred> deferred = new ConcurrentLinkedQueue<>();

  /**
   * Tests only: called by the committer, under the monitor, right after it marks each entry of a
   * successful batch committed (null otherwise), so that a test can hold the committer there.
   */
  volatile @Nullable Consumer<Entry> markedHook;

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

  /**
   * Appends a new job's submission, dropped (not retried) if its first commit fails. A JDBC store
   * encodes the job's spec here, on the submitting thread, rather than in the commit, which every
   * waiting caller waits for.
   */
  Entry submitted(Job j) {
    if (store instanceof JdbcStore jdbc) {
      jdbc.encodeSpec(j.spec);
    }
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
        if (e.committed) {
          wakeChildren(e);
          return;
        }
        synchronized (lock) {
          if (e.failures > 0) {
            StoreException cause = Objects.requireNonNull(e.error);
            throw new StoreException(Objects.requireNonNullElse(cause.getMessage(), cause.toString()), cause);
          }
          if (e.committed) {
            batch = null; // committed since the check above: returns on the next turn
          } else if (committing) {
            addWaiter(e, Thread.currentThread());
            batch = null;
          } else {
            committing = true;
            batch = pending;
            pending = new ArrayList<>();
          }
        }
        if (batch != null) {
          commitBatch(batch);
          continue;
        }
        // parked outside the monitor, until the commit that includes e wakes it, or until the
        // commit in progress ends (it may be woken to commit the next batch): volatile reads, so
        // that it goes back to the monitor only when there is something to do
        while (!e.committed && e.failures == 0 && committing) {
          LockSupport.park(this);
          if (Thread.interrupted()) {
            interrupted = true; // the commit in progress is not abandoned; the flag is restored
          }
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static void addWaiter(Entry e, Thread t) {
    if (e.waiter == null || e.waiter == t) {
      e.waiter = t;
    } else if (e.moreWaiters == null) {
      e.moreWaiters = new ArrayList<>(List.of(t));
    } else if (!e.moreWaiters.contains(t)) {
      e.moreWaiters.add(t);
    }
  }

  /** Adds {@code e}'s waiters to {@code wake} and forgets them (monitor). */
  private static void takeWaiters(Entry e, List<Thread> wake) {
    if (e.waiter != null) {
      wake.add(e.waiter);
    }
    if (e.moreWaiters != null) {
      wake.addAll(e.moreWaiters);
    }
    e.waiter = null;
    e.moreWaiters = null;
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
    var written = new IdentityHashMap<Job, Long>();
    try {
      List<StoreChange> changes = build(batch, written);
      n = changes.size();
      if (n > 0) {
        store.commit(changes);
      }
      written.forEach((j, seq) -> j.committedSeq = Math.max(j.committedSeq, seq));
    } catch (StoreException e) {
      failure = e;
    } catch (RuntimeException e) {
      failure = new StoreException("the store " + store + " failed to commit " + n + " changes: " + e, e);
    } catch (Error e) {
      fatal = e;
      failure = new StoreException("the commit to " + store + " failed: " + e, e);
    }
    var wake = new ArrayList<Thread>();
    Thread[] tree = NO_THREADS;
    Thread self = Thread.currentThread();
    @Nullable Thread next;
    synchronized (lock) {
      if (failure == null) {
        int single = 0;
        for (Entry e : batch) {
          if (e.waiter != null && e.moreWaiters == null) {
            single++;
          }
        }
        tree = single == 0 ? NO_THREADS : new Thread[single];
        int i = 0;
        for (Entry e : batch) {
          Thread t = e.waiter;
          if (t != null && e.moreWaiters == null) { // one waiter: a node of the wake-up tree
            tree[i] = t;
            e.tree = tree;
            e.treeIndex = i++;
            e.waiter = null;
          } else {
            takeWaiters(e, wake);
          }
        }
        // marked only now, with the whole tree written, and last entry first: a waiter may see its
        // mark before its wake-up comes (a spurious wake-up will do) and then wakes its children
        // at once, so their slots must be filled and their entries (later in the batch) already
        // marked, or they would wake to an unmarked entry, park again, and wait forever (as when
        // each entry was marked as its slot was filled)
        for (int k = batch.size() - 1; k >= 0; k--) {
          Entry e = batch.get(k);
          e.committed = true;
          Consumer<Entry> hook = markedHook;
          if (hook != null) {
            hook.accept(e);
          }
        }
      } else {
        var keep = new ArrayList<Entry>(batch.size() + pending.size());
        for (Entry e : batch) {
          e.error = failure;
          e.failures++;
          takeWaiters(e, wake);
          if (!e.rejectOnFailure) {
            keep.add(e);
          }
        }
        keep.addAll(pending);
        pending = keep;
      }
      committing = false;
      next = nextCommitter(self);
    }
    // the next batch's committer first: the others' wake-ups then overlap its commit
    if (next != null) {
      LockSupport.unpark(next);
    }
    for (int i = 0; i < 2 && i < tree.length; i++) {
      if (tree[i] != self) {
        LockSupport.unpark(tree[i]);
      }
    }
    for (Thread t : wake) {
      if (t != self) {
        LockSupport.unpark(t);
      }
    }
    if (failure != null) {
      log.warn("gpusched: commit to {} failed; {} entries kept for the next commit", store, batch.size(), failure);
    }
    if (fatal != null) {
      throw fatal;
    }
  }

  private static final Thread[] NO_THREADS = new Thread[0];

  /**
   * Wakes the threads below this entry's waiter in its batch's wake-up tree: the committer wakes
   * the first two, and the waiter at index {@code i} wakes those at {@code 2i + 2} and {@code 2i +
   * 3}, so a commit's wake-ups (each a system call) are spread over the woken threads instead of
   * all made by the committer before the next commit can start.
   */
  private static void wakeChildren(Entry e) {
    Thread[] tree = e.tree;
    if (tree == null) {
      return;
    }
    e.tree = null;
    Thread self = Thread.currentThread();
    for (int c = 2 * e.treeIndex + 2, end = Math.min(c + 2, tree.length); c < end; c++) {
      if (tree[c] != self) {
        LockSupport.unpark(tree[c]);
      }
    }
  }

  /** The first thread other than {@code self} waiting on a pending entry, or null (monitor). */
  private @Nullable Thread nextCommitter(Thread self) {
    for (Entry e : pending) {
      if (e.waiter != null && e.waiter != self) {
        return e.waiter;
      }
      if (e.moreWaiters != null) {
        for (Thread t : e.moreWaiters) {
          if (t != self) {
            return t;
          }
        }
      }
    }
    return null;
  }

  /**
   * The batch: each job once (its record as of now), then queue and node changes in order. A job's
   * entry that an earlier successful commit already covered (its snapshot was taken after this
   * entry's change: see {@link Job#committedSeq}) writes nothing: a job changed twice in quick
   * succession (a completion, then its end time) is then written once, whichever batch the second
   * entry falls in. {@code written} gets each job written with the sequence number read before its
   * snapshot.
   */
  private List<StoreChange> build(List<Entry> batch, IdentityHashMap<Job, Long> written) {
    var out = new ArrayList<StoreChange>(batch.size());
    for (Entry e : batch) {
      Job j = e.job;
      if (j != null) {
        if (e.seq > j.committedSeq && !written.containsKey(j)) {
          long seq = j.journalSeq; // before the snapshot: every change up to it is in the snapshot
          StoreChange c = snapshot.apply(j);
          written.put(j, seq);
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
