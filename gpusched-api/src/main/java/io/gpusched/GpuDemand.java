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
   * <p><b>Stranding.</b> Some placements leave compute slices that no later instance can use: on
   * an H100, a {@code 1g.20gb} at memory slice 0 takes two memory slices for one compute slice, and
   * the GPU can then reach 6 of its 7 compute slices at most (at slice 6 it strands none). By
   * default an instance goes wherever the placement strategy puts it, stranding or not. With
   * {@code noStranding} it goes only where it <em>strands no compute</em>: after it, the GPU can
   * still be filled to as many compute slices (by any profiles of its model) as before. The
   * placement is refused when no such place is free, even if a stranding one is. Placements on
   * {@link GpuMode#MIG_STATIC} GPUs never strand (their instances are fixed).
   *
   * @param profile profile name, e.g. {@code 3g.40gb}
   * @param noStranding whether to refuse every place that would strand compute (see above)
   */
  record Mig(String profile, boolean noStranding) implements GpuDemand {
    /**
     * Validates the name.
     *
     * @throws IllegalArgumentException if the name is blank
     */
    public Mig {
      Checks.requireName(profile, "MIG profile");
    }

    /**
     * One instance of the profile, placed wherever the strategy puts it ({@code noStranding ==
     * false}).
     *
     * @throws IllegalArgumentException if the name is blank
     */
    public Mig(String profile) {
      this(profile, false);
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
