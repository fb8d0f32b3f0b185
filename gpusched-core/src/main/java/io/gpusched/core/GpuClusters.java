package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Builds the lock-free {@link GpuCluster}.
 *
 * <pre>{@code
 * GpuCluster cluster = GpuClusters.newBuilder()
 *     .strategy(PlacementStrategy.FRAGMENTATION_AWARE)   // the default
 *     .node(NodeSpec.builder("n1").gpus(8, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build())
 *     .build();
 * }</pre>
 *
 * <p>The builder is not thread-safe; the cluster it builds is (see {@link GpuCluster}).
 */
public final class GpuClusters {
  private GpuClusters() {}

  /** Starts a builder with the default strategy, {@link PlacementStrategy#FRAGMENTATION_AWARE}. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** Builder of a {@link GpuCluster}. */
  public static final class Builder {
    private PlacementStrategy strategy = PlacementStrategy.FRAGMENTATION_AWARE;
    private final List<NodeSpec> nodes = new ArrayList<>();
    private @Nullable Map<GpuDemand, Double> mix;
    private ThreadOffsets threadOffsets = ThreadOffsets.WHEN_CONTENDED;

    private Builder() {}

    /**
     * When concurrent placing threads start their search for equally good candidates at
     * different places (default {@link ThreadOffsets#WHEN_CONTENDED}). Among GPUs (or nodes) of
     * equal score a placement takes the lowest index, so that work packs to one side; threads
     * placing at once all go for the same GPU and meet in CAS retries and on the same cache lines.
     * With an offset, a thread starts each tie group at a fraction of the group given by the bits
     * of its lane reversed (lane 0 at the lowest index, lane 1 halfway, lanes 2 and 3 at a quarter
     * and three quarters, ...), wrapping around; a walk still visits every candidate. Lanes go to
     * threads in the order they first need one, lane {@code n mod max(2, processors)} to the n-th.
     * Several packing fronts cost some packing (see {@code docs/fill-experiment.md}); the default
     * pays it only while placers really collide. Spread gangs always plan from the lowest index.
     *
     * @throws NullPointerException if {@code threadOffsets} is null
     */
    public Builder threadOffsets(ThreadOffsets threadOffsets) {
      this.threadOffsets = Objects.requireNonNull(threadOffsets, "threadOffsets");
      return this;
    }

    /**
     * {@code threadOffsets(on ? ThreadOffsets.WHEN_CONTENDED : ThreadOffsets.OFF)}: see {@link
     * #threadOffsets(ThreadOffsets)}.
     */
    public Builder threadOffsets(boolean on) {
      return threadOffsets(on ? ThreadOffsets.WHEN_CONTENDED : ThreadOffsets.OFF);
    }

    /** Sets the placement strategy (default {@link PlacementStrategy#FRAGMENTATION_AWARE}). */
    public Builder strategy(PlacementStrategy strategy) {
      this.strategy = Objects.requireNonNull(strategy, "strategy");
      return this;
    }

    /** Adds a node present from the start. */
    public Builder node(NodeSpec node) {
      nodes.add(Objects.requireNonNull(node, "node"));
      return this;
    }

    /** Adds nodes present from the start. */
    public Builder nodes(Iterable<NodeSpec> nodes) {
      nodes.forEach(this::node);
      return this;
    }

    /**
     * Fixes the request mix that fragmentation is measured against, instead of learning it from
     * recent requests. Keys are demands ({@code Whole} by count, {@code Share} by milli-GPU rounded
     * up to 25, {@code Mig} by profile name for every model that has it); values are relative
     * weights.
     *
     * @throws IllegalArgumentException if the map is empty or a weight is negative or not finite
     */
    public Builder expectedMix(Map<GpuDemand, Double> weights) {
      Objects.requireNonNull(weights, "weights");
      if (weights.isEmpty()) {
        throw new IllegalArgumentException("expected mix must not be empty");
      }
      weights.forEach(
          (d, w) -> {
            if (w == null || !(w >= 0) || w.isInfinite()) {
              throw new IllegalArgumentException("mix weight of " + d + " must be >= 0, was " + w);
            }
          });
      this.mix = Map.copyOf(weights);
      return this;
    }

    /**
     * Builds the cluster and adds the nodes.
     *
     * @throws IllegalArgumentException if two nodes share an id or a GPU model name is used with
     *     two definitions
     */
    public GpuCluster build() {
      double[] initial = new double[Mix.CLASSES];
      Map<String, Double> migWeights = new HashMap<>();
      if (mix != null) {
        mix.forEach(
            (d, w) -> {
              if (d instanceof GpuDemand.Whole whole) {
                initial[Mix.wholeClass(whole.count())] += w;
              } else if (d instanceof GpuDemand.Share share) {
                initial[Mix.shareClass(share.milliGpu())] += w;
              } else {
                migWeights.merge(((GpuDemand.Mig) d).profile(), w, Double::sum);
              }
            });
      }
      LockFreeCluster cluster = new LockFreeCluster(strategy, new Mix(initial, migWeights, mix != null), threadOffsets);
      for (NodeSpec n : nodes) {
        cluster.addNode(n);
      }
      return cluster;
    }
  }
}
