package io.gpusched.nvml;

import io.gpusched.GpuModel;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import java.util.List;
import java.util.Objects;

/**
 * One GPU as NVML reported it, with the gpusched model and mode derived from it.
 *
 * @param index NVML device index ({@code nvmlDeviceGetHandleByIndex_v2})
 * @param nvmlName NVML device name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param uuid device UUID
 * @param pciBusId PCI bus id, e.g. {@code 00000000:00:06.0}
 * @param memoryTotalBytes total device memory in bytes
 * @param migCapable whether NVML reports a MIG mode for the GPU
 * @param migEnabled whether MIG is currently enabled
 * @param migPendingEnabled whether MIG will be enabled after the next GPU reset
 * @param model the gpusched model: a catalog entry, or one built from NVML's answers
 * @param mode {@link GpuMode#MIG_DYNAMIC} when MIG is enabled, else {@link GpuMode#WHOLE}
 */
public record NvmlDevice(
    int index,
    String nvmlName,
    String uuid,
    String pciBusId,
    long memoryTotalBytes,
    boolean migCapable,
    boolean migEnabled,
    boolean migPendingEnabled,
    GpuModel model,
    GpuMode mode) {

  /** Checks for nulls. */
  public NvmlDevice {
    Objects.requireNonNull(nvmlName, "nvmlName");
    Objects.requireNonNull(uuid, "uuid");
    Objects.requireNonNull(pciBusId, "pciBusId");
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(mode, "mode");
  }

  /**
   * Returns the GPU as a gpusched {@link GpuSpec}.
   *
   * @throws IllegalArgumentException as {@link GpuSpec#GpuSpec} does
   */
  public GpuSpec toGpuSpec() {
    return new GpuSpec(index, uuid, model, mode, List.of());
  }
}
