package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
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

  /**
   * Placers that behave as contended take their ids in blocks, but not a cluster's first 1,024:
   * the model pressures learn every 32nd id early on, and in blocks 16 threads handed out the 32nd
   * id only after about 256 placements, so the host-aware peek started that late.
   */
  @Test
  void contendedThreadsLearnTheHostRatioAsEarlyAsOneThread() throws Exception {
    for (int threads : new int[] {1, 16}) {
      GpuClusters.Builder b =
          GpuClusters.newBuilder()
              .strategy(PlacementStrategy.FRAGMENTATION_AWARE)
              .threadOffsets(ThreadOffsets.ALWAYS);
      for (int i = 0; i < 8; i++) {
        b.node(
            NodeSpec.builder("h" + i)
                .gpus(8, GpuModels.H100_80GB, GpuMode.WHOLE)
                .hostResources(128_000, 1_024_000)
                .build());
      }
      LockFreeCluster c = (LockFreeCluster) b.build();
      List<ExecutorService> pool = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        pool.add(Executors.newSingleThreadExecutor());
      }
      try {
        for (int i = 0; i < 40; i++) {
          Allocation a =
              pool.get(i % threads)
                  .submit(() -> c.tryPlace(PlacementRequest.wholeGpus(1).withHost(8_000, 64_000)))
                  .get();
          assertThat(a).isNotNull();
        }
      } finally {
        pool.forEach(ExecutorService::shutdownNow);
      }
      assertThat(c.hostLearned()).as("%d threads: host ratio learned by the 40th placement", threads).isTrue();
    }
  }
}
