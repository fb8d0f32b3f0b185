package io.gpusched;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The MIG geometry of a GPU model: how many compute and memory slices it has and which GPU-instance
 * profiles fit where. This is data, not code: the catalog in {@link GpuModels} and models discovered
 * through NVML at run time are both plain instances of this record.
 *
 * @param computeSlices compute slices per GPU (7 on A100/H100/H200/B200, 4 on A30); at most 8
 * @param memorySlices memory slices per GPU (8 on A100/H100/H200/B200, 4 on A30); at most 8
 * @param profiles the GPU-instance profiles, names unique
 */
public record MigGeometry(int computeSlices, int memorySlices, List<MigProfile> profiles) {

  /** The most slices of either kind a GPU may have; the engine keeps one bit per memory slice. */
  public static final int MAX_SLICES = 8;

  /**
   * Validates the geometry.
   *
   * @throws IllegalArgumentException if slice counts are outside 1..8, a profile name repeats, a
   *     profile needs more slices than the GPU has, or a placement runs past the last memory slice
   */
  public MigGeometry {
    if (computeSlices < 1 || computeSlices > MAX_SLICES) {
      throw new IllegalArgumentException("computeSlices must be in 1..8, was " + computeSlices);
    }
    if (memorySlices < 1 || memorySlices > MAX_SLICES) {
      throw new IllegalArgumentException("memorySlices must be in 1..8, was " + memorySlices);
    }
    Objects.requireNonNull(profiles, "profiles");
    profiles = List.copyOf(profiles);
    if (profiles.isEmpty()) {
      throw new IllegalArgumentException("a MIG geometry needs at least one profile");
    }
    var names = new HashSet<String>();
    for (MigProfile p : profiles) {
      if (!names.add(p.name())) {
        throw new IllegalArgumentException("duplicate MIG profile name " + p.name());
      }
      if (p.computeSlices() > computeSlices) {
        throw new IllegalArgumentException(
            "profile " + p.name() + " needs " + p.computeSlices() + " compute slices, GPU has "
                + computeSlices);
      }
      for (int start : p.placementStarts()) {
        if ((long) start + p.memorySlices() > memorySlices) { // long: no overflow near MAX_VALUE
          throw new IllegalArgumentException(
              "placement " + start + ":" + p.memorySlices() + " of " + p.name()
                  + " runs past memory slice " + (memorySlices - 1));
        }
      }
    }
  }

  /**
   * Looks a profile up by name.
   *
   * @param name profile name such as {@code 3g.40gb}
   * @return the profile, or empty if this geometry has none of that name
   */
  public Optional<MigProfile> profile(String name) {
    for (MigProfile p : profiles) {
      if (p.name().equals(name)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }
}
