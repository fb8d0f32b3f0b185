package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.PendingReason;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulingPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link JobHandle#pendingReason()}: one scenario per reason, and its absence outside PENDING. */
class PendingReasonTest {

  final SchedulerHarness h = new SchedulerHarness();

  private static Optional<PendingReason> reason(PendingReason r) {
    return Optional.of(r);
  }

  @Test
  void capacityForTheHeadAndQueuedBehindIt() {
    var s = (DefaultScheduler) h.builder().nodes(List.of(whole("n1", 2))).build();
    JobHandle a = s.submit(job("a", 2).build());
    JobHandle b = s.submit(job("b", 1).build());
    JobHandle c = s.submit(job("c", 1).build());
    assertThat(a.pendingReason()).as("running").isEmpty();
    assertThat(b.pendingReason()).isEqualTo(reason(PendingReason.CAPACITY));
    assertThat(c.pendingReason()).as("behind b, same shape and queue").isEqualTo(reason(PendingReason.QUEUED));
    assertThat(s.snapshot().queues().get(0).pendingByReason())
        .isEqualTo(java.util.Map.of(PendingReason.CAPACITY, 1, PendingReason.QUEUED, 1));
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(c.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.pendingReason()).isEmpty();
    b.cancel();
    assertThat(b.pendingReason()).as("final").isEmpty();
    s.verifyInvariants();
  }

  @Test
  void strandingInsideTheMigStrandingHold() {
    var s =
        (DefaultScheduler)
            h.builder()
                .nodes(List.of(SchedulerHarness.mig("m", 1)))
                .migStrandingHold(Duration.ofMinutes(10))
                .build();
    s.submit(JobSpec.builder(PlacementRequest.mig("1g.20gb")).id("a").build());
    JobHandle b = s.submit(JobSpec.builder(PlacementRequest.mig("1g.20gb")).id("b").build());
    assertThat(b.pendingReason()).isEqualTo(reason(PendingReason.STRANDING));
    assertThat(s.snapshot().queues().get(0).pendingByReason())
        .isEqualTo(java.util.Map.of(PendingReason.STRANDING, 1));
    h.clock.advance(Duration.ofMinutes(10));
    s.tick();
    assertThat(b.state()).as("the hold ran out: a stranding place is taken").isEqualTo(JobState.RUNNING);
    assertThat(b.pendingReason()).isEmpty();
  }

  @Test
  void unschedulableUntilANodeThatFitsIsAdded() {
    var s = (DefaultScheduler) h.builder().nodes(List.of(whole("n1", 8))).build();
    JobHandle big =
        s.submit(JobSpec.builder(PlacementRequest.wholeGpus(9, true)).id("big").build());
    JobHandle small = s.submit(job("small", 1).build());
    assertThat(big.pendingReason()).isEqualTo(reason(PendingReason.UNSCHEDULABLE));
    assertThat(small.state()).as("an impossible job blocks no one").isEqualTo(JobState.RUNNING);
    s.addNode(whole("n2", 16));
    assertThat(big.state()).isEqualTo(JobState.RUNNING);
    assertThat(big.pendingReason()).isEmpty();
  }

  @Test
  void quotaWhenTheBorrowLimitIsReached() {
    var s =
        (DefaultScheduler)
            h.builder()
                .nodes(List.of(whole("n1", 4)))
                .queue(QueueSpec.builder("A").guaranteedGpus(1).borrowLimitGpus(0).build())
                .build();
    JobHandle a1 = s.submit(job("a1", 1).queue("A").build());
    JobHandle a2 = s.submit(job("a2", 1).queue("A").build());
    assertThat(a1.state()).isEqualTo(JobState.RUNNING);
    assertThat(a2.pendingReason()).as("3 GPUs free, none borrowable").isEqualTo(reason(PendingReason.QUOTA));
  }

  @Test
  void reservedWhenBackfillWouldDelayAnEarlierJob() {
    var s =
        (DefaultScheduler)
            h.builder().nodes(List.of(whole("n1", 4))).policy(SchedulingPolicy.FIFO).build();
    JobHandle running = s.submit(job("running", 2).timeLimit(Duration.ofHours(1)).build());
    JobHandle wide = s.submit(job("wide", 4).build());
    JobHandle longSmall = s.submit(job("long-small", 1).build()); // no time limit: may delay "wide"
    JobHandle shortSmall = s.submit(job("short-small", 1).gangSize(1).timeLimit(Duration.ofMinutes(10)).build());
    assertThat(running.state()).isEqualTo(JobState.RUNNING);
    assertThat(wide.pendingReason()).isEqualTo(reason(PendingReason.CAPACITY));
    assertThat(longSmall.pendingReason()).isEqualTo(reason(PendingReason.RESERVED));
    assertThat(shortSmall.state()).as("ends before the reservation: backfilled").isEqualTo(JobState.RUNNING);
  }

  @Test
  void preemptionWhileVictimsStop() {
    var s = (DefaultScheduler) h.builder().nodes(List.of(whole("n1", 1))).build();
    JobHandle low = s.submit(job("low", 1).preemptible(true).gracePeriod(Duration.ofMinutes(1)).build());
    JobHandle high = s.submit(job("high", 1).priority(10).build());
    assertThat(low.state()).isEqualTo(JobState.PREEMPTING);
    assertThat(high.pendingReason()).isEqualTo(reason(PendingReason.PREEMPTION));
    low.stopped();
    assertThat(high.state()).isEqualTo(JobState.RUNNING);
    assertThat(low.state()).as("requeued").isEqualTo(JobState.PENDING);
    assertThat(low.pendingReason()).isEqualTo(reason(PendingReason.CAPACITY));
  }

  @Test
  void aRunHandleReadsTheJobAsItIsNow() {
    var runs = new java.util.ArrayList<JobHandle>();
    h.launcher.onStart = runs::add;
    var s = (DefaultScheduler) h.builder().nodes(List.of(whole("n1", 1))).build();
    JobHandle low = s.submit(job("low", 1).preemptible(true).gracePeriod(Duration.ZERO).build());
    s.submit(job("high", 1).priority(10).build());
    assertThat(low.state()).isEqualTo(JobState.PENDING);
    assertThat(runs.get(0).pendingReason()).isEqualTo(low.pendingReason()).isPresent();
  }
}
