package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
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

  private static GpuCluster migCluster(ThreadOffsets offsets) {
    return migCluster(offsets, 4);
  }

  private static GpuCluster migCluster(ThreadOffsets offsets, int nodes) {
    GpuClusters.Builder b =
        GpuClusters.newBuilder().strategy(PlacementStrategy.BEST_FIT).threadOffsets(offsets);
    for (int i = 0; i < nodes; i++) {
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
    GpuCluster c = migCluster(ThreadOffsets.ALWAYS);
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
    GpuCluster c = migCluster(ThreadOffsets.OFF);
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
    GpuClusters.Builder b =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.BEST_FIT)
            .threadOffsets(ThreadOffsets.ALWAYS);
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

  /**
   * One thread places exactly as without offsets, in every mode. Threads that take turns never
   * lose a race, so by default they also pack from one front and take their allocation ids one at
   * a time, exactly as one thread does: the same placements, also under FRAGMENTATION_AWARE, whose
   * learning is paced by the ids. With offsets always on they place elsewhere.
   */
  @Test
  void threadsTakingTurnsPackLikeOneThreadByDefault() throws Exception {
    for (PlacementStrategy s :
        List.of(PlacementStrategy.FRAGMENTATION_AWARE, PlacementStrategy.BEST_FIT, PlacementStrategy.FIRST_FIT)) {
      List<String> one = run(s, ThreadOffsets.OFF, 1);
      assertThat(run(s, ThreadOffsets.WHEN_CONTENDED, 1)).as("%s, one thread", s).isEqualTo(one);
      assertThat(run(s, ThreadOffsets.ALWAYS, 1)).as("%s, one thread", s).isEqualTo(one);
      assertThat(run(s, ThreadOffsets.WHEN_CONTENDED, 3)).as("%s, three in turn", s).isEqualTo(one);
      assertThat(run(s, ThreadOffsets.ALWAYS, 3)).as("%s, three on lanes", s).isNotEqualTo(one);
    }
  }

  /**
   * A lost race, made deterministic: a placement made inside another's window (the hook just before
   * its CAS) on the same GPU makes that CAS fail. From then on each thread walks from its lane, in
   * the order the threads first need one (here the placing thread lane 0, the plain walk, and the
   * other lane 1, halfway), for {@link LockFreeCluster#LANE_HOLD} of its placements, and then from
   * the lowest index again.
   */
  @Test
  void aLostRaceSendsThreadsToTheirLanesForAWhile() throws Exception {
    LockFreeCluster c = (LockFreeCluster) migCluster(ThreadOffsets.WHEN_CONTENDED, 8);
    ExecutorService second = Executors.newSingleThreadExecutor();
    try {
      PlacementRequest full = PlacementRequest.mig("7g.80gb");
      PlacementRequest small = PlacementRequest.mig("1g.10gb");
      assertThat(node(c.tryPlace(full))).isEqualTo("n0");
      // no race yet: the other thread also walks from the lowest index
      Allocation other = on(second, () -> c.tryPlace(full));
      assertThat(node(other)).isEqualTo("n1");
      other.release();

      Group g = ((AllocationImpl) c.tryPlace(small)).slots[0].group; // n1 (best fit)
      List<Allocation> inside = new ArrayList<>();
      boolean[] armed = {true};
      g.hook =
          (point, subject) -> {
            if (point == ProbePoint.BEFORE_CAS && armed[0]) {
              armed[0] = false;
              inside.add(c.tryPlace(small)); // changes the word the outer placement read
            }
          };
      Allocation raced = c.tryPlace(small);
      g.hook = null;
      assertThat(node(inside.get(0))).isEqualTo("n1");
      assertThat(node(raced)).as("the loser tried the GPU again: it still fitted").isEqualTo("n1");

      // this thread is the first to need a lane: lane 0, the plain walk
      assertThat(node(c.tryPlace(full))).isEqualTo("n2");
      // n3..n7 are empty and tie: the other thread's lane 1 starts halfway through the 8 GPUs
      for (int i = 0; i < LockFreeCluster.LANE_HOLD; i++) {
        Allocation a = on(second, () -> c.tryPlace(full));
        assertThat(node(a)).as("placement %d after the race", i).isEqualTo("n4");
        a.release();
      }
      assertThat(node(on(second, () -> c.tryPlace(full))))
          .as("no race for LANE_HOLD placements: the lowest index again")
          .isEqualTo("n3");
      assertThat(EngineInvariants.verify(c)).isEmpty();
    } finally {
      second.shutdownNow();
    }
  }

  /**
   * Many threads placing and releasing at once on a small cluster meet all the time: they lose
   * races, take lanes and give them up, and nothing is lost or granted twice.
   */
  @Test
  void contendedPlacersKeepTheInvariants() throws Exception {
    LockFreeCluster c = (LockFreeCluster) migCluster(ThreadOffsets.WHEN_CONTENDED, 8);
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Integer>> done = new ArrayList<>();
      java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
      for (int t = 0; t < threads; t++) {
        int seed = t;
        done.add(pool.submit(() -> {
          Random r = new Random(seed);
          String[] profiles = {"1g.10gb", "2g.20gb", "3g.40gb"};
          List<Allocation> held = new ArrayList<>();
          int placed = 0;
          start.await();
          for (int i = 0; i < 20_000; i++) {
            if (held.size() > 6 || (!held.isEmpty() && r.nextBoolean())) {
              held.remove(r.nextInt(held.size())).release();
            } else {
              Allocation a = c.tryPlace(PlacementRequest.mig(profiles[r.nextInt(profiles.length)]));
              if (a != null) {
                held.add(a);
                placed++;
              }
            }
          }
          held.forEach(Allocation::release);
          return placed;
        }));
      }
      for (Future<Integer> f : done) {
        assertThat(f.get()).isPositive();
      }
      assertThat(EngineInvariants.verify(c)).isEmpty();
      assertThat(c.snapshot().total().allocatedMilli()).isZero();
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<String> run(PlacementStrategy s, ThreadOffsets offsets, int threads)
      throws Exception {
    ExecutorService[] turns = new ExecutorService[threads];
    for (int i = 0; i < threads; i++) {
      turns[i] = Executors.newSingleThreadExecutor();
    }
    try {
      return run(s, offsets, turns);
    } finally {
      for (ExecutorService e : turns) {
        e.shutdownNow();
      }
    }
  }

  private static List<String> run(PlacementStrategy s, ThreadOffsets offsets, ExecutorService[] turns)
      throws Exception {
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
      Allocation a = on(turns[i % turns.length], () -> c.tryPlace(req));
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
