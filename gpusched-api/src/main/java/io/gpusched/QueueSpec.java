package io.gpusched;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A queue (tenant) of a scheduler: its fair-share weight and quotas.
 *
 * <p>Capacity is counted in <b>GPU-equivalents</b>: a whole GPU is 1, a MIG instance is its compute
 * slices over the GPU's (a {@code 3g.40gb} on an H100 is 3/7), a share is the larger of its
 * compute fraction (milli-GPU / 1000) and its memory fraction (its GPU memory over the GPU's), as in
 * dominant-resource fairness: {@code share(0, 20_480)} on an 80 GiB GPU counts 1/4, like {@code
 * share(250, 0)}. Quotas, fair shares, usage and cost all use this unit.
 *
 * <ul>
 *   <li>{@code guaranteedGpus}: capacity the queue gets back, by preemption of borrowers if needed,
 *       whenever it has work;
 *   <li>{@code borrowLimitGpus}: how far beyond its guarantee the queue may grow by borrowing idle
 *       capacity ({@link Double#POSITIVE_INFINITY}: no limit, 0: never borrows);
 *   <li>{@code lendLimitGpus}: how much of its unused guarantee others may borrow ({@code
 *       POSITIVE_INFINITY}: all of it; 0: its guarantee stays free for it).
 * </ul>
 *
 * <p>Every limit accepts its whole documented range, up to {@code Double.MAX_VALUE} (and infinity
 * where allowed), without overflow: the scheduler counts in milli-GPU, and any amount of
 * 2<sup>63</sup> milli-GPU (about 9.2 &times; 10<sup>15</sup> GPU-equivalents) or more counts as
 * unlimited. The weights of queues with work are compared relative to the largest, so any
 * positive finite weight works too.
 *
 * <p>{@code modelQuotas} add quotas per GPU model (key: {@link GpuModel#name()}), for teams that own
 * capacity of one model: usage of that model never exceeds its guarantee plus its borrow limit
 * (jobs are placed on other models instead), its guarantee is reclaimed on that model, and its lend
 * limit there bounds how much of its unused guarantee on the model others may borrow. The totals
 * above apply as well.
 *
 * <p>Immutable and thread-safe.
 *
 * <p>The canonical constructor throws {@link IllegalArgumentException} naming the bad value.
 *
 * @param name queue name (non-blank)
 * @param weight fair-share weight (positive, finite)
 * @param guaranteedGpus guaranteed quota in GPU-equivalents (&ge; 0, finite)
 * @param borrowLimitGpus borrow limit in GPU-equivalents (&ge; 0, may be infinite)
 * @param lendLimitGpus lend limit in GPU-equivalents (&ge; 0, may be infinite)
 * @param modelQuotas per-model quotas by GPU model name (may be empty)
 * @param allowSpot whether the queue's jobs that are not preemptible may run on {@link
 *     CapacityClass#SPOT} nodes when the scheduler prefers the cheapest nodes ({@code
 *     GpuSchedulers.Builder.preferCheapest}); without it they are kept on on-demand nodes, unless
 *     a job's request names capacity classes itself. Preemptible jobs prefer spot either way.
 *     Default false.
 */
public record QueueSpec(
    String name,
    double weight,
    double guaranteedGpus,
    double borrowLimitGpus,
    double lendLimitGpus,
    Map<String, ModelQuota> modelQuotas,
    boolean allowSpot) {

  /**
   * A queue without per-model quotas that keeps its jobs that are not preemptible off spot.
   *
   * @throws IllegalArgumentException naming the bad value
   */
  public QueueSpec(
      String name, double weight, double guaranteedGpus, double borrowLimitGpus, double lendLimitGpus) {
    this(name, weight, guaranteedGpus, borrowLimitGpus, lendLimitGpus, Map.of(), false);
  }

  /**
   * A queue that keeps its jobs that are not preemptible off spot.
   *
   * @throws IllegalArgumentException naming the bad value
   */
  public QueueSpec(
      String name,
      double weight,
      double guaranteedGpus,
      double borrowLimitGpus,
      double lendLimitGpus,
      Map<String, ModelQuota> modelQuotas) {
    this(name, weight, guaranteedGpus, borrowLimitGpus, lendLimitGpus, modelQuotas, false);
  }

  /** Validates the components. */
  public QueueSpec {
    Checks.requireName(name, "queue name");
    if (!(weight > 0) || Double.isInfinite(weight)) {
      throw new IllegalArgumentException(
          "weight of queue " + name + " must be positive and finite, was " + weight);
    }
    if (!(guaranteedGpus >= 0) || Double.isInfinite(guaranteedGpus)) {
      throw new IllegalArgumentException(
          "guaranteedGpus of queue " + name + " must be >= 0 and finite, was " + guaranteedGpus);
    }
    if (!(borrowLimitGpus >= 0)) {
      throw new IllegalArgumentException(
          "borrowLimitGpus of queue " + name + " must be >= 0, was " + borrowLimitGpus);
    }
    if (!(lendLimitGpus >= 0)) {
      throw new IllegalArgumentException(
          "lendLimitGpus of queue " + name + " must be >= 0, was " + lendLimitGpus);
    }
    Objects.requireNonNull(modelQuotas, "modelQuotas");
    for (var e : modelQuotas.entrySet()) {
      Checks.requireName(e.getKey(), "model name in quotas of queue " + name);
      Objects.requireNonNull(e.getValue(), "quota of model " + e.getKey() + " in queue " + name);
    }
    modelQuotas = Map.copyOf(modelQuotas);
  }

  /** A queue of weight 1 with no guarantee that may borrow without limit. */
  public static QueueSpec of(String name) {
    return builder(name).build();
  }

  /** Returns a builder: weight 1, no guarantee, unlimited borrowing and lending. */
  public static Builder builder(String name) {
    return new Builder(Objects.requireNonNull(name, "name"));
  }

  /** Builder of {@link QueueSpec}; not thread-safe, {@link #build()} validates. */
  public static final class Builder {
    private final String name;
    private double weight = 1;
    private double guaranteed;
    private double borrowLimit = Double.POSITIVE_INFINITY;
    private double lendLimit = Double.POSITIVE_INFINITY;
    private final Map<String, ModelQuota> modelQuotas = new LinkedHashMap<>();
    private boolean allowSpot;

    private Builder(String name) {
      this.name = name;
    }

    /** Sets the fair-share weight (positive). */
    public Builder weight(double weight) {
      this.weight = weight;
      return this;
    }

    /** Sets the guaranteed quota, GPU-equivalents. */
    public Builder guaranteedGpus(double gpus) {
      this.guaranteed = gpus;
      return this;
    }

    /** Sets the borrow limit beyond the guarantee, GPU-equivalents. */
    public Builder borrowLimitGpus(double gpus) {
      this.borrowLimit = gpus;
      return this;
    }

    /** Sets how much of the unused guarantee others may borrow, GPU-equivalents. */
    public Builder lendLimitGpus(double gpus) {
      this.lendLimit = gpus;
      return this;
    }

    /**
     * Adds a quota on one GPU model.
     *
     * @param model GPU model name ({@link GpuModel#name()})
     * @param guaranteedGpus guarantee on that model, GPU-equivalents
     * @param borrowLimitGpus how far beyond it the queue may use that model
     * @throws IllegalArgumentException naming the bad value
     */
    public Builder modelQuota(String model, double guaranteedGpus, double borrowLimitGpus) {
      return modelQuota(model, new ModelQuota(guaranteedGpus, borrowLimitGpus));
    }

    /**
     * Adds a quota on one GPU model, with a lend limit.
     *
     * @param model GPU model name ({@link GpuModel#name()})
     * @param quota guarantee, borrow limit and lend limit on that model
     * @throws IllegalArgumentException if the model name is blank
     */
    public Builder modelQuota(String model, ModelQuota quota) {
      modelQuotas.put(Checks.requireName(model, "model name"), Objects.requireNonNull(quota, "quota"));
      return this;
    }

    /**
     * Sets whether the queue's jobs that are not preemptible may run on spot nodes when the
     * scheduler prefers the cheapest nodes (see {@link QueueSpec#allowSpot()}). Default false.
     */
    public Builder allowSpot(boolean allowSpot) {
      this.allowSpot = allowSpot;
      return this;
    }

    /**
     * Builds the spec.
     *
     * @throws IllegalArgumentException naming the bad value
     */
    public QueueSpec build() {
      return new QueueSpec(name, weight, guaranteed, borrowLimit, lendLimit, modelQuotas, allowSpot);
    }
  }
}
