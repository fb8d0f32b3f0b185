package io.gpusched;

import java.util.List;
import java.util.Objects;

/**
 * One GPU of a node: its index on the node, UUID, model and {@link GpuMode}.
 *
 * @param index device index on the node (NVML index), {@code >= 0}
 * @param uuid device UUID, e.g. {@code GPU-b528261b-...}; not blank
 * @param model the GPU model
 * @param mode how the GPU is handed out
 * @param staticInstances for {@link GpuMode#MIG_STATIC}: the pre-made MIG instances (at most 8,
 *     valid placements, no overlap, within the compute slices); empty for every other mode
 */
public record GpuSpec(
    int index, String uuid, GpuModel model, GpuMode mode, List<MigInstance> staticInstances) {

  /**
   * Validates the GPU.
   *
   * @throws IllegalArgumentException if the index is negative, the UUID blank, a MIG mode is
   *     asked of a model without MIG, or the static instances are invalid for the model
   */
  public GpuSpec {
    Checks.requireNonNegative(index, "GPU index");
    Checks.requireName(uuid, "GPU uuid");
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(mode, "mode");
    staticInstances = List.copyOf(Objects.requireNonNull(staticInstances, "staticInstances"));
    boolean mig = mode == GpuMode.MIG_DYNAMIC || mode == GpuMode.MIG_STATIC;
    MigGeometry g = model.mig();
    if (mig && g == null) {
      throw new IllegalArgumentException(
          "GPU " + index + ": mode " + mode + " needs a MIG-capable model, " + model.name()
              + " is not");
    }
    if (mode != GpuMode.MIG_STATIC && !staticInstances.isEmpty()) {
      throw new IllegalArgumentException(
          "GPU " + index + ": static MIG instances are only for MIG_STATIC, mode is " + mode);
    }
    if (mode == GpuMode.MIG_STATIC && g != null) { // g is not null for a MIG mode (checked above)
      validateStatic(index, model, g, staticInstances);
    }
  }

  /** A whole GPU of the model, UUID derived from node-less index (for tests and simulations). */
  public static GpuSpec whole(int index, String uuid, GpuModel model) {
    return new GpuSpec(index, uuid, model, GpuMode.WHOLE, List.of());
  }

  private static void validateStatic(
      int index, GpuModel model, MigGeometry g, List<MigInstance> instances) {
    if (instances.isEmpty()) {
      throw new IllegalArgumentException("GPU " + index + ": MIG_STATIC needs at least one instance");
    }
    if (instances.size() > MigGeometry.MAX_SLICES) {
      throw new IllegalArgumentException(
          "GPU " + index + ": at most 8 static MIG instances, got " + instances.size());
    }
    int slots = 0;
    int compute = 0;
    for (MigInstance inst : instances) {
      MigProfile p = model.migProfile(inst.profile());
      if (!p.placementStarts().contains(inst.startSlot())) {
        throw new IllegalArgumentException(
            "GPU " + index + ": " + inst.profile() + " cannot start at slot " + inst.startSlot()
                + "; valid starts are " + p.placementStarts());
      }
      int mask = ((1 << p.memorySlices()) - 1) << inst.startSlot();
      if ((slots & mask) != 0) {
        throw new IllegalArgumentException(
            "GPU " + index + ": static instance " + inst + " overlaps another instance");
      }
      slots |= mask;
      compute += p.computeSlices();
    }
    if (compute > g.computeSlices()) {
      throw new IllegalArgumentException(
          "GPU " + index + ": static instances use " + compute + " compute slices, "
              + model.name() + " has " + g.computeSlices());
    }
  }
}
