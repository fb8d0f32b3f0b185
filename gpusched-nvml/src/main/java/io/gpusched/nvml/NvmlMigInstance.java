package io.gpusched.nvml;

import io.gpusched.MigInstance;
import java.util.List;
import java.util.Objects;

/**
 * An existing MIG GPU instance, as NVML reports it ({@code nvmlDeviceGetGpuInstances} and {@code
 * nvmlGpuInstanceGetInfo}), with the UUIDs of the MIG devices (compute instances) on it.
 *
 * <p>Immutable and thread-safe.
 *
 * @param gpuInstanceId the GPU instance id NVML gives it
 * @param profileId the GPU-instance profile <em>id</em> (e.g. 9 for {@code 3g.40gb} on an H100)
 * @param profile the profile name, derived as NVIDIA's tooling names it, e.g. {@code 3g.40gb}
 * @param placementStart first memory slice of its placement
 * @param placementSize memory slices of its placement
 * @param migDeviceUuids UUIDs ({@code MIG-...}) of the MIG devices on the instance, in MIG device
 *     index order: usually one (a compute instance spanning the GPU instance), none when no compute
 *     instance was made, several when it was split
 */
public record NvmlMigInstance(
    int gpuInstanceId,
    int profileId,
    String profile,
    int placementStart,
    int placementSize,
    List<String> migDeviceUuids) {

  /** Checks for nulls and copies the list. */
  public NvmlMigInstance {
    Objects.requireNonNull(profile, "profile");
    migDeviceUuids = List.copyOf(migDeviceUuids);
  }

  /** Returns the instance as a gpusched static MIG instance (profile name and start slot). */
  public MigInstance toMigInstance() {
    return new MigInstance(profile, placementStart);
  }
}
