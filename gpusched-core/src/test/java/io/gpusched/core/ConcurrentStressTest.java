package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuSpec;
import io.gpusched.GpuUsage;
import io.gpusched.MigInstance;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.NodeUsage;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Multi-threaded stress: threads place and release random shapes on a small cluster (high
 * contention) for {@code gpusched.stress.seconds}. A checker pauses the workers now and then (a
 * test-side read/write lock around batches of operations; the engine takes no lock) and compares
 * the quiescent cluster with a {@link ReferenceModel} built from the allocations outstanding at
 * that instant; between pauses it checks that racy snapshots still add up. At the end every
 * allocation ever returned must have been released exactly once, lost exactly once, or still be
 * active.
 */
class ConcurrentStressTest {
  static final long SEED = 0x5eed_2026L;
  static final int THREADS = 6;

  static double seconds() {
    return Double.parseDouble(System.getProperty("gpusched.stress.seconds", "3"));
  }

  static final List<MigInstance> STATIC_LAYOUT =
      List.of(new MigInstance("3g.40gb", 0), new MigInstance("2g.20gb", 4), new MigInstance("1g.10gb", 6));

  static List<NodeSpec> smallCluster() {
    NodeSpec a =
        NodeSpec.builder("a")
            .label("zone", "a")
            .gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
            .gpu(new GpuSpec(2, "GPU-a-2", GpuModels.H100_80GB, GpuMode.MIG_STATIC, STATIC_LAYOUT))
            .hostResources(8000, NodeSpec.UNTRACKED)
            .build();
    NodeSpec b =
        NodeSpec.builder("b")
            .label("zone", "b")
            .gpus(3, GpuModels.A100_40GB, GpuMode.WHOLE)
            .gpus(2, GpuModels.A100_40GB, GpuMode.SHARED)
            .build();
    NodeSpec c =
        NodeSpec.builder("c")
            .label("zone", "a")
            .gpus(1, GpuModels.A30_24GB, GpuMode.MIG_DYNAMIC)
            .gpus(2, GpuModels.H100_80GB, GpuMode.SHARED)
            .hostResources(4000, 131072)
            .build();
    return List.of(a, b, c);
  }

  static final String[] PROFILES = {
    "1g.10gb", "1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb", "1g.10gb+me", "4g.40gb", "7g.80gb",
    "1g.20gb", "1g.6gb", "2g.12gb", "4g.24gb"
  };

  /** Whether an empty node of {@code nodes} could host a whole-GPU or share request (not MIG). */
  static boolean couldEverHost(PlacementRequest r, List<NodeSpec> nodes) {
    if (r.gpus() instanceof GpuDemand.Share s) {
      return nodes.stream()
          .flatMap(n -> n.gpus().stream())
          .anyMatch(g -> g.mode() == GpuMode.SHARED && g.model().memoryMiB() >= s.memoryMiB());
    }
    if (!(r.gpus() instanceof GpuDemand.Whole w)) {
      return true;
    }
    long total = 0;
    for (NodeSpec n : nodes) {
      Map<String, Integer> byKind = new HashMap<>(); // a same-node gang stays in one model and mode
      for (GpuSpec g : n.gpus()) {
        if (g.mode() == GpuMode.WHOLE || g.mode() == GpuMode.SHARED) {
          total++;
          if (byKind.merge(g.model().name() + "|" + g.mode(), 1, Integer::sum) >= w.count()) {
            return true;
          }
        }
      }
    }
    return !w.sameNode() && w.count() > 1 && total >= w.count();
  }

  static PlacementRequest randomRequest(SplittableRandom rnd) {
    int t = rnd.nextInt(10);
    PlacementRequest r;
    if (t < 4) {
      r = PlacementRequest.mig(PROFILES[rnd.nextInt(PROFILES.length)]);
    } else if (t < 7) {
      int[] millis = {100, 250, 500, 1000};
      long[] mems = {1000, 10001, 20001};
      r = PlacementRequest.share(millis[rnd.nextInt(4)], mems[rnd.nextInt(3)]);
    } else {
      int count = 1 + rnd.nextInt(3);
      r = PlacementRequest.wholeGpus(count, rnd.nextBoolean());
    }
    if (rnd.nextInt(4) == 0) {
      r = r.withHost(500 + rnd.nextInt(1500), rnd.nextInt(2) * 30000L);
    }
    return r;
  }

  /** Shared bookkeeping of one stress run. */
  static final class Ledger {
    final Map<Long, Allocation> everPlaced = new ConcurrentHashMap<>();
    final Map<Long, Allocation> outstanding = new ConcurrentHashMap<>();
    final Map<Long, AtomicInteger> releasedTrue = new ConcurrentHashMap<>();
    final Map<Long, String> lost = new ConcurrentHashMap<>();
    final ConcurrentLinkedQueue<Allocation> contested = new ConcurrentLinkedQueue<>();
    final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    final AtomicLong places = new AtomicLong();
    final AtomicLong misses = new AtomicLong();
    final AtomicLong releases = new AtomicLong();

    void placed(Allocation a) {
      assertThat(everPlaced.putIfAbsent(a.id(), a)).as("id handed out twice: %s", a).isNull();
      outstanding.put(a.id(), a);
      places.incrementAndGet();
    }

    /** Releases; records a successful call. */
    void release(Allocation a) {
      if (a.release()) {
        int n = releasedTrue.computeIfAbsent(a.id(), k -> new AtomicInteger()).incrementAndGet();
        assertThat(n).as("release() returned true twice for %s", a).isEqualTo(1);
        assertThat(a.isActive()).isFalse();
        Allocation was = outstanding.remove(a.id());
        if (!spansNodes(a)) { // a severed spread gang's release may follow its loss
          assertThat(was).as("released %s that was not outstanding", a).isNotNull();
        }
        releases.incrementAndGet();
      } else {
        assertThat(a.isActive()).isFalse();
      }
    }

    /**
     * A worker may record a placement after a concurrent forced removal already reported it lost;
     * drop such entries. Called only while no removal runs.
     */
    void settle() {
      outstanding.keySet().removeAll(lost.keySet());
    }

    void assertFinal() {
      settle();
      for (Allocation a : everPlaced.values()) {
        int rel = releasedTrue.getOrDefault(a.id(), new AtomicInteger()).get();
        boolean isLost = lost.containsKey(a.id());
        boolean out = outstanding.containsKey(a.id());
        // a spread gang lost with one node (severed) is released once more for its other GPUs
        int fates = (isLost && spansNodes(a) ? 0 : rel) + (isLost ? 1 : 0) + (out ? 1 : 0);
        assertThat(fates)
            .as("allocation %s: released %d, lost %s, outstanding %s", a, rel, isLost, out)
            .isEqualTo(1);
        assertThat(rel).as("release() of %s returned true %d times", a, rel).isLessThanOrEqualTo(1);
        assertThat(a.isActive()).as("isActive of %s", a).isEqualTo(out);
      }
    }
  }

  /** Whether an allocation holds GPUs on more than one node (a spread gang a removal may sever). */
  static boolean spansNodes(Allocation a) {
    return a.gpus().stream().map(AllocatedGpu::nodeId).distinct().count() > 1;
  }

  /** Checks a quiescent cluster against the outstanding allocations. */
  static void checkQuiescent(GpuCluster cluster, Map<String, NodeState> states, Ledger ledger) {
    rethrow(ledger); // a worker that failed mid-operation leaves the cluster inconsistent
    ledger.settle();
    assertThat(EngineInvariants.verify((LockFreeCluster) cluster)).isEmpty();
    ReferenceModel m = new ReferenceModel();
    for (NodeSpec n : cluster.nodes()) {
      m.addNode(n);
      m.states.put(n.id(), states.getOrDefault(n.id(), NodeState.READY));
    }
    for (Allocation a : ledger.outstanding.values()) {
      assertThat(a.isActive()).as("outstanding %s", a).isTrue();
      m.live.put(a.id(), a);
    }
    m.assertMatches(cluster);
  }

  /** Checks what must hold of any snapshot, even one taken under load. */
  static void checkRacySnapshot(GpuCluster cluster) {
    ClusterSnapshot s = cluster.snapshot();
    ReferenceModel.assertSnapshotAddsUp(s);
    for (NodeUsage nu : s.nodes()) {
      for (GpuUsage g : nu.gpus()) {
        assertThat(g.allocatedMilli()).isBetween(0, 1000);
        assertThat(g.milliUsed()).isBetween(0, 1000);
        assertThat(g.memoryUsedMiB()).isGreaterThanOrEqualTo(0);
        assertThat(g.migComputeUsed()).isBetween(0, 8);
      }
    }
  }

  static void runWorkers(
      GpuCluster cluster,
      Ledger ledger,
      ReentrantReadWriteLock pause,
      AtomicBoolean stop,
      int threads,
      long seed,
      List<Thread> out) {
    CountDownLatch start = new CountDownLatch(1);
    for (int t = 0; t < threads; t++) {
      SplittableRandom rnd = new SplittableRandom(seed + t);
      Thread th =
          new Thread(
              () -> {
                List<Allocation> held = new ArrayList<>();
                try {
                  start.await();
                  while (!stop.get()) {
                    pause.readLock().lock();
                    try {
                      for (int i = 0; i < 32; i++) {
                        workerStep(cluster, ledger, rnd, held);
                      }
                    } finally {
                      pause.readLock().unlock();
                    }
                  }
                } catch (Throwable e) {
                  ledger.failures.add(e);
                  stop.set(true);
                }
              },
              "stress-" + t);
      th.start();
      out.add(th);
    }
    start.countDown();
  }

  static void workerStep(GpuCluster cluster, Ledger ledger, SplittableRandom rnd, List<Allocation> held) {
    int op = rnd.nextInt(100);
    if (op < 50 || held.isEmpty()) {
      PlacementRequest r = randomRequest(rnd);
      Optional<Allocation> got;
      List<NodeSpec> before = cluster.nodes();
      try {
        got = cluster.place(r);
      } catch (IllegalArgumentException e) {
        // legitimate only when no node could ever host the request: a profile no model here has,
        // or (removed nodes no longer count) no node present throughout the call could
        if (!e.getMessage().startsWith("unknown MIG profile")) {
          Set<String> after = new HashSet<>();
          cluster.nodes().forEach(n -> after.add(n.id()));
          List<NodeSpec> throughout = before.stream().filter(n -> after.contains(n.id())).toList();
          assertThat(couldEverHost(r, throughout)).as("%s refused: %s", r, e.getMessage()).isFalse();
        }
        return;
      }
      if (got.isPresent()) {
        Allocation a = got.get();
        ledger.placed(a);
        assertShape(a, r);
        held.add(a);
      } else {
        ledger.misses.incrementAndGet();
      }
    } else if (op < 90) {
      Allocation a = held.remove(rnd.nextInt(held.size()));
      ledger.release(a);
    } else if (op < 95) {
      // contested release: the same allocation twice into the shared queue
      Allocation a = held.remove(rnd.nextInt(held.size()));
      ledger.contested.add(a);
      ledger.contested.add(a);
    } else {
      Allocation a = ledger.contested.poll();
      if (a != null) {
        ledger.release(a);
      }
    }
  }

  static void assertShape(Allocation a, PlacementRequest r) {
    assertThat(a.request()).isEqualTo(r);
    assertThat(a.gpus()).isNotEmpty();
    for (AllocatedGpu g : a.gpus()) {
      if (r.gpus() instanceof io.gpusched.GpuDemand.Mig m) {
        assertThat(g.migProfile()).isEqualTo(m.profile());
        assertThat(GpuModels.byName(g.model()).orElseThrow().migProfile(m.profile()).placementStarts())
            .contains(g.migStartSlot());
      }
    }
  }

  static void await(List<Thread> threads) throws InterruptedException {
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(60));
      assertThat(t.isAlive()).as("%s did not stop", t.getName()).isFalse();
    }
  }

  static void rethrow(Ledger ledger) {
    Throwable first = ledger.failures.peek();
    if (first != null) {
      AssertionError e = new AssertionError("a worker failed: " + first, first);
      ledger.failures.stream().skip(1).forEach(e::addSuppressed);
      throw e;
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"FRAGMENTATION_AWARE", "FIRST_FIT"})
  @Timeout(120)
  void placeAndReleaseUnderContention(String strategyName) throws Exception {
    GpuCluster cluster =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.named(strategyName))
            .nodes(smallCluster())
            .build();
    Ledger ledger = new Ledger();
    ReentrantReadWriteLock pause = new ReentrantReadWriteLock();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    runWorkers(cluster, ledger, pause, stop, THREADS, SEED, threads);
    long end = System.nanoTime() + (long) (seconds() * 1e9);
    SplittableRandom rnd = new SplittableRandom(SEED);
    int pauses = 0;
    try {
      while (System.nanoTime() < end && !stop.get()) {
        checkRacySnapshot(cluster);
        if (rnd.nextInt(4) == 0) {
          pause.writeLock().lock();
          try {
            checkQuiescent(cluster, Map.of(), ledger);
            pauses++;
          } finally {
            pause.writeLock().unlock();
          }
        }
        Thread.sleep(5);
      }
    } finally {
      stop.set(true);
      await(threads);
    }
    rethrow(ledger);
    // contested entries that were never polled are still outstanding
    for (Allocation a; (a = ledger.contested.poll()) != null; ) {
      ledger.release(a);
    }
    checkQuiescent(cluster, Map.of(), ledger);
    ledger.assertFinal();
    assertThat(ledger.places.get()).as("placements made").isGreaterThan(100);
    assertThat(ledger.releases.get()).isGreaterThan(50);
    assertThat(pauses).isGreaterThan(0);
    for (Allocation a : List.copyOf(ledger.outstanding.values())) {
      ledger.release(a);
    }
    checkQuiescent(cluster, Map.of(), ledger);
    ledger.assertFinal();
    assertThat(cluster.snapshot().total().allocatedMilli()).isZero();
    assertThat(cluster.snapshot().total().freeGpus()).isEqualTo(cluster.snapshot().total().gpus());
  }

  /**
   * Whole-GPU gangs on nodes of few GPUs: the all-or-nothing rollback path (a gang that finds fewer
   * empty GPUs than counted) runs often.
   */
  @Test
  @Timeout(120)
  void wholeGangsRaceOnSmallNodes() throws Exception {
    List<NodeSpec> nodes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      nodes.add(NodeSpec.builder("w" + i).gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE).build());
    }
    GpuCluster cluster =
        GpuClusters.newBuilder().strategy(PlacementStrategy.BEST_FIT).nodes(nodes).build();
    Ledger ledger = new Ledger();
    AtomicBoolean stop = new AtomicBoolean();
    ReentrantReadWriteLock pause = new ReentrantReadWriteLock();
    List<Thread> threads = new ArrayList<>();
    CountDownLatch go = new CountDownLatch(1);
    for (int t = 0; t < THREADS; t++) {
      SplittableRandom rnd = new SplittableRandom(SEED * 31 + t);
      Thread th =
          new Thread(
              () -> {
                List<Allocation> held = new ArrayList<>();
                try {
                  go.await();
                  while (!stop.get()) {
                    pause.readLock().lock();
                    try {
                      for (int i = 0; i < 32; i++) {
                        if (held.isEmpty() || rnd.nextBoolean()) {
                          int k = 1 + rnd.nextInt(4);
                          PlacementRequest r = PlacementRequest.wholeGpus(k, rnd.nextInt(4) != 0);
                          Optional<Allocation> a = cluster.place(r);
                          if (a.isPresent()) {
                            ledger.placed(a.get());
                            assertThat(a.get().gpus()).hasSize(k);
                            held.add(a.get());
                          }
                        } else {
                          ledger.release(held.remove(rnd.nextInt(held.size())));
                        }
                      }
                    } finally {
                      pause.readLock().unlock();
                    }
                  }
                } catch (Throwable e) {
                  ledger.failures.add(e);
                  stop.set(true);
                }
              },
              "gang-" + t);
      th.start();
      threads.add(th);
    }
    go.countDown();
    long end = System.nanoTime() + (long) (seconds() * 1e9);
    try {
      while (System.nanoTime() < end && !stop.get()) {
        Thread.sleep(20);
        pause.writeLock().lock();
        try {
          checkQuiescent(cluster, Map.of(), ledger);
        } finally {
          pause.writeLock().unlock();
        }
      }
    } finally {
      stop.set(true);
      await(threads);
    }
    rethrow(ledger);
    checkQuiescent(cluster, Map.of(), ledger);
    ledger.assertFinal();
  }

  /**
   * Node churn while threads place and release: cordon / uncordon, forced removal and new nodes.
   * Every allocation on a removed node is either reported lost by that removal or was released;
   * none is silently dropped, and none is still active after its node is gone.
   */
  @Test
  @Timeout(120)
  void nodeChurnWhileThreadsPlace() throws Exception {
    churn(false);
  }

  /** As {@link #nodeChurnWhileThreadsPlace} with nodes also being added while threads place. */
  @Test
  @Timeout(120)
  void nodeChurnWithAddNodeWhileThreadsPlace() throws Exception {
    churn(true);
  }

  private void churn(boolean addNodes) throws Exception {
    GpuCluster cluster =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.FRAGMENTATION_AWARE)
            .nodes(smallCluster())
            .build();
    Ledger ledger = new Ledger();
    Map<String, NodeState> states = new ConcurrentHashMap<>();
    Set<String> removedNodes = ConcurrentHashMap.newKeySet();
    ReentrantReadWriteLock pause = new ReentrantReadWriteLock();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> threads = new ArrayList<>();
    runWorkers(cluster, ledger, pause, stop, THREADS - 1, SEED * 7, threads);
    long end = System.nanoTime() + (long) (seconds() * 1e9);
    SplittableRandom rnd = new SplittableRandom(SEED * 13);
    int nextNode = 0;
    int removals = 0;
    try {
      while (System.nanoTime() < end && !stop.get()) {
        int op = rnd.nextInt(10);
        List<NodeSpec> present = cluster.nodes();
        if (op < 5 && !present.isEmpty()) {
          String id = present.get(rnd.nextInt(present.size())).id();
          NodeState s = NodeState.values()[rnd.nextInt(NodeState.values().length)];
          if (rnd.nextBoolean() || s == NodeState.DRAINED) { // DRAINED is reported, never set
            s = NodeState.READY;
          }
          pause.readLock().lock();
          try {
            cluster.setNodeState(id, s);
            states.put(id, s);
          } finally {
            pause.readLock().unlock();
          }
        } else if (op < 7 && present.size() > 1) {
          String id = present.get(rnd.nextInt(present.size())).id();
          NodeRemoval removal;
          removal = cluster.removeNode(id, true); // no pause: races with placements on purpose
          removals++;
          removedNodes.add(id);
          states.remove(id);
          for (Allocation a : removal.lost()) {
            assertThat(a.isActive()).isFalse();
            assertThat(a.gpus()).extracting(AllocatedGpu::nodeId).contains(id);
            assertThat(ledger.lost.put(a.id(), id)).as("lost twice: %s", a).isNull();
            ledger.outstanding.remove(a.id());
            // a lost allocation frees nothing; a severed spread gang frees its other nodes' GPUs
            ledger.release(a);
            assertThat(a.release()).isFalse();
          }
          // every allocation returned so far that touches the node is no longer active
          for (Allocation a : ledger.everPlaced.values()) {
            if (a.gpus().stream().anyMatch(g -> g.nodeId().equals(id))) {
              assertThat(a.isActive()).as("%s active on removed node %s", a, id).isFalse();
            }
          }
        } else if (op < 9 && addNodes) {
          // add a fresh node, some of them like the small cluster's
          NodeSpec base = smallCluster().get(rnd.nextInt(3));
          String id = "x" + nextNode++;
          NodeSpec.Builder b = NodeSpec.builder(id).label("zone", base.labels().get("zone"));
          for (GpuSpec g : base.gpus()) {
            b.gpu(new GpuSpec(g.index(), "GPU-" + id + "-" + g.index(), g.model(), g.mode(), g.staticInstances()));
          }
          b.hostResources(base.cpuMillis(), base.memoryMiB());
          cluster.addNode(b.build());
          states.put(id, NodeState.READY);
        } else {
          pause.writeLock().lock();
          try {
            checkQuiescent(cluster, states, ledger);
          } finally {
            pause.writeLock().unlock();
          }
        }
        checkRacySnapshot(cluster);
        Thread.sleep(2);
      }
    } finally {
      stop.set(true);
      await(threads);
    }
    rethrow(ledger);
    for (Allocation a; (a = ledger.contested.poll()) != null; ) {
      ledger.release(a);
    }
    assertThat(removals).isGreaterThan(0);
    // workers may have released allocations after their node was removed: that returns false and
    // they must then be in the lost set (checked by assertFinal: exactly one fate each)
    checkQuiescent(cluster, states, ledger);
    ledger.assertFinal();
    for (Allocation a : ledger.everPlaced.values()) {
      boolean onRemoved = a.gpus().stream().anyMatch(g -> removedNodes.contains(g.nodeId()));
      if (onRemoved) {
        assertThat(a.isActive()).as("%s on a removed node", a).isFalse();
      }
    }
    for (Allocation a : List.copyOf(ledger.outstanding.values())) {
      ledger.release(a);
    }
    checkQuiescent(cluster, states, ledger);
    assertThat(cluster.snapshot().total().allocatedMilli()).isZero();
  }
}
