package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuProcess;
import io.gpusched.GpuSample;
import io.gpusched.IdlePolicy;
import io.gpusched.nvml.NvmlApi.MemoryInfo;
import io.gpusched.nvml.NvmlApi.ProcessInfo;
import io.gpusched.nvml.NvmlApi.Sample;
import io.gpusched.nvml.NvmlApi.Utilization;
import io.gpusched.nvml.NvmlTelemetry.DeviceKey;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * {@link NvmlTelemetry} through {@link FakeNvmlApi}: passes are run by hand ({@code sampleOnce})
 * on a hand-moved clock, so nothing here depends on timing except the one real-thread test.
 */
class NvmlTelemetryTest {
  private static final String UUID = FakeGpus.H100_UUID;
  private static final int WHOLE = GpuSample.WHOLE_GPU;
  private static final long MIB = 1L << 20;

  /** A clock moved by the test. */
  static final class ManualClock implements InstantSource {
    final AtomicLong millis = new AtomicLong(1_800_000_000_000L);

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }
  }

  private final ManualClock clock = new ManualClock();

  private NvmlTelemetry telemetry(FakeNvmlApi api) {
    return NvmlTelemetry.builder(api).clock(clock).buildUnstarted();
  }

  /** An H100 with MIG off, busy: 37 % utilization, 512 MiB used by pid 4242. */
  private static FakeNvmlApi busyH100() {
    FakeNvmlApi.Device d = FakeGpus.h100(0, 0);
    d.memory = new MemoryInfo(FakeGpus.H100_TOTAL, FakeGpus.H100_TOTAL - 1015 * MIB, 1015 * MIB);
    d.utilization = new Utilization(37, 12);
    d.processes = List.of(new ProcessInfo(4242, 512 * MIB, -1, -1));
    return new FakeNvmlApi().add(d);
  }

  @Test
  void aPassPublishesEveryReadingOfAWholeGpu() {
    try (NvmlTelemetry t = telemetry(busyH100())) {
      t.sampleOnce();

      GpuSample s = t.latest(UUID, WHOLE).orElseThrow();
      assertThat(s.timestampMillis()).isEqualTo(clock.millis());
      assertThat(s.isMig()).isFalse();
      assertThat(s.utilizationPercent()).isEqualTo(37);
      assertThat(s.memoryUtilizationPercent()).isEqualTo(12);
      assertThat(s.memoryUsedMiB()).isEqualTo(1015);
      assertThat(s.memoryTotalMiB()).isEqualTo(FakeGpus.H100_TOTAL >> 20);
      assertThat(s.powerMilliwatts()).isEqualTo(71291);
      assertThat(s.temperatureCelsius()).isEqualTo(32);
      assertThat(s.energyMillijoules()).isEqualTo(2300146);
      assertThat(s.processes()).containsExactly(new GpuProcess(4242, 512));
      assertThat(s.lost()).isFalse();
      assertThat(t.latest("GPU-unknown", WHOLE)).isEmpty();
      assertThat(t.latest(UUID, 0)).isEmpty();
    }
  }

  @Test
  void readersNeverCallTheDriver() {
    FakeNvmlApi api = busyH100();
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce();
      int calls = api.calls.get();
      for (int i = 0; i < 100; i++) {
        assertThat(t.latest(UUID, WHOLE)).isPresent();
        assertThat(t.history(UUID, WHOLE, 0)).hasSize(1);
        assertThat(t.snapshot()).containsKey(new DeviceKey(UUID, WHOLE));
        assertThat(t.processes()).containsKey(new DeviceKey(UUID, WHOLE));
        assertThat(t.idle(UUID, WHOLE, IdlePolicy.DEFAULT)).isFalse();
        assertThat(t.idleSince(UUID, WHOLE, IdlePolicy.DEFAULT)).isEmpty();
      }
      assertThat(api.calls.get()).isEqualTo(calls);
    }
  }

  @Test
  void windowedUtilizationIsTheHighestSampleSinceThePreviousPass() {
    FakeNvmlApi api = busyH100();
    FakeNvmlApi.Device d = api.devices.get(0);
    d.utilization = new Utilization(3, 1);
    d.samples = List.of(new Sample(1_000_000, 90), new Sample(9_000_000, 10),
        new Sample(9_500_000, 20), new Sample(10_000_000, 5));
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce(); // first pass: one period (1 s) back from the newest sample
      assertThat(t.latest(UUID, WHOLE).orElseThrow().utilizationPercent()).isEqualTo(20);

      d.samples = List.of(new Sample(10_000_000, 5), new Sample(10_500_000, 70));
      t.sampleOnce();
      assertThat(t.latest(UUID, WHOLE).orElseThrow().utilizationPercent()).isEqualTo(70);

      t.sampleOnce(); // NOT_FOUND: no newer sample, so the rate
      GpuSample s = t.latest(UUID, WHOLE).orElseThrow();
      assertThat(s.utilizationPercent()).isEqualTo(3);
      assertThat(s.memoryUtilizationPercent()).isEqualTo(1);
    }
  }

  @Test
  void missingOrUnsupportedSamplesDisableTheWindowOnceAndUseTheRate() {
    for (NvmlReturn code : List.of(NvmlReturn.ERROR_FUNCTION_NOT_FOUND,
        NvmlReturn.ERROR_NOT_SUPPORTED)) {
      FakeNvmlApi api = busyH100().fail("nvmlDeviceGetSamples", code);
      try (NvmlTelemetry t = telemetry(api)) {
        t.sampleOnce();
        t.sampleOnce();
        assertThat(t.latest(UUID, WHOLE).orElseThrow().utilizationPercent()).isEqualTo(37);
        assertThat(api.callsByFunction.get("nvmlDeviceGetSamples")).as("%s", code).isEqualTo(1);
      }
    }
  }

  @Test
  void windowedUtilizationCanBeSwitchedOff() {
    FakeNvmlApi api = busyH100();
    try (NvmlTelemetry t =
        NvmlTelemetry.builder(api).clock(clock).windowedUtilization(false).buildUnstarted()) {
      t.sampleOnce();
      assertThat(api.callsByFunction).doesNotContainKey("nvmlDeviceGetSamples");
    }
  }

  @Test
  void readingsNvmlCannotGiveAreUnavailableNotLost() {
    List<String> functions = List.of("nvmlDeviceGetUtilizationRates", "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetTemperature", "nvmlDeviceGetTotalEnergyConsumption",
        "nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetSamples");
    for (NvmlReturn code : List.of(NvmlReturn.ERROR_NOT_SUPPORTED, NvmlReturn.ERROR_NO_PERMISSION,
        NvmlReturn.ERROR_FUNCTION_NOT_FOUND, NvmlReturn.ERROR_INSUFFICIENT_SIZE)) {
      FakeNvmlApi api = busyH100();
      functions.forEach(f -> api.fail(f, code));
      try (NvmlTelemetry t = telemetry(api)) {
        t.sampleOnce();
        GpuSample s = t.latest(UUID, WHOLE).orElseThrow();
        assertThat(s.lost()).as("%s", code).isFalse();
        assertThat(s.utilizationPercent()).isEqualTo(GpuSample.UNAVAILABLE);
        assertThat(s.memoryUtilizationPercent()).isEqualTo(GpuSample.UNAVAILABLE);
        assertThat(s.memoryUsedMiB()).isEqualTo(GpuSample.UNAVAILABLE);
        assertThat(s.powerMilliwatts()).isEqualTo(GpuSample.UNAVAILABLE);
        assertThat(s.temperatureCelsius()).isEqualTo(GpuSample.UNAVAILABLE);
        assertThat(s.energyMillijoules()).isEqualTo(GpuSample.UNAVAILABLE);
        assertThat(s.processes()).isNull();
        // unknown processes and utilization: never idle
        assertThat(IdlePolicy.DEFAULT.withWindow(Duration.ofMillis(1)).looksIdle(s, clock.millis()))
            .isFalse();
      }
    }
  }

  @Test
  void aLostGpuIsPublishedLostAndNeverIdle() {
    FakeNvmlApi api = busyH100();
    FakeNvmlApi.Device d = api.devices.get(0);
    d.utilization = new Utilization(0, 0);
    d.processes = List.of();
    IdlePolicy policy = new IdlePolicy(5, Duration.ofSeconds(3), true, 0, Duration.ofSeconds(5));
    try (NvmlTelemetry t = telemetry(api)) {
      for (int i = 0; i < 5; i++) {
        t.sampleOnce();
        clock.advance(Duration.ofSeconds(1));
      }
      assertThat(t.idle(UUID, WHOLE, policy)).isTrue();

      api.fail("nvmlDeviceGetPowerUsage", NvmlReturn.ERROR_GPU_IS_LOST);
      t.sampleOnce();
      assertThat(t.latest(UUID, WHOLE).orElseThrow().lost()).isTrue();
      assertThat(t.idle(UUID, WHOLE, policy)).isFalse();

      api.heal().fail("nvmlDeviceGetUUID", NvmlReturn.ERROR_GPU_IS_LOST);
      clock.advance(Duration.ofSeconds(1));
      t.sampleOnce(); // the UUID itself cannot be read: the one known for the index is used
      GpuSample s = t.latest(UUID, WHOLE).orElseThrow();
      assertThat(s.lost()).isTrue();
      assertThat(s.timestampMillis()).isEqualTo(clock.millis());
      assertThat(t.history(UUID, WHOLE, 0)).extracting(GpuSample::lost)
          .containsExactly(false, false, false, false, false, true, true);

      api.heal();
      t.sampleOnce();
      assertThat(t.latest(UUID, WHOLE).orElseThrow().lost()).isFalse();
      assertThat(t.idle(UUID, WHOLE, policy)).isFalse(); // the window restarts
    }
  }

  @Test
  void aGpuLostBeforeItsUuidWasKnownIsSkipped() {
    FakeNvmlApi api = busyH100().add(FakeGpus.l40s())
        .fail("nvmlDeviceGetUUID", 0, NvmlReturn.ERROR_GPU_IS_LOST);
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce();
      assertThat(t.snapshot()).containsOnlyKeys(new DeviceKey(FakeGpus.l40s().uuid, WHOLE));
    }
  }

  @Test
  void anUnreadableDeviceCountMarksEveryKnownDeviceLostAndTheSamplerRecovers() {
    for (NvmlReturn code : List.of(NvmlReturn.ERROR_UNINITIALIZED,
        NvmlReturn.ERROR_DRIVER_NOT_LOADED, NvmlReturn.ERROR_UNKNOWN)) {
      FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
      try (NvmlTelemetry t = telemetry(api)) {
        t.sampleOnce();
        assertThat(t.snapshot()).hasSize(4);

        api.fail("nvmlDeviceGetCount_v2", code);
        t.sampleOnce();
        assertThat(t.snapshot().values()).as("%s", code).hasSize(4).allMatch(GpuSample::lost);

        api.heal();
        t.sampleOnce();
        assertThat(t.snapshot().values()).hasSize(4).noneMatch(GpuSample::lost);
      }
    }
  }

  @Test
  void nvmlShutDownUnderneathTheSamplerIsUninitialisedAndLost() {
    FakeNvmlApi api = busyH100();
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce();
      api.shutdown(); // someone else's extra nvmlShutdown
      t.sampleOnce();
      assertThat(t.latest(UUID, WHOLE).orElseThrow().lost()).isTrue();
      api.init();
    }
  }

  @Test
  void migDevicesAreSampledByStartSlotWithoutUtilization() {
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    FakeNvmlApi.Device d = api.devices.get(0);
    d.migDevices.get(0).processes = List.of(new ProcessInfo(777, 20 * MIB, 2, 0));
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce();

      assertThat(t.snapshot()).containsOnlyKeys(new DeviceKey(UUID, WHOLE),
          new DeviceKey(UUID, 0), new DeviceKey(UUID, 2), new DeviceKey(UUID, 4));
      GpuSample whole = t.latest(UUID, WHOLE).orElseThrow();
      assertThat(whole.utilizationPercent()).isEqualTo(GpuSample.UNAVAILABLE);
      assertThat(whole.lost()).isFalse();
      GpuSample g3 = t.latest(UUID, 4).orElseThrow();
      assertThat(g3.isMig()).isTrue();
      assertThat(g3.utilizationPercent()).isEqualTo(GpuSample.UNAVAILABLE);
      assertThat(g3.powerMilliwatts()).isEqualTo(GpuSample.UNAVAILABLE);
      assertThat(g3.memoryUsedMiB()).isEqualTo(21);
      assertThat(g3.memoryTotalMiB()).isEqualTo(40448);
      assertThat(g3.processes()).containsExactly(new GpuProcess(777, 20));
      GpuSample g1 = t.latest(UUID, 0).orElseThrow();
      assertThat(g1.memoryUsedMiB()).isEqualTo(5);
      assertThat(g1.processes()).isEmpty();
      assertThat(t.processes()).containsEntry(new DeviceKey(UUID, 4),
          List.of(new GpuProcess(777, 20)));
    }
  }

  @Test
  void migIdlenessRestsOnProcessesAndMemory() {
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    api.devices.get(0).migDevices.get(0).processes = List.of(new ProcessInfo(777, 20 * MIB, 2, 0));
    IdlePolicy policy = new IdlePolicy(5, Duration.ofSeconds(10), false, 64, Duration.ofSeconds(5));
    try (NvmlTelemetry t = telemetry(api)) {
      for (int i = 0; i <= 10; i++) {
        t.sampleOnce();
        clock.advance(Duration.ofSeconds(1));
      }
      clock.advance(Duration.ofSeconds(-1));
      assertThat(t.idle(UUID, 0, policy)).isTrue(); // 1g: no process, 5 MiB used
      assertThat(t.idle(UUID, 4, policy)).isFalse(); // 3g: a process
      assertThat(t.idle(UUID, WHOLE, policy)).isFalse(); // the GPU has its MIG devices' processes
      assertThat(t.latest(UUID, WHOLE).orElseThrow().processes())
          .containsExactly(new GpuProcess(777, 20));
      assertThat(t.idle(UUID, 0, policy))
          .isEqualTo(policy.isIdle(t.history(UUID, 0, 0), clock.millis()));
    }
  }

  @Test
  void aDestroyedMigDeviceIsDroppedAndANewOneFound() {
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    FakeNvmlApi.Device d = api.devices.get(0);
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce();
      // destroy the 1g at slot 0 (GI 7, MIG index 3); make a 1g at slot 1 (GI 8, MIG index 1)
      d.instances.get(19).clear();
      d.instances.get(19).add(new NvmlApi.GpuInstance(8, 19, 1, 1));
      d.migDevices.set(3, null);
      d.migDevices.set(1, new FakeNvmlApi.MigDevice("MIG-new", 8, 9984 * MIB, 6 * MIB));
      t.sampleOnce();

      assertThat(t.latest(UUID, 0)).isEmpty();
      assertThat(t.history(UUID, 0, 0)).isEmpty();
      assertThat(t.latest(UUID, 1).orElseThrow().memoryUsedMiB()).isEqualTo(6);
    }
  }

  @Test
  void aMigDeviceOnAnUnlistedGpuInstanceIsSkipped() {
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    api.devices.get(0).migDevices.set(1, new FakeNvmlApi.MigDevice("MIG-x", 99, MIB, 0));
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce();
      assertThat(t.snapshot().values()).hasSize(4).noneMatch(GpuSample::lost);
    }
  }

  @Test
  void aLostMigDeviceMarksItsGpuAndItsMigDevicesLost() {
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    try (NvmlTelemetry t = telemetry(api)) {
      t.sampleOnce();
      api.fail("nvmlDeviceGetMemoryInfo", 0, 2, NvmlReturn.ERROR_GPU_IS_LOST);
      t.sampleOnce();
      assertThat(t.snapshot().values()).hasSize(4).allMatch(GpuSample::lost);
    }
  }

  @Test
  void historyKeepsTheRetentionAndTheSampleCap() {
    FakeNvmlApi api = busyH100();
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(clock)
        .historyRetention(Duration.ofSeconds(5)).buildUnstarted()) {
      long first = clock.millis();
      for (int i = 0; i < 10; i++) {
        t.sampleOnce();
        clock.advance(Duration.ofSeconds(1));
      }
      List<GpuSample> h = t.history(UUID, WHOLE, 0);
      assertThat(h).extracting(GpuSample::timestampMillis)
          .containsExactly(first + 4000, first + 5000, first + 6000, first + 7000, first + 8000,
              first + 9000);
      assertThat(t.history(UUID, WHOLE, first + 8000)).hasSize(2);
    }
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(clock).maxHistorySamples(3)
        .buildUnstarted()) {
      for (int i = 0; i < 10; i++) {
        t.sampleOnce();
        clock.advance(Duration.ofSeconds(1));
      }
      assertThat(t.history(UUID, WHOLE, 0)).hasSize(3);
    }
  }

  @Test
  void idleUsesIdlePolicyOverTheHistory() {
    FakeNvmlApi api = busyH100();
    FakeNvmlApi.Device d = api.devices.get(0);
    d.utilization = new Utilization(2, 0);
    IdlePolicy policy = new IdlePolicy(5, Duration.ofSeconds(10), false, 0, Duration.ofSeconds(3));
    try (NvmlTelemetry t = telemetry(api)) {
      long start = clock.millis();
      for (int i = 0; i <= 10; i++) {
        t.sampleOnce();
        clock.advance(Duration.ofSeconds(1));
      }
      clock.advance(Duration.ofSeconds(-1));
      assertThat(t.idleSince(UUID, WHOLE, policy)).hasValue(start);
      assertThat(t.idle(UUID, WHOLE, policy)).isTrue();
      assertThat(t.idle(UUID, WHOLE, policy.withWindow(Duration.ofSeconds(11)))).isFalse();

      d.utilization = new Utilization(50, 0);
      clock.advance(Duration.ofSeconds(1));
      t.sampleOnce();
      assertThat(t.idle(UUID, WHOLE, policy)).isFalse();
      assertThat(t.idleSince(UUID, WHOLE, policy)).isEmpty();

      clock.advance(Duration.ofSeconds(60)); // stale: the sampler stopped
      assertThat(t.idle(UUID, WHOLE, policy)).isFalse();
      assertThat(t.idle("GPU-unknown", WHOLE, policy)).isFalse();
    }
  }

  @Test
  void theSamplerSurvivesUnexpectedErrorsAndRateLimitsTheirLog() {
    FakeNvmlApi api = busyH100();
    try (NvmlTelemetry t = telemetry(api)) {
      api.crash = new IllegalStateException("bug");
      t.tick();
      t.tick();
      t.tick();
      assertThat(t.suppressedErrors()).isEqualTo(2);
      api.crash = null;
      t.tick();
      assertThat(t.latest(UUID, WHOLE)).isPresent();
      assertThat(t.passes()).isEqualTo(1);
    }
  }

  @Test
  void closeShutsNvmlDownOnceAndStopsSampling() {
    FakeNvmlApi api = busyH100();
    NvmlTelemetry t = telemetry(api);
    assertThat(api.inits).isEqualTo(1);
    t.sampleOnce();
    t.close();
    t.close();
    assertThat(api.shutdowns).isEqualTo(1);
    int calls = api.calls.get();
    t.sampleOnce();
    assertThat(api.calls.get()).isEqualTo(calls);
    assertThat(t.latest(UUID, WHOLE)).isPresent(); // the last samples stay readable
  }

  @Test
  void aFailedInitIsTypedAndStartsNothing() {
    FakeNvmlApi api = busyH100().fail("nvmlInit_v2", NvmlReturn.ERROR_DRIVER_NOT_LOADED);
    assertThatThrownBy(() -> NvmlTelemetry.builder(api).build())
        .isInstanceOfSatisfying(NvmlException.class,
            e -> assertThat(e.is(NvmlReturn.ERROR_DRIVER_NOT_LOADED)).isTrue());
    assertThat(api.calls.get()).isZero();
  }

  @Test
  void builderRejectsBadOptions() {
    NvmlTelemetry.Builder b = NvmlTelemetry.builder(new FakeNvmlApi());
    assertThatThrownBy(() -> b.period(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.historyRetention(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> b.maxHistorySamples(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theSamplerThreadSamplesUntilClosed() throws InterruptedException {
    FakeNvmlApi api = busyH100();
    NvmlTelemetry t = NvmlTelemetry.builder(api).period(Duration.ofMillis(10)).build();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (t.passes() < 2 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertThat(t.passes()).isGreaterThanOrEqualTo(2);
      assertThat(t.latest(UUID, WHOLE)).isPresent();
    } finally {
      t.close();
    }
    assertThat(api.shutdowns).isEqualTo(1);
    long passes = t.passes();
    t.sampleOnce();
    assertThat(t.passes()).isEqualTo(passes);
  }
}
