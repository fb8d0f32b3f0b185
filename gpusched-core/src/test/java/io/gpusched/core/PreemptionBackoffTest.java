package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobState;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A preemption whose freed capacity the job then cannot use (here: the victim's node is cordoned
 * while it stops) backs off before the job may preempt again, to keep a mismatch between victim
 * planning and the engine from preempting in a loop. The back-off starts short and doubles per
 * unrealized plan up to {@link DispatchPass#PREEMPTION_BACKOFF_MILLIS}, so a one-off cause costs
 * about a second, not a minute; it is reset when the job starts.
 */
class PreemptionBackoffTest {
  private final SchedulerHarness h = new SchedulerHarness();

  @Test
  void anUnrealizedPlanBacksOffBrieflyThenPreemptsAgain() {
    GpuScheduler s = h.builder().nodes(List.of(whole("n1", 1), whole("n2", 1))).build();
    JobHandle a = s.submit(job("a", 1).preemptible(true).gracePeriod(Duration.ofMinutes(1)).build());
    JobHandle b = s.submit(job("b", 1).preemptible(true).gracePeriod(Duration.ofMinutes(1)).build());
    JobHandle high = s.submit(job("high", 1).priority(10).build());
    JobHandle victim = a.state() == JobState.PREEMPTING ? a : b;
    JobHandle other = victim == a ? b : a;
    assertThat(victim.state()).isEqualTo(JobState.PREEMPTING);
    assertThat(other.state()).isEqualTo(JobState.RUNNING);

    s.cordon(victim.allocations().get(0).nodeId()); // the freed GPU will not be usable
    victim.stopped();
    assertThat(high.state()).isEqualTo(JobState.PENDING);
    assertThat(other.state()).as("backing off: no new victim at once").isEqualTo(JobState.RUNNING);

    h.advance(s, Duration.ofSeconds(2));
    assertThat(other.state()).as("preempted after a short back-off").isEqualTo(JobState.PREEMPTING);
    other.stopped();
    assertThat(high.state()).isEqualTo(JobState.RUNNING);
    ((DefaultScheduler) s).verifyInvariants();
  }

  @Test
  void repeatedUnrealizedPlansBackOffLongerUpToTheCap() {
    long[] waits = new long[9];
    long last = 0; // none yet
    for (int i = 0; i < waits.length; i++) {
      last = DispatchPass.nextPreemptionBackoff(last);
      waits[i] = last;
    }
    assertThat(waits).containsExactly(1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000);
  }
}
