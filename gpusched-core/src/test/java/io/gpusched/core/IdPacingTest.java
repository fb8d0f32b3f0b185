package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/**
 * The learning that is paced by allocation ids (the mix's relearn every {@link Mix#RELEARN_EVERY}th
 * id) comes as early with many placing threads as with one. Each thread takes its ids in blocks;
 * with blocks of 1,024 and 16 threads the first multiple of 256 was handed out only after about
 * 4,096 placements, so a cluster placed by a thread pool kept its prior mix for thousands of
 * placements (docs/fill-experiment.md, "Concurrent placers"). Threads place in turn here, so the
 * run is deterministic.
 */
class IdPacingTest {

  private static LockFreeCluster cluster() {
    GpuClusters.Builder b = GpuClusters.newBuilder().strategy(PlacementStrategy.FRAGMENTATION_AWARE);
    for (int i = 0; i < 8; i++) {
      b.node(NodeSpec.builder("w" + i).gpus(8, GpuModels.H100_80GB, GpuMode.WHOLE).build());
    }
    return (LockFreeCluster) b.build();
  }

  /** Places and releases {@code n} one-GPU requests, placement i on thread i mod threads. */
  private static void placeInTurn(LockFreeCluster c, int threads, int n) throws Exception {
    List<ExecutorService> pool = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      pool.add(Executors.newSingleThreadExecutor());
    }
    try {
      for (int i = 0; i < n; i++) {
        Allocation a = pool.get(i % threads).submit(() -> c.tryPlace(PlacementRequest.wholeGpus(1))).get();
        assertThat(a).isNotNull();
        a.release();
      }
    } finally {
      pool.forEach(ExecutorService::shutdownNow);
    }
  }

  @Test
  void sixteenThreadsInTurnRelearnTheMixAsSoonAsOneThreadDoes() throws Exception {
    LockFreeCluster one = cluster();
    double[] prior = one.tableWeights().clone();
    placeInTurn(one, 1, 300);
    assertThat(one.tableWeights()).as("one thread: relearned by its 256th placement").isNotEqualTo(prior);

    LockFreeCluster sixteen = cluster();
    assertThat(sixteen.tableWeights()).isEqualTo(prior);
    placeInTurn(sixteen, 16, 300);
    assertThat(sixteen.tableWeights())
        .as("16 threads in turn: relearned within the same 300 placements")
        .isEqualTo(one.tableWeights());
  }
}
