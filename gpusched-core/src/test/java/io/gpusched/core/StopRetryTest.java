package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobState;
import io.gpusched.PlacementStrategy;
import io.gpusched.StopReason;
import io.gpusched.store.SchedulerStore;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A launcher's {@code stop} that throws is made again by later ticks, with a doubling wait, until
 * it returns or {@link JobTransitions#STOP_ATTEMPTS} attempts were made; in durable mode the job's
 * record keeps its "stop not yet told" mark until a {@code stop} returned, so a scheduler
 * recovered after the attempts ran out sends it again, and one recovered after it was delivered
 * does not.
 */
class StopRetryTest {

  final SchedulerHarness h = new SchedulerHarness();

  /** Throws on its first {@code failures} stops (any kind of throwable); records every attempt. */
  static final class FlakyHost implements JobLauncher {
    final List<String> attempts = new CopyOnWriteArrayList<>();
    final AtomicInteger failures;
    final boolean error;

    FlakyHost(int failures, boolean error) {
      this.failures = new AtomicInteger(failures);
      this.error = error;
    }

    @Override
    public void start(JobHandle job) {}

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      attempts.add(job.id() + ":" + reason + ":" + job.attempts());
      if (failures.getAndDecrement() > 0) {
        if (error) {
          throw new AssertionError("the host's stop failed (simulated Error)");
        }
        throw new IllegalStateException("the host is unreachable (simulated)");
      }
    }
  }

  GpuScheduler build(JobLauncher host, @Nullable SchedulerStore store) {
    GpuSchedulers.Builder b =
        h.builder().launcher(host).nodes(List.of(whole("n1", 1))).strategy(PlacementStrategy.FIRST_FIT);
    if (store != null) {
      b.store(store);
    }
    return b.build();
  }

  @ParameterizedTest(name = "durable={0}")
  @ValueSource(booleans = {false, true})
  void aStopThatThrowsIsMadeAgainWithADoublingWaitUntilItReturns(boolean durable) {
    var host = new FlakyHost(2, durable);
    GpuScheduler s = build(host, durable ? SchedulerStores.inMemory() : null);
    JobHandle a = s.submit(job("a", 1).build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);

    assertThat(a.cancel()).isTrue();
    assertThat(host.attempts).containsExactly("a:CANCELLED:1");

    long first = JobTransitions.STOP_RETRY_FIRST_MILLIS;
    h.advance(s, Duration.ofMillis(first - 1));
    assertThat(host.attempts).as("not due yet").hasSize(1);
    h.advance(s, Duration.ofMillis(1));
    assertThat(host.attempts).as("the first retry (throws again)").hasSize(2);
    h.advance(s, Duration.ofMillis(2 * first - 1));
    assertThat(host.attempts).as("the wait doubled").hasSize(2);
    h.advance(s, Duration.ofMillis(1));
    assertThat(host.attempts).as("the second retry (returns)").hasSize(3);
    h.advance(s, Duration.ofMinutes(10));
    assertThat(host.attempts).as("delivered: not made again").hasSize(3);
    assertThat(((DefaultScheduler) s).stopRetries()).isZero();
    s.close();
  }

  @Test
  void aDurableStopThatNeverReturnsIsGivenUpAfterItsAttemptsAndSentAgainAfterARestart() {
    SchedulerStore store = SchedulerStores.inMemory();
    var host = new FlakyHost(Integer.MAX_VALUE, false);
    GpuScheduler s = build(host, store);
    JobHandle a = s.submit(job("a", 1).build());
    assertThat(a.cancel()).isTrue();
    for (int i = 0; i < 2 * JobTransitions.STOP_ATTEMPTS; i++) {
      h.advance(s, Duration.ofMillis(JobTransitions.STOP_RETRY_MAX_MILLIS));
    }
    assertThat(host.attempts).hasSize(JobTransitions.STOP_ATTEMPTS).containsOnly("a:CANCELLED:1");
    s.close();

    var afterRestart = new FlakyHost(0, false);
    GpuScheduler s2 = build(afterRestart, store);
    assertThat(afterRestart.attempts).as("the record still asked for the stop").containsExactly("a:CANCELLED:1");
    s2.close();

    var afterDelivery = new FlakyHost(0, false);
    build(afterDelivery, store).close();
    assertThat(afterDelivery.attempts).as("delivered before the second restart").isEmpty();
  }

  @Test
  void aDurableStopDeliveredOnARetryIsNotSentAgainAfterARestart() {
    SchedulerStore store = SchedulerStores.inMemory();
    var host = new FlakyHost(1, false);
    GpuScheduler s = build(host, store);
    JobHandle a = s.submit(job("a", 1).build());
    assertThat(a.cancel()).isTrue();
    h.advance(s, Duration.ofMillis(JobTransitions.STOP_RETRY_FIRST_MILLIS));
    assertThat(host.attempts).hasSize(2);
    s.close();

    var afterRestart = new FlakyHost(0, false);
    build(afterRestart, store).close();
    assertThat(afterRestart.attempts).isEmpty();
  }
}
