package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.mig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.AllocatedGpu;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.PendingReason;
import io.gpusched.PlacementRequest;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A scheduler job whose MIG request must not strand compute ({@link
 * PlacementRequest#withoutStranding()}) waits on CAPACITY while only stranding places are free,
 * does not keep a plain job of the same profile from starting, and starts when a place that strands
 * nothing frees.
 */
class NoStrandingSchedulerTest {

  final SchedulerHarness h = new SchedulerHarness();

  private static JobSpec heavy(String id, boolean lossless) {
    PlacementRequest r = PlacementRequest.mig("1g.20gb");
    return JobSpec.builder(lossless ? r.withoutStranding() : r).id(id).build();
  }

  /** A scheduler on one H100 in MIG_DYNAMIC mode with this stranding hold (zero: none). */
  private DefaultScheduler oneGpu(Duration hold) {
    return (DefaultScheduler) h.builder().nodes(List.of(mig("m", 1))).migStrandingHold(hold).build();
  }

  private static JobHandle submit(DefaultScheduler s, String id, String profile) {
    return s.submit(JobSpec.builder(PlacementRequest.mig(profile)).id(id).build());
  }

  private static int slot(JobHandle j) {
    List<AllocatedGpu> gpus = j.allocations().get(0).gpus();
    return gpus.get(0).migStartSlot();
  }

  @Test
  void waitsForAPlaceThatStrandsNothing() {
    var s = oneGpu(Duration.ZERO);
    JobHandle a = s.submit(heavy("a", true));
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(slot(a)).isEqualTo(6);
    JobHandle b = s.submit(heavy("b", true));
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    assertThat(b.pendingReason()).isEqualTo(Optional.of(PendingReason.CAPACITY));
    JobHandle plain = s.submit(heavy("plain", false));
    assertThat(plain.state()).as("a plain job takes the stranding place").isEqualTo(JobState.RUNNING);
    assertThat(slot(plain)).isNotEqualTo(6);
    a.complete();
    // slices 6-7 are free again; with the plain job stranding already, 6-7 loses nothing more
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(slot(b)).isEqualTo(6);
    s.verifyInvariants();
  }

  /**
   * The scheduler's bounded hold ({@code GpuSchedulers.Builder#migStrandingHold}): a plain MIG
   * job waits for a place that strands nothing, holding no reservation (a smaller job behind it
   * starts), and takes a stranding place once the hold has run out.
   */
  @Test
  void theHoldEndsAfterItsDurationAndBlocksNoOne() {
    var s = oneGpu(Duration.ofMinutes(10));
    JobHandle a = s.submit(heavy("a", false));
    assertThat(slot(a)).as("held, and a place that strands nothing is free").isEqualTo(6);
    JobHandle four = submit(s, "four", "4g.40gb");
    assertThat(slot(four)).isZero();
    // slices 4-5 are left: a 1g.20gb there strands one compute slice, a 2g.20gb strands none
    JobHandle b = s.submit(heavy("b", false));
    assertThat(b.pendingReason()).isEqualTo(Optional.of(PendingReason.STRANDING));
    JobHandle two = submit(s, "two", "2g.20gb");
    assertThat(two.state()).as("the held job reserves nothing").isEqualTo(JobState.RUNNING);
    two.complete();
    h.clock.advance(Duration.ofMinutes(9));
    s.tick();
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    h.clock.advance(Duration.ofMinutes(1));
    s.tick();
    assertThat(b.state()).as("the hold ran out").isEqualTo(JobState.RUNNING);
    assertThat(slot(b)).isNotEqualTo(6);
    s.verifyInvariants();
  }

  /** Without backfill a job that cannot start stops the pass; a held job refused, so it does not. */
  @Test
  void aHeldJobStopsNoPassWithoutBackfill() {
    for (io.gpusched.SchedulingPolicy policy : io.gpusched.SchedulingPolicy.values()) {
      var s =
          (DefaultScheduler)
              new SchedulerHarness()
                  .builder()
                  .nodes(List.of(mig("m", 1)))
                  .policy(policy)
                  .backfill(false)
                  .migStrandingHold(Duration.ofHours(1))
                  .build();
      s.submit(heavy("a", false));
      submit(s, "four", "4g.40gb");
      JobHandle b = s.submit(heavy("b", false));
      JobHandle two = submit(s, "two", "2g.20gb");
      assertThat(b.state()).as(policy.name()).isEqualTo(JobState.PENDING);
      assertThat(two.state()).as(policy.name()).isEqualTo(JobState.RUNNING);
      s.verifyInvariants();
    }
  }

  /**
   * A full GPU whose only place that strands nothing is a preemptible job's: a held job preempts
   * no one, while a job whose own request says {@code withoutStranding()} preempts that job, and
   * only it, and takes its place.
   */
  @Test
  void aHeldJobPreemptsNoOneAJobThatAsksForNoStrandingDoes() {
    for (boolean held : new boolean[] {true, false}) {
      var b = new SchedulerHarness().builder().nodes(List.of(mig("m", 1)));
      if (held) {
        b.migStrandingHold(Duration.ofHours(1));
      }
      var s = (DefaultScheduler) b.build();
      JobHandle low =
          s.submit(
              JobSpec.builder(PlacementRequest.mig("1g.20gb"))
                  .id("low")
                  .preemptible(true)
                  .gracePeriod(Duration.ofMinutes(1))
                  .build());
      assertThat(slot(low)).isEqualTo(6);
      submit(s, "four", "4g.40gb");
      JobHandle two = submit(s, "two", "2g.20gb");
      assertThat(slot(two)).as("the GPU is full").isEqualTo(4);
      PlacementRequest r = PlacementRequest.mig("1g.20gb");
      JobHandle high =
          s.submit(JobSpec.builder(held ? r : r.withoutStranding()).id("high").priority(10).build());
      if (held) {
        assertThat(low.state()).as("held: preempts no one").isEqualTo(JobState.RUNNING);
        assertThat(high.pendingReason()).isEqualTo(Optional.of(PendingReason.STRANDING));
      } else {
        assertThat(low.state()).isEqualTo(JobState.PREEMPTING);
        assertThat(high.pendingReason()).isEqualTo(Optional.of(PendingReason.PREEMPTION));
        low.stopped();
        assertThat(high.state()).isEqualTo(JobState.RUNNING);
        assertThat(slot(high)).isEqualTo(6);
      }
      s.verifyInvariants();
    }
  }

  @Test
  void aHeldJobStartsWhenAPlaceThatStrandsNothingFrees() {
    var s = oneGpu(Duration.ofHours(1));
    JobHandle a = s.submit(heavy("a", false));
    JobHandle b = s.submit(heavy("b", false));
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(slot(b)).isEqualTo(6);
  }

  @Test
  void withoutAHoldAMigJobTakesAnyPlaceThatFits() {
    var s = oneGpu(Duration.ZERO);
    s.submit(heavy("a", false));
    JobHandle b = s.submit(heavy("b", false));
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
  }

  @Test
  void aNegativeHoldIsRefused() {
    assertThatThrownBy(() -> h.builder().migStrandingHold(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("migStrandingHold");
  }
}
