package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.QueueSpec;
import io.gpusched.Reconciliation;
import io.gpusched.SchedulingPolicy;
import io.gpusched.StopReason;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A scheduler with a store: write-ahead (a submit is committed before it returns, a start before
 * the launcher starts the job, a stop before the launcher stops it), group commit (a whole
 * dispatch pass, and concurrent callers, share one commit), store failures (a submit that could not
 * be committed is not accepted; a start waits for the store), and recovery after a restart
 * (pending order, running jobs on exactly their GPUs, queue usage, node states and added nodes,
 * reconciliation with the launcher, a conflict failing loudly).
 */
class DurableSchedulerTest {

  @TempDir Path dir;

  /** A store that records each committed batch and fails while told to. */
  static final class RecordingStore implements SchedulerStore {
    final SchedulerStore inner;
    final List<List<StoreChange>> batches = new CopyOnWriteArrayList<>();
    volatile Predicate<List<StoreChange>> failWhen = b -> false;
    volatile Runnable beforeCommit = () -> {};

    RecordingStore(SchedulerStore inner) {
      this.inner = inner;
    }

    @Override
    public StoredState load() {
      return inner.load();
    }

    @Override
    public void commit(List<StoreChange> changes) {
      beforeCommit.run();
      if (failWhen.test(changes)) {
        throw new StoreException("simulated outage");
      }
      inner.commit(changes);
      batches.add(List.copyOf(changes));
    }

    Optional<StoredJob> job(String id) {
      return inner.load().jobs().stream().filter(j -> j.id().equals(id)).findFirst();
    }
  }

  static long jobsIn(List<StoreChange> batch, JobState state) {
    return batch.stream()
        .filter(c -> c instanceof StoreChange.PutJob p && p.job().state() == state)
        .count();
  }

  static List<AllocatedGpu> gpus(JobHandle h) {
    var out = new ArrayList<AllocatedGpu>();
    for (Allocation a : h.allocations()) {
      out.addAll(a.gpus());
    }
    return out;
  }

  static List<AllocatedGpu> gpus(StoredJob j) {
    var out = new ArrayList<AllocatedGpu>();
    j.allocations().forEach(a -> out.addAll(a.gpus()));
    return out;
  }

  final SchedulerHarness h = new SchedulerHarness();

  GpuSchedulers.Builder builder(SchedulerStore store, NodeSpec... nodes) {
    return h.builder().store(store).nodes(List.of(nodes)).strategy(PlacementStrategy.FIRST_FIT);
  }

  // ---- write-ahead ----

  @Test
  void aSubmitIsCommittedBeforeItReturns() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store).build();

    s.submit(job("a", 1).metadata("owner", "ada").build());

    StoredJob a = store.job("a").orElseThrow();
    assertThat(a.state()).isEqualTo(JobState.PENDING);
    assertThat(a.spec().metadata()).containsEntry("owner", "ada");
  }

  @Test
  void aStartIsCommittedBeforeTheLauncherStartsItAndAStopBeforeItStopsIt() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    var seenAtStart = new CopyOnWriteArrayList<Optional<StoredJob>>();
    var seenAtStop = new CopyOnWriteArrayList<Optional<StoredJob>>();
    var startedGpus = new CopyOnWriteArrayList<List<AllocatedGpu>>();
    JobLauncher launcher =
        new JobLauncher() {
          @Override
          public void start(JobHandle job) {
            seenAtStart.add(store.job(job.id()));
            startedGpus.add(gpus(job));
          }

          @Override
          public void stop(JobHandle job, StopReason reason, Instant deadline) {
            seenAtStop.add(store.job(job.id()));
          }
        };
    GpuScheduler s = builder(store, whole("n1", 2)).launcher(launcher).build();

    JobHandle a = s.submit(job("a", 2).build());
    assertThat(seenAtStart).singleElement().satisfies(j -> {
      assertThat(j.orElseThrow().state()).isEqualTo(JobState.RUNNING);
      assertThat(gpus(j.orElseThrow())).isEqualTo(startedGpus.get(0)).hasSize(2);
    });

    s.drain("n1", Duration.ofMinutes(1)); // a stop the scheduler decides, on the dispatcher
    assertThat(seenAtStop).singleElement().satisfies(j -> {
      assertThat(j.orElseThrow().state()).isEqualTo(JobState.PREEMPTING);
      assertThat(j.orElseThrow().stopReason()).isEqualTo(StopReason.NODE_DRAIN);
    });

    a.cancel(); // a stop on the cancelling thread
    assertThat(seenAtStop).hasSize(2);
    assertThat(seenAtStop.get(1).orElseThrow().state()).isEqualTo(JobState.CANCELLED);
    assertThat(seenAtStop.get(1).orElseThrow().allocations()).isEmpty();
  }

  /**
   * A job that completes is written once for its end: the record its compare-and-set journals
   * already holds the end time and the final cost (taken at the CAS), so the dispatcher's booking,
   * which arrives at the same values, writes nothing more (it used to write a second record). The
   * dispatcher is held inside a launcher call while the job completes, so the completion's record
   * is committed before the booking runs, as under load.
   */
  @Test
  void aCompletionIsOneRecordWithItsEndTimeAndFinalCost() throws Exception {
    var store = new RecordingStore(SchedulerStores.inMemory());
    var inStart = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    JobLauncher launcher =
        job -> {
          if (job.id().equals("b")) {
            inStart.countDown();
            try {
              release.await(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        };
    GpuScheduler s =
        builder(
                store,
                NodeSpec.builder("n1").gpus(3, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(3.6).build())
            .launcher(launcher)
            .build();
    JobHandle a = s.submit(job("a", 2).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    h.clock.advance(Duration.ofMinutes(10));
    var b = java.util.concurrent.CompletableFuture.runAsync(() -> s.submit(job("b", 1).build()));
    assertThat(inStart.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue(); // the dispatcher is held
    int before = store.batches.size();

    assertThat(a.complete()).isTrue(); // returns once its record is committed
    release.countDown();
    b.get(10, java.util.concurrent.TimeUnit.SECONDS);
    s.tick();

    var records =
        store.batches.subList(before, store.batches.size()).stream()
            .flatMap(List::stream)
            .filter(c -> c instanceof StoreChange.PutJob p && p.job().id().equals("a"))
            .map(c -> ((StoreChange.PutJob) c).job())
            .toList();
    assertThat(records).singleElement().satisfies(r -> {
      assertThat(r.state()).isEqualTo(JobState.COMPLETED);
      assertThat(r.endedAtMillis()).isEqualTo(a.endedAt().orElseThrow().toEpochMilli());
      assertThat(r.accruedCost()).isEqualTo(a.cost()).isCloseTo(2 * 3.6 / 6, org.assertj.core.data.Offset.offset(1e-9));
      assertThat(r.allocations()).isEmpty();
    });
    assertThat(store.job("a").orElseThrow()).isEqualTo(records.get(0));
  }

  @Test
  void aCancelWhileTheStartIsBeingCommittedMeansTheHostHearsOfNeither() throws Exception {
    var store = new RecordingStore(SchedulerStores.inMemory());
    var inStartCommit = new java.util.concurrent.CountDownLatch(1);
    var finishCommit = new java.util.concurrent.CountDownLatch(1);
    store.failWhen =
        batch -> {
          if (batch.stream().anyMatch(c -> c instanceof StoreChange.PutJob p
              && p.job().id().equals("a") && p.job().state() == JobState.RUNNING)) {
            inStartCommit.countDown(); // hold the start's commit: the launcher waits for it
            try {
              finishCommit.await(10, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
          return false;
        };
    var launcher = new StartStopOrderTest.CallLog();
    var calls = launcher.calls;
    GpuScheduler s = builder(store, whole("n1", 1)).launcher(launcher).build();
    var submitted = java.util.concurrent.CompletableFuture.supplyAsync(() -> s.submit(job("a", 1).build()));
    assertThat(inStartCommit.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    // the cancel is appended behind the start and waits for its own commit
    var cancelled =
        java.util.concurrent.CompletableFuture.supplyAsync(() -> s.job("a").orElseThrow().cancel());
    JobHandle a = s.job("a").orElseThrow();
    for (long end = System.nanoTime() + 10_000_000_000L; a.state() != JobState.CANCELLED; ) {
      assertThat(System.nanoTime()).as("the cancel's state change").isLessThan(end);
      Thread.onSpinWait(); // the cancel changed the state and now waits for its commit
    }
    finishCommit.countDown();
    assertThat(cancelled.get(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    submitted.get(10, java.util.concurrent.TimeUnit.SECONDS);
    s.submit(job("b", 1).build()); // the GPU is free again
    // the start of a was committed, but the run ended before the launcher was called: the host
    // hears neither its start nor a stop of what it never started (before the launch gate it
    // heard "stop a" alone)
    assertThat(calls).containsExactly("start b");
    assertThat(store.job("a").orElseThrow().state()).isEqualTo(JobState.CANCELLED);
    s.close();
  }

  @Test
  void aHostReportReturnsAfterItsCommit() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store, whole("n1", 1)).build();
    JobHandle a = s.submit(job("a", 1).build());
    assertThat(a.complete()).isTrue();
    assertThat(store.job("a").orElseThrow().state()).isEqualTo(JobState.COMPLETED);
    assertThat(store.job("a").orElseThrow().endedAtMillis()).isEqualTo(h.clock.millis());
  }

  // ---- group commit ----

  @Test
  void oneDispatchPassCommitsAllItsStartsInOneBatch() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    var starts = new CopyOnWriteArrayList<Integer>();
    GpuScheduler s = builder(store).launcher(j -> starts.add(store.batches.size())).build();
    for (int i = 0; i < 40; i++) {
      s.submit(job("j" + i, 1).build());
    }
    int before = store.batches.size();

    s.addNode(whole("n1", 40)); // one pass starts all 40

    assertThat(s.jobs()).allMatch(j -> j.state() == JobState.RUNNING);
    List<List<StoreChange>> after = store.batches.subList(before, store.batches.size());
    assertThat(after.stream().mapToLong(b -> jobsIn(b, JobState.RUNNING)).max().orElse(0)).isEqualTo(40);
    assertThat(after).hasSizeLessThanOrEqualTo(2); // the node's record, and the pass's starts
    assertThat(starts).hasSize(40).allMatch(n -> n == store.batches.size());
  }

  @Test
  void concurrentSubmittersShareOneCommit() throws Exception {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store).build();
    var inFirst = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    store.beforeCommit =
        () -> {
          if (first.compareAndSet(true, false)) {
            inFirst.countDown();
            await(release);
          }
        };
    int n = 8;
    Thread leader = new Thread(() -> s.submit(job("leader", 1).build()));
    leader.start();
    inFirst.await(); // the leader commits (blocked): everyone else queues behind it
    var others = new ArrayList<Thread>();
    for (int i = 0; i < n; i++) {
      String id = "f" + i;
      Thread t = new Thread(() -> s.submit(job(id, 1).build()));
      others.add(t);
      t.start();
    }
    for (Thread t : others) { // each has appended its entry and waits on the journal's monitor
      while (t.getState() != Thread.State.WAITING) {
        Thread.onSpinWait();
      }
    }
    int before = store.batches.size();
    release.countDown();
    leader.join();
    for (Thread t : others) {
      t.join();
    }

    List<List<StoreChange>> after = store.batches.subList(before, store.batches.size());
    assertThat(after.get(0)).singleElement(); // the leader's own
    assertThat(jobsIn(after.get(1), JobState.PENDING)).isEqualTo(n); // all the others: one commit
    assertThat(after.stream().mapToLong(b -> jobsIn(b, JobState.PENDING)).sum()).isEqualTo(n + 1);
    assertThat(s.jobs()).hasSize(n + 1);
  }

  private static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  static long queueWrites(RecordingStore store) {
    return store.batches.stream()
        .flatMap(List::stream)
        .filter(c -> c instanceof StoreChange.PutQueue)
        .count();
  }

  @Test
  void queuesAreWrittenWhenTheirUsageOrTheCapacityMovesAndOnlyOncePerRefreshWhenOnlyTimeMoves() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store, whole("n1", 1), whole("n2", 1)).build();
    JobHandle a = s.submit(job("a", 1).build());
    long afterStart = queueWrites(store);
    assertThat(afterStart).as("the start moved the queue's usage").isPositive();

    // rounds in which only time moves (a submit that waits, ticks) write no queue record
    s.submit(job("big", 2).build());
    for (int i = 0; i < 9; i++) {
      h.advance(s, Duration.ofMillis(100));
    }
    assertThat(queueWrites(store)).as("decay alone, under the refresh interval").isEqualTo(afterStart);

    h.advance(s, Duration.ofMillis(DefaultScheduler.QUEUE_REFRESH_MILLIS));
    long refreshed = queueWrites(store);
    assertThat(refreshed).as("one refresh per interval").isGreaterThan(afterStart);
    h.advance(s, Duration.ofMillis(10));
    assertThat(queueWrites(store)).isEqualTo(refreshed);

    s.cordon("n2"); // the capacity that shares are measured against moved
    assertThat(queueWrites(store)).as("a capacity change").isGreaterThan(refreshed);
    long afterCordon = queueWrites(store);

    assertThat(a.complete()).isTrue(); // the usage moved back
    assertThat(queueWrites(store)).as("an end").isGreaterThan(afterCordon);
  }

  static NodeState storedState(RecordingStore store, String node) {
    return store.inner.load().nodes().stream()
        .filter(n -> n.spec().id().equals(node))
        .findFirst()
        .orElseThrow()
        .state();
  }

  @Test
  void aCordonOrDrainMadeWhileAnotherThreadHoldsTheDispatcherReturnsOnlyAfterItsCommit() throws Exception {
    var store = new RecordingStore(SchedulerStores.inMemory());
    var inStart = new java.util.concurrent.CountDownLatch(1);
    var finishStart = new java.util.concurrent.CountDownLatch(1);
    JobLauncher launcher =
        job -> { // the host's start runs on the dispatcher: hold it there
          inStart.countDown();
          try {
            finishStart.await(10, java.util.concurrent.TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        };
    GpuScheduler s = builder(store, whole("n1", 1), whole("n2", 1)).launcher(launcher).build();
    var submitted = java.util.concurrent.CompletableFuture.runAsync(() -> s.submit(job("a", 1).build()));
    assertThat(inStart.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();

    var cordoned = java.util.concurrent.CompletableFuture.runAsync(() -> s.cordon("n2"));
    var drained = java.util.concurrent.CompletableFuture.runAsync(() -> s.drain("n1", Duration.ofSeconds(30)));
    Thread.sleep(200);
    assertThat(cordoned).as("the cordon waits for the round that applies it").isNotDone();
    assertThat(drained).as("the drain too").isNotDone();
    assertThat(storedState(store, "n2")).isEqualTo(NodeState.READY);

    finishStart.countDown();
    cordoned.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(storedState(store, "n2")).as("committed when cordon returned").isEqualTo(NodeState.CORDONED);
    drained.get(10, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(storedState(store, "n1")).as("committed when drain returned").isEqualTo(NodeState.DRAINING);
    submitted.get(10, java.util.concurrent.TimeUnit.SECONDS);
    s.close();
  }

  @Test
  void aCordonFromTheDispatchersOwnLauncherCallReturnsAtOnceAndIsCommittedWithItsRound() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    var box = new java.util.concurrent.atomic.AtomicReference<GpuScheduler>();
    var returned = new java.util.concurrent.atomic.AtomicBoolean();
    JobLauncher launcher =
        job -> {
          box.get().cordon("n2"); // on the dispatcher: must not wait for its own loop
          returned.set(true);
        };
    GpuScheduler s = builder(store, whole("n1", 1), whole("n2", 1)).launcher(launcher).build();
    box.set(s);
    s.submit(job("a", 1).build());
    assertThat(returned).isTrue();
    assertThat(storedState(store, "n2")).isEqualTo(NodeState.CORDONED);
    s.close();
  }

  // ---- store failures ----

  @Test
  void aSubmitTheStoreCannotCommitIsNotAccepted() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store, whole("n1", 1)).build();
    store.failWhen = b -> true;

    assertThatThrownBy(() -> s.submit(job("a", 1).build()))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("job a was not accepted")
        .hasMessageContaining("simulated outage");
    assertThat(s.job("a")).isEmpty();
    assertThat(s.jobs()).isEmpty();
    assertThat(h.launcher.started).isEmpty();

    store.failWhen = b -> false;
    s.tick(); // a later commit does not write the refused submission
    assertThat(store.job("a")).isEmpty();
    JobHandle again = s.submit(job("a", 1).build()); // and its id is free
    assertThat(again.state()).isEqualTo(JobState.RUNNING);
    assertThat(store.job("a").orElseThrow().state()).isEqualTo(JobState.RUNNING);
  }

  /** A batch holding the submission (PENDING record) of job {@code id}. */
  static boolean submits(List<StoreChange> batch, String id) {
    return batch.stream()
        .anyMatch(c -> c instanceof StoreChange.PutJob p && p.job().id().equals(id) && p.job().state() == JobState.PENDING);
  }

  @Test
  void aRefusedResubmissionLeavesTheRetainedFinishedJobOfItsIdInPlace() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store, whole("n1", 1)).build();
    JobHandle old = s.submit(job("a", 1).build());
    old.complete();
    assertThat(s.job("a")).containsSame(old);
    store.failWhen = b -> submits(b, "a");

    assertThatThrownBy(() -> s.submit(job("a", 1).build()))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("job a was not accepted");
    assertThat(s.job("a")).as("the retained job is back").containsSame(old);
    assertThat(old.state()).isEqualTo(JobState.COMPLETED);
    assertThat(s.jobs()).containsExactly(old);
    assertThat(store.job("a").orElseThrow().state()).isEqualTo(JobState.COMPLETED);

    store.failWhen = b -> false;
    JobHandle again = s.submit(job("a", 1).build());
    assertThat(s.job("a")).containsSame(again);
    assertThat(s.jobs()).containsExactly(again);
    assertThat(again.state()).isEqualTo(JobState.RUNNING);
    s.close();
  }

  /**
   * The resubmission lands, and is refused, while the dispatcher moves the old job from the live
   * jobs to the retained ones (the test holds the dispatcher between the two steps): the old job
   * must stay retained after the dispatcher goes on, although the resubmission had taken its id.
   */
  @Test
  void aResubmissionRefusedWhileTheOldJobIsRetiredKeepsTheOldJob() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    var s = (DefaultScheduler) builder(store, whole("n1", 1)).build();
    JobHandle old = s.submit(job("a", 1).build());
    store.failWhen = b -> submits(b, "a");
    var refusal = new java.util.concurrent.atomic.AtomicReference<Throwable>();
    s.book.betweenLiveAndFinished =
        j -> {
          if (j == old && refusal.get() == null) {
            try { // on the dispatcher, inside the retirement: it commits (and fails) itself
              s.submit(job("a", 1).build());
              refusal.set(new AssertionError("the resubmission was accepted"));
            } catch (StoreException e) {
              refusal.set(e);
            }
          }
        };
    old.complete();
    s.book.betweenLiveAndFinished = null;

    assertThat(refusal.get()).isInstanceOf(StoreException.class).hasMessageContaining("job a was not accepted");
    assertThat(s.job("a")).as("the old job is retained").containsSame(old);
    assertThat(s.jobs()).containsExactly(old);
    assertThat(old.state()).isEqualTo(JobState.COMPLETED);
    store.failWhen = b -> false;
    JobHandle again = s.submit(job("a", 1).build());
    assertThat(s.jobs()).containsExactly(again);
    s.verifyInvariants();
    s.close();
  }

  @Test
  void aDatabaseWhoseCommitsFailRefusesTheSubmitClearlyAndHoldsNothingOfIt() {
    javax.sql.DataSource good = JdbcStoreTest.h2(dir, "failing");
    AtomicBoolean fail = new AtomicBoolean(false);
    GpuScheduler s =
        builder(SchedulerStores.jdbc(JdbcStoreTest.failing(good, fail, "commit")), whole("n1", 1)).build();
    s.submit(job("ok", 1).build());
    fail.set(true); // every transaction fails at its commit, after its statements ran

    assertThatThrownBy(() -> s.submit(job("refused", 1).build()))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("job refused was not accepted")
        .hasMessageContaining("rolled back")
        .hasRootCauseMessage("disk full (simulated)");
    assertThat(s.job("refused")).isEmpty();
    StoredState held = SchedulerStores.jdbc(good).load();
    assertThat(held.jobs()).singleElement().satisfies(j -> {
      assertThat(j.id()).isEqualTo("ok");
      assertThat(j.state()).isEqualTo(JobState.RUNNING);
    });

    fail.set(false);
    s.submit(job("later", 1).build());
    assertThat(SchedulerStores.jdbc(good).load().jobs()).extracting(StoredJob::id).containsExactlyInAnyOrder("ok", "later");
  }

  @Test
  void aStartWaitsForTheStoreWhenItsCommitFails() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store, whole("n1", 1)).build();
    store.failWhen = b -> jobsIn(b, JobState.RUNNING) > 0;

    JobHandle a = s.submit(job("a", 1).build()); // its submission commits; its start does not
    assertThat(store.job("a").orElseThrow().state()).isEqualTo(JobState.PENDING);
    assertThat(h.launcher.started).isEmpty(); // the host is not told of an uncommitted start

    store.failWhen = b -> false;
    s.tick(); // the next round commits the start and then tells the host
    assertThat(store.job("a").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    assertThat(h.launcher.started).containsExactly("a");
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void aCancelTheStoreCannotCommitThrowsAndIsWrittenAndStoppedLater() {
    var store = new RecordingStore(SchedulerStores.inMemory());
    GpuScheduler s = builder(store, whole("n1", 1)).build();
    JobHandle a = s.submit(job("a", 1).build());
    store.failWhen = b -> true;

    assertThatThrownBy(a::cancel).isInstanceOf(StoreException.class).hasMessageContaining("job a is cancelled");
    assertThat(a.state()).isEqualTo(JobState.CANCELLED);
    assertThat(h.launcher.stops).isEmpty(); // not before its commit

    store.failWhen = b -> false;
    s.tick();
    assertThat(store.job("a").orElseThrow().state()).isEqualTo(JobState.CANCELLED);
    assertThat(h.launcher.stops).containsExactly("a:CANCELLED");
  }

  // ---- recovery ----

  static NodeSpec migNode(String id) {
    return NodeSpec.builder(id).gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build();
  }

  static NodeSpec sharedNode(String id) {
    return NodeSpec.builder(id).gpus(1, GpuModels.A100_40GB, GpuMode.SHARED).hostResources(8_000, 64_000).build();
  }

  GpuSchedulers.Builder config(SchedulerStore store) {
    return builder(store, whole("w", 2), migNode("m"), sharedNode("s"))
        .policy(SchedulingPolicy.FIFO)
        .queue(QueueSpec.of("a"))
        .queue(QueueSpec.builder("b").weight(2).build())
        .fairShareHalfLife(Duration.ofMinutes(10));
  }

  static Map<String, Object> visible(GpuScheduler s) {
    var out = new java.util.TreeMap<String, Object>();
    for (JobHandle j : s.jobs()) {
      out.put(
          "job " + j.id(),
          List.of(j.state(), j.attempts(), gpus(j), j.endReason(), j.submittedAt(), j.startedAt(), j.endedAt()));
    }
    s.cluster().snapshot().nodes().forEach(n -> out.put("node " + n.nodeId(), List.of(n.state(), n.allocations(), n.gpus())));
    out.put("node order", s.cluster().nodes().stream().map(NodeSpec::id).toList());
    s.snapshot().queues().forEach(q -> out.put("queue " + q.spec().name(), List.of(q.pendingJobs(), q.runningJobs(), q.usedGpus())));
    return out;
  }

  @Test
  void aRestartRecoversJobsOnTheirGpusQueuesNodesAndUsage() {
    SchedulerStore store = SchedulerStores.inMemory();
    GpuScheduler s1 = config(store).build();
    s1.submit(job("w2", 2).queue("a").build());
    s1.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id("mig1").queue("b").build());
    s1.submit(JobSpec.builder(PlacementRequest.mig("1g.10gb")).id("mig2").queue("b").build());
    s1.submit(JobSpec.builder(PlacementRequest.share(250, 4_096).withHost(1_000, 2_048)).id("sh").queue("a").build());
    JobHandle done = s1.submit(JobSpec.builder(PlacementRequest.share(250, 4_096)).id("done").queue("a").build());
    done.complete();
    h.advance(s1, Duration.ofMinutes(3));
    s1.submit(job("p1", 2).queue("a").metadata("k", "v").build()); // pending, in this order
    s1.submit(job("p2", 1).queue("b").build());
    s1.submit(job("p3", 2).queue("a").build());
    s1.cordon("m");
    s1.addNode(whole("late", 1)); // p2 starts there
    h.advance(s1, Duration.ofMinutes(2));
    Map<String, Object> before = visible(s1);
    double shareB = s1.snapshot().queues().stream().filter(q -> q.spec().name().equals("b")).findFirst().orElseThrow().dominantShare();
    s1.close();

    GpuScheduler s2 = config(store).build();

    assertThat(visible(s2)).isEqualTo(before);
    assertThat(s2.job("p1").orElseThrow().spec().metadata()).containsEntry("k", "v");
    double shareB2 = s2.snapshot().queues().stream().filter(q -> q.spec().name().equals("b")).findFirst().orElseThrow().dominantShare();
    assertThat(shareB2).isCloseTo(shareB, org.assertj.core.data.Offset.offset(1e-12)).isPositive();

    // pending order: p2 waited behind p1's reservation (FIFO with backfill); freeing w starts p1
    // on it and then p2 on the late node, and p3 after p1
    assertThat(s2.job("p2").orElseThrow().state()).isEqualTo(JobState.PENDING);
    h.launcher.started.clear();
    s2.job("w2").orElseThrow().complete();
    assertThat(h.launcher.started).containsExactly("p1", "p2");
    s2.job("p1").orElseThrow().complete();
    assertThat(h.launcher.started).containsExactly("p1", "p2", "p3");
    ((DefaultScheduler) s2).verifyInvariants();
  }

  @Test
  void aRestartOnTheFileDatabaseRecoversTheSame() {
    GpuScheduler s1 = config(SchedulerStores.jdbc(JdbcStoreTest.h2(dir, "restart"))).build();
    s1.submit(JobSpec.builder(PlacementRequest.mig("2g.20gb")).id("mig").queue("b").build());
    s1.submit(job("w", 2).queue("a").build());
    s1.submit(job("p", 2).queue("a").build());
    s1.addNode(whole("late", 1));
    s1.cordon("late");
    h.advance(s1, Duration.ofMinutes(1));
    Map<String, Object> before = visible(s1);
    s1.close();

    GpuScheduler s2 = config(SchedulerStores.jdbc(JdbcStoreTest.h2(dir, "restart"))).build();

    assertThat(visible(s2)).isEqualTo(before);
    ((DefaultScheduler) s2).verifyInvariants();
  }

  @Test
  void reconcileKeepsRunningRequeuesGoneAndKeepsUnknownUntilItsLeaseExpires() {
    SchedulerStore store = SchedulerStores.inMemory();
    GpuScheduler s1 = builder(store, whole("n", 4)).build();
    s1.submit(job("running", 1).build());
    s1.submit(job("gone", 1).build());
    s1.submit(job("goneNoRequeue", 1).requeueOnPreemption(false).build());
    s1.submit(job("unknown", 1).leaseTtl(Duration.ofSeconds(30)).build());
    s1.close();
    var asked = new CopyOnWriteArrayList<String>();
    JobLauncher launcher =
        new JobLauncher() {
          @Override
          public void start(JobHandle job) {}

          @Override
          public Reconciliation reconcile(JobHandle job) {
            asked.add(job.id() + ":" + job.state() + ":" + gpus(job).size());
            return switch (job.id()) {
              case "running" -> Reconciliation.RUNNING;
              case "gone", "goneNoRequeue" -> Reconciliation.GONE;
              default -> Reconciliation.UNKNOWN;
            };
          }
        };

    GpuScheduler s2 = builder(store, whole("n", 4)).launcher(launcher).build();

    assertThat(asked).containsExactlyInAnyOrder("running:RUNNING:1", "gone:RUNNING:1", "goneNoRequeue:RUNNING:1", "unknown:RUNNING:1");
    assertThat(s2.job("running").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    assertThat(s2.job("gone").orElseThrow().state()).isEqualTo(JobState.RUNNING); // requeued, started again
    assertThat(s2.job("gone").orElseThrow().attempts()).isEqualTo(2);
    assertThat(s2.job("goneNoRequeue").orElseThrow().state()).isEqualTo(JobState.FAILED);
    assertThat(s2.job("goneNoRequeue").orElseThrow().endReason()).contains("gone at recovery");
    assertThat(s2.job("unknown").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    assertThat(store.load().jobs().stream().filter(j -> j.id().equals("goneNoRequeue")).findFirst().orElseThrow().state())
        .isEqualTo(JobState.FAILED);

    h.advance(s2, Duration.ofSeconds(31)); // no heartbeat since the recovery
    assertThat(s2.job("unknown").orElseThrow().state()).isEqualTo(JobState.FAILED);
    assertThat(s2.job("running").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    ((DefaultScheduler) s2).verifyInvariants();
  }

  @Test
  void aRecordedAllocationThatConflictsFailsTheBuildLoudly() {
    SchedulerStore store = SchedulerStores.inMemory();
    GpuScheduler s1 = builder(store, whole("n", 1)).build();
    s1.submit(job("a", 1).build());
    s1.close();
    StoredJob a = store.load().jobs().get(0);
    // a second job recorded on the same GPU: a store that is already corrupt
    store.commit(
        List.of(
            new StoreChange.PutJob(
                new StoredJob(
                    job("b", 1).build(), a.sequence() + 1, JobState.RUNNING, 1, null, null, 0, 0, 0, -1, -1,
                    a.startOrder() + 1, 0, null, a.allocations()))));

    assertThatThrownBy(() -> builder(store, whole("n", 1)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cannot recover running job b")
        .hasMessageContaining("n/0");
  }

  @Test
  void aFailedRecoveryOnAGivenClusterTakesBackItsNodeChanges() {
    SchedulerStore store = SchedulerStores.inMemory();
    NodeSpec n = whole("n", 1);
    NodeSpec gone = NodeSpec.builder("gone").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build();
    GpuScheduler s1 = builder(store, n, gone).build();
    s1.addNode(NodeSpec.builder("extra").gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build());
    s1.cordon("n");
    s1.nodeDown("gone");
    s1.uncordon("n");
    s1.submit(
        JobSpec.builder(PlacementRequest.wholeGpus(1).withConstraints(io.gpusched.Constraints.models(GpuModels.H100_80GB.name())))
            .id("a")
            .build()); // on n/0
    s1.cordon("n");
    s1.close();

    // the host's own cluster, whose n/0 was taken meanwhile: the recorded allocation conflicts
    io.gpusched.GpuCluster cluster = GpuClusters.newBuilder().node(n).node(gone).build();
    cluster.setNodeState("gone", NodeState.CORDONED);
    Allocation squatter =
        cluster.place(PlacementRequest.wholeGpus(1).withConstraints(
            io.gpusched.Constraints.models(GpuModels.H100_80GB.name()))).orElseThrow();
    Map<String, Object> before = nodesOf(cluster);

    assertThatThrownBy(() -> builder(store).cluster(cluster).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cannot recover running job a");
    // the recovery had removed gone, added extra and cordoned n before it met the conflict
    assertThat(nodesOf(cluster)).isEqualTo(before);
    assertThat(cluster.nodes()).containsExactly(n, gone);
    assertThat(cluster.allocations("n")).containsExactly(squatter);
  }

  private static Map<String, Object> nodesOf(io.gpusched.GpuCluster c) {
    var out = new java.util.LinkedHashMap<String, Object>();
    out.put("nodes", c.nodes().stream().map(NodeSpec::id).toList());
    c.snapshot().nodes().forEach(u -> out.put(u.nodeId(), List.of(u.state(), u.allocations())));
    return out;
  }

  @Test
  void aStoreThatCannotBeReadFailsTheBuild() {
    SchedulerStore store =
        new SchedulerStore() {
          @Override
          public StoredState load() {
            throw new StoreException("unreachable (simulated)");
          }

          @Override
          public void commit(List<StoreChange> changes) {
            throw new AssertionError("nothing is committed when the load failed");
          }
        };
    assertThatThrownBy(() -> builder(store, whole("n", 1)).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("unreachable");
  }
}
