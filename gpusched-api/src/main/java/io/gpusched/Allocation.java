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

  /**
   * Returns whether the allocation is active: not released and not lost with a node. A severed
   * spread gang (see {@link #release()}) is not active, though it still holds its GPUs on the
   * nodes that were not removed.
   */
  boolean isActive();

  /**
   * Returns the capacity to the cluster. Lock-free.
   *
   * <p>An allocation lost with its node ({@link GpuCluster#removeNode(String, boolean)} with
   * force) has nothing left to give back, except a <em>severed</em> spread gang: one that lost a
   * node while it held GPUs on others. It keeps those GPUs, since its workers there run until
   * they are stopped; stop them, then call this to give them back (all at one instant).
   *
   * @return {@code true} if this call gave capacity back (an active allocation, or a severed gang's
   *     GPUs on the nodes that were not removed); {@code false} if it was already released, or lost
   *     with its only node(s)
   */
  boolean release();
}
