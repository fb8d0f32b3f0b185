package io.gpusched;

/**
 * Aggregated usage of a set of GPUs (a node, a model, a label value, or the cluster).
 *
 * <p>Counts are taken GPU by GPU without stopping placements, so a snapshot taken under load mixes
 * instants; each GPU's figures are read from one atomic word and are therefore self-consistent, and
 * no figure is ever negative or above its total.
 *
 * @param gpus GPUs counted
 * @param freeGpus GPUs with nothing allocated on them
 * @param allocatedGpus GPUs with something allocated ({@code gpus - freeGpus})
 * @param migSlices memory slices of MIG GPUs
 * @param migSlicesUsed memory slices occupied by MIG instances
 * @param sharedMilli milli-GPU capacity of SHARED GPUs (1000 each)
 * @param sharedMilliUsed milli-GPU taken on SHARED GPUs
 * @param capacityMilli total capacity in milli-GPU (1000 per GPU)
 * @param allocatedMilli allocated capacity in milli-GPU (whole GPUs 1000, MIG pro rata by memory
 *     slices, shares by milli)
 * @param fragmentedMilli free capacity, in milli-GPU, that the expected request mix cannot use
 *     because of how work was placed: capacity the mix can never use on the hardware (counted on
 *     each node as if it were empty) is left out, so an empty cluster has 0 (see {@code
 *     docs/placement.md}); {@code <= capacityMilli - allocatedMilli}
 */
public record UsageSummary(
    int gpus,
    int freeGpus,
    int allocatedGpus,
    int migSlices,
    int migSlicesUsed,
    long sharedMilli,
    long sharedMilliUsed,
    long capacityMilli,
    long allocatedMilli,
    double fragmentedMilli) {

  /** Allocated share of capacity in percent, 0..100. */
  public double allocatedPercent() {
    return capacityMilli == 0 ? 0 : 100.0 * allocatedMilli / capacityMilli;
  }

  /** Fragmented share of the free capacity in percent, 0..100. */
  public double fragmentationPercent() {
    long free = capacityMilli - allocatedMilli;
    return free == 0 ? 0 : Math.min(100.0, 100.0 * fragmentedMilli / free);
  }
}
