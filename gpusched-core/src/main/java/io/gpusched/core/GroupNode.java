package io.gpusched.core;

/** The GPUs one node has in one {@link Group}, with the node's free-GPU count as last indexed. */
@EnginePart
final class GroupNode {
  final NodeEntry node;
  final Group group;
  final int local;
  final GpuSlot[] gpus;

  /**
   * The bucket this node was last put in: a hint for which bucket bit to clear, never trusted.
   * Plain, not volatile (no fence on the placement path): a stale value only leaves a stale
   * positive in another bucket, which readers clean when they hit it (see {@link GroupIndex}), or
   * clears a bit inside a window whose repair sets the right one again.
   */
  private int indexedFree;

  /** Loads the hint, plain ({@code lp}, JCTools' naming). */
  int lpIndexedFree() {
    return indexedFree;
  }

  /** Stores the hint, plain ({@code sp}). */
  void spIndexedFree(int free) {
    indexedFree = free;
  }

  GroupNode(NodeEntry node, Group group, int local, GpuSlot[] gpus) {
    this.node = node;
    this.group = group;
    this.local = local;
    this.gpus = gpus;
  }

  /** Counts empty GPUs by reading their words. */
  int countFree() {
    int n = 0;
    for (GpuSlot g : gpus) {
      if (g.lvWord() == 0) {
        n++;
      }
    }
    return n;
  }
}
