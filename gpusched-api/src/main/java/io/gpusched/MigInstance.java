package io.gpusched;

/**
 * A MIG GPU instance made in advance on a {@link GpuMode#MIG_STATIC} GPU.
 *
 * @param profile profile name, e.g. {@code 3g.40gb}
 * @param startSlot first memory slice of the instance; must be a valid placement of the profile
 */
public record MigInstance(String profile, int startSlot) {
  /**
   * Validates the instance.
   *
   * @throws IllegalArgumentException if the profile name is blank or the start slot negative
   */
  public MigInstance {
    Checks.requireName(profile, "MIG instance profile");
    Checks.requireNonNegative(startSlot, "startSlot of " + profile);
  }
}
