package io.gpusched;

/**
 * The GPU part of a {@link PlacementRequest}: whole GPUs, one MIG instance, or a fractional share.
 * A sealed hierarchy: switch over its three records.
 */
public sealed interface GpuDemand permits GpuDemand.Whole, GpuDemand.Mig, GpuDemand.Share {

  /**
   * {@code count} whole GPUs, all-or-nothing, all of one GPU model unless {@code mixedModels}.
   * Whole GPUs come from {@link GpuMode#WHOLE} GPUs first; an empty {@link GpuMode#SHARED} GPU is
   * taken whole only when no WHOLE GPU fits.
   *
   * @param count GPUs wanted, in 1..{@value NodeSpec#MAX_GPUS} when {@code sameNode}, else {@code >= 1}
   * @param sameNode whether all GPUs must be on one node (NVLink gangs); a single GPU is always on
   *     one node
   * @param mixedModels whether GPUs of different models may be combined (only spread requests of
   *     several GPUs can combine them: one node's gang is taken from one model and mode)
   */
  record Whole(int count, boolean sameNode, boolean mixedModels) implements GpuDemand {
    /**
     * Validates the count.
     *
     * @throws IllegalArgumentException if count is not positive, or above 64 on one node
     */
    public Whole {
      Checks.requirePositive(count, "whole GPU count");
      if (sameNode && count > NodeSpec.MAX_GPUS) {
        throw new IllegalArgumentException(
            "whole GPU count " + count + " on one node exceeds " + NodeSpec.MAX_GPUS);
      }
    }

    /**
     * {@code count} whole GPUs of one model.
     *
     * @throws IllegalArgumentException if count is not positive, or above 64 on one node
     */
    public Whole(int count, boolean sameNode) {
      this(count, sameNode, false);
    }
  }

  /**
   * One MIG GPU instance of a profile, on a {@link GpuMode#MIG_DYNAMIC} or {@link
   * GpuMode#MIG_STATIC} GPU of a model that has the profile.
   *
   * @param profile profile name, e.g. {@code 3g.40gb}
   */
  record Mig(String profile) implements GpuDemand {
    /**
     * Validates the name.
     *
     * @throws IllegalArgumentException if the name is blank
     */
    public Mig {
      Checks.requireName(profile, "MIG profile");
    }
  }

  /**
   * A fractional share of one {@link GpuMode#SHARED} GPU.
   *
   * @param milliGpu compute share in thousandths of a GPU, 0..1000
   * @param memoryMiB GPU memory in MiB, {@code >= 0}
   */
  record Share(int milliGpu, long memoryMiB) implements GpuDemand {
    /**
     * Validates the amounts.
     *
     * @throws IllegalArgumentException if milliGpu is outside 0..1000, memory is negative, or both
     *     are zero
     */
    public Share {
      if (milliGpu < 0 || milliGpu > 1000) {
        throw new IllegalArgumentException("milliGpu must be in 0..1000, was " + milliGpu);
      }
      Checks.requireNonNegative(memoryMiB, "share memoryMiB");
      if (milliGpu == 0 && memoryMiB == 0) {
        throw new IllegalArgumentException("a share needs milliGpu > 0 or memoryMiB > 0");
      }
    }
  }
}
