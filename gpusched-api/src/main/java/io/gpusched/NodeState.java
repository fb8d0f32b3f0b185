package io.gpusched;

/** The scheduling state of a node. Only {@link #READY} nodes receive new placements. */
public enum NodeState {
  /** Accepts new placements. */
  READY,
  /** Takes no new placements; existing allocations stay. */
  CORDONED,
  /** Takes no new placements and its existing allocations are expected to leave. */
  DRAINING,
  /** Unreachable or gone; takes no placements. */
  DOWN
}
