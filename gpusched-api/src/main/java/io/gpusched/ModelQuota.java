package io.gpusched;

/**
 * A queue's quota on one GPU model (see {@link QueueSpec#modelQuotas()}), in GPU-equivalents of
 * that model.
 *
 * <p>Immutable and thread-safe.
 *
 * @param guaranteedGpus capacity of this model the queue gets back by preemption whenever it has
 *     work that can run on it (&ge; 0, finite)
 * @param borrowLimitGpus how far beyond that guarantee the queue may use this model ({@link
 *     Double#POSITIVE_INFINITY}: no limit, 0: never beyond)
 * @throws IllegalArgumentException naming the bad value
 */
public record ModelQuota(double guaranteedGpus, double borrowLimitGpus) {

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
  }
}
