package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * The launcher hears of each run's {@code stop} only after that run's {@code start} returned, or
 * of neither ({@link LaunchGate}).
 *
 * <p>Found by {@code FailoverCrashTest} once its generators cancelled running jobs (CI seed
 * 44643989012166): the host ran a job the store showed CANCELLED, and its GPU was given to the next
 * job. The scheduler checked the job's state, then called {@code start}; a cancel on another thread
 * between the two (or during the call) called {@code stop} before or while {@code start} ran, then
 * released the GPUs. A host that handles calls in arrival order (every real one: a process that
 * was not started yet cannot be stopped) then started work nobody would stop, on GPUs given away.
 * Each test below puts a thread inside that window deterministically (a launcher blocked in {@code
 * start}, or a listener that runs on the dispatcher between the start's decision and the launcher
 * call); each failed before the gate.
 */
class StartStopOrderTest {

  private static JobSpec whole(String id) {
    return JobSpec.builder(PlacementRequest.wholeGpus(1)).id(id).queue("q").build();
  }

  private static GpuScheduler scheduler(JobLauncher host) {
    return builder(host).build();
  }

  private static GpuSchedulers.Builder builder(JobLauncher host) {
    return GpuSchedulers.newBuilder()
        .nodes(List.of(NodeSpec.builder("n").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
        .queue(QueueSpec.of("q"))
        .launcher(host)
        .manualTicks();
  }

  /** A launcher that records "start id" and "stop id" in call order (other tests use it too). */
  static class CallLog implements JobLauncher {
    final List<String> calls = new CopyOnWriteArrayList<>();

    @Override
    public void start(JobHandle job) {
      calls.add("start " + job.id());
    }

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      calls.add("stop " + job.id());
    }
  }

  /** A launcher that records its calls and can hold {@code start} of one job until released. */
  private static final class BlockingHost implements JobLauncher {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final CountDownLatch inStart = new CountDownLatch(1);
    final CountDownLatch finishStart = new CountDownLatch(1);
    final String blocked;

    BlockingHost(String blocked) {
      this.blocked = blocked;
    }

    @Override
    public void start(JobHandle job) {
      calls.add("start " + job.id());
      if (job.id().equals(blocked)) {
        inStart.countDown();
        try {
          assertThat(finishStart.await(10, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      calls.add("started " + job.id());
    }

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      calls.add("stop " + job.id());
    }
  }

  @Test
  void aCancelDuringTheStartCallIsDeliveredWhenTheStartReturnsAndOnlyThenFreesTheGpu()
      throws Exception {
    BlockingHost host = new BlockingHost("a");
    GpuScheduler s = scheduler(host);
    try {
      // the submitting thread dispatches, and waits inside start
      CompletableFuture<JobHandle> submitted = CompletableFuture.supplyAsync(() -> s.submit(whole("a")));
      assertThat(host.inStart.await(10, TimeUnit.SECONDS)).isTrue();
      JobHandle a = s.job("a").orElseThrow();
      // the cancel does not wait for the start (no thread ever waits for another) ...
      assertThat(a.cancel()).isTrue();
      assertThat(a.state()).isEqualTo(JobState.CANCELLED);
      // ... but nothing reaches the host, and the GPU is not given away, while start runs
      JobHandle b = s.submit(whole("b"));
      assertThat(host.calls).containsExactly("start a");
      assertThat(b.state()).isEqualTo(JobState.PENDING);
      host.finishStart.countDown();
      submitted.get(10, TimeUnit.SECONDS);
      b.whenStarted().get(10, TimeUnit.SECONDS);
      assertThat(host.calls).containsExactly("start a", "started a", "stop a", "start b", "started b");
    } finally {
      host.finishStart.countDown();
      s.close();
    }
  }

  /**
   * The window between the start's decision and the launcher call: a listener on an inline event
   * executor runs on the dispatcher right after {@code JobStarted} is published, before {@code
   * start} is called.
   */
  private static void inTheWindow(String jobId, Consumer<JobHandle> act, CallLog host) {
    List<GpuScheduler> self = new ArrayList<>(1);
    GpuScheduler s =
        builder(host)
            .eventExecutor(Runnable::run)
            .listener(
                e -> {
                  if (e instanceof SchedulerEvent.JobStarted st && st.jobId().equals(jobId)) {
                    act.accept(self.get(0).job(jobId).orElseThrow());
                  }
                })
            .build();
    self.add(s);
    try {
      JobHandle a = s.submit(whole(jobId));
      assertThat(a.state().isFinal()).as(a.state().toString()).isTrue();
      // its GPU is free: the next job starts on it at once, and the host hears only of that one
      JobHandle next = s.submit(whole(jobId + "-next"));
      assertThat(next.state()).isEqualTo(JobState.RUNNING);
    } finally {
      s.close();
    }
  }

  @Test
  void aCancelBeforeTheStartIsDeliveredMeansTheHostHearsOfNeither() {
    CallLog host = new CallLog();
    inTheWindow("a", a -> assertThat(a.cancel()).isTrue(), host);
    assertThat(host.calls).containsExactly("start a-next");
  }

  @Test
  void aRunEndedByAReportBeforeItsStartIsDeliveredIsNeverStarted() {
    CallLog host = new CallLog();
    inTheWindow("a", a -> assertThat(a.fail("the user gave up")).isTrue(), host);
    assertThat(host.calls).containsExactly("start a-next");
  }

  @Test
  void aStartWhoseLauncherCancelsTheJobItselfGetsItsStopAfterItReturns() throws Exception {
    CallLog host =
        new CallLog() {
          @Override
          public void start(JobHandle job) {
            super.start(job);
            if (job.id().equals("a")) {
              assertThat(job.cancel()).isTrue(); // from inside start: must not deadlock
            }
            calls.add("started " + job.id());
          }
        };
    List<String> calls = host.calls;
    GpuScheduler s = scheduler(host);
    try {
      CompletableFuture<JobHandle> a = CompletableFuture.supplyAsync(() -> s.submit(whole("a")));
      assertThat(a.get(10, TimeUnit.SECONDS).state()).isEqualTo(JobState.CANCELLED);
      JobHandle b = s.submit(whole("b"));
      assertThat(b.state()).isEqualTo(JobState.RUNNING);
      assertThat(calls).containsExactly("start a", "started a", "stop a", "start b", "started b");
    } finally {
      s.close();
    }
  }

  @Test
  void aStartThatThrowsStillDeliversTheStopsThatWaitedForIt() throws Exception {
    CountDownLatch inStart = new CountDownLatch(1);
    CountDownLatch finishStart = new CountDownLatch(1);
    CallLog host =
        new CallLog() {
          @Override
          public void start(JobHandle job) {
            super.start(job);
            if (job.id().equals("a")) {
              inStart.countDown();
              try {
                finishStart.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              throw new AssertionError("the host could not start a");
            }
          }
        };
    List<String> calls = host.calls;
    GpuScheduler s = scheduler(host);
    try {
      CompletableFuture<JobHandle> submitted = CompletableFuture.supplyAsync(() -> s.submit(whole("a")));
      assertThat(inStart.await(10, TimeUnit.SECONDS)).isTrue();
      JobHandle a = s.job("a").orElseThrow();
      assertThat(a.cancel()).isTrue();
      finishStart.countDown();
      submitted.get(10, TimeUnit.SECONDS);
      // the cancel came first, so the job is CANCELLED (not FAILED), the host heard the stop after
      // its start returned, and the GPU was freed
      assertThat(a.state()).isEqualTo(JobState.CANCELLED);
      JobHandle b = s.submit(whole("b"));
      assertThat(b.state()).isEqualTo(JobState.RUNNING);
      assertThat(calls).containsExactly("start a", "stop a", "start b");
    } finally {
      finishStart.countDown();
      s.close();
    }
  }

  /**
   * Many jobs, cancels from three threads at random moments (some while a start is in flight: the
   * host's start yields inside), and a host that ends some runs itself: the host keeps, per GPU,
   * the run it was told to start and not yet told to stop (or ended itself), and no start may land
   * on a GPU that still holds another run. At the end every run the host started was stopped or
   * ended by it. Before the gate, a stop that overtook its start left the host running a job on a
   * GPU the scheduler gave to the next one.
   */
  @Test
  void aRunsHandleNamesItsOwnAttemptAfterTheJobStartedAgain() {
    List<JobHandle> runs = new CopyOnWriteArrayList<>();
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .nodes(
                List.of(
                    NodeSpec.builder("n1").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build(),
                    NodeSpec.builder("n2").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
            .queue(QueueSpec.of("q"))
            .launcher(runs::add)
            .manualTicks()
            .build();
    try {
      JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("a").queue("q").build());
      String first = a.allocations().get(0).gpus().get(0).nodeId();
      s.nodeDown(first); // requeued, and started again on the other node
      assertThat(a.state()).isEqualTo(JobState.RUNNING);
      assertThat(runs).hasSize(2);
      assertThat(a.attempts()).isEqualTo(2);
      // the first run's handle (what a stop sent again for it after a crash carries) says 1, so a
      // host does not take that stop for the current run's
      assertThat(runs.get(0).attempts()).isEqualTo(1);
      assertThat(runs.get(1).attempts()).isEqualTo(2);
    } finally {
      s.close();
    }
  }

  /**
   * A host that keeps, per GPU, the run it was told to start and not yet told to stop (or ended
   * itself); a start on a GPU that still holds another run is a violation.
   */
  private static final class OccupancyHost implements JobLauncher {
    final Map<String, String> occupant = new ConcurrentHashMap<>(); // "node/index" -> job id
    final Map<String, List<String>> heldBy = new ConcurrentHashMap<>(); // job id -> its GPU keys
    final List<String> violations = new CopyOnWriteArrayList<>();
    final Queue<JobHandle> started = new ConcurrentLinkedQueue<>();
    /** The job whose start the host is in now: the cancelling threads aim at it. */
    final AtomicReference<String> starting = new AtomicReference<>("");

    @Override
    public void start(JobHandle job) {
      starting.set(job.id());
      Thread.yield(); // widen the window a cancel may land in, before the host acts
      List<String> keys = new ArrayList<>();
      for (var alloc : job.allocations()) {
        for (AllocatedGpu g : alloc.gpus()) {
          String k = g.nodeId() + "/" + g.gpuIndex();
          String before = occupant.putIfAbsent(k, job.id());
          if (before != null) {
            violations.add(job.id() + " started on " + k + ", where the host still runs " + before);
          }
          keys.add(k);
        }
      }
      heldBy.put(job.id(), keys);
      started.add(job);
    }

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      free(job.id()); // a stop racing the host's own end finds nothing: fine
    }

    /** Frees the job's GPUs on the host; false if the host does not run it. */
    boolean free(String id) {
      List<String> keys = heldBy.remove(id);
      if (keys == null) {
        return false;
      }
      keys.forEach(k -> occupant.remove(k, id));
      return true;
    }
  }

  @Test
  void underRacingCancelsTheHostNeverGetsAGpuItStillRuns() throws Exception {
    OccupancyHost host = new OccupancyHost();
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .nodes(List.of(NodeSpec.builder("n").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
            .queue(QueueSpec.of("q"))
            .launcher(host)
            .manualTicks()
            .build();
    int jobs = 3_000;
    AtomicInteger submitted = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(5);
    try {
      List<Future<?>> work = new ArrayList<>();
      work.add(
          pool.submit(
              () -> {
                for (int i = 0; i < jobs; i++) {
                  s.submit(whole("j" + i));
                  submitted.incrementAndGet();
                }
              }));
      work.add(
          pool.submit(
              () -> {
                Random r = new Random(7);
                while (submitted.get() < jobs) { // the host ends half the runs itself
                  JobHandle run = host.started.poll();
                  if (run == null) {
                    Thread.onSpinWait();
                  } else if (r.nextBoolean() && host.free(run.id())) {
                    run.complete();
                  }
                }
              }));
      for (int t = 0; t < 3; t++) {
        Random r = new Random(20261206L + t);
        work.add(
            pool.submit(
                () -> {
                  while (submitted.get() < jobs) { // mostly the job being started, sometimes any
                    String id = r.nextInt(4) > 0 ? host.starting.get() : "j" + r.nextInt(submitted.get() + 1);
                    s.job(id).ifPresent(JobHandle::cancel);
                  }
                }));
      }
      for (Future<?> f : work) {
        f.get(120, TimeUnit.SECONDS);
      }
      for (int i = 0; i < jobs; i++) { // (a finished job may already be forgotten: no handle)
        s.job("j" + i).ifPresent(JobHandle::cancel);
      }
      assertThat(s.jobs()).allMatch(j -> j.state().isFinal());
    } finally {
      pool.shutdownNow();
      s.close();
    }
    assertThat(host.violations).isEmpty();
    assertThat(host.heldBy).as("runs the host was never told to stop").isEmpty();
  }
}
