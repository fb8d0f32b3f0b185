package io.gpusched;

import java.util.List;
import java.util.Optional;

/**
 * Service-provider interface through which the scheduler reads GPU telemetry (utilization, memory,
 * processes) for idle detection and reporting.
 *
 * <p>{@code gpusched-nvml} provides the real implementation (a background NVML sampler with a
 * cache); tests and simulations provide scripted ones. Devices are named as in {@link GpuSample}:
 * physical GPU UUID plus MIG start slot or {@link GpuSample#WHOLE_GPU}.
 *
 * <p><b>Contract.</b> Implementations must be thread-safe and fast: the scheduler calls them from
 * its timer and never expects them to reach the driver on the caller's thread (serve cached
 * samples). They must not throw for an unknown device: return empty. Missing, stale and lost
 * readings are never treated as idle by the scheduler.
 */
public interface GpuTelemetry {

  /**
   * Returns the most recent sample of a device.
   *
   * @param gpuUuid UUID of the physical GPU
   * @param migStartSlot MIG GPU-instance start slot, or {@link GpuSample#WHOLE_GPU}
   * @return the latest sample, or empty if none was taken (unknown device, not sampled yet)
   */
  Optional<GpuSample> latest(String gpuUuid, int migStartSlot);

  /**
   * Returns the retained samples of a device taken at or after {@code sinceMillis}, oldest first.
   * The default returns just the latest sample when it is recent enough; samplers that keep a
   * window override it.
   *
   * @param gpuUuid UUID of the physical GPU
   * @param migStartSlot MIG GPU-instance start slot, or {@link GpuSample#WHOLE_GPU}
   * @param sinceMillis epoch milliseconds; older samples are left out
   * @return an immutable list, possibly empty
   */
  default List<GpuSample> history(String gpuUuid, int migStartSlot, long sinceMillis) {
    return latest(gpuUuid, migStartSlot)
        .filter(s -> s.timestampMillis() >= sinceMillis)
        .map(List::of)
        .orElse(List.of());
  }

  /** A telemetry source that knows no device: nothing is ever idle. */
  GpuTelemetry NONE = (uuid, slot) -> Optional.empty();
}
