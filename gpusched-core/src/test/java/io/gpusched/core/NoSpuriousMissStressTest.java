package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * "No spurious failure": while threads churn a cluster, a request for which capacity provably
 * exists at every instant is placed every time. Each case asserts zero misses, and the cluster's
 * invariants at the end. Probe counts scale with {@code gpusched.nomiss.probes} (default {@value
 * #DEFAULT_PROBES}).
 */
class NoSpuriousMissStressTest {
  static final int DEFAULT_PROBES = 3000;

  static int probes() {
    return Integer.getInteger("gpusched.nomiss.probes", DEFAULT_PROBES);
  }

  /** Runs {@code churners} until {@code probe} has run {@link #probes()} times; returns misses. */
  private static int run(int churners, ChurnBody churn, ProbeBody probe) throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    CountDownLatch started = new CountDownLatch(churners);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < churners; i++) {
      int id = i;
      Thread t =
          new Thread(
              () -> {
                SplittableRandom rnd = new SplittableRandom(0x5eedL + id);
                List<Allocation> held = new ArrayList<>();
                started.countDown();
                try {
                  while (!stop.get()) {
                    churn.step(id, rnd, held);
                  }
                } catch (Throwable e) {
                  errors.add(e);
                } finally {
                  held.forEach(Allocation::release);
                }
              },
              "churn-" + i);
      threads.add(t);
      t.start();
    }
    started.await();
    int misses = 0;
    try {
      for (int i = 0; i < probes(); i++) {
        Optional<Allocation> a = probe.place();
        if (a.isEmpty()) {
          misses++;
        } else {
          assertThat(a.get().release()).isTrue();
        }
      }
    } finally {
      stop.set(true);
      for (Thread t : threads) {
        t.join();
      }
    }
    assertThat(errors).isEmpty();
    return misses;
  }

  @FunctionalInterface
  interface ChurnBody {
    void step(int id, SplittableRandom rnd, List<Allocation> held);
  }

  @FunctionalInterface
  interface ProbeBody {
    Optional<Allocation> place();
  }

  /** Places {@code r} (if it fits) and keeps at most {@code keep} allocations, releasing the oldest. */
  private static void churn(GpuCluster c, PlacementRequest r, List<Allocation> held, int keep) {
    c.place(r).ifPresent(held::add);
    while (held.size() > keep) {
      held.remove(0).release();
    }
  }

  /**
   * Item 12 as the issue reproduces it: 16 threads churn {@code share(1, 1)} on one SHARED GPU (each
   * holds at most one, so at least 984 milli stay free) while a prober asks for {@code share(100,
   * 100)}.
   */
  @Test
  @Timeout(300)
  void shareChurnOnOneGpuNeverRefusesAShareThatFits() throws Exception {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .node(NodeSpec.builder("n").gpus(1, GpuModels.H100_80GB, GpuMode.SHARED).build())
                .build();
    PlacementRequest small = PlacementRequest.share(1, 1);
    int misses =
        run(
            16,
            (id, rnd, held) -> churn(c, small, held, 1),
            () -> c.place(PlacementRequest.share(100, 100)));
    assertThat(misses).as("share(100,100) refused while >= 984 milli were free").isZero();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * MIG, shares and whole GPUs churn on the "churn" nodes while a releaser stays parked inside its
   * index window on the target GPU (deterministically, through the test hook) with the GPU hidden
   * from the index; the prober asks for a {@code 1g.10gb} on the target node, whose GPU keeps at
   * least five free slices that nobody else may use (node-label constraints).
   */
  @Test
  @Timeout(300)
  void churnAndAParkedReleaserNeverRefuseCapacityNobodyElseCanTake() throws Exception {
    GpuClusters.Builder b = GpuClusters.newBuilder().strategy(PlacementStrategy.FRAGMENTATION_AWARE);
    b.node(
        NodeSpec.builder("target")
            .label("role", "target")
            .gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
            .build());
    for (int i = 0; i < 3; i++) {
      b.node(
          NodeSpec.builder("churn-" + i)
              .label("role", "churn")
              .gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
              .gpus(2, GpuModels.H100_80GB, GpuMode.SHARED)
              .gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE)
              .build());
    }
    LockFreeCluster c = (LockFreeCluster) b.build();
    Constraints target = Constraints.NONE.withLabel("role", "target");
    Constraints churnOnly = Constraints.NONE.withLabel("role", "churn");
    PlacementRequest probe = PlacementRequest.mig("1g.10gb").withConstraints(target);

    // park a releaser with the target GPU hidden (as in PlacementRaceTest)
    Allocation x = c.place(probe).orElseThrow();
    var releaser = new ParkedReleaser(x);
    Allocation y = c.place(probe).orElseThrow(); // back into the class the releaser clears
    releaser.clearAndPark();
    String[] profiles = {"1g.10gb", "2g.20gb", "3g.40gb", "1g.10gb+me", "7g.80gb"};
    int misses;
    try {
      misses =
          run(
              6,
              (id, rnd, held) -> {
                PlacementRequest r =
                    switch (rnd.nextInt(4)) {
                      case 0, 1 -> PlacementRequest.mig(profiles[rnd.nextInt(profiles.length)]);
                      case 2 -> PlacementRequest.share(50 + rnd.nextInt(400), 1000 + rnd.nextInt(20_000));
                      default -> PlacementRequest.wholeGpus(1 + rnd.nextInt(2), rnd.nextBoolean());
                    };
                churn(c, r.withConstraints(churnOnly), held, 3);
              },
              () -> c.place(probe));
    } finally {
      releaser.close();
    }
    assertThat(misses).as("1g.10gb refused on a GPU with >= 5 free slices").isZero();
    assertThat(y.release()).isTrue();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * Host resources: the node's CPU fits the prober's request plus everything the churners can
   * ever hold at once (seven 1g.10gb instances, 100 milli each), and the prober's A100 is of a model
   * the churners may not use. Churners' placements that fail or lose a race must not hold CPU.
   */
  @Test
  @Timeout(300)
  void hostResourcesHeldByFailingPlacementsNeverRefuseOthers() throws Exception {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .strategy(PlacementStrategy.FIRST_FIT)
                .node(
                    NodeSpec.builder("n")
                        .gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
                        .gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE)
                        .hostResources(1000 + 7 * 100, NodeSpec.UNTRACKED)
                        .build())
                .build();
    Constraints h100 = Constraints.NONE.withGpuModels(Set.of(GpuModels.H100_80GB.name()));
    Constraints a100 = Constraints.NONE.withGpuModels(Set.of(GpuModels.A100_80GB.name()));
    String[] profiles = {"1g.10gb", "2g.20gb", "3g.40gb"};
    int misses =
        run(
            6,
            (id, rnd, held) ->
                churn(
                    c,
                    PlacementRequest.mig(profiles[rnd.nextInt(3)])
                        .withHost(100, 0)
                        .withConstraints(h100),
                    held,
                    2),
            () -> c.place(PlacementRequest.wholeGpus(1).withHost(1000, 0).withConstraints(a100)));
    assertThat(misses).as("the A100 with its 1000 milli-CPU refused").isZero();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  /**
   * Item 11: two 8-GPU same-node gangs race for one empty 8-GPU node, round after round; exactly
   * one of them must win each round (never both fail), while other threads churn single GPUs on
   * another node of the same group.
   */
  @Test
  @Timeout(300)
  void twoGangsRacingForOneEmptyNodeNeverBothFail() throws Exception {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .node(
                    NodeSpec.builder("gang")
                        .label("role", "gang")
                        .gpus(8, GpuModels.A100_80GB, GpuMode.WHOLE)
                        .build())
                .node(
                    NodeSpec.builder("other")
                        .label("role", "churn")
                        .gpus(8, GpuModels.A100_80GB, GpuMode.WHOLE)
                        .build())
                .build();
    PlacementRequest gang =
        PlacementRequest.wholeGpus(8, true)
            .withConstraints(Constraints.NONE.withLabel("role", "gang"));
    PlacementRequest single =
        PlacementRequest.wholeGpus(1).withConstraints(Constraints.NONE.withLabel("role", "churn"));
    int rounds = Math.max(200, probes() / 3);
    CyclicBarrier start = new CyclicBarrier(2);
    AtomicReference<Optional<Allocation>> other = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
    Thread rival =
        new Thread(
            () -> {
              try {
                for (int i = 0; i < rounds; i++) {
                  start.await();
                  other.set(c.place(gang));
                  start.await();
                }
              } catch (Throwable e) {
                errors.add(e);
              }
            },
            "rival-gang");
    Thread churner =
        new Thread(
            () -> {
              List<Allocation> held = new ArrayList<>();
              while (!stop.get()) {
                churn(c, single, held, 3);
              }
              held.forEach(Allocation::release);
            },
            "churn");
    rival.start();
    churner.start();
    int bothFailed = 0;
    int bothWon = 0;
    try {
      for (int i = 0; i < rounds; i++) {
        start.await();
        Optional<Allocation> mine = c.place(gang);
        start.await();
        Optional<Allocation> theirs = other.get();
        if (mine.isEmpty() && theirs.isEmpty()) {
          bothFailed++;
        }
        if (mine.isPresent() && theirs.isPresent()) {
          bothWon++;
        }
        mine.ifPresent(Allocation::release);
        theirs.ifPresent(Allocation::release);
      }
    } finally {
      stop.set(true);
      rival.join();
      churner.join();
    }
    assertThat(errors).isEmpty();
    assertThat(bothWon).as("rounds where both gangs got the 8 GPUs").isZero();
    assertThat(bothFailed).as("rounds where both gangs failed on an empty node").isZero();
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }

  private static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
