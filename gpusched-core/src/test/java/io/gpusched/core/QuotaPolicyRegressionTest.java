package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PendingReason;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Issue 10, scheduler items 3, 5, 6, 7 and the quota/preemption points of item 9: each test failed
 * on the reviewed code (ca7d04c).
 */
class QuotaPolicyRegressionTest {

  final SchedulerHarness h = new SchedulerHarness();

  DefaultScheduler build(GpuSchedulers.Builder b) {
    return (DefaultScheduler) b.build();
  }

  static NodeSpec node(String id, int gpus, io.gpusched.GpuModel model, GpuMode mode) {
    return NodeSpec.builder(id).gpus(gpus, model, mode).build();
  }

  // ---------------------------------------------------------------------------------------
  // Item 3: victim planning ignored the models the job's queue quotas allow. It preempted an
  // H100 job for a job that may not use H100, which then could not start, every minute.
  // ---------------------------------------------------------------------------------------

  @Test
  void item3_reclaimPreemptsOnlyOnModelsTheQueueQuotaAllows() {
    var s =
        build(
            h.builder()
                .nodes(
                    List.of(
                        node("a100", 4, GpuModels.A100_80GB, GpuMode.WHOLE),
                        node("h100", 4, GpuModels.H100_80GB, GpuMode.WHOLE)))
                .queue(
                    QueueSpec.builder("A")
                        .guaranteedGpus(4)
                        .modelQuota(GpuModels.H100_80GB.name(), 0, 0)
                        .build())
                .queue(QueueSpec.of("B")));
    var b = new ArrayList<JobHandle>();
    for (int i = 0; i < 8; i++) {
      b.add(s.submit(job("b" + i, 1).queue("B").preemptible(true).gracePeriod(Duration.ZERO).build()));
      h.clock.advance(Duration.ofSeconds(1)); // later jobs lose less work: the H100 ones come last
    }
    assertThat(b).allMatch(j -> j.state() == JobState.RUNNING);
    assertThat(b.stream().filter(j -> j.allocations().get(0).nodeId().equals("h100")).count())
        .as("B fills both nodes")
        .isEqualTo(4);

    JobHandle a = s.submit(job("a", 1).queue("A").build());
    for (int minute = 0; minute < 10; minute++) {
      h.advance(s, Duration.ofMinutes(1));
    }
    var preempted = h.events(SchedulerEvent.JobPreempted.class);
    assertThat(preempted).as("one victim, for a job that then starts").hasSize(1);
    String victim = preempted.get(0).jobId();
    assertThat(b.stream().filter(j -> j.id().equals(victim)).findFirst().orElseThrow().attempts())
        .isEqualTo(1);
    assertThat(h.events(SchedulerEvent.PreemptionRequested.class))
        .singleElement()
        .satisfies(e -> assertThat(e.forJobId()).isEqualTo("a"));
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.allocations().get(0).nodeId()).as("A may not use H100").isEqualTo("a100");
    s.verifyInvariants();
  }

  // ---------------------------------------------------------------------------------------
  // Item 7: a MIG profile no node offers read QUOTA in a queue with model quotas: no pool was
  // compatible, so "no model allowed" was taken for a quota refusal.
  // ---------------------------------------------------------------------------------------

  @Test
  void item7_aMistypedMigProfileIsUnschedulableNotQuota() {
    var s =
        build(
            h.builder()
                .nodes(List.of(SchedulerHarness.mig("m", 1)))
                .queue(QueueSpec.builder("A").modelQuota(GpuModels.H100_80GB.name(), 1, 0).build()));
    JobHandle typo =
        s.submit(JobSpec.builder(PlacementRequest.mig("3g.40g")).id("typo").queue("A").build());
    JobHandle unknownModel =
        s.submit(
            JobSpec.builder(
                    PlacementRequest.wholeGpus(1).withConstraints(Constraints.models("H100-80G")))
                .id("unknown-model")
                .queue("A")
                .build());
    JobHandle fine = s.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id("fine").queue("A").build());
    assertThat(fine.state()).isEqualTo(JobState.RUNNING);
    assertThat(typo.pendingReason()).contains(PendingReason.UNSCHEDULABLE);
    assertThat(unknownModel.pendingReason()).contains(PendingReason.UNSCHEDULABLE);
    // Once a node offers it, it starts like any job (the quota then applies: 3/7 + 3/7 <= 1).
    s.addNode(
        NodeSpec.builder("m2")
            .gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
            .build());
    JobHandle second = s.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id("second").queue("A").build());
    assertThat(second.state()).isEqualTo(JobState.RUNNING);
    assertThat(typo.pendingReason()).contains(PendingReason.UNSCHEDULABLE);
    s.verifyInvariants();
  }

  // ---------------------------------------------------------------------------------------
  // Item 5: limits near Double.MAX_VALUE saturated to Long.MAX_VALUE milli-GPU and then
  // overflowed when added (guarantee + borrow limit < 0): every job waited on QUOTA forever.
  // ---------------------------------------------------------------------------------------

  @Test
  void item5_everyLimitAcceptsItsWholeRangeWithoutOverflow() {
    String h100 = GpuModels.H100_80GB.name();
    double max = Double.MAX_VALUE;
    double inf = Double.POSITIVE_INFINITY;
    List<QueueSpec> specs =
        List.of(
            QueueSpec.builder("A").guaranteedGpus(8).borrowLimitGpus(max).build(),
            QueueSpec.builder("A").guaranteedGpus(max).build(),
            QueueSpec.builder("A").guaranteedGpus(max).borrowLimitGpus(max).lendLimitGpus(max).build(),
            QueueSpec.builder("A").guaranteedGpus(1e300).borrowLimitGpus(1e300).lendLimitGpus(0).build(),
            QueueSpec.builder("A").weight(max).guaranteedGpus(4).borrowLimitGpus(max).lendLimitGpus(1).build(),
            QueueSpec.builder("A").modelQuota(h100, 8, max).build(),
            QueueSpec.builder("A").modelQuota(h100, max, max).build(),
            QueueSpec.builder("A").modelQuota(h100, new io.gpusched.ModelQuota(max, inf, max)).build(),
            QueueSpec.builder("A").modelQuota(h100, new io.gpusched.ModelQuota(1, max, 0)).build());
    for (QueueSpec spec : specs) {
      var harness = new SchedulerHarness();
      var s =
          (DefaultScheduler)
              harness
                  .builder()
                  .nodes(List.of(SchedulerHarness.whole("n", 2)))
                  .queue(spec)
                  .queue(QueueSpec.builder("B").weight(max).lendLimitGpus(max).build())
                  .build();
      JobHandle a = s.submit(job("a", 1).queue("A").build());
      JobHandle b = s.submit(job("b", 1).queue("A").build());
      assertThat(List.of(a, b)).as("both start under %s", spec).allMatch(j -> j.state() == JobState.RUNNING);
      s.submit(job("c", 1).queue("B").build()); // B has work too: weights are summed
      var stats = s.snapshot().queues();
      assertThat(stats)
          .as("snapshot under %s", spec)
          .allSatisfy(q -> assertThat(q.entitledGpus()).isBetween(0.0, 2.0));
      s.verifyInvariants();
      s.close();
    }
  }

  // ---------------------------------------------------------------------------------------
  // Item 6: a memory-only share, share(0, memoryMiB), counted as zero GPU-equivalents: eight ran
  // in a queue with borrow limit 0, and their usage and cost read 0.
  // ---------------------------------------------------------------------------------------

  @Test
  void item6_gpuMemoryCountsTowardQuotasUsageFairShareAndCost() {
    long gpuMem = GpuModels.H100_80GB.memoryMiB();
    long quarter = gpuMem / 4; // a quarter of the memory, no compute
    var s =
        build(
            h.builder()
                .nodes(
                    List.of(
                        NodeSpec.builder("s")
                            .gpus(2, GpuModels.H100_80GB, GpuMode.SHARED)
                            .pricePerGpuHour(4.0)
                            .build()))
                .queue(QueueSpec.builder("A").guaranteedGpus(1).borrowLimitGpus(0).build()));
    var jobs = new ArrayList<JobHandle>();
    for (int i = 0; i < 8; i++) {
      jobs.add(s.submit(JobSpec.builder(PlacementRequest.share(0, quarter)).id("m" + i).queue("A").build()));
    }
    assertThat(jobs.stream().filter(j -> j.state() == JobState.RUNNING).count())
        .as("a quarter of a GPU's memory is a quarter of a GPU: four fit in a 1-GPU quota")
        .isEqualTo(4);
    assertThat(jobs.get(4).pendingReason()).as("the lane head").contains(PendingReason.QUOTA);
    var a = s.snapshot().queues().get(0);
    assertThat(a.usedGpus()).isCloseTo(1.0, org.assertj.core.api.Assertions.within(0.01));
    assertThat(a.dominantShare()).as("fair share sees the memory").isGreaterThan(0);
    h.clock.advance(Duration.ofHours(1));
    assertThat(jobs.get(0).cost()).as("a quarter GPU for an hour at 4/GPU-hour").isCloseTo(4.0 * quarter / gpuMem, org.assertj.core.api.Assertions.within(1e-6));
    // The larger of the two fractions counts: 100 milli-GPU with half the memory is half a GPU.
    for (int i = 4; i < 8; i++) {
      assertThat(jobs.get(i).cancel()).isTrue(); // the waiting ones leave
    }
    jobs.get(0).complete();
    jobs.get(1).complete();
    JobHandle half =
        s.submit(JobSpec.builder(PlacementRequest.share(100, gpuMem / 2)).id("half").queue("A").build());
    assertThat(half.state()).isEqualTo(JobState.RUNNING);
    assertThat(s.snapshot().queues().get(0).usedGpus()).isCloseTo(1.0, org.assertj.core.api.Assertions.within(0.01));
    s.verifyInvariants();
  }

  // ---------------------------------------------------------------------------------------
  // Item 9: a reclaim plan that would take a victim queue below its guarantee was dropped and
  // never replanned, although other victims would have done.
  // ---------------------------------------------------------------------------------------

  @Test
  void item9_aRejectedReclaimPlanIsReplannedWithoutTheVictimThatBrokeIt() {
    var s =
        build(
            h.builder()
                .nodes(List.of(SchedulerHarness.whole("n", 4)))
                .queue(QueueSpec.builder("A").guaranteedGpus(2).build())
                .queue(QueueSpec.builder("B").guaranteedGpus(2).build())
                .queue(QueueSpec.of("C")));
    JobHandle c0 = s.submit(job("c0", 1).queue("C").preemptible(true).gracePeriod(Duration.ZERO).build());
    h.clock.advance(Duration.ofMinutes(1));
    for (int i = 0; i < 3; i++) {
      // B borrows one GPU; its jobs are the newest, so the cheapest victims.
      s.submit(job("b" + i, 1).queue("B").preemptible(true).gracePeriod(Duration.ZERO).build());
      h.clock.advance(Duration.ofSeconds(1));
    }
    assertThat(c0.state()).isEqualTo(JobState.RUNNING);
    // Within A's guarantee. The cheapest plan, b2 and b1, would leave B below its guarantee.
    JobHandle a = s.submit(job("a", 2).queue("A").build());
    for (int t = 0; t < 3; t++) {
      h.advance(s, Duration.ofSeconds(1));
    }
    assertThat(h.events(SchedulerEvent.JobPreempted.class))
        .extracting(SchedulerEvent.JobPreempted::jobId)
        .as("B gives back only what it borrowed; C gives back the rest")
        .containsExactlyInAnyOrder("b2", "c0");
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(s.snapshot().queues().get(1).usedGpus()).as("B keeps its guarantee").isEqualTo(2.0);
    s.verifyInvariants();
  }

  // ---------------------------------------------------------------------------------------
  // Item 9: for same-node whole-GPU requests the planner took the first node of least victims
  // in hash-map order (here n1, whose victim has run longest), not a documented choice.
  // ---------------------------------------------------------------------------------------

  @Test
  void item9_sameNodePlanningBreaksTiesByLostWorkThenNodeId() {
    var s =
        build(
            h.builder()
                .nodes(
                    List.of(
                        NodeSpec.builder("n1").label("at", "n1").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).build(),
                        NodeSpec.builder("n2").label("at", "n2").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
                .queue(QueueSpec.builder("A").guaranteedGpus(4).build())
                .queue(QueueSpec.of("B")));
    JobHandle old = s.submit(pinned("old", "n1"));
    h.clock.advance(Duration.ofHours(1));
    JobHandle fresh = s.submit(pinned("fresh", "n2"));
    h.clock.advance(Duration.ofMinutes(1));
    assertThat(List.of(old, fresh)).allMatch(j -> j.state() == JobState.RUNNING);
    // Either node needs one victim; the one that loses a minute of work goes, not the hour.
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(2, true)).id("a").queue("A").build());
    assertThat(h.events(SchedulerEvent.PreemptionRequested.class))
        .extracting(SchedulerEvent.PreemptionRequested::jobId)
        .containsExactly("fresh");
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.allocations().get(0).nodeId()).isEqualTo("n2");
    s.verifyInvariants();
  }

  static JobSpec pinned(String id, String node) {
    return JobSpec.builder(PlacementRequest.wholeGpus(1).withConstraints(Constraints.NONE.withLabel("at", node)))
        .id(id)
        .queue("B")
        .preemptible(true)
        .gracePeriod(Duration.ZERO)
        .build();
  }

  // ---------------------------------------------------------------------------------------
  // Item 3, more generally: a plan must let the job start under every constraint it has. The
  // planner ignored host CPU and memory, so freeing a GPU on a node whose CPU another job holds
  // preempted a victim every minute for a job that could never start there.
  // ---------------------------------------------------------------------------------------

  @Test
  void item3_noPreemptionWhenTheNodesHostResourcesCouldNotTakeTheJob() {
    var s =
        build(
            h.builder()
                .nodes(
                    List.of(
                        NodeSpec.builder("n")
                            .gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE)
                            .hostResources(8_000, 64_000)
                            .build()))
                .queue(QueueSpec.builder("A").guaranteedGpus(2).build())
                .queue(QueueSpec.of("B")));
    JobHandle hog =
        s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1).withHost(7_000, 1_000)).id("hog").queue("B").build());
    JobHandle small =
        s.submit(
            JobSpec.builder(PlacementRequest.wholeGpus(1).withHost(1_000, 1_000))
                .id("small")
                .queue("B")
                .preemptible(true)
                .gracePeriod(Duration.ZERO)
                .build());
    assertThat(List.of(hog, small)).allMatch(j -> j.state() == JobState.RUNNING);
    // Needs 4 cores: even with "small" gone only 1 is free, and "hog" is not preemptible.
    JobHandle a =
        s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1).withHost(4_000, 1_000)).id("a").queue("A").build());
    for (int minute = 0; minute < 10; minute++) {
      h.advance(s, Duration.ofMinutes(1));
    }
    assertThat(h.events(SchedulerEvent.PreemptionRequested.class)).as("no futile preemption").isEmpty();
    assertThat(small.attempts()).isEqualTo(1);
    assertThat(a.pendingReason()).contains(PendingReason.CAPACITY);
    // Once the hog leaves, the same plan works: "a" starts without preempting anyone.
    hog.complete();
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    s.verifyInvariants();
  }
}
