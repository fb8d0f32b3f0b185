package io.gpusched;

/**
 * A queue's quota on one GPU model (see {@link QueueSpec#modelQuotas()}), in GPU-equivalents of
 * that model.
 *
 * <p>Every value in the documented ranges is accepted, up to {@code Double.MAX_VALUE}: as for
 * {@link QueueSpec}, amounts of 2<sup>63</sup> milli-GPU or more (and infinity) mean unlimited.
 *
 * <p>Immutable and thread-safe.
 *
 * <p>The canonical constructor throws {@link IllegalArgumentException} naming the bad value.
 *
 * @param guaranteedGpus capacity of this model the queue gets back by preemption whenever it has
 *     work that can run on it (&ge; 0, finite)
 * @param borrowLimitGpus how far beyond that guarantee the queue may use this model ({@link
 *     Double#POSITIVE_INFINITY}: no limit, 0: never beyond)
 * @param lendLimitGpus how much of its unused guarantee on this model other queues may borrow
 *     ({@link Double#POSITIVE_INFINITY}: all of it, 0: it stays free for this queue); queues with a
 *     guarantee of their own on the model borrow within it without limit
 */
public record ModelQuota(double guaranteedGpus, double borrowLimitGpus, double lendLimitGpus) {

  /** A quota whose unused guarantee may all be lent. */
  public ModelQuota(double guaranteedGpus, double borrowLimitGpus) {
    this(guaranteedGpus, borrowLimitGpus, Double.POSITIVE_INFINITY);
  }

  /** Validates the components. */
  public ModelQuota {
    if (!(guaranteedGpus >= 0) || Double.isInfinite(guaranteedGpus)) {
      throw new IllegalArgumentException(
          "model quota guaranteedGpus must be >= 0 and finite, was " + guaranteedGpus);
    }
    if (!(borrowLimitGpus >= 0)) {
      throw new IllegalArgumentException(
          "model quota borrowLimitGpus must be >= 0, was " + borrowLimitGpus);
    }
    if (!(lendLimitGpus >= 0)) {
      throw new IllegalArgumentException(
          "model quota lendLimitGpus must be >= 0, was " + lendLimitGpus);
    }
  }
}
