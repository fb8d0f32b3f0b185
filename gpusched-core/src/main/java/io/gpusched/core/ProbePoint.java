package io.gpusched.core;

/**
 * The points a {@link Probe} is called at (a test seam): slow-path points through the cluster's
 * probe, placement-path points through {@code Group.hook}.
 */
@EnginePart
enum ProbePoint {
  /** A placing thread is about to relearn the request mix (subject: null). */
  RELEARN,
  /** The mix folded new weights that call for new tables, none rebuilt yet (subject: weights). */
  WEIGHTS_FOLDED,
  /** A group's new decision tables are built, not yet published (subject: the group). */
  TABLES_BUILT,
  /**
   * A constraint filter build read one node's schedulability and has not recorded it yet
   * (subject: the {@link GroupNode}).
   */
  FILTER_NODE_READ,
  /** Management applied a node's schedulability to the cached filters (subject: the node). */
  FILTER_APPLIED,

  // Placement path (Group#hook):
  /** A search reached a GPU candidate, before reading its word (subject: the GpuSlot). */
  CANDIDATE,
  /** A placement took its GPUs and the node's host resources, not yet published (GpuSlot). */
  HOST_HELD,
  /** Just before a GPU word CAS of a single-GPU placement (subject: the GpuSlot). */
  BEFORE_CAS,
  /** A gang took one GPU of a node (subject: the GpuSlot). */
  GANG_TOOK,
  /** A release made its allocation RELEASING, its word step not yet done (AllocationImpl). */
  RELEASING,
  /**
   * A release did its word step (its linearization point) on this GPU and has not returned; its
   * other GPUs, index windows and bookkeeping may not be done yet (subject: the GpuSlot).
   */
  RELEASED_WORDS,
  /** An index window is open, its clear not yet done (subject: GpuSlot or GroupNode). */
  WINDOW_OPEN,
  /** An index window cleared the old bit, its repair not yet done (subject as above). */
  WINDOW_CLEARED
}
