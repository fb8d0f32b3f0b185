package io.gpusched;

import org.jspecify.annotations.Nullable;

/**
 * A GPU model: its name, memory, SM count and, when it supports MIG, its {@link MigGeometry}.
 *
 * <p>Built-in models are in {@link GpuModels}; user-defined models are plain instances, e.g. {@code
 * new GpuModel("L40S", 46068, 142, null)}. Models compare by value; the scheduler groups GPUs by
 * {@link #name()}, so two different models must not share a name in one cluster.
 *
 * @param name model name, e.g. {@code H100-80GB}; not blank
 * @param memoryMiB total GPU memory in MiB, {@code > 0}
 * @param smCount streaming multiprocessors, {@code > 0}
 * @param mig the MIG geometry, or {@code null} when the model does not support MIG
 */
public record GpuModel(String name, long memoryMiB, int smCount, @Nullable MigGeometry mig) {

  /**
   * Validates the model.
   *
   * @throws IllegalArgumentException if the name is blank or memory or SM count is not positive
   */
  public GpuModel {
    Checks.requireName(name, "GPU model name");
    Checks.requirePositive(memoryMiB, "memoryMiB of " + name);
    Checks.requirePositive(smCount, "smCount of " + name);
  }

  /** Returns whether this model supports MIG (has a geometry). */
  public boolean isMigCapable() {
    return mig != null;
  }

  /**
   * Returns the MIG profile of that name.
   *
   * @throws IllegalArgumentException if the model has no MIG support or no such profile; the
   *     message lists the profiles it has
   */
  public MigProfile migProfile(String profileName) {
    MigGeometry g = mig;
    if (g == null) {
      throw new IllegalArgumentException("GPU model " + name + " does not support MIG");
    }
    return g.profile(profileName)
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    "unknown MIG profile " + profileName + " for " + name + "; it has "
                        + g.profiles().stream().map(MigProfile::name).toList()));
  }
}
