package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuSample;
import io.gpusched.nvml.NvmlApi.MigMode;
import io.gpusched.nvml.NvmlApi.Sample;
import io.gpusched.nvml.NvmlTelemetryTest.ManualClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Issue 16 item 4: a driver loaded later is seen; a MIG mode change re-checks windowed samples. */
class NvmlRecoveryTest {

  @Test
  void aDriverLoadedLaterIsSeenAfterTheBackoff() {
    AtomicLong nanos = new AtomicLong();
    AtomicInteger loads = new AtomicInteger();
    FakeNvmlApi api = new FakeNvmlApi().fail("nvmlInit_v2", NvmlReturn.ERROR_DRIVER_NOT_LOADED);
    boolean[] libraryThere = {false};
    Nvml.Loader loader = new Nvml.Loader(() -> {
      loads.incrementAndGet();
      if (!libraryThere[0]) {
        throw new UnsatisfiedLinkError("libnvidia-ml.so.1: cannot open shared object file");
      }
      return api;
    }, nanos::get);

    NvmlAvailability first = loader.availability();
    assertThat(first.available()).isFalse();
    assertThat(first.cause()).contains("cannot open shared object file");
    assertThat(loader.availability().available()).isFalse();
    assertThat(loads).hasValue(1); // within the backoff: not tried again

    nanos.addAndGet(Nvml.Loader.FIRST_RETRY.toNanos());
    libraryThere[0] = true; // the library is installed, the driver not loaded yet
    NvmlAvailability second = loader.availability();
    assertThat(second.cause()).contains("NVML_ERROR_DRIVER_NOT_LOADED");
    assertThat(loads).hasValue(2);

    nanos.addAndGet(Nvml.Loader.FIRST_RETRY.toNanos()); // the backoff has doubled
    assertThat(loader.availability().available()).isFalse();
    assertThat(loads).hasValue(2);

    api.heal(); // the driver is loaded
    nanos.addAndGet(Nvml.Loader.FIRST_RETRY.toNanos());
    assertThat(loader.availability().available()).isTrue();
    assertThat(loader.api()).isSameAs(api);
    nanos.addAndGet(Duration.ofHours(1).toNanos());
    assertThat(loader.availability().available()).isTrue();
    assertThat(api.inits).isEqualTo(1); // once available, it stays so without probing again
    assertThat(loads).hasValue(2); // the library loaded once stays loaded; only probes repeat
  }

  @Test
  void theBackoffIsCapped() {
    AtomicLong nanos = new AtomicLong();
    AtomicInteger loads = new AtomicInteger();
    Nvml.Loader loader = new Nvml.Loader(() -> {
      loads.incrementAndGet();
      throw new UnsatisfiedLinkError("missing");
    }, nanos::get);
    for (int i = 0; i < 40; i++) {
      loader.availability();
      nanos.addAndGet(Nvml.Loader.MAX_RETRY.toNanos());
    }
    assertThat(loads).hasValue(40);
  }

  @Test
  void windowedSamplesAreCheckedAgainWhenTheMigModeChanges() {
    FakeNvmlApi.Device d = FakeGpus.h100(1, 1);
    d.samples = List.of(new Sample(5_000_000, 91), new Sample(5_100_000, 93));
    FakeNvmlApi api = new FakeNvmlApi().add(d);
    ManualClock clock = new ManualClock();
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(clock).buildUnstarted()) {
      t.sampleOnce(); // MIG on: samples NOT_SUPPORTED, windowed utilization disabled
      assertThat(t.latest(FakeGpus.H100_UUID, GpuSample.WHOLE_GPU).orElseThrow()
          .utilizationPercent()).isEqualTo(GpuSample.UNAVAILABLE);

      d.mig = new MigMode(0, 0); // MIG turned off (after a GPU reset)
      d.utilization = new NvmlApi.Utilization(10, 1);
      clock.advance(Duration.ofSeconds(1));
      t.sampleOnce();
      // the highest windowed sample, not the plain rate
      assertThat(t.latest(FakeGpus.H100_UUID, GpuSample.WHOLE_GPU).orElseThrow()
          .utilizationPercent()).isEqualTo(93);
    }
  }
}
