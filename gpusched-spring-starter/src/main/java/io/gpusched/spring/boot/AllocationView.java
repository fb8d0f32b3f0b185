package io.gpusched.spring.boot;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * An {@link Allocation} as JSON-friendly data: what it holds, where, and whether it is active.
 * Spring Boot's Jackson writes an {@code Allocation} returned from a controller as this (see {@link
 * GpuSchedJacksonModule}).
 *
 * @param id the allocation's id
 * @param node the node of its first GPU
 * @param active whether it still holds its capacity
 * @param request the request it answers, in words ({@link RequestText})
 * @param gpus each GPU (or MIG slice, or share) it holds
 */
public record AllocationView(long id, String node, boolean active, String request, List<Gpu> gpus) {

  /** Copies the list. */
  public AllocationView {
    gpus = List.copyOf(gpus);
  }

  /**
   * Returns the view of an allocation.
   *
   * @param a the allocation
   * @return its view
   */
  public static AllocationView of(Allocation a) {
    return new AllocationView(
        a.id(),
        a.nodeId(),
        a.isActive(),
        RequestText.of(a.request(), List.of(a)),
        a.gpus().stream().map(Gpu::of).toList());
  }

  /**
   * One GPU an allocation holds.
   *
   * @param node the node
   * @param index the GPU's index on the node
   * @param uuid the GPU's UUID (on a declared, simulated node a label such as {@code GPU-node-0})
   * @param model the GPU model
   * @param mode the GPU's mode ({@code WHOLE}, {@code MIG_DYNAMIC}, {@code MIG_STATIC}, {@code
   *     SHARED})
   * @param migProfile the MIG profile, for a MIG slice
   * @param migStartSlot the MIG slice's first memory slot, or -1
   * @param milliGpu the compute share in milli-GPU (1000 for a whole GPU, 0 for MIG)
   * @param memoryMiB the GPU memory held
   * @param what in words: {@code "GPU 2"}, {@code "3g.40gb at slot 4"}, {@code "300 milli + 20 GiB"}
   */
  public record Gpu(
      String node,
      int index,
      String uuid,
      String model,
      String mode,
      @Nullable String migProfile,
      int migStartSlot,
      int milliGpu,
      long memoryMiB,
      String what) {

    /**
     * Returns the view of one allocated GPU.
     *
     * @param g the GPU
     * @return its view
     */
    public static Gpu of(AllocatedGpu g) {
      String what;
      if (g.migProfile() != null) {
        what = g.migProfile() + " at slot " + g.migStartSlot();
      } else if (g.mode() == io.gpusched.GpuMode.SHARED) {
        what = g.milliGpu() + " milli + " + RequestText.mebibytes(g.memoryMiB());
      } else {
        what = "GPU " + g.gpuIndex();
      }
      return new Gpu(
          g.nodeId(),
          g.gpuIndex(),
          g.gpuUuid(),
          g.model(),
          g.mode().name(),
          g.migProfile(),
          g.migStartSlot(),
          g.milliGpu(),
          g.memoryMiB(),
          what);
    }
  }
}
