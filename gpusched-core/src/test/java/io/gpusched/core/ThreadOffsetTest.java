package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.AllocatedGpu;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * Per-thread start offsets inside tie groups (issue 13, item 3): concurrent placers must not all
 * go for the same lowest-index GPU among equally good ones. Threads run one after the other here
 * (each call on its own thread, joined), so every placement is deterministic: the second thread to
 * place on a cluster starts halfway through each tie group, the first at the lowest index.
 */
class ThreadOffsetTest {

  private static GpuCluster migCluster(boolean offsets) {
    GpuClusters.Builder b =
        GpuClusters.newBuilder().strategy(PlacementStrategy.BEST_FIT).threadOffsets(offsets);
    for (int i = 0; i < 4; i++) {
      b.node(NodeSpec.builder("n" + i).gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build());
    }
    return b.build();
  }

  /** Runs the call on a thread of its own and waits for it. */
  private static <T> T on(ExecutorService thread, Callable<T> call) throws Exception {
    Future<T> f = thread.submit(call);
    return f.get();
  }

  private static @Nullable String node(@Nullable Allocation a) {
    return a == null ? null : a.gpus().get(0).nodeId();
  }

  @Test
  void aSecondThreadStartsHalfwayThroughATieGroupAndWrapsAround() throws Exception {
    GpuCluster c = migCluster(true);
    ExecutorService second = Executors.newSingleThreadExecutor();
    try {
      PlacementRequest full = PlacementRequest.mig("7g.80gb");
      Allocation first = c.tryPlace(full); // this thread: lane 0, the lowest index
      assertThat(node(first)).isEqualTo("n0");
      // the other thread: the empty GPUs n1..n3 tie; it starts at 4 / 2 = GPU 2, not at n1
      assertThat(node(on(second, () -> c.tryPlace(full)))).isEqualTo("n2");
      assertThat(node(on(second, () -> c.tryPlace(full)))).isEqualTo("n3");
      // past the end of the group it wraps to the indices below its start: nothing is missed
      assertThat(node(on(second, () -> c.tryPlace(full)))).isEqualTo("n1");
      assertThat(on(second, () -> c.tryPlace(full))).isNull();
      first.release();
      assertThat(node(on(second, () -> c.tryPlace(full)))).isEqualTo("n0");
      assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
    } finally {
      second.shutdownNow();
    }
  }

  @Test
  void withoutOffsetsEveryThreadTakesTheLowestIndex() throws Exception {
    GpuCluster c = migCluster(false);
    ExecutorService second = Executors.newSingleThreadExecutor();
    try {
      PlacementRequest full = PlacementRequest.mig("7g.80gb");
      assertThat(node(c.tryPlace(full))).isEqualTo("n0");
      assertThat(node(on(second, () -> c.tryPlace(full)))).isEqualTo("n1");
    } finally {
      second.shutdownNow();
    }
  }

  @Test
  void offsetsApplyToNodeBucketsAndOnlyWithinATie() throws Exception {
    GpuClusters.Builder b = GpuClusters.newBuilder().strategy(PlacementStrategy.BEST_FIT);
    for (int i = 0; i < 4; i++) {
      b.node(NodeSpec.builder("w" + i).gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build());
    }
    GpuCluster c = b.build();
    ExecutorService second = Executors.newSingleThreadExecutor();
    try {
      assertThat(node(c.tryPlace(PlacementRequest.wholeGpus(1)))).isEqualTo("w0");
      // best fit is not a tie: the node with one GPU left wins for every thread
      assertThat(node(on(second, () -> c.tryPlace(PlacementRequest.wholeGpus(1))))).isEqualTo("w0");
      // two GPUs on one node: w1..w3 tie (2 free each); the second thread starts at node 2
      assertThat(node(on(second, () -> c.tryPlace(PlacementRequest.wholeGpus(2, true)))))
          .isEqualTo("w2");
      assertThat(node(c.tryPlace(PlacementRequest.wholeGpus(2, true)))).isEqualTo("w1");
    } finally {
      second.shutdownNow();
    }
  }

  /** One thread places exactly as without offsets: the default changes nothing for it. */
  @Test
  void aSingleThreadPlacesAsWithoutOffsets() {
    for (PlacementStrategy s :
        List.of(PlacementStrategy.FRAGMENTATION_AWARE, PlacementStrategy.BEST_FIT, PlacementStrategy.FIRST_FIT)) {
      assertThat(run(s, true)).isEqualTo(run(s, false));
    }
  }

  private static List<String> run(PlacementStrategy s, boolean offsets) {
    GpuClusters.Builder b = GpuClusters.newBuilder().strategy(s).threadOffsets(offsets);
    for (int i = 0; i < 6; i++) {
      b.node(NodeSpec.builder("m" + i).gpus(4, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build());
      b.node(NodeSpec.builder("s" + i).gpus(2, GpuModels.A100_80GB, GpuMode.SHARED)
          .hostResources(64_000, 512_000).build());
      b.node(NodeSpec.builder("w" + i).gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE).build());
    }
    GpuCluster c = b.build();
    Random r = new Random(13);
    String[] profiles = {"1g.10gb", "2g.20gb", "3g.40gb", "7g.80gb"};
    List<String> where = new ArrayList<>();
    List<Allocation> held = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      if (!held.isEmpty() && r.nextInt(3) == 0) {
        held.remove(r.nextInt(held.size())).release();
        continue;
      }
      PlacementRequest req =
          switch (r.nextInt(3)) {
            case 0 -> PlacementRequest.mig(profiles[r.nextInt(profiles.length)]);
            case 1 -> PlacementRequest.share(50 + r.nextInt(900), 1024).withHost(2_000, 8_000);
            default -> PlacementRequest.wholeGpus(1 + r.nextInt(2), true);
          };
      Allocation a = c.tryPlace(req);
      if (a == null) {
        where.add("-");
        continue;
      }
      held.add(a);
      StringBuilder sb = new StringBuilder();
      for (AllocatedGpu g : a.gpus()) {
        sb.append(g.nodeId()).append('/').append(g.gpuIndex()).append('@').append(g.migStartSlot()).append(' ');
      }
      where.add(sb.toString());
    }
    return where;
  }
}
