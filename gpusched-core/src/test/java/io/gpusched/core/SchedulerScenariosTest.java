package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.mig;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.CapacityClass;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuProcess;
import io.gpusched.GpuSample;
import io.gpusched.GpuScheduler;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulingPolicy;
import io.gpusched.StopReason;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class SchedulerScenariosTest {

  final SchedulerHarness h = new SchedulerHarness();

  DefaultScheduler build(GpuSchedulers.Builder b) {
    return (DefaultScheduler) b.build();
  }

  @Test
  void aJobStartsInTheCallThatFreedItsCapacity() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    JobHandle a = s.submit(job("a", 2).build());
    JobHandle b = s.submit(job("b", 1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.allocations()).hasSize(1);
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    assertThat(h.launcher.started).containsExactly("a");

    assertThat(a.complete()).isTrue();
    assertThat(b.state()).as("started inside complete()").isEqualTo(JobState.RUNNING);
    assertThat(a.state()).isEqualTo(JobState.COMPLETED);
    assertThat(a.whenFinished()).isCompletedWithValue(JobState.COMPLETED);
    assertThat(b.whenStarted()).isCompleted();
    assertThat(a.complete()).as("second completion").isFalse();
    assertThat(h.events(SchedulerEvent.JobCompleted.class)).hasSize(1);
    s.verifyInvariants();
  }

  @Test
  void borrowedCapacityIsReclaimedAfterTheGracePeriod() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 4)))
                .queue(QueueSpec.builder("A").guaranteedGpus(4).build())
                .queue(QueueSpec.builder("B").build()));
    var bJobs = new ArrayList<JobHandle>();
    for (int i = 0; i < 4; i++) {
      bJobs.add(
          s.submit(
              job("b" + i, 1).queue("B").preemptible(true).gracePeriod(Duration.ofSeconds(30)).build()));
      h.clock.advance(Duration.ofSeconds(1));
    }
    assertThat(bJobs).allMatch(j -> j.state() == JobState.RUNNING);

    JobHandle a = s.submit(job("a", 1).queue("A").build());
    assertThat(a.state()).isEqualTo(JobState.PENDING);
    var req = h.events(SchedulerEvent.PreemptionRequested.class);
    assertThat(req).hasSize(1);
    assertThat(req.get(0).jobId()).as("most recently started = least lost work").isEqualTo("b3");
    assertThat(req.get(0).reason()).isEqualTo(StopReason.QUOTA_RECLAIM);
    assertThat(req.get(0).forJobId()).isEqualTo("a");
    assertThat(bJobs.get(3).state()).isEqualTo(JobState.PREEMPTING);
    assertThat(h.launcher.stops).containsExactly("b3:QUOTA_RECLAIM");

    // A new B job cannot slip into the capacity held for a.
    JobHandle sneaky = s.submit(job("b-late", 1).queue("B").preemptible(true).build());
    h.advance(s, Duration.ofSeconds(29));
    assertThat(a.state()).isEqualTo(JobState.PENDING);
    h.advance(s, Duration.ofSeconds(1));
    assertThat(a.state()).as("within grace + one dispatch").isEqualTo(JobState.RUNNING);
    assertThat(bJobs.get(3).state()).as("requeued").isEqualTo(JobState.PENDING);
    assertThat(sneaky.state()).isEqualTo(JobState.PENDING);
    assertThat(h.events(SchedulerEvent.JobRequeued.class)).extracting(e -> e.jobId()).containsExactly("b3");
    s.verifyInvariants();
  }

  @Test
  void anEarlyStopAcknowledgementReleasesAtOnce() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 1)))
                .queue(QueueSpec.builder("A").guaranteedGpus(1).build())
                .queue(QueueSpec.of("B")));
    JobHandle b = s.submit(job("b", 1).queue("B").preemptible(true).build());
    JobHandle a = s.submit(job("a", 1).queue("A").build());
    assertThat(b.state()).isEqualTo(JobState.PREEMPTING);
    b.checkpoint("s3://ckpt/b-1");
    assertThat(b.stopped()).isTrue();
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    assertThat(b.checkpointRef()).contains("s3://ckpt/b-1");
    var requeued = h.events(SchedulerEvent.JobRequeued.class);
    assertThat(requeued.get(0).checkpointRef()).isEqualTo("s3://ckpt/b-1");
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.attempts()).isEqualTo(2);
  }

  @Test
  void equalQueuesDoNotPingPong() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 4)))
                .queue(QueueSpec.builder("A").guaranteedGpus(2).build())
                .queue(QueueSpec.builder("B").guaranteedGpus(2).build()));
    for (int i = 0; i < 6; i++) {
      s.submit(job("a" + i, 1).queue("A").preemptible(true).gracePeriod(Duration.ZERO).build());
    }
    for (int i = 0; i < 6; i++) {
      s.submit(job("b" + i, 1).queue("B").preemptible(true).gracePeriod(Duration.ZERO).build());
    }
    for (int t = 0; t < 20; t++) {
      h.advance(s, Duration.ofMinutes(1));
    }
    var preempted = h.events(SchedulerEvent.JobPreempted.class);
    assertThat(preempted).hasSize(2);
    assertThat(preempted).allMatch(e -> e.queue().equals("A"));
    assertThat(s.snapshot().queues()).allMatch(q -> q.usedGpus() == 2.0);
    s.verifyInvariants();
  }

  @Test
  void priorityPreemptsLowerPriorityOfTheSameQueueOnly() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))).queue(QueueSpec.of("q")).queue(QueueSpec.of("other")));
    JobHandle low = s.submit(job("low", 1).queue("q").priority(1).preemptible(true).gracePeriod(Duration.ZERO).build());
    JobHandle other = s.submit(job("other", 1).queue("other").priority(0).preemptible(true).build());
    JobHandle high = s.submit(job("high", 1).queue("q").priority(5).build());
    assertThat(high.state()).isEqualTo(JobState.RUNNING);
    assertThat(low.state()).isEqualTo(JobState.PENDING);
    assertThat(other.state()).isEqualTo(JobState.RUNNING);
    assertThat(h.events(SchedulerEvent.JobPreempted.class))
        .singleElement()
        .satisfies(e -> assertThat(e.reason()).isEqualTo(StopReason.PRIORITY));
  }

  @Test
  void minimumRunTimeProtectsFreshJobs() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 1)))
                .minRunTimeBeforePreemption(Duration.ofMinutes(10)));
    s.submit(job("low", 1).preemptible(true).gracePeriod(Duration.ZERO).build());
    JobHandle high = s.submit(job("high", 1).priority(9).build());
    assertThat(high.state()).isEqualTo(JobState.PENDING);
    h.advance(s, Duration.ofMinutes(10));
    assertThat(high.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void aLargeGangStartsOnTimeDespiteAStreamOfSmallJobs() {
    var s = build(h.builder().nodes(List.of(whole("n1", 8), whole("n2", 8), whole("n3", 8))));
    // 24 GPUs busy with 1-GPU jobs of staggered (known) durations.
    Map<String, Long> endAt = new ConcurrentHashMap<>();
    h.launcher.onStart =
        j -> endAt.put(j.id(), h.clock.millis() + j.spec().expectedDuration().toMillis());
    int n = 0;
    for (int i = 0; i < 24; i++) {
      s.submit(job("s" + n++, 1).expectedDuration(Duration.ofMinutes(10 + i)).build());
    }
    JobHandle gang =
        s.submit(
            JobSpec.builder(PlacementRequest.wholeGpus(8, true))
                .id("gang")
                .gangSize(2)
                .expectedDuration(Duration.ofHours(1))
                .build());
    assertThat(gang.state()).isEqualTo(JobState.PENDING);
    long deadline = h.clock.millis() + Duration.ofMinutes(34).toMillis();
    for (int minute = 0; minute < 120 && gang.state() == JobState.PENDING; minute++) {
      // a stream: two new 1-GPU jobs of 30 minutes each minute
      s.submit(job("s" + n++, 1).expectedDuration(Duration.ofMinutes(30)).build());
      s.submit(job("s" + n++, 1).expectedDuration(Duration.ofMinutes(30)).build());
      h.clock.advance(Duration.ofMinutes(1));
      for (JobHandle j : s.jobs()) {
        Long e = endAt.get(j.id());
        if (j.state() == JobState.RUNNING && e != null && e <= h.clock.millis() && !j.id().equals("gang")) {
          j.complete();
        }
      }
      s.tick();
    }
    assertThat(gang.state()).isEqualTo(JobState.RUNNING);
    assertThat(gang.startedAt().orElseThrow().toEpochMilli()).isLessThanOrEqualTo(deadline);
    assertThat(gang.allocations()).hasSize(2);
    assertThat(gang.allocations().get(0).nodeId()).isNotEqualTo(gang.allocations().get(1).nodeId());
    s.verifyInvariants();
  }

  @Test
  void withoutBackfillAnyBlockedHeadHoldsTheLine() {
    var s = build(h.builder().backfill(false).policy(SchedulingPolicy.FIFO).nodes(List.of(whole("n1", 2))));
    s.submit(job("a", 1).build());
    JobHandle big = s.submit(job("big", 2).build());
    JobHandle small = s.submit(job("small", 1).build());
    assertThat(big.state()).isEqualTo(JobState.PENDING);
    assertThat(small.state()).as("strict FIFO").isEqualTo(JobState.PENDING);
  }

  @Test
  void backfillStartsOnlyJobsThatEndBeforeTheReservation() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    JobHandle a = s.submit(job("a", 1).timeLimit(Duration.ofHours(1)).build());
    JobHandle big = s.submit(job("big", 2).build());
    JobHandle longOne = s.submit(job("long", 1).priority(-1).expectedDuration(Duration.ofHours(2)).build());
    JobHandle unknown = s.submit(job("unknown", 1).priority(-1).build());
    JobHandle shortOne = s.submit(job("short", 1).priority(-2).expectedDuration(Duration.ofMinutes(30)).build());
    assertThat(big.state()).isEqualTo(JobState.PENDING);
    assertThat(longOne.state()).isEqualTo(JobState.PENDING);
    assertThat(unknown.state()).isEqualTo(JobState.PENDING);
    assertThat(shortOne.state()).as("ends before a's time limit").isEqualTo(JobState.RUNNING);
    shortOne.complete();
    a.complete();
    assertThat(big.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void nodeLossRequeuesEveryJobOnItAndLosesNone() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2), whole("n2", 2))));
    var jobs = new ArrayList<JobHandle>();
    for (int i = 0; i < 4; i++) {
      jobs.add(s.submit(job("j" + i, 1).build()));
    }
    var onN1 = jobs.stream().filter(j -> j.allocations().get(0).nodeId().equals("n1")).toList();
    assertThat(onN1).hasSize(2);
    s.nodeDown("n1");
    assertThat(onN1).allMatch(j -> j.state() == JobState.PENDING);
    assertThat(h.launcher.stops).contains(onN1.get(0).id() + ":NODE_LOST");
    assertThat(s.jobs()).hasSize(4);
    s.addNode(whole("n3", 2));
    assertThat(jobs).allMatch(j -> j.state() == JobState.RUNNING);
    assertThat(onN1).allMatch(j -> j.attempts() == 2);
    assertThat(h.events(SchedulerEvent.NodeStateChanged.class))
        .anyMatch(e -> e.nodeId().equals("n1") && e.to() == io.gpusched.NodeState.DOWN);
    s.verifyInvariants();
  }

  /**
   * A spread job that loses one node is requeued, and the scheduler releases its severed
   * allocation: its GPUs on the surviving node go to the next job (the engine keeps a severed
   * gang's other GPUs until released, see Allocation#release).
   */
  @Test
  void aSpreadJobLosingOneNodeIsRequeuedAndItsOtherGpusAreFreed() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1), whole("n2", 2))));
    JobHandle spread =
        s.submit(JobSpec.builder(PlacementRequest.wholeGpus(3, false)).id("spread").build());
    assertThat(spread.state()).isEqualTo(JobState.RUNNING);
    assertThat(spread.allocations().get(0).gpus()).hasSize(3);
    JobHandle next = s.submit(job("next", 2).build());
    assertThat(next.state()).isEqualTo(JobState.PENDING);
    s.nodeDown("n1");
    assertThat(spread.state()).isEqualTo(JobState.PENDING);
    assertThat(h.launcher.stops).contains("spread:NODE_LOST");
    assertThat(next.state()).as("n2's GPUs were given back").isEqualTo(JobState.RUNNING);
    assertThat(next.allocations().get(0).gpus()).allMatch(g -> g.nodeId().equals("n2"));
    s.verifyInvariants();
  }

  @Test
  void drainAndSpotInterruptionRequeueAfterTheDeadline() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1), whole("n2", 1))));
    JobHandle a = s.submit(job("a", 1).gracePeriod(Duration.ofMinutes(10)).build());
    String node = a.allocations().get(0).nodeId();
    String other = node.equals("n1") ? "n2" : "n1";
    JobHandle b = s.submit(job("b", 1).build());
    s.drain(node, Duration.ofMinutes(2));
    assertThat(a.state()).isEqualTo(JobState.PREEMPTING);
    assertThat(h.launcher.stops).contains("a:NODE_DRAIN");
    h.advance(s, Duration.ofMinutes(2));
    assertThat(a.state()).isEqualTo(JobState.PENDING);
    b.complete();
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.allocations().get(0).nodeId()).isEqualTo(other);

    s.spotInterruption(other, h.clock.instant().plusSeconds(120));
    assertThat(a.state()).isEqualTo(JobState.PREEMPTING);
    a.stopped();
    assertThat(a.state()).isEqualTo(JobState.PENDING);
    s.uncordon(node);
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void cordonKeepsRunningJobsAndStopsNewOnes() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))));
    JobHandle a = s.submit(job("a", 1).build());
    s.cordon("n1");
    JobHandle b = s.submit(job("b", 1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    s.uncordon("n1");
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void idleReclaimableJobsLoseTheirGpuAfterTheGracePeriod() {
    Map<String, GpuSample> latest = new ConcurrentHashMap<>();
    GpuTelemetry telemetry = (uuid, slot) -> Optional.ofNullable(latest.get(uuid + "/" + slot));
    var policy = new IdlePolicy(5, Duration.ofMinutes(10), false, 1024, Duration.ofMinutes(2));
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 1), mig("m1", 1)))
                .telemetry(telemetry, policy)
                .idleReclaimGrace(Duration.ofMinutes(5)));
    JobHandle nb = s.submit(job("notebook", 1).reclaimWhenIdle(true).build());
    JobHandle train = s.submit(JobSpec.builder(PlacementRequest.mig("1g.10gb")).id("inference").build());
    var g = nb.allocations().get(0).gpus().get(0);
    var m = train.allocations().get(0).gpus().get(0);
    int idleSeen = 0;
    for (int minute = 0; minute <= 16; minute++) {
      long now = h.clock.millis();
      latest.put(g.gpuUuid() + "/-1", GpuSample.builder(g.gpuUuid(), now).utilizationPercent(1).build());
      latest.put(
          m.gpuUuid() + "/" + m.migStartSlot(),
          GpuSample.builder(m.gpuUuid(), now).migStartSlot(m.migStartSlot())
              .processes(List.of(new GpuProcess(4242, 2048))).memory(2100, 9984).build());
      h.advance(s, Duration.ofMinutes(1));
      Map<String, Integer> idleGpus = s.snapshot().idleGpusByModel();
      if (nb.idle() && nb.state() == JobState.RUNNING) {
        idleSeen++;
        assertThat(idleGpus).as("the notebook's GPU, not the busy MIG GPU").isEqualTo(Map.of(g.model(), 1));
      } else {
        assertThat(idleGpus).isEmpty();
      }
    }
    assertThat(idleSeen).as("minutes the notebook sat idle before reclaim").isPositive();
    assertThat(h.events(SchedulerEvent.IdleDetected.class)).extracting(e -> e.jobId()).containsExactly("notebook");
    assertThat(nb.state()).isEqualTo(JobState.PREEMPTED);
    assertThat(nb.endReason()).hasValueSatisfying(r -> assertThat(r).contains("IDLE_RECLAIM"));
    assertThat(h.events(SchedulerEvent.IdleReclaimed.class)).hasSize(1);
    assertThat(train.state()).as("a MIG device with a process is busy").isEqualTo(JobState.RUNNING);
  }

  @Test
  void missingOrStaleTelemetryIsNeverIdle() {
    Map<String, GpuSample> latest = new ConcurrentHashMap<>();
    GpuTelemetry telemetry = (uuid, slot) -> Optional.ofNullable(latest.get(uuid));
    var policy = new IdlePolicy(5, Duration.ofMinutes(5), false, 1024, Duration.ofMinutes(2));
    var s = build(h.builder().nodes(List.of(whole("n1", 2))).telemetry(telemetry, policy).idleReclaimGrace(Duration.ZERO));
    JobHandle a = s.submit(job("a", 1).reclaimWhenIdle(true).build());
    String uuid = a.allocations().get(0).gpus().get(0).gpuUuid();
    latest.put(uuid, GpuSample.builder(uuid, h.clock.millis()).utilizationPercent(0).build());
    for (int i = 0; i < 10; i++) {
      h.advance(s, Duration.ofMinutes(1)); // the one sample goes stale
    }
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.idle()).isFalse();
    latest.put(uuid, GpuSample.lost(uuid, -1, h.clock.millis()));
    h.advance(s, Duration.ofMinutes(1));
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void leasesExpireWithoutHeartbeats() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle a = s.submit(job("a", 1).leaseTtl(Duration.ofMinutes(5)).build());
    h.advance(s, Duration.ofMinutes(4));
    a.heartbeat();
    h.advance(s, Duration.ofMinutes(4));
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    h.advance(s, Duration.ofMinutes(2));
    assertThat(a.state()).isEqualTo(JobState.FAILED);
    assertThat(h.events(SchedulerEvent.LeaseExpired.class)).hasSize(1);
    assertThat(h.launcher.stops).contains("a:LEASE_EXPIRED");
    assertThat(s.cluster().snapshot().total().allocatedPercent()).isZero();
  }

  @Test
  void timeLimitsFailTheJob() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle a = s.submit(job("a", 1).timeLimit(Duration.ofMinutes(30)).build());
    h.advance(s, Duration.ofMinutes(30));
    assertThat(a.state()).isEqualTo(JobState.FAILED);
    assertThat(a.endReason().orElseThrow()).contains("time limit");
  }

  @Test
  void cancelWorksOnPendingAndRunningJobs() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle a = s.submit(job("a", 1).build());
    JobHandle b = s.submit(job("b", 1).build());
    assertThat(b.cancel()).isTrue();
    assertThat(b.cancel()).isFalse();
    assertThat(b.whenStarted()).isCompletedExceptionally();
    assertThat(b.whenStarted()).failsWithin(Duration.ZERO)
        .withThrowableOfType(java.util.concurrent.ExecutionException.class)
        .havingCause()
        .isInstanceOf(IllegalStateException.class)
        .withMessage("job b ended CANCELLED without starting")
        .satisfies(e -> assertThat(e.getStackTrace()).as("no stack trace: the dispatcher's is noise").isEmpty());
    assertThat(a.cancel()).isTrue();
    assertThat(h.launcher.stops).containsExactly("a:CANCELLED");
    assertThat(h.events(SchedulerEvent.JobCancelled.class)).extracting(e -> e.from())
        .containsExactly(JobState.PENDING, JobState.RUNNING);
    assertThat(s.snapshot().jobsByState()).containsEntry(JobState.CANCELLED, 2);
    s.verifyInvariants();
  }

  @Test
  void costAccruesPerGpuHourAndPerQueue() {
    NodeSpec n = NodeSpec.builder("n1").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(2.5).build();
    NodeSpec m = NodeSpec.builder("m1").gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).pricePerGpuHour(7).build();
    var s = build(h.builder().nodes(List.of(n, m)));
    JobHandle a = s.submit(job("a", 2).build());
    JobHandle b = s.submit(JobSpec.builder(PlacementRequest.mig("1g.10gb")).id("b").build());
    h.clock.advance(Duration.ofMinutes(30));
    assertThat(a.cost()).isCloseTo(2.5, org.assertj.core.data.Offset.offset(1e-9));
    a.complete();
    b.complete();
    assertThat(b.cost()).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(s.snapshot().queues().get(0).cost()).isCloseTo(3.0, org.assertj.core.data.Offset.offset(1e-9));
  }

  @Test
  void preferCheapestPicksTheLowestPriceAndSpotForPreemptibleJobs() {
    NodeSpec dear = NodeSpec.builder("dear").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(4).build();
    NodeSpec cheap = NodeSpec.builder("cheap").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(2).build();
    NodeSpec spot =
        NodeSpec.builder("spot").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(3)
            .capacityClass(CapacityClass.SPOT).build();
    var s = build(h.builder().nodes(List.of(dear, cheap, spot)).preferCheapest(true));
    assertThat(s.submit(job("a", 1).build()).allocations().get(0).nodeId()).isEqualTo("cheap");
    assertThat(s.submit(job("p", 1).preemptible(true).build()).allocations().get(0).nodeId()).isEqualTo("spot");
    assertThat(s.submit(job("b", 1).build()).allocations().get(0).nodeId()).isEqualTo("cheap");
    // not preemptible, and the queue does not allow spot: on-demand only, the dearer node
    assertThat(s.submit(job("c", 1).build()).allocations().get(0).nodeId()).isEqualTo("dear");
    assertThat(s.submit(job("d", 1).build()).allocations().get(0).nodeId()).isEqualTo("dear");
  }

  @Test
  void borrowLimitsAndLendLimitsAreRespected() {
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 4)))
                .queue(QueueSpec.builder("capped").guaranteedGpus(1).borrowLimitGpus(1).build())
                .queue(QueueSpec.builder("owner").guaranteedGpus(2).lendLimitGpus(0).build()));
    var capped = new ArrayList<JobHandle>();
    for (int i = 0; i < 4; i++) {
      capped.add(s.submit(job("c" + i, 1).queue("capped").build()));
    }
    assertThat(capped.stream().filter(j -> j.state() == JobState.RUNNING)).hasSize(2);
    // owner's 2 GPUs were never lent, so both of its jobs start at once without preemption
    JobHandle o1 = s.submit(job("o1", 1).queue("owner").build());
    JobHandle o2 = s.submit(job("o2", 1).queue("owner").build());
    assertThat(o1.state()).isEqualTo(JobState.RUNNING);
    assertThat(o2.state()).isEqualTo(JobState.RUNNING);
    assertThat(h.events(SchedulerEvent.PreemptionRequested.class)).isEmpty();
  }

  @Test
  void fairShareAlternatesBetweenEqualQueues() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))).queue(QueueSpec.of("A")).queue(QueueSpec.of("B"))
        .fairShareHalfLife(Duration.ZERO));
    var handles = new ArrayList<JobHandle>();
    for (int i = 0; i < 5; i++) {
      handles.add(s.submit(job("a" + i, 1).queue("A").build()));
    }
    for (int i = 0; i < 5; i++) {
      handles.add(s.submit(job("b" + i, 1).queue("B").build()));
    }
    for (int i = 0; i < 9; i++) {
      handles.stream().filter(j -> j.state() == JobState.RUNNING).findFirst().orElseThrow().complete();
    }
    assertThat(h.launcher.started).containsExactly("a0", "b0", "a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4");
  }

  @Test
  void fairShareRemembersRecentUsageWithAHalfLife() {
    var s = build(h.builder().nodes(List.of(whole("n1", 2))).queue(QueueSpec.of("A")).queue(QueueSpec.of("B"))
        .fairShareHalfLife(Duration.ofHours(1)));
    JobHandle a0 = s.submit(job("a0", 2).queue("A").build());
    h.advance(s, Duration.ofHours(2));
    s.submit(job("a1", 2).queue("A").build());
    s.submit(job("b1", 2).queue("B").build());
    a0.complete();
    // nothing runs now; A's recent use (not its older submission) puts B first
    assertThat(h.launcher.started).containsExactly("a0", "b1");
  }

  @Test
  void listenerFailuresNeverBreakScheduling() {
    var s = build(h.builder().nodes(List.of(whole("n1", 1))).listener(e -> {
      throw new IllegalStateException("boom");
    }));
    JobHandle a = s.submit(job("a", 1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.complete()).isTrue();
  }

  @Test
  void aLauncherThatThrowsFailsTheJobAndFreesTheGpu() {
    h.launcher.onStart = j -> {
      if (j.id().equals("bad")) {
        throw new IllegalStateException("no container runtime");
      }
    };
    var s = build(h.builder().nodes(List.of(whole("n1", 1))));
    JobHandle bad = s.submit(job("bad", 1).build());
    JobHandle next = s.submit(job("next", 1).build());
    assertThat(bad.state()).isEqualTo(JobState.FAILED);
    assertThat(bad.endReason().orElseThrow()).contains("no container runtime");
    assertThat(next.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void badInputIsRejectedWithTheBadValueNamed() {
    GpuScheduler s = build(h.builder().nodes(List.of(whole("n1", 1))));
    assertThatThrownBy(() -> s.submit(job("x", 1).queue("nope").build()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nope");
    s.submit(job("x", 1).build());
    assertThatThrownBy(() -> s.submit(job("x", 1).build()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x");
    assertThatThrownBy(() -> s.cordon("ghost")).hasMessageContaining("ghost");
    assertThatThrownBy(() -> s.drain("n1", Duration.ofSeconds(-1))).hasMessageContaining("PT-1S");
    assertThatThrownBy(() -> GpuSchedulers.newBuilder().fairShareHalfLife(Duration.ofSeconds(-1)))
        .hasMessageContaining("fairShareHalfLife");
    assertThatThrownBy(() -> QueueSpec.builder("q").weight(0).build()).hasMessageContaining("weight");
    assertThatThrownBy(() -> QueueSpec.builder("q").modelQuota("H100-80GB", -1, 0))
        .hasMessageContaining("guaranteedGpus").hasMessageContaining("-1");
    assertThatThrownBy(() -> job("g", 1).gangSize(0).build()).hasMessageContaining("gangSize");
    assertThat(s.jobs()).hasSize(1);
    assertThat(s.isClosed()).isFalse();
    s.close();
    assertThat(s.isClosed()).isTrue();
    assertThatThrownBy(() -> s.submit(job("y", 1).build())).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> s.cordon("n1")).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void snapshotReportsQueuesEntitlementAndCapacity() {
    var s = build(h.builder().nodes(List.of(whole("n1", 4)))
        .queue(QueueSpec.builder("A").weight(3).build()).queue(QueueSpec.of("B")).queue(QueueSpec.of("idle")));
    s.submit(job("a", 4).queue("A").build());
    s.submit(job("b", 1).queue("B").build());
    var snap = s.snapshot();
    assertThat(snap.capacityGpus()).isEqualTo(4.0);
    var a = snap.queues().get(0);
    assertThat(a.usedGpus()).isEqualTo(4.0);
    assertThat(a.entitledGpus()).isEqualTo(3.0);
    assertThat(snap.queues().get(1).pendingJobs()).isEqualTo(1);
    assertThat(snap.queues().get(1).entitledGpus()).isEqualTo(1.0);
    assertThat(snap.queues().get(2).entitledGpus()).isZero();
    assertThat(snap.jobsByState()).containsEntry(JobState.RUNNING, 1).containsEntry(JobState.PENDING, 1);
  }

  @Test
  void perModelLimitsSendJobsToOtherModels() {
    NodeSpec a100 = NodeSpec.builder("a").gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE).build();
    NodeSpec h100 = NodeSpec.builder("h").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build();
    var s =
        build(
            h.builder()
                .nodes(List.of(a100, h100))
                .queue(QueueSpec.builder("team").modelQuota(GpuModels.A100_80GB.name(), 1, 1).build()));
    var jobs = new ArrayList<JobHandle>();
    for (int i = 0; i < 6; i++) {
      jobs.add(s.submit(job("j" + i, 1).queue("team").build()));
    }
    assertThat(jobs).allMatch(j -> j.state() == JobState.RUNNING);
    long onA100 = jobs.stream().filter(j -> j.allocations().get(0).nodeId().equals("a")).count();
    assertThat(onA100).isEqualTo(2);
    JobHandle pinned =
        s.submit(
            JobSpec.builder(
                    PlacementRequest.wholeGpus(1)
                        .withConstraints(io.gpusched.Constraints.models(GpuModels.A100_80GB.name())))
                .id("pinned")
                .queue("team")
                .build());
    assertThat(pinned.state()).as("A100 limit reached, though A100s are free").isEqualTo(JobState.PENDING);
    s.verifyInvariants();
  }

  @Test
  void aPerModelGuaranteeIsReclaimedOnThatModel() {
    NodeSpec a100 = NodeSpec.builder("a").gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build();
    NodeSpec h100 = NodeSpec.builder("h").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).build();
    var s =
        build(
            h.builder()
                .nodes(List.of(a100, h100))
                .queue(QueueSpec.builder("owner").modelQuota(GpuModels.H100_80GB.name(), 2, 0).build())
                .queue(QueueSpec.of("other")));
    for (int i = 0; i < 4; i++) {
      s.submit(job("o" + i, 1).queue("other").preemptible(true).gracePeriod(Duration.ZERO).build());
    }
    JobHandle mine =
        s.submit(
            JobSpec.builder(
                    PlacementRequest.wholeGpus(1)
                        .withConstraints(io.gpusched.Constraints.models(GpuModels.H100_80GB.name())))
                .id("mine")
                .queue("owner")
                .build());
    assertThat(mine.state()).isEqualTo(JobState.RUNNING);
    assertThat(mine.allocations().get(0).nodeId()).isEqualTo("h");
    var preempted = h.events(SchedulerEvent.JobPreempted.class);
    assertThat(preempted).singleElement().satisfies(e -> assertThat(e.reason()).isEqualTo(StopReason.QUOTA_RECLAIM));
    s.verifyInvariants();
  }

  @Test
  void wholeGpuJobsOnEmptySharedGpusAreReclaimableToo() {
    NodeSpec shared = NodeSpec.builder("s").gpus(1, GpuModels.H100_80GB, GpuMode.SHARED).build();
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("w", 1), shared))
                .queue(QueueSpec.builder("A").guaranteedGpus(2).build())
                .queue(QueueSpec.of("B")));
    JobHandle b1 = s.submit(job("b1", 1).queue("B").preemptible(true).gracePeriod(Duration.ZERO).build());
    JobHandle b2 = s.submit(job("b2", 1).queue("B").preemptible(true).gracePeriod(Duration.ZERO).build());
    assertThat(List.of(b1, b2)).allMatch(j -> j.state() == JobState.RUNNING);
    JobHandle a1 = s.submit(job("a1", 1).queue("A").build());
    JobHandle a2 = s.submit(job("a2", 1).queue("A").build());
    h.advance(s, Duration.ofSeconds(1));
    assertThat(List.of(a1, a2)).allMatch(j -> j.state() == JobState.RUNNING);
    assertThat(h.events(SchedulerEvent.JobPreempted.class)).hasSize(2);
    s.verifyInvariants();
  }

  @Test
  void aLateReportFromAnEarlierRunCannotEndTheNewRun() {
    var runs = new ArrayList<JobHandle>();
    h.launcher.onStart = runs::add;
    var s = build(h.builder().nodes(List.of(whole("n1", 1), whole("n2", 1))));
    JobHandle job = s.submit(job("a", 1).build());
    JobHandle firstRun = runs.get(0);
    String lost = job.allocations().get(0).nodeId();
    s.nodeDown(lost); // requeued, and started at once on the other node
    assertThat(job.state()).isEqualTo(JobState.RUNNING);
    assertThat(job.attempts()).isEqualTo(2);
    JobHandle secondRun = runs.get(1);
    assertThat(secondRun.allocations().get(0).nodeId()).isNotEqualTo(lost);

    // the host of the lost node reports late
    assertThat(firstRun.complete()).isFalse();
    assertThat(firstRun.fail("connection reset")).isFalse();
    assertThat(firstRun.cancel()).isFalse();
    assertThat(firstRun.allocations()).isEmpty();
    firstRun.checkpoint("stale");
    assertThat(job.state()).isEqualTo(JobState.RUNNING);
    assertThat(job.checkpointRef()).isEmpty();

    assertThat(secondRun.complete()).isTrue();
    assertThat(job.state()).isEqualTo(JobState.COMPLETED);
    s.verifyInvariants();
  }

  @Test
  void thePlacementObserverTimesEachEngineCallAndCannotBreakPlacement() {
    record Call(GpuDemand demand, boolean placed, long nanos) {}
    var calls = new java.util.concurrent.CopyOnWriteArrayList<Call>();
    var s =
        build(
            h.builder()
                .nodes(List.of(whole("n1", 2)))
                .placementObserver((d, placed, nanos) -> calls.add(new Call(d, placed, nanos))));
    JobHandle a = s.submit(job("a", 2).gangSize(1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(calls).hasSize(1);
    assertThat(calls.get(0).demand()).isEqualTo(new GpuDemand.Whole(2, false));
    assertThat(calls.get(0).placed()).isTrue();
    assertThat(calls.get(0).nanos()).isNotNegative();

    var t = new SchedulerHarness();
    var throwing =
        build(
            t.builder()
                .nodes(List.of(whole("n1", 2)))
                .placementObserver(
                    (d, placed, nanos) -> {
                      throw new IllegalStateException("observer bug");
                    }));
    JobHandle b = throwing.submit(job("b", 1).gangSize(2).build());
    assertThat(b.state()).as("the observer's exception is logged, the gang still starts")
        .isEqualTo(JobState.RUNNING);
    assertThat(b.allocations()).hasSize(2);
    throwing.verifyInvariants();
    s.verifyInvariants();
  }

  @Test
  void aGangOfMigInstancesPreemptsTheFewestJobs() {
    var s = build(h.builder().nodes(List.of(mig("m", 2))));
    var low = new ArrayList<JobHandle>();
    for (int i = 0; i < 14; i++) {
      low.add(s.submit(JobSpec.builder(PlacementRequest.mig("1g.10gb")).id("low" + i).preemptible(true)
          .gracePeriod(Duration.ofMinutes(1)).build()));
    }
    assertThat(low).allMatch(j -> j.state() == JobState.RUNNING); // 7 per GPU, slots 0..6
    JobHandle gang = s.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id("gang").gangSize(2)
        .priority(10).build());
    // A 3g.40gb needs slots 4-7 (three 1g instances) or 0-3 (four): one member per GPU costs 3 + 3,
    // both on one GPU 7.
    List<JobHandle> stopping = low.stream().filter(j -> j.state() == JobState.PREEMPTING).toList();
    assertThat(stopping)
        .as(() -> stopping.stream().map(j -> j.id() + "@" + j.allocations().get(0).gpus().get(0).gpuIndex() + ":"
            + j.allocations().get(0).gpus().get(0).migStartSlot()).toList().toString())
        .hasSize(6);
    assertThat(gang.pendingReason()).contains(io.gpusched.PendingReason.PREEMPTION);
    stopping.forEach(JobHandle::stopped);
    assertThat(gang.state()).isEqualTo(JobState.RUNNING);
    assertThat(gang.allocations()).hasSize(2);
    assertThat(gang.allocations().stream().map(a -> a.gpus().get(0).gpuUuid()).distinct()).hasSize(2);
    assertThat(low.stream().filter(j -> j.state() == JobState.RUNNING)).hasSize(8);
    s.verifyInvariants();
  }

  @Test
  void aGangOfSharesPreemptsOneJobPerGpu() {
    NodeSpec shared = NodeSpec.builder("s").gpus(2, GpuModels.H100_80GB, GpuMode.SHARED).build();
    var s = build(h.builder().nodes(List.of(shared)));
    var low = new ArrayList<JobHandle>();
    for (int i = 0; i < 4; i++) {
      low.add(s.submit(JobSpec.builder(PlacementRequest.share(400, 20_000)).id("low" + i).preemptible(true)
          .gracePeriod(Duration.ZERO).requeueOnPreemption(false).build()));
    }
    assertThat(low).allMatch(j -> j.state() == JobState.RUNNING);
    JobHandle gang = s.submit(JobSpec.builder(PlacementRequest.share(600, 20_000)).id("gang").gangSize(2)
        .priority(10).build());
    // Two 600s never fit on one GPU (1000 milli); one 400 leaving each GPU makes room for one.
    assertThat(gang.state()).isEqualTo(JobState.RUNNING);
    assertThat(low.stream().filter(j -> j.state() == JobState.PREEMPTED)).hasSize(2);
    assertThat(gang.allocations().stream().map(a -> a.gpus().get(0).gpuIndex()).distinct()).hasSize(2);
    s.verifyInvariants();
  }

  @Test
  void aMigPreemptionFreesTheCheapestAlignedBlock() {
    var s = build(h.builder().nodes(List.of(mig("m", 1))));
    var low = new ArrayList<JobHandle>();
    for (int i = 0; i < 7; i++) {
      low.add(s.submit(JobSpec.builder(PlacementRequest.mig("1g.10gb")).id("low" + i).preemptible(true)
          .gracePeriod(Duration.ZERO).requeueOnPreemption(false).build()));
    }
    JobHandle big = s.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id("big").priority(10).build());
    // slots 4-7 hold three 1g instances (slot 7 is never a 1g start), slots 0-3 four
    assertThat(big.state()).isEqualTo(JobState.RUNNING);
    assertThat(big.allocations().get(0).gpus().get(0).migStartSlot()).isEqualTo(4);
    assertThat(low.stream().filter(j -> j.state() == JobState.PREEMPTED)).hasSize(3);
    s.verifyInvariants();
  }

  @Test
  void aModelLendLimitKeepsPartOfAGuaranteeFreeForItsOwner() {
    NodeSpec h100 = NodeSpec.builder("h").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build();
    NodeSpec a100 = NodeSpec.builder("a").gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE).build();
    var s =
        build(
            h.builder()
                .nodes(List.of(h100, a100))
                .preemption(false)
                .queue(QueueSpec.builder("owner")
                    .modelQuota("H100-80GB", new io.gpusched.ModelQuota(4, 0, 1)).build())
                .queue(QueueSpec.of("other")));
    var other = new ArrayList<JobHandle>();
    for (int i = 0; i < 6; i++) {
      other.add(s.submit(job("o" + i, 1).queue("other").build()));
    }
    // all four A100s, and one H100 of the owner's four unused (lend limit 1)
    assertThat(other.stream().filter(j -> j.state() == JobState.RUNNING)).hasSize(5);
    assertThat(other.stream().flatMap(j -> j.allocations().stream())
        .filter(a -> a.gpus().get(0).model().equals("H100-80GB"))).hasSize(1);
    JobHandle waiting = other.stream().filter(j -> j.state() == JobState.PENDING).findFirst().orElseThrow();
    assertThat(waiting.pendingReason()).contains(io.gpusched.PendingReason.QUOTA);

    var own = new ArrayList<JobHandle>();
    for (int i = 0; i < 3; i++) {
      own.add(s.submit(job("w" + i, 1).queue("owner").build()));
    }
    assertThat(own).allMatch(j -> j.state() == JobState.RUNNING);
    assertThat(waiting.state()).as("still kept out").isEqualTo(JobState.PENDING);
    s.verifyInvariants();
  }
}
