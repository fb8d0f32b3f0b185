package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.within;

import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuSample;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PendingReason;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Reproductions of scheduler bugs found in review; each test fails on the reviewed code. */
class SchedulerRegressionTest {

  final SchedulerHarness h = new SchedulerHarness();

  DefaultScheduler build(GpuSchedulers.Builder b) {
    return (DefaultScheduler) b.build();
  }


  // ---------------------------------------------------------------------------------------
  // F1: a node added while a pass runs (or added to the underlying GpuCluster) is placed on
  // before the scheduler's Capacity knows it: account() throws after the job went RUNNING.
  // ---------------------------------------------------------------------------------------

  @Test
  void f1_addNodeDuringADispatchPassLeavesAJobRunningButNeverLaunched() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle a = s.submit(job("a", 1).build());
    JobHandle b = s.submit(job("b", 1).build());
    JobHandle c = s.submit(job("c", 1).build());
    // Another thread adds a node of a new model while this thread dispatches; the launcher
    // callback makes that interleaving deterministic (addNode's command is queued behind the pass).
    h.launcher.onStart =
        j -> {
          if (j.id().equals("b")) {
            s.addNode(NodeSpec.builder("n2").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build());
          }
        };
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    // c was placed on n2 and switched to RUNNING, then account() threw "unknown GPU model":
    // the host was never told to start it and the scheduler does not account it.
    assertThat(h.launcher.started).as("every RUNNING job was launched").contains("c");
    s.verifyInvariants();
  }

  @Test
  void f1_nodeAddedToTheUnderlyingClusterIsUsedButUnknownToTheScheduler() {
    GpuCluster cluster = GpuClusters.newBuilder().node(whole("n1", 1)).build();
    var s = build(h.builder().cluster(cluster));
    JobHandle a = s.submit(job("a", 1).build());
    // "Schedules on an existing cluster (its nodes, strategy and any later changes)."
    cluster.addNode(NodeSpec.builder("n2").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build());
    JobHandle b = s.submit(job("b", 1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(h.launcher.started).as("b RUNNING but never launched").contains("b");
    s.verifyInvariants();
  }

  // ---------------------------------------------------------------------------------------
  // F2: Duration arithmetic overflow (Duration.toMillis / now + millis) on accepted specs.
  // ---------------------------------------------------------------------------------------

  // FOREVER is now rejected up front, with the value named; the longest accepted duration,
  // JobSpec.MAX_DURATION, then runs the scenario that overflowed, so each test can still fail.

  @Test
  void f2_foreverTimeLimitLeaksAccountingAndTheJobIsNeverLaunched() {
    Duration forever = ChronoUnit.FOREVER.getDuration();
    assertThat(catchThrowable(() -> job("a", 1).timeLimit(forever).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("timeLimit of job a")
        .hasMessageContaining(forever.toString());
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle a = s.submit(job("a", 1).timeLimit(JobSpec.MAX_DURATION).build());
    JobHandle b = s.submit(job("b", 1).timeLimit(JobSpec.MAX_DURATION).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(h.launcher.started).as("RUNNING job launched").containsExactly("a");
    h.advance(s, Duration.ofDays(365));
    assertThat(a.state()).as("a year is within the limit").isEqualTo(JobState.RUNNING);
    assertThat(b.pendingReason()).as("waits for a; its end bound did not wrap into the past").isPresent();
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    b.complete();
    assertThat(SchedulerHarness.usedGpus(s, "default")).as("queue usage after both jobs completed").isZero();
    s.verifyInvariants();
  }

  @Test
  void f2_foreverGracePeriodWedgesThePreemptorAndItsPools() {
    Duration forever = ChronoUnit.FOREVER.getDuration();
    assertThat(catchThrowable(() -> job("b1", 1).gracePeriod(forever).build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("gracePeriod of job b1")
        .hasMessageContaining(forever.toString());
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 2)))
                .queue(QueueSpec.builder("A").guaranteedGpus(2).build())
                .queue(QueueSpec.of("B")));
    JobHandle b1 =
        s.submit(job("b1", 1).queue("B").preemptible(true).gracePeriod(JobSpec.MAX_DURATION).build());
    JobHandle b2 = s.submit(job("b2", 1).queue("B").preemptible(true).gracePeriod(Duration.ZERO).build());
    JobHandle a = s.submit(job("a", 2).queue("A").build());
    // The plan picks b1 and b2; requestStop(b1) threw ArithmeticException inside the pass after
    // "a" was recorded as a preemptor with b1 as its victim, but b1 was never asked to stop.
    assertThat(h.launcher.stops)
        .as("the victims were asked to stop")
        .containsExactlyInAnyOrder("b1:QUOTA_RECLAIM", "b2:QUOTA_RECLAIM");
    assertThat(b1.state()).isEqualTo(JobState.PREEMPTING);
    assertThat(b2.state()).as("no grace: released at once").isEqualTo(JobState.PENDING);
    assertThat(a.pendingReason()).contains(PendingReason.PREEMPTION);
    h.advance(s, Duration.ofDays(365));
    assertThat(a.state()).as("b1's long grace still runs").isEqualTo(JobState.PENDING);
    assertThat(b1.stopped()).as("the host acknowledges the stop").isTrue();
    assertThat(a.state()).as("the preemptor gets both GPUs").isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
  }

  // ---------------------------------------------------------------------------------------
  // F3: priority order overflows: -Integer.MIN_VALUE == Integer.MIN_VALUE.
  // ---------------------------------------------------------------------------------------

  @Test
  void f3_lowestPossiblePriorityRunsFirst() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle busy = s.submit(job("busy", 1).build());
    JobHandle low = s.submit(job("low", 1).priority(Integer.MIN_VALUE).build());
    JobHandle high = s.submit(job("high", 1).priority(0).build());
    busy.complete();
    assertThat(high.state()).as("priority 0 outranks Integer.MIN_VALUE").isEqualTo(JobState.RUNNING);
    assertThat(low.state()).isEqualTo(JobState.PENDING);
  }

  // ---------------------------------------------------------------------------------------
  // F4: capacity freed for a preemptor inside the pass (victim acknowledges at once) is taken by
  // a later job of the same pass: ps.held is computed only at the start of the pass.
  // ---------------------------------------------------------------------------------------

  @Test
  void f4_capacityFreedForAPreemptorIsStolenInTheSamePass() {
    // A host that acknowledges stop requests at once (kills the container synchronously).
    JobLauncher acking =
        new JobLauncher() {
          @Override
          public void start(JobHandle job) {
            h.launcher.start(job);
          }

          @Override
          public void stop(JobHandle job, StopReason why, Instant deadline) {
            h.launcher.stop(job, why, deadline);
            job.stopped();
          }
        };
    var s =
        build(
            h.builder()
                .launcher(acking)
                .nodes(List.of(whole("n1", 1)))
                .queue(QueueSpec.builder("A").guaranteedGpus(1).build())
                .queue(QueueSpec.of("B")));
    JobHandle b1 = s.submit(job("b1", 1).queue("B").preemptible(true).build());
    // waits; not preemptible; another shape than a's (a label or model constraint, a host request)
    JobHandle b2 = s.submit(
        JobSpec.builder(PlacementRequest.wholeGpus(1).withConstraints(Constraints.models(GpuModels.H100_80GB.name())))
            .id("b2").queue("B").build());
    JobHandle a = s.submit(job("a", 1).queue("A").build());
    assertThat(h.launcher.stops).containsExactly("b1:QUOTA_RECLAIM");
    assertThat(b2.state()).as("no job may start in a preemptor's pools").isEqualTo(JobState.PENDING);
    assertThat(a.state()).as("the preemptor gets what its victim freed").isEqualTo(JobState.RUNNING);
  }

  // ---------------------------------------------------------------------------------------
  // F5: "one plan per queue per pass" is consumed by a job that cannot plan at all, so a later
  // job of the same queue never reclaims the queue's guarantee.
  // ---------------------------------------------------------------------------------------

  @Test
  void f5_aHeadThatCannotPreemptBlocksReclaimForTheRestOfItsQueueForever() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 4)))
                .queue(QueueSpec.builder("A").guaranteedGpus(2).build())
                .queue(QueueSpec.of("B")));
    for (int i = 0; i < 4; i++) {
      s.submit(job("b" + i, 1).queue("B").preemptible(true).gracePeriod(Duration.ZERO).build());
    }
    // x is beyond A's guarantee (4 > 2): it may not reclaim, and A has nothing of lower priority.
    JobHandle x = s.submit(job("x", 4).queue("A").build());
    // y keeps A within its guarantee: it is entitled to reclaim one borrowed GPU.
    JobHandle y = s.submit(job("y", 1).queue("A").build());
    for (int t = 0; t < 5; t++) {
      h.advance(s, Duration.ofMinutes(1));
    }
    assertThat(h.events(SchedulerEvent.PreemptionRequested.class))
        .as("y reclaims A's guarantee")
        .anySatisfy(e -> assertThat(e.forJobId()).isEqualTo("y"));
    assertThat(y.state()).isEqualTo(JobState.RUNNING);
    assertThat(x.state()).isEqualTo(JobState.PENDING);
  }

  // ---------------------------------------------------------------------------------------
  // F6: the whole-GPU victim planner for sameNode gangs only looks at nodes that hold a
  // candidate, so free nodes never count toward the gang.
  // ---------------------------------------------------------------------------------------

  @Test
  void f6_sameNodeGangIgnoresFreeNodesWhenPlanningVictims() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n2", 4)))
                .queue(QueueSpec.builder("A").guaranteedGpus(8).build())
                .queue(QueueSpec.of("B")));
    JobHandle b = s.submit(
        JobSpec.builder(PlacementRequest.wholeGpus(4, true)).id("b").queue("B")
            .preemptible(true).gracePeriod(Duration.ZERO).build());
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    s.addNode(whole("n1", 4)); // free
    JobHandle gang = s.submit(
        JobSpec.builder(PlacementRequest.wholeGpus(4, true)).id("gang").queue("A").gangSize(2).build());
    h.advance(s, Duration.ofSeconds(1));
    assertThat(h.events(SchedulerEvent.PreemptionRequested.class))
        .as("A is within its guarantee: the borrowed node n2 is reclaimed for the gang")
        .extracting(SchedulerEvent.PreemptionRequested::jobId)
        .containsExactly("b");
    assertThat(gang.state()).isEqualTo(JobState.RUNNING);
  }

  // ---------------------------------------------------------------------------------------
  // F7: an Error from a user callback leaves wip > 0: the scheduler silently stops working.
  // ---------------------------------------------------------------------------------------

  @Test
  void f7_anErrorFromTheLauncherWedgesTheDispatcherForever() {
    h.launcher.onStart =
        j -> {
          if (j.id().equals("bad")) {
            throw new AssertionError("launcher bug"); // or NoClassDefFoundError, ExceptionInInitializerError
          }
        };
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    catchThrowable(() -> s.submit(job("bad", 1).build())); // today: the Error reaches the caller
    JobHandle good = s.submit(job("good", 1).build());
    // today: wip stays 1, so this and every later command is queued and never run
    assertThat(good.state()).as("scheduling goes on").isEqualTo(JobState.RUNNING);
    assertThat(s.job("bad").orElseThrow().state()).as("like a RuntimeException from start()").isEqualTo(JobState.FAILED);
  }

  // ---------------------------------------------------------------------------------------
  // F8: fair-share history is credited with the usage *after* a change (commands run before
  // decay), so usage between two dispatches is lost or misattributed.
  // ---------------------------------------------------------------------------------------

  @Test
  void f8_usageHistoryIsLostWhenNoTickHappensBeforeTheRelease() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))).queue(QueueSpec.of("A")).queue(QueueSpec.of("B")));
    JobHandle b0 = s.submit(job("b0", 1).queue("B").build());
    h.advance(s, Duration.ofMinutes(1));
    b0.complete(); // B: one GPU-minute of history
    JobHandle a0 = s.submit(job("a0", 1).queue("A").build());
    s.submit(job("a1", 1).queue("A").build());
    s.submit(job("b1", 1).queue("B").build());
    h.clock.advance(Duration.ofHours(2)); // A holds the only GPU for two half-lives; no tick
    a0.complete();
    // A used 120 GPU-minutes lately, B 1: B goes first (as it does when a tick ran meanwhile)
    assertThat(h.launcher.started).containsExactly("b0", "a0", "b1");
    double share = s.snapshot().queues().get(0).dominantShare();
    // ewma = 1 - 2^-2 = 0.75; dominant = (current 0 + ewma 0.75) / 2
    assertThat(share).as("A's usage history").isCloseTo(0.375, within(0.01));
  }

  // ---------------------------------------------------------------------------------------
  // F9: idle detection extends a remembered idle run across a busy reading that the telemetry's
  // history shows between two checks: a busy job is declared idle (and reclaimed).
  // ---------------------------------------------------------------------------------------

  @Test
  void f9_aBusyReadingBetweenChecksDoesNotBreakTheIdleRun() {
    List<GpuSample> samples = new ArrayList<>();
    GpuTelemetry telemetry =
        new GpuTelemetry() {
          @Override
          public Optional<GpuSample> latest(String uuid, int slot) {
            synchronized (samples) {
              return samples.isEmpty() ? Optional.empty() : Optional.of(samples.get(samples.size() - 1));
            }
          }

          @Override
          public List<GpuSample> history(String uuid, int slot, long since) {
            synchronized (samples) {
              return samples.stream().filter(x -> x.timestampMillis() >= since).toList();
            }
          }
        };
    var policy = new IdlePolicy(5, Duration.ofMinutes(10), false, 1024, Duration.ofMinutes(2));
    var s = build(h.builder().nodes(List.of(whole("n1", 1))).telemetry(telemetry, policy));
    JobHandle nb = s.submit(job("nb", 1).reclaimWhenIdle(true).build());
    String uuid = nb.allocations().get(0).gpus().get(0).gpuUuid();
    long t0 = h.clock.millis();
    long busyAt = t0 + Duration.ofSeconds(320).toMillis(); // 5 min 20 s: busy, between two checks
    // a sampler keeping history: one reading every 20 s; the scheduler checks once a minute
    for (int minute = 1; minute <= 10; minute++) {
      for (long ts = h.clock.millis(); ts < h.clock.millis() + 60_000; ts += 20_000) {
        int util = ts == busyAt ? 100 : 0;
        synchronized (samples) {
          samples.add(GpuSample.builder(uuid, ts).utilizationPercent(util).build());
        }
      }
      h.advance(s, Duration.ofMinutes(1));
    }
    // at t0+10 min the device has been idle only since t0+5:40 (busy at 5:20)
    assertThat(h.events(SchedulerEvent.IdleDetected.class)).as("not idle for the 10-minute window").isEmpty();
    assertThat(nb.idle()).isFalse();
  }
  // ---------------------------------------------------------------------------------------
  // F10: a pending job the engine can never place makes GpuCluster.place throw
  // IllegalArgumentException inside every dispatch pass: every job ordered after it starves.
  // ---------------------------------------------------------------------------------------

  @Test
  void f10_anUnplaceableJobAbortsEveryDispatchPass() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    JobHandle big = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(4, true)).id("big").build());
    JobHandle small = s.submit(job("small", 1).build());
    h.advance(s, Duration.ofMinutes(1));
    assertThat(small.state()).as("a free GPU and a 1-GPU job").isEqualTo(JobState.RUNNING);
  }

  @Test
  void f10_nodeLossMakesAQueuedJobUnplaceableAndWedgesTheScheduler() {
    var s = build(h.builder().nodes(List.of(whole("big", 4), whole("n2", 2))));
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(4, true)).id("a").build());
    JobHandle b = s.submit(job("b", 1).build());
    JobHandle c = s.submit(job("c", 1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(c.state()).isEqualTo(JobState.RUNNING);
    JobHandle d = s.submit(job("d", 1).build());
    s.nodeDown("big"); // a is requeued; no node has 4 GPUs any more
    b.complete(); // frees a GPU on n2
    assertThat(d.state()).as("d can use the free GPU on n2").isEqualTo(JobState.RUNNING);
  }

  // ---------------------------------------------------------------------------------------
  // F12: the aggregate reservation holds every pool the holder *could* use; a flexible job
  // without estimate is then kept off pools the holder can never use, and they stay idle.
  // ---------------------------------------------------------------------------------------

  @Test
  void f12_aModelPinnedReservationIdlesOtherModelsForFlexibleJobs() {
    NodeSpec a100 = NodeSpec.builder("a100").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build();
    var s = build(h.builder().nodes(List.of(a100, whole("h100", 1))));
    var onA100 = PlacementRequest.wholeGpus(1).withConstraints(Constraints.models(GpuModels.A100_80GB.name()));
    JobHandle running = s.submit(JobSpec.builder(onA100).id("running").build()); // no estimate
    JobHandle hog = s.submit(job("hog", 1).build()); // takes the H100
    JobHandle x = s.submit(JobSpec.builder(onA100).id("x").build()); // blocked: holds the reservation
    JobHandle c = s.submit(job("c", 1).build()); // any model, no estimate
    hog.complete(); // the H100 is free; x can never use it
    assertThat(x.state()).isEqualTo(JobState.PENDING);
    assertThat(c.state()).as("c on the H100 cannot delay x").isEqualTo(JobState.RUNNING);
  }

  // ---------------------------------------------------------------------------------------
  // F11: a lease that expires while the job is PREEMPTING (the host stopped the work and its
  // heartbeats) turns a requeue (drain: "requeued, always") into a final FAILED.
  // ---------------------------------------------------------------------------------------

  @Test
  void f11_leaseExpiryDuringAStopRequestFailsAJobThatMustBeRequeued() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1), whole("n2", 1))));
    JobHandle a = s.submit(job("a", 1).leaseTtl(Duration.ofMinutes(1)).gracePeriod(Duration.ofMinutes(5)).build());
    String node = a.allocations().get(0).nodeId();
    s.drain(node, Duration.ofMinutes(10));
    assertThat(a.state()).isEqualTo(JobState.PREEMPTING);
    // the host checkpoints and exits; the process that heartbeated is gone
    h.advance(s, Duration.ofMinutes(2));
    assertThat(a.state()).as("drained jobs are requeued, never failed").isNotEqualTo(JobState.FAILED);
    assertThat(h.events(SchedulerEvent.JobRequeued.class)).extracting(e -> e.jobId()).containsExactly("a");
  }

  @Test
  void aNodeLostAndBackUnderTheSameIdWhileAnotherThreadDispatches() {
    // Launcher calls run on the dispatching thread, so calls made from one are queued behind the
    // pass, as calls from other threads are while someone dispatches.
    var h = new SchedulerHarness();
    var s = (DefaultScheduler) h.builder().nodes(List.of(SchedulerHarness.whole("spot", 1))).build();
    JobHandle a = s.submit(SchedulerHarness.job("a", 1).build());
    s.addNode(SchedulerHarness.whole("n1", 1));
    h.launcher.onStart =
        j -> {
          if (j.id().equals("trigger")) {
            s.nodeDown("spot");
            s.addNode(SchedulerHarness.whole("spot", 1)); // the spot node is back, same id
            s.drain("n1", java.time.Duration.ofHours(1));
          }
        };
    JobHandle trigger = s.submit(SchedulerHarness.job("trigger", 1).build());
    assertThat(trigger.state()).as("the launcher's calls did not throw").isEqualTo(JobState.PREEMPTING);
    assertThat(a.attempts()).isEqualTo(2);
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.allocations().get(0).nodeId()).isEqualTo("spot");
    assertThat(s.cluster().nodes()).extracting(NodeSpec::id).containsExactlyInAnyOrder("spot", "n1");
    trigger.stopped();
    assertThat(trigger.state()).as("requeued; the only other GPU is taken").isEqualTo(JobState.PENDING);
    s.verifyInvariants();
  }

  @Test
  void nodeDownThenAnyNodeCallFromTheSameThreadSeesTheNodeGone() {
    var h = new SchedulerHarness();
    var s = (DefaultScheduler) h.builder().nodes(List.of(SchedulerHarness.whole("n1", 1), SchedulerHarness.whole("n2", 1))).build();
    var errors = new java.util.ArrayList<Throwable>();
    h.launcher.onStart =
        j -> {
          s.nodeDown("n2");
          for (Runnable call :
              List.<Runnable>of(() -> s.nodeDown("n2"), () -> s.cordon("n2"), () -> s.drain("n2", java.time.Duration.ZERO))) {
            try {
              call.run();
            } catch (IllegalArgumentException e) {
              errors.add(e);
            }
          }
        };
    s.submit(SchedulerHarness.job("a", 1).build());
    assertThat(errors).hasSize(3).allSatisfy(e -> assertThat(e).hasMessageContaining("n2"));
    s.verifyInvariants();
  }

  @Test
  void aFinalJobsIdIsFreeEvenBeforeTheDispatcherRetiresIt() {
    var h = new SchedulerHarness();
    var s = (DefaultScheduler) h.builder().nodes(List.of(SchedulerHarness.whole("n1", 2))).build();
    JobHandle first = s.submit(SchedulerHarness.job("a", 1).build());
    var again = new java.util.concurrent.atomic.AtomicReference<JobHandle>();
    h.launcher.onStart =
        j -> {
          if (j.id().equals("b")) {
            // on the dispatching thread: "a" is COMPLETED, its retirement is queued behind us
            first.complete();
            again.set(s.submit(SchedulerHarness.job("a", 1).build()));
          }
        };
    s.submit(SchedulerHarness.job("b", 1).build());
    assertThat(first.state()).isEqualTo(JobState.COMPLETED);
    assertThat(again.get()).isNotNull().isNotSameAs(first);
    assertThat(again.get().state()).isEqualTo(JobState.RUNNING);
    assertThat(s.job("a")).containsSame(again.get());
    assertThat(s.jobs()).filteredOn(j -> j.id().equals("a")).containsExactly(again.get());
    assertThat(catchThrowable(() -> s.submit(SchedulerHarness.job("a", 1).build())))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("a job with id a is RUNNING");
    s.verifyInvariants();
  }
}
