package io.gpusched;

import java.util.List;

/**
 * Capacity granted by {@link GpuCluster#place(PlacementRequest)}: one or more GPUs, a MIG instance
 * or a share, plus host resources.
 *
 * <p>Thread-safe. {@link #release()} is idempotent and may be called from any thread: exactly one
 * call returns {@code true} and gives the capacity back; later calls return {@code false}.
 */
public interface Allocation {

  /** Returns the allocation's id, unique within its cluster. */
  long id();

  /** Returns the request that was placed. */
  PlacementRequest request();

  /** Returns the GPUs held, in placement order; never empty. */
  List<AllocatedGpu> gpus();

  /** Returns the node of the first GPU (the only node unless whole GPUs were spread). */
  default String nodeId() {
    return gpus().get(0).nodeId();
  }

  /** Returns whether the allocation still holds its capacity (not released, not lost). */
  boolean isActive();

  /**
   * Returns the capacity to the cluster. Lock-free.
   *
   * @return {@code true} if this call released it, {@code false} if it was already released or
   *     lost with its node
   */
  boolean release();
}
