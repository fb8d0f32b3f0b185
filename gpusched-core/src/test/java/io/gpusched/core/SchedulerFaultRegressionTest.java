package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.GpuCluster;
import io.gpusched.GpuSample;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobHandle;
import io.gpusched.JobState;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, scheduler items 1, 2, 4, 8 and 9 (cancel racing a requeue): each test lands in its race
 * window or fault deterministically through a callback, and failed on the code before the fix.
 */
class SchedulerFaultRegressionTest {

  final SchedulerHarness h = new SchedulerHarness();

  static DefaultScheduler build(GpuSchedulers.Builder b) {
    return (DefaultScheduler) b.build();
  }


  /** Throws a checked exception past the compiler, as Kotlin or Lombok's {@code @SneakyThrows} can. */
  @SuppressWarnings("unchecked")
  static <E extends Throwable> RuntimeException sneaky(Throwable t) throws E {
    throw (E) t;
  }

  static int allocatedGpus(GpuCluster c) {
    return c.snapshot().total().allocatedGpus();
  }

  // ---------------------------------------------------------------------------------------
  // Item 1: nodeDown between the engine's place and the scheduler recording the owner.
  // ---------------------------------------------------------------------------------------

  @Test
  void i1_nodeLostBetweenPlacementAndBookingRequeuesTheJob() {
    var sched = new AtomicReference<DefaultScheduler>();
    var once = new AtomicBoolean();
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 1)))
                .placementObserver(
                    (demand, placed, nanos) -> {
                      if (placed && once.compareAndSet(false, true)) {
                        sched.get().nodeDown("n1"); // on the dispatcher, right after place
                      }
                    }));
    sched.set(s);
    JobHandle a = s.submit(job("a", 1).build());
    assertThat(once).isTrue();
    assertThat(a.state()).as("requeued, not RUNNING on a dead node").isEqualTo(JobState.PENDING);
    assertThat(SchedulerHarness.usedGpus(s, "default")).as("usage unbooked").isZero();
    assertThat(h.events(SchedulerEvent.JobPreempted.class))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.jobId()).isEqualTo("a");
              assertThat(e.reason()).isEqualTo(StopReason.NODE_LOST);
              assertThat(e.requeued()).isTrue();
            });
    assertThat(h.events(SchedulerEvent.JobRequeued.class)).extracting(SchedulerEvent.JobRequeued::jobId).containsExactly("a");
    assertThat(h.launcher.stops).contains("a:NODE_LOST");
    s.verifyInvariants();
    s.addNode(whole("n2", 1));
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.allocations()).singleElement().satisfies(al -> {
      assertThat(al.isActive()).isTrue();
      assertThat(al.nodeId()).isEqualTo("n2");
    });
    assertThat(a.attempts()).isEqualTo(2);
    assertThat(SchedulerHarness.usedGpus(s, "default")).isEqualTo(1.0);
    s.verifyInvariants();
  }

  // ---------------------------------------------------------------------------------------
  // Item 2: any Throwable from an SPI must not wedge the dispatcher.
  // ---------------------------------------------------------------------------------------

  private void launcherThrowingForBadFailsItAndKeepsDispatching(Throwable thrown) {
    h.launcher.onStart =
        j -> {
          if (j.id().equals("bad")) {
            throw sneaky(thrown);
          }
        };
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle bad = s.submit(job("bad", 1).build());
    assertThat(bad.state()).isEqualTo(JobState.FAILED);
    assertThat(bad.endReason()).hasValueSatisfying(r -> assertThat(r).startsWith("launcher failed"));
    assertThat(allocatedGpus(s.cluster())).as("bad's GPU freed").isZero();
    JobHandle good = s.submit(job("good", 1).build());
    assertThat(good.state()).as("dispatching goes on").isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
    good.complete();
    assertThat(allocatedGpus(s.cluster())).isZero();
    s.verifyInvariants();
  }

  @Test
  void i2_launcherThrowingAPlainErrorFailsItsJobAndDispatchingGoesOn() {
    launcherThrowingForBadFailsItAndKeepsDispatching(new Error("boom"));
  }

  @Test
  void i2_launcherThrowingASneakyCheckedExceptionFailsItsJobAndDispatchingGoesOn() {
    launcherThrowingForBadFailsItAndKeepsDispatching(new java.io.IOException("sneaky"));
  }

  @Test
  void i2_aVirtualMachineErrorIsRethrownWithTheLoopRestored() {
    h.launcher.onStart =
        j -> {
          if (j.id().equals("bad")) {
            throw new StackOverflowError("deep");
          }
        };
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    JobHandle first = s.submit(job("first", 1).build());
    assertThatThrownBy(() -> s.submit(job("bad", 1).build())).isInstanceOf(StackOverflowError.class);
    JobHandle bad = s.job("bad").orElseThrow();
    assertThat(bad.state()).isEqualTo(JobState.FAILED);
    s.verifyInvariants(); // the work counter is back at 0
    first.complete();
    JobHandle next = s.submit(job("next", 2).build());
    assertThat(next.state()).isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
  }

  @Test
  void i2_aListenerThrowingAnErrorOnTheDispatchPathDoesNotStopDispatching() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 1)))
                .listener(
                    e -> {
                      if (e instanceof SchedulerEvent.JobStarted) {
                        throw new Error("listener");
                      }
                    }));
    JobHandle a = s.submit(job("a", 1).build());
    JobHandle b = s.submit(job("b", 1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(h.events(SchedulerEvent.JobCompleted.class)).extracting(SchedulerEvent.JobCompleted::jobId).containsExactly("a");
    s.verifyInvariants();
  }

  @Test
  void i2_launcherStopThrowingAnErrorOnCancelStillReleasesTheGpus() {
    var s =
        build(
            GpuSchedulers.newBuilder()
                .clock(h.clock)
                .manualTicks()
                .eventExecutor(Runnable::run)
                .nodes(List.of(whole("n1", 1)))
                .launcher(
                    new io.gpusched.JobLauncher() {
                      @Override
                      public void start(JobHandle job) {}

                      @Override
                      public void stop(JobHandle job, StopReason reason, java.time.Instant deadline) {
                        throw new Error("stop");
                      }
                    }));
    JobHandle a = s.submit(job("a", 1).build());
    JobHandle b = s.submit(job("b", 1).build());
    assertThat(a.cancel()).isTrue();
    assertThat(allocatedGpus(s.cluster())).isEqualTo(1);
    assertThat(b.state()).as("a's GPU went to b").isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
  }

  @Test
  void i2_telemetryThrowingAnErrorDoesNotStopTheTicks() {
    GpuTelemetry telemetry =
        new GpuTelemetry() {
          @Override
          public Optional<GpuSample> latest(String uuid, int slot) {
            throw new Error("telemetry");
          }
        };
    var policy = new IdlePolicy(5, Duration.ofMinutes(10), false, 1024, Duration.ofMinutes(2));
    var s = build(h.builder().nodes(List.of(whole("n1", 1))).telemetry(telemetry, policy));
    JobHandle a = s.submit(job("a", 1).build());
    JobHandle b = s.submit(job("b", 1).build());
    h.advance(s, Duration.ofMinutes(1));
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
  }

  /** The timer's periodic tick survives a VirtualMachineError rethrown to it. */
  @Test
  void i2_thePeriodicTickSurvivesAVirtualMachineError() throws Exception {
    var calls = new CountDownLatch(3);
    GpuTelemetry telemetry =
        new GpuTelemetry() {
          @Override
          public Optional<GpuSample> latest(String uuid, int slot) {
            calls.countDown();
            throw new StackOverflowError("telemetry");
          }
        };
    var policy = new IdlePolicy(5, Duration.ofMinutes(10), false, 1024, Duration.ofMinutes(2));
    var s =
        GpuSchedulers.newBuilder()
            .nodes(List.of(whole("n1", 1)))
            .eventExecutor(Runnable::run)
            .tickInterval(Duration.ofMillis(5))
            .telemetry(telemetry, policy)
            .build();
    try {
      try {
        s.submit(job("a", 1).build());
      } catch (StackOverflowError e) {
        // documented: the thread that runs the command loop when a tick throws a
        // VirtualMachineError receives it (after handing the loop back); with a 5 ms tick the
        // submitting thread sometimes is that thread
        assertThat(e).hasMessage("telemetry");
      }
      assertThat(calls.await(30, TimeUnit.SECONDS)).as("the timer kept ticking").isTrue();
    } finally {
      s.close();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Item 4: a throwing PlacementObserver leaked the GPUs it was told about.
  // ---------------------------------------------------------------------------------------

  @Test
  void i4_anObserverThrowingAssertionErrorLeaksNothingAndThePlacementStands() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 2)))
                .placementObserver(
                    (demand, placed, nanos) -> {
                      throw new AssertionError("observer");
                    }));
    JobHandle gang = s.submit(job("gang", 1).gangSize(2).build());
    assertThat(gang.state()).as("the observer's failure is logged and ignored").isEqualTo(JobState.RUNNING);
    assertThat(allocatedGpus(s.cluster())).isEqualTo(2);
    gang.complete();
    assertThat(allocatedGpus(s.cluster())).as("nothing leaked").isZero();
    s.verifyInvariants();
  }

  /** A cluster that throws an Error from its second placement call. */
  static GpuCluster failingSecondPlace(GpuCluster c) {
    var calls = new AtomicInteger();
    return delegating(
        c,
        request -> {
          if (calls.incrementAndGet() == 2) {
            throw new Error("engine");
          }
          return c.place(request);
        });
  }

  /** A cluster that places through {@code place} and delegates everything else to {@code c}. */
  static GpuCluster delegating(
      GpuCluster c, java.util.function.Function<PlacementRequest, Optional<Allocation>> place) {
    return new GpuCluster() {
      @Override
      public Optional<Allocation> place(PlacementRequest request) {
        return place.apply(request);
      }

      @Override
      public void addNode(NodeSpec node) {
        c.addNode(node);
      }

      @Override
      public void setNodeState(String nodeId, NodeState state) {
        c.setNodeState(nodeId, state);
      }

      @Override
      public NodeRemoval removeNode(String nodeId, boolean force) {
        return c.removeNode(nodeId, force);
      }

      @Override
      public List<NodeSpec> nodes() {
        return c.nodes();
      }

      @Override
      public List<Allocation> allocations(String nodeId) {
        return c.allocations(nodeId);
      }

      @Override
      public ClusterSnapshot snapshot() {
        return c.snapshot();
      }
    };
  }

  @Test
  void i4_aGangWhoseSecondPlacementThrowsReleasesTheFirstMember() {
    GpuCluster engine = GpuClusters.newBuilder().node(whole("n1", 2)).build();
    var s = build(h.builder().cluster(failingSecondPlace(engine)));
    JobHandle gang = s.submit(job("gang", 1).gangSize(2).build());
    assertThat(gang.state()).isEqualTo(JobState.PENDING);
    assertThat(allocatedGpus(engine)).as("the first member was given back").isZero();
    s.verifyInvariants();
    s.tick();
    assertThat(gang.state()).as("the next pass places it").isEqualTo(JobState.RUNNING);
    assertThat(allocatedGpus(engine)).isEqualTo(2);
  }

  // ---------------------------------------------------------------------------------------
  // Item 8: a resubmission of a finished job's id raced the dispatcher retiring the old job.
  // ---------------------------------------------------------------------------------------

  @Test
  void i8_resubmittingAFinishedIdWhileTheDispatcherRetiresTheOldJobSucceeds() throws Exception {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    JobHandle old = s.submit(job("x", 1).build());
    var inStart = new CountDownLatch(1);
    var release = new CountDownLatch(1);
    // the dispatcher (this thread) completes "x" from inside a launch: x is final, its retirement
    // is a queued command, and the dispatcher holds it until the resubmission is in its window
    h.launcher.onStart =
        j -> {
          if (j.id().equals("holder")) {
            old.complete();
            inStart.countDown();
            await(release);
          }
        };
    var failure = new AtomicReference<Throwable>();
    var resubmitted = new AtomicReference<JobHandle>();
    Thread other =
        new Thread(
            () -> {
              await(inStart);
              s.book.afterIdTaken =
                  prev -> {
                    release.countDown(); // let the dispatcher retire the old job now
                    prev.whenFinished().join(); // completed after it left the live set
                  };
              try {
                resubmitted.set(s.submit(job("x", 1).build()));
              } catch (Throwable t) {
                failure.set(t);
              }
            });
    other.start();
    s.submit(job("holder", 1).build());
    other.join(30_000);
    assertThat(failure.get()).as("resubmission of a finished id").isNull();
    assertThat(resubmitted.get()).isNotNull().isNotSameAs(old);
    assertThat(s.job("x")).containsSame(resubmitted.get());
    s.tick();
    assertThat(resubmitted.get().state()).isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
  }

  /**
   * A resubmission landing while the dispatcher moves the old job from the live jobs to the
   * finished ones: the old job must not come back into the finished jobs after the new one took
   * its id (jobs() listed "x" twice, and the stale entry stayed until the new job ended).
   */
  @Test
  void i8_aResubmissionWhileTheOldJobIsRetiredListsTheIdOnce() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    JobHandle old = s.submit(job("x", 1).build());
    var again = new AtomicReference<JobHandle>();
    s.book.betweenLiveAndFinished =
        j -> {
          if (j == old && again.get() == null) {
            again.set(s.submit(job("x", 1).build())); // on the dispatcher: queued behind it
          }
        };
    old.complete();
    assertThat(again.get()).isNotNull();
    assertThat(s.job("x")).containsSame(again.get());
    assertThat(s.jobs()).filteredOn(j -> j.id().equals("x")).as("id x listed once").containsExactly(again.get());
    assertThat(again.get().state()).isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
  }

  static void await(CountDownLatch l) {
    try {
      if (!l.await(30, TimeUnit.SECONDS)) {
        throw new AssertionError("latch timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Item 9: a cancel racing a requeue published JobRequeued for a CANCELLED job.
  // ---------------------------------------------------------------------------------------

  /**
   * The cancel lands inside the host's {@code stopped()}, after its CAS requeued the job and
   * before the stop's bookkeeping was queued (the engine's release runs there; the test's cluster
   * calls back from it), and runs its own bookkeeping first. The events must still say what
   * happened in order: preempted (not requeued), then cancelled, and nothing after the end.
   */
  @Test
  void i9_aCancelInsideAStopAcknowledgementIsReportedAfterThePreemption() {
    var onRelease = new AtomicReference<Runnable>(() -> {});
    GpuCluster engine = GpuClusters.newBuilder().node(whole("n1", 1)).build();
    GpuCluster cluster =
        delegating(
            engine,
            request ->
                engine
                    .place(request)
                    .map(
                        a ->
                            new Allocation() {
                              @Override
                              public long id() {
                                return a.id();
                              }

                              @Override
                              public PlacementRequest request() {
                                return a.request();
                              }

                              @Override
                              public List<io.gpusched.AllocatedGpu> gpus() {
                                return a.gpus();
                              }

                              @Override
                              public boolean isActive() {
                                return a.isActive();
                              }

                              @Override
                              public boolean release() {
                                boolean r = a.release();
                                onRelease.getAndSet(() -> {}).run();
                                return r;
                              }
                            }));
    var s = build(h.builder().cluster(cluster));
    JobHandle a = s.submit(job("a", 1).build());
    s.drain("n1", Duration.ofMinutes(1));
    assertThat(a.state()).isEqualTo(JobState.PREEMPTING);
    onRelease.set(() -> assertThat(a.cancel()).isTrue());
    a.stopped();
    assertThat(a.state()).isEqualTo(JobState.CANCELLED);
    var mine = h.events.stream().filter(e -> e instanceof SchedulerEvent.JobEvent je && je.jobId().equals("a")).toList();
    assertThat(mine.get(mine.size() - 1)).as("the cancel is a's last event").isInstanceOf(SchedulerEvent.JobCancelled.class);
    assertThat(mine).filteredOn(e -> e instanceof SchedulerEvent.JobPreempted).singleElement()
        .satisfies(e -> assertThat(((SchedulerEvent.JobPreempted) e).requeued()).isFalse());
    assertThat(mine).noneMatch(e -> e instanceof SchedulerEvent.JobRequeued);
    assertThat(SchedulerHarness.usedGpus(s, "default")).isZero();
    s.verifyInvariants();
  }

  @Test
  void i9_aCancelRacingANodeLossRequeueIsNotReportedAsRequeued() {
    var sched = new AtomicReference<DefaultScheduler>();
    var s =
        build(
            GpuSchedulers.newBuilder()
                .clock(h.clock)
                .manualTicks()
                .eventExecutor(Runnable::run)
                .listener(h.events::add)
                .nodes(List.of(whole("n1", 1)))
                .launcher(
                    new io.gpusched.JobLauncher() {
                      @Override
                      public void start(JobHandle job) {}

                      @Override
                      public void stop(JobHandle job, StopReason reason, java.time.Instant deadline) {
                        // the host cancels the job it was told is lost: it is PENDING (requeued)
                        // by now, and the dispatcher has not booked the requeue yet
                        sched.get().job(job.id()).orElseThrow().cancel();
                      }
                    }));
    sched.set(s);
    JobHandle a = s.submit(job("a", 1).build());
    s.nodeDown("n1");
    assertThat(a.state()).isEqualTo(JobState.CANCELLED);
    assertThat(h.events(SchedulerEvent.JobRequeued.class)).as("no JobRequeued for a CANCELLED job").isEmpty();
    assertThat(h.events(SchedulerEvent.JobPreempted.class))
        .singleElement()
        .satisfies(e -> assertThat(e.requeued()).as("requeued flag promises a JobRequeued").isFalse());
    assertThat(h.events(SchedulerEvent.JobCancelled.class)).extracting(SchedulerEvent.JobCancelled::jobId).containsExactly("a");
    s.verifyInvariants();
  }
}
