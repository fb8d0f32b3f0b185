package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.QueueSpec;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredQueue;
import io.gpusched.store.StoredState;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The journal's group commit: waiters are parked on their own entries and woken by the commit that
 * writes them (through a wake-up tree), and one waiter on a pending entry is woken to commit the
 * next batch. Each case that depends on a thread being parked waits until it is.
 */
@Timeout(60)
class JournalTest {

  private static StoreChange change(String name) {
    return new StoreChange.PutQueue(new StoredQueue(QueueSpec.of(name), Map.of(), 0, 0, 0, 0));
  }

  private static String name(StoreChange c) {
    return ((StoreChange.PutQueue) c).queue().spec().name();
  }

  /** A store that records its commits, and whose commits can be held on a latch or made to throw. */
  static final class Recording implements SchedulerStore {
    final List<List<String>> commits = new CopyOnWriteArrayList<>();
    final Set<String> committed = ConcurrentHashMap.newKeySet();
    volatile CountDownLatch entered = new CountDownLatch(0);
    volatile CountDownLatch release = new CountDownLatch(0);
    volatile double failureRate;
    final AtomicInteger failures = new AtomicInteger();

    @Override
    public StoredState load() {
      return new StoredState(List.of(), List.of(), List.of());
    }

    @Override
    public void commit(List<StoreChange> changes) {
      entered.countDown();
      SchedulerFaultRegressionTest.await(release); // fails if never released
      if (failureRate > 0 && ThreadLocalRandom.current().nextDouble() < failureRate) {
        failures.incrementAndGet();
        if (ThreadLocalRandom.current().nextBoolean()) {
          throw new StoreException("injected failure");
        }
        throw new IllegalStateException("injected runtime failure");
      }
      var names = new ArrayList<String>();
      for (StoreChange c : changes) {
        names.add(name(c));
      }
      commits.add(names);
      committed.addAll(names);
    }

    /** The next commit blocks until {@link #release} counts down; returns the latch it signals on entry. */
    CountDownLatch holdNext() {
      release = new CountDownLatch(1);
      entered = new CountDownLatch(1);
      return entered;
    }
  }

  private static Journal journal(SchedulerStore store) {
    return new Journal(store, j -> null);
  }

  private static void awaitParked(Thread t) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (t.getState() != Thread.State.WAITING) {
      assertThat(System.nanoTime()).as(t.getName() + " parks").isLessThan(deadline);
      Thread.sleep(1);
    }
  }

  private static Thread start(String name, Runnable r, AtomicReference<Throwable> failed) {
    Thread t =
        new Thread(
            () -> {
              try {
                r.run();
              } catch (Throwable e) {
                failed.compareAndSet(null, e);
              }
            },
            name);
    t.start();
    return t;
  }

  /**
   * A journal whose first commit (entry "a", committed by the thread "first") is held in the store
   * until {@code store.release} counts down.
   */
  private static final class Held {
    final Recording store = new Recording();
    final Journal jn = journal(store);
    final AtomicReference<Throwable> failed = new AtomicReference<>();
    final Thread first;

    Held() throws InterruptedException {
      CountDownLatch inCommit = store.holdNext();
      Journal.Entry a = jn.change(change("a"));
      first = start("first", () -> jn.await(a), failed);
      assertThat(inCommit.await(20, TimeUnit.SECONDS)).isTrue();
    }

    /** A thread that waits for {@code e}, started and parked. */
    Thread waiting(String name, Journal.Entry e) throws InterruptedException {
      Thread t = start(name, () -> jn.await(e), failed);
      awaitParked(t);
      return t;
    }

    /** Releases the held commit; then the first thread and {@code others} return, none failing. */
    void releaseAndJoin(List<Thread> others) throws InterruptedException {
      store.release.countDown();
      var all = new ArrayList<Thread>(others);
      all.add(0, first);
      for (Thread t : all) {
        t.join(20_000);
        assertThat(t.isAlive()).as(t.getName() + " returned").isFalse();
      }
      assertThat(failed.get()).isNull();
    }
  }

  /**
   * A thread that waits while another commits is woken when that commit ends and commits its own
   * entry: without the hand-off it would wait forever (nobody else is left to commit).
   */
  @Test
  void aWaiterOnAPendingEntryIsWokenToCommitTheNextBatch() throws Exception {
    Held h = new Held(); // first commits [a], held
    Thread second = h.waiting("second", h.jn.change(change("b")));
    h.releaseAndJoin(List.of(second)); // second was handed the next batch
    assertThat(h.store.commits).containsExactly(List.of("a"), List.of("b"));
  }

  /** Two threads waiting on the same entry both return once it is committed. */
  @Test
  void twoThreadsWaitingOnOneEntryBothReturn() throws Exception {
    Held h = new Held();
    Journal.Entry shared = h.jn.change(change("shared"));
    h.releaseAndJoin(List.of(h.waiting("x", shared), h.waiting("y", shared)));
    assertThat(h.store.commits).containsExactly(List.of("a"), List.of("shared"));
  }

  /**
   * Every waiter of a committed batch is woken, however many: the wake-up tree reaches all of them
   * (32 waiters parked on one batch's entries, then released together).
   */
  @Test
  void aCommitWakesEveryWaiterOfItsBatch() throws Exception {
    Held h = new Held();
    var waiters = new ArrayList<Thread>();
    for (int i = 0; i < 32; i++) {
      waiters.add(h.waiting("w" + i, h.jn.change(change("w" + i))));
    }
    h.releaseAndJoin(waiters); // all 32 entries were pending: the next committer takes them in one batch
    assertThat(h.store.commits).hasSize(2);
    assertThat(h.store.commits.get(1)).hasSize(32);
  }

  /**
   * A waiter that sees its entry committed before its wake-up comes (a spurious wake-up while the
   * committer is still marking the batch) wakes the waiters below it in the wake-up tree, and they
   * return. Two wrong orders fail here: marking each entry as its tree slot is filled (the early
   * waiter wakes empty slots) and marking first entry first (its children wake to unmarked entries
   * and park again); either way the threads below it wait forever.
   */
  @Test
  void aWaiterThatSeesItsMarkEarlyWakesTheWaitersBelowIt() throws Exception {
    Held h = new Held(); // first commits [a], held
    Journal.Entry b = h.jn.change(change("b"));
    // two waiters on b: b is not in the tree, and one of them commits the next batch
    var others = new ArrayList<Thread>(List.of(h.waiting("b1", b), h.waiting("b2", b)));
    var entries = new ArrayList<Journal.Entry>();
    for (int i = 0; i < 4; i++) {
      entries.add(h.jn.change(change("t" + i)));
      others.add(h.waiting("t" + i, entries.get(i)));
    }
    Thread top = others.get(2); // t0: the tree's first node, whose children are t2 and t3
    AtomicBoolean topReturned = new AtomicBoolean();
    h.jn.markedHook =
        e -> {
          if (e == entries.get(0)) { // the committer holds here, inside its marking
            LockSupport.unpark(top); // a spurious wake-up: t0 sees its mark and returns
            try {
              top.join(20_000);
            } catch (InterruptedException ex) {
              Thread.currentThread().interrupt();
            }
            topReturned.set(!top.isAlive());
          }
        };
    h.releaseAndJoin(others); // t2 and t3 return too
    assertThat(topReturned).as("t0 returned while the committer was still marking").isTrue();
    assertThat(h.store.commits).containsExactly(List.of("a"), List.of("b", "t0", "t1", "t2", "t3"));
  }

  /**
   * Many threads wait on commits of up to 2 ms, with the stale permits that wake-ups leave behind
   * (a thread woken after it saw its mark keeps the permit, and its next park returns at once: a
   * spurious wake-up, which {@link LockSupport#park} allows anyway): every wait still ends, after
   * its commit. Each entry marked as its tree slot was filled left threads parked forever here.
   */
  @Test
  void spuriousWakeUpsNeverLeaveAWaiterParkedForever() throws Exception {
    AtomicLong commits = new AtomicLong();
    SchedulerStore store =
        new SchedulerStore() { // commits of up to 2 ms: batches of dozens of waiters
          @Override
          public StoredState load() {
            return new StoredState(List.of(), List.of(), List.of());
          }

          @Override
          public void commit(List<StoreChange> changes) {
            var rnd = ThreadLocalRandom.current();
            int r = rnd.nextInt(4);
            if (r == 0) {
              LockSupport.parkNanos(rnd.nextInt(2_000_000));
            } else if (r == 1) {
              Thread.yield();
            }
            commits.incrementAndGet();
          }
        };
    Journal jn = journal(store);
    StoreChange c = change("q");
    int threads = 64;
    AtomicReference<Throwable> failed = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    var all = new ArrayList<Thread>();
    for (int t = 0; t < threads; t++) {
      all.add(
          start(
              "caller-" + t,
              () -> {
                var rnd = ThreadLocalRandom.current();
                while (!stop.get()) {
                  if (rnd.nextBoolean()) {
                    Journal.Entry e = jn.change(c);
                    jn.await(e);
                    if (!e.committed) {
                      throw new AssertionError("returned before its commit");
                    }
                  } else {
                    jn.flush();
                  }
                  if (rnd.nextInt(8) == 0) {
                    LockSupport.parkNanos(rnd.nextInt(500_000)); // returns at once on a stale permit
                  }
                }
              },
              failed));
    }
    Thread.sleep(2_500);
    stop.set(true);
    for (Thread t : all) {
      t.join(20_000);
      assertThat(t.isAlive()).as(t.getName() + " finished").isFalse();
    }
    assertThat(failed.get()).isNull();
    assertThat(commits.get()).isPositive();
  }

  /** A waiter that is interrupted keeps waiting for its commit, and returns with its flag set. */
  @Test
  void anInterruptedWaiterStillWaitsForItsCommitAndKeepsTheFlag() throws Exception {
    Held h = new Held();
    Journal.Entry b = h.jn.change(change("b"));
    AtomicBoolean flag = new AtomicBoolean();
    AtomicBoolean wasCommitted = new AtomicBoolean();
    Thread second =
        start(
            "second",
            () -> {
              h.jn.await(b);
              wasCommitted.set(h.store.committed.contains("b"));
              flag.set(Thread.currentThread().isInterrupted());
            },
            h.failed);
    awaitParked(second);
    second.interrupt();
    Thread.sleep(50);
    assertThat(second.isAlive()).as("still waiting after the interrupt").isTrue();
    awaitParked(second); // parked again, not spinning
    h.releaseAndJoin(List.of(second));
    assertThat(wasCommitted).isTrue();
    assertThat(flag).as("the interrupt flag is restored").isTrue();
  }


  /**
   * Many threads append and wait while commits fail now and then: each {@code await} returns only
   * once its change is in a committed batch, or throws, and then its change (not a
   * reject-on-failure entry) is written by a later commit; nobody waits forever.
   */
  @Test
  void underLoadEveryAwaitReturnsAfterItsCommitOrThrowsAndNothingIsLost() throws Exception {
    Recording store = new Recording();
    store.failureRate = 0.05;
    Journal jn = journal(store);
    int threads = 16;
    int each = 400;
    AtomicReference<Throwable> failed = new AtomicReference<>();
    AtomicInteger thrown = new AtomicInteger();
    var all = new ArrayList<Thread>();
    for (int t = 0; t < threads; t++) {
      int id = t;
      all.add(
          start(
              "caller-" + t,
              () -> {
                for (int i = 0; i < each; i++) {
                  String n = id + "-" + i;
                  Journal.Entry e = jn.change(change(n));
                  try {
                    jn.await(e);
                    if (!store.committed.contains(n)) {
                      throw new AssertionError(n + " returned before its commit");
                    }
                  } catch (StoreException ex) {
                    thrown.incrementAndGet();
                  }
                }
              },
              failed));
    }
    for (Thread t : all) {
      t.join(50_000);
      assertThat(t.isAlive()).as(t.getName() + " finished").isFalse();
    }
    assertThat(failed.get()).isNull();
    store.failureRate = 0;
    jn.flush(); // the failed entries are kept and written by the next commit
    assertThat(store.committed).hasSize(threads * each);
    assertThat(thrown.get()).as("some awaits saw a failed commit").isPositive();
    assertThat(store.failures.get()).isPositive();
  }

  private static Job job(String id) {
    QueueState q = new QueueState(QueueSpec.of("q"), 0, java.util.Comparator.comparingLong(j -> j.seq));
    return new Job(null, io.gpusched.JobSpec.builder(io.gpusched.PlacementRequest.wholeGpus(1)).id(id).build(), 1, q, 0);
  }

  /**
   * A job's second entry whose change an earlier commit's snapshot already holds writes nothing:
   * here the second entry is appended (after its change) while the first batch is being built,
   * before the job's own snapshot, as another thread may; the next batch skips it.
   */
  @Test
  void aJobEntryAnEarlierSnapshotCoveredIsNotWrittenAgain() {
    Recording store = new Recording();
    Job k = job("k");
    Job j = job("j");
    List<String> snapshots = new CopyOnWriteArrayList<>();
    AtomicReference<Journal> jn = new AtomicReference<>();
    AtomicBoolean once = new AtomicBoolean(true);
    jn.set(
        new Journal(
            store,
            x -> {
              if (x == k && once.getAndSet(false)) {
                jn.get().job(j); // j changed again, appended after the drain, before j's snapshot
              }
              snapshots.add(x.spec.id());
              return change(x.spec.id() + "#" + snapshots.size());
            }));
    jn.get().job(k);
    jn.get().job(j);
    jn.get().flush();
    jn.get().flush(); // the batch with j's second entry
    assertThat(snapshots).containsExactly("k", "j");
    assertThat(store.commits).containsExactly(List.of("k#1", "j#2"));
  }

  /**
   * A job's entry appended after the snapshot that wrote the job (its change is newer) is written
   * by the next commit.
   */
  @Test
  void aJobEntryAppendedAfterTheSnapshotIsWrittenAgain() throws Exception {
    Recording store = new Recording();
    Job j = job("j");
    AtomicReference<Throwable> failed = new AtomicReference<>();
    Journal jn = new Journal(store, x -> change(x.spec.id() + "@" + x.journalSeq));
    CountDownLatch inCommit = store.holdNext();
    Journal.Entry first = jn.job(j);
    Thread committer = start("committer", () -> jn.await(first), failed);
    assertThat(inCommit.await(20, TimeUnit.SECONDS)).isTrue(); // snapshot taken, commit held
    Journal.Entry second = jn.job(j);
    store.release.countDown();
    committer.join(20_000);
    jn.await(second);
    assertThat(failed.get()).isNull();
    assertThat(store.commits).containsExactly(List.of("j@1"), List.of("j@2"));
  }

  /** A failed commit does not count as having written its jobs: the retry writes them. */
  @Test
  void aJobInAFailedCommitIsWrittenByTheRetry() {
    Recording store = new Recording();
    store.failureRate = 1;
    Job j = job("j");
    Journal jn = new Journal(store, x -> change(x.spec.id()));
    Journal.Entry e = jn.job(j);
    assertThatThrownBy(() -> jn.await(e)).isInstanceOf(StoreException.class);
    store.failureRate = 0;
    jn.flush();
    assertThat(store.commits).containsExactly(List.of("j"));
  }

  /** A failed commit throws to its waiter and keeps the change for the next commit. */
  @Test
  void aFailedCommitTellsItsWaiterAndKeepsTheChange() {
    Recording store = new Recording();
    store.failureRate = 1;
    Journal jn = journal(store);
    Journal.Entry e = jn.change(change("kept"));
    assertThatThrownBy(() -> jn.await(e)).isInstanceOf(StoreException.class);
    store.failureRate = 0;
    jn.flush();
    assertThat(store.committed).containsExactly("kept");
  }
}
