package io.gpusched;

import java.util.List;

/**
 * The outcome of {@link GpuCluster#removeNode(String, boolean)}.
 *
 * @param nodeId the removed node
 * @param lost allocations that were active on the node when it was force-removed; they are no
 *     longer {@link Allocation#isActive() active} and their work must be requeued by the caller. A
 *     spread gang among them that also holds GPUs on other nodes keeps those until the caller
 *     stops its work there and calls {@link Allocation#release()}
 */
public record NodeRemoval(String nodeId, List<Allocation> lost) {
  /** Copies the list. */
  public NodeRemoval {
    lost = List.copyOf(lost);
  }
}
