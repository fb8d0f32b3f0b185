package io.gpusched.nvml;

import io.gpusched.GpuModel;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.MigInstance;
import java.util.List;
import java.util.Objects;

/**
 * One GPU as NVML reported it, with the gpusched model and mode derived from it.
 *
 * @param index NVML device index ({@code nvmlDeviceGetHandleByIndex_v2})
 * @param nvmlName NVML device name, e.g. {@code NVIDIA H100 80GB HBM3}
 * @param uuid device UUID
 * @param pciBusId PCI bus id, e.g. {@code 00000000:00:06.0}
 * @param memoryTotalBytes total device memory in bytes: NVML's, or the model's when {@code
 *     memoryDerived}
 * @param migCapable whether NVML reports a MIG mode for the GPU
 * @param migEnabled whether MIG is currently enabled
 * @param migPendingEnabled whether MIG will be enabled after the next GPU reset
 * @param model the gpusched model: a catalog entry, or one built from NVML's answers
 * @param mode {@link GpuMode#WHOLE} when MIG is not enabled; else {@link GpuMode#MIG_STATIC} when
 *     MIG instances exist, {@link GpuMode#MIG_DYNAMIC} when none do (or they cannot be read)
 * @param migInstances the existing MIG GPU instances ordered by placement start; empty when MIG is
 *     disabled, no instance exists or they cannot be read
 * @param memoryDerived whether {@code memoryTotalBytes} is the model's memory rather than NVML's:
 *     NVML refused the GPU's memory ({@code NO_PERMISSION}, as it does for a MIG-enabled GPU's
 *     parent handle without privilege)
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
    GpuMode mode,
    List<NvmlMigInstance> migInstances,
    boolean memoryDerived) {

  /** Checks for nulls and copies the list. */
  public NvmlDevice {
    migInstances = List.copyOf(migInstances);
    Objects.requireNonNull(nvmlName, "nvmlName");
    Objects.requireNonNull(uuid, "uuid");
    Objects.requireNonNull(pciBusId, "pciBusId");
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(mode, "mode");
  }

  /**
   * Returns the GPU as a gpusched {@link GpuSpec}; a {@link GpuMode#MIG_STATIC} GPU gets its
   * existing instances as static instances.
   *
   * @throws IllegalArgumentException as {@link GpuSpec#GpuSpec} does
   */
  public GpuSpec toGpuSpec() {
    List<MigInstance> statics = mode == GpuMode.MIG_STATIC
        ? migInstances.stream().map(NvmlMigInstance::toMigInstance).toList()
        : List.of();
    return new GpuSpec(index, uuid, model, mode, statics);
  }
}
