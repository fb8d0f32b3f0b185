package io.gpusched.nvml;

import io.gpusched.GpuSample;

/**
 * For the JMH benchmarks (module {@code benchmarks}, through this module's test jar): an {@link
 * NvmlTelemetry} that has taken one pass, and a raw read of the same GPU through the {@link
 * NvmlApi} seam, over either {@link FakeNvmlApi} (an H100 as data) or the real NVML. Not API.
 */
public final class TelemetryBench implements AutoCloseable {
  private final NvmlApi api;
  private final NvmlTelemetry telemetry;
  private final String uuid;

  private TelemetryBench(NvmlApi api) {
    this.api = api;
    this.telemetry = NvmlTelemetry.builder(api).buildUnstarted(); // nvmlInit_v2 until close
    this.telemetry.sampleOnce();
    this.uuid = api.uuid(0);
    if (telemetry.latest(uuid, GpuSample.WHOLE_GPU).isEmpty()) {
      throw new IllegalStateException("no sample of GPU 0 after one pass");
    }
  }

  /** Over a fake H100 (no native call at all). */
  public static TelemetryBench fake() {
    return new TelemetryBench(new FakeNvmlApi().add(FakeGpus.h100(0, 0)));
  }

  /**
   * Over {@code libnvidia-ml.so.1}, GPU 0.
   *
   * @throws NvmlException where NVML is not available
   */
  public static TelemetryBench nvml() {
    return new TelemetryBench(Nvml.api());
  }

  /** The telemetry, sampled once, not sampling further. */
  public NvmlTelemetry telemetry() {
    return telemetry;
  }

  /** UUID of GPU 0. */
  public String uuid() {
    return uuid;
  }

  /** One raw read: {@code nvmlDeviceGetUtilizationRates} of GPU 0 through the seam (handle lookup included). */
  public int rawUtilization() {
    return api.utilization(0).gpu();
  }

  /** Shuts NVML down. */
  @Override
  public void close() {
    telemetry.close();
  }
}
