package io.gpusched;

import java.util.List;
import java.util.Objects;

/**
 * One MIG GPU-instance profile of a GPU model, as NVML reports it
 * ({@code nvmlDeviceGetGpuInstanceProfileInfo} and {@code nvmlDeviceGetGpuInstancePossiblePlacements}).
 *
 * <p>A placement of this profile occupies {@link #memorySlices()} consecutive memory slices starting
 * at one of {@link #placementStarts()} and uses {@link #computeSlices()} of the GPU's compute slices.
 * Both limits apply: on an H100 {@code 3g.40gb} takes 4 memory slices but only 3 compute slices.
 *
 * @param name NVML profile name, e.g. {@code 1g.10gb} or {@code 1g.10gb+me}
 * @param profileId NVML profile <em>id</em> (not the profile index); ids differ between chips
 * @param computeSlices compute slices used by one instance, {@code >= 1}
 * @param memorySlices memory slices (placement size) used by one instance, {@code >= 1}
 * @param memoryMiB memory of one instance in MiB
 * @param smCount streaming multiprocessors of one instance
 * @param maxInstances most instances of this profile one GPU can hold at once
 * @param placementStarts valid start memory slices, ascending and distinct
 */
public record MigProfile(
    String name,
    int profileId,
    int computeSlices,
    int memorySlices,
    long memoryMiB,
    int smCount,
    int maxInstances,
    List<Integer> placementStarts) {

  /**
   * Validates and copies the placement list.
   *
   * @throws IllegalArgumentException if a count is not positive, the id is negative, or the
   *     placements are empty, negative or not strictly ascending
   */
  public MigProfile {
    Checks.requireName(name, "profile name");
    Checks.requireNonNegative(profileId, "profileId of " + name);
    Checks.requirePositive(computeSlices, "computeSlices of " + name);
    Checks.requirePositive(memorySlices, "memorySlices of " + name);
    Checks.requirePositive(memoryMiB, "memoryMiB of " + name);
    Checks.requirePositive(smCount, "smCount of " + name);
    Checks.requirePositive(maxInstances, "maxInstances of " + name);
    Objects.requireNonNull(placementStarts, "placementStarts");
    placementStarts = List.copyOf(placementStarts);
    if (placementStarts.isEmpty()) {
      throw new IllegalArgumentException("profile " + name + " has no placements");
    }
    int previous = -1;
    for (int start : placementStarts) {
      if (start <= previous) {
        throw new IllegalArgumentException(
            "placements of " + name + " must be ascending and >= 0: " + placementStarts);
      }
      previous = start;
    }
  }

  /** Returns whether this is a media-extension profile ({@code +me}), of which a GPU holds one. */
  public boolean isMediaExtension() {
    return name.endsWith("+me");
  }
}
