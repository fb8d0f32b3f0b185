package io.gpusched.core;

/** The points a {@link Probe} is called at (a test seam). */
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
  FILTER_APPLIED
}
