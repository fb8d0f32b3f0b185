package io.gpusched.bench.peer;

import io.gpusched.NodeSpec;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
import io.gpusched.core.GpuClusters;
import java.util.List;
import java.util.Locale;

/** Creates a {@link PeerScheduler} by its short name. */
public final class PeerSchedulers {
  private PeerSchedulers() {}

  /**
   * Creates the named scheduler over these nodes.
   *
   * @param impl {@code gpusched}, {@code locked} or {@code fenzo}
   * @throws IllegalArgumentException for an unknown name
   */
  public static PeerScheduler create(String impl, List<NodeSpec> nodes, PlacementStrategy strategy) {
    return create(impl, nodes, strategy, ThreadOffsets.WHEN_CONTENDED);
  }

  /**
   * Creates the named scheduler over these nodes; {@code threadOffsets} is when gpusched's placing
   * threads take start offsets of their own ({@link GpuClusters.Builder#threadOffsets(
   * ThreadOffsets)}), ignored by the peers.
   *
   * @param impl {@code gpusched}, {@code locked} or {@code fenzo}
   * @throws IllegalArgumentException for an unknown name
   */
  public static PeerScheduler create(
      String impl, List<NodeSpec> nodes, PlacementStrategy strategy,
      ThreadOffsets threadOffsets) {
    return switch (impl.toLowerCase(Locale.ROOT)) {
      case "gpusched" -> new GpuschedPeer(nodes, strategy, threadOffsets);
      case "locked" -> new LockedBestFit(nodes, strategy);
      case "fenzo" -> new FenzoPeer(nodes, strategy);
      default ->
          throw new IllegalArgumentException(
              "unknown scheduler " + impl + "; known: gpusched, locked, fenzo");
    };
  }
}
