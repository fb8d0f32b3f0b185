package io.gpusched;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IdlePolicyTest {

  static final IdlePolicy POLICY =
      new IdlePolicy(5, Duration.ofSeconds(60), false, 512, Duration.ofSeconds(20));

  static GpuSample util(long t, int percent) {
    return GpuSample.builder("GPU-a", t).utilizationPercent(percent).build();
  }

  static GpuSample mig(long t, List<GpuProcess> processes, long memUsed) {
    return GpuSample.builder("GPU-a", t)
        .migStartSlot(6)
        .processes(processes)
        .memory(memUsed, 9984)
        .build();
  }

  @Test
  void idleAfterAnUnbrokenWindowOfLowUtilization() {
    var h = new ArrayList<GpuSample>();
    for (long t = 0; t <= 60_000; t += 10_000) {
      h.add(util(t, 3));
    }
    assertThat(POLICY.idleSince(h, 60_000)).hasValue(0);
    assertThat(POLICY.isIdle(h, 60_000)).isTrue();
    assertThat(POLICY.isIdle(h.subList(0, 6), 50_000)).isFalse();
  }

  @Test
  void aBusyReadingRestartsTheWindow() {
    var h = List.of(util(0, 0), util(10_000, 90), util(20_000, 0), util(30_000, 1));
    assertThat(POLICY.idleSince(h, 30_000)).hasValue(20_000);
  }

  @Test
  void aGapLongerThanMaxSampleAgeRestartsTheWindow() {
    var h = List.of(util(0, 0), util(10_000, 0), util(50_000, 0), util(60_000, 0));
    assertThat(POLICY.idleSince(h, 60_000)).hasValue(50_000);
  }

  @Test
  void staleLostOrMissingTelemetryIsNeverIdle() {
    assertThat(POLICY.idleSince(List.of(), 0)).isEmpty();
    assertThat(POLICY.isIdle(List.of(util(0, 0)), 100_000)).isFalse();
    assertThat(POLICY.looksIdle(util(0, 0), 21_000)).isFalse();
    assertThat(POLICY.looksIdle(GpuSample.lost("GPU-a", -1, 0), 0)).isFalse();
  }

  /** A reading dated further ahead than maxSampleAge (a skewed clock) is no evidence now. */
  @Test
  void readingsDatedInTheFutureAreNotFresh() {
    assertThat(POLICY.looksIdle(util(100_000, 0), 0)).isFalse();
    assertThat(POLICY.looksIdle(util(15_000, 0), 0)).as("within maxSampleAge of skew").isTrue();
    var h = new ArrayList<GpuSample>();
    for (long t = 0; t <= 60_000; t += 10_000) {
      h.add(util(t, 0));
    }
    h.add(util(10_000_000, 0)); // newest, dated hours ahead
    assertThat(POLICY.idleSince(h, 70_000)).isEmpty();
    assertThat(POLICY.isIdle(h, 70_000)).isFalse();
    h.remove(h.size() - 1);
    assertThat(POLICY.isIdle(h, 70_000)).as("the same history without it").isTrue();
    assertThat(POLICY.looksIdle(util(Long.MAX_VALUE, 0), Long.MIN_VALUE)).isFalse();
  }

  @Test
  void migDevicesUseProcessesAndMemory() {
    assertThat(POLICY.looksIdle(mig(0, List.of(), 13), 0)).isTrue();
    assertThat(POLICY.looksIdle(mig(0, List.of(new GpuProcess(42, 100)), 113), 0)).isFalse();
    assertThat(POLICY.looksIdle(mig(0, List.of(), 4000), 0)).isFalse();
    assertThat(POLICY.looksIdle(mig(0, null, 13), 0)).as("unknown processes").isFalse();
  }

  @Test
  void requireNoProcessesNeedsAKnownEmptyList() {
    var strict = new IdlePolicy(5, Duration.ofSeconds(60), true, 512, Duration.ofSeconds(20));
    var none = GpuSample.builder("g", 0).utilizationPercent(0).processes(List.of()).build();
    var some =
        GpuSample.builder("g", 0)
            .utilizationPercent(0)
            .processes(List.of(new GpuProcess(7, -1)))
            .build();
    assertThat(strict.looksIdle(none, 0)).isTrue();
    assertThat(strict.looksIdle(some, 0)).isFalse();
    assertThat(strict.looksIdle(util(0, 0), 0)).isFalse();
  }

  @Test
  void badValuesAreNamed() {
    assertThatThrownBy(() -> new IdlePolicy(101, Duration.ofSeconds(1), false, 0, Duration.ofSeconds(1)))
        .hasMessageContaining("maxUtilizationPercent").hasMessageContaining("101");
    assertThatThrownBy(() -> new IdlePolicy(5, Duration.ZERO, false, 0, Duration.ofSeconds(1)))
        .hasMessageContaining("window");
    assertThatThrownBy(() -> GpuSample.builder("g", 0).utilizationPercent(140).build())
        .hasMessageContaining("utilizationPercent").hasMessageContaining("140");
    assertThatThrownBy(() -> GpuSample.builder("g", 0).migStartSlot(8).build())
        .hasMessageContaining("migStartSlot");
    assertThatThrownBy(() -> new GpuProcess(-3, 0)).hasMessageContaining("pid");
  }

  @Test
  void noneTelemetryKnowsNothing() {
    assertThat(GpuTelemetry.NONE.latest("x", -1)).isEmpty();
    assertThat(GpuTelemetry.NONE.history("x", -1, 0)).isEmpty();
  }
}
