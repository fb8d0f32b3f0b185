package io.gpusched.bench.peer;

import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
import io.gpusched.core.GpuClusters;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The library itself behind {@link PeerScheduler}: handles are {@link Allocation}s. */
public final class GpuschedPeer implements PeerScheduler {
  private final GpuCluster cluster;

  /** Wraps an existing cluster. */
  public GpuschedPeer(GpuCluster cluster) {
    this.cluster = cluster;
  }

  /** Builds a lock-free cluster of these nodes with this strategy. */
  public GpuschedPeer(List<NodeSpec> nodes, PlacementStrategy strategy) {
    this(nodes, strategy, ThreadOffsets.WHEN_CONTENDED);
  }

  /**
   * Builds a lock-free cluster of these nodes with this strategy and these per-thread start
   * offsets ({@link GpuClusters.Builder#threadOffsets(ThreadOffsets)}).
   */
  public GpuschedPeer(
      List<NodeSpec> nodes, PlacementStrategy strategy, ThreadOffsets threadOffsets) {
    this(GpuClusters.newBuilder().strategy(strategy).threadOffsets(threadOffsets).nodes(nodes).build());
  }

  /** Returns the wrapped cluster. */
  public GpuCluster cluster() {
    return cluster;
  }

  @Override
  public String name() {
    return "gpusched";
  }

  @Override
  public @Nullable Object place(PlacementRequest request) {
    return cluster.tryPlace(request);
  }

  @Override
  public boolean release(Object handle) {
    return ((Allocation) handle).release();
  }
}
