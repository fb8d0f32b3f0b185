package io.gpusched;

/** The scheduling state of a node. Only {@link #READY} nodes receive new placements. */
public enum NodeState {
  /** Accepts new placements. */
  READY,
  /** Takes no new placements; existing allocations stay. */
  CORDONED,
  /** Takes no new placements and its existing allocations are expected to leave. */
  DRAINING,
  /**
   * A drain that is done: a {@link #DRAINING} node with no allocation left, as the scheduler's
   * {@link GpuScheduler#snapshot()} reports it. Only reported, never set: the node stays draining
   * (uncordon makes it ready) and no event announces it; {@link GpuCluster#setNodeState} rejects it.
   */
  DRAINED,
  /** Unreachable or gone; takes no placements. */
  DOWN
}
