package io.gpusched;

/**
 * When the threads that place on a cluster start their walk through equally good candidates at
 * offsets of their own, their <em>lanes</em> (set on the cluster's builder, {@code
 * GpuClusters.Builder#threadOffsets}). Among GPUs (or nodes) of equal score a placement takes the
 * lowest index, so that work packs to one side; threads placing at once then all go for the same
 * GPU and meet in compare-and-set retries. A lane starts each tie group at its own fraction of the
 * group (lane 0 at the lowest index, lane 1 halfway, lanes 2 and 3 at a quarter and three quarters,
 * ...) and wraps around, so a walk still visits every candidate: the mode changes only which of
 * several equally good candidates a thread takes, never whether a request fits. Several lanes are
 * several packing fronts, which costs some packing.
 */
public enum ThreadOffsets {
  /** Every thread walks every tie group from its lowest index: one packing front, always. */
  OFF,

  /**
   * A thread walks from its lane while placers collide: after any placement on the cluster lost a
   * race for a GPU word (its compare-and-set failed because another placement or a release changed
   * the word first), from the thread's next placement until 1,024 of its placements have passed
   * without a new lost race; from the lowest index otherwise. So one thread, threads that take
   * turns and threads that place now and then pack from one front exactly as one thread does, and
   * threads that place at once spread out as soon as they meet. The default.
   */
  WHEN_CONTENDED,

  /**
   * Every thread walks from its lane from its first placement on, and otherwise behaves as
   * placers that collide do (its allocation ids come in per-thread blocks once the cluster is past
   * its first 1,024): the spread that threads placing at once get, at the packing cost of several
   * fronts even when they take turns. The first thread to place has lane 0, the plain
   * lowest-index walk, and one thread alone places as with the other modes.
   */
  ALWAYS
}
