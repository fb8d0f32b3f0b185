package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementStrategy;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Keeps Lincheck test clusters out of the test objects' graphs. Lincheck 2.39 walks a test
 * object's fields (and its class's static fields) with {@code Unsafe.objectFieldOffset} /
 * {@code staticFieldBase}, which throw for record classes, and the engine holds records
 * (PlacementStrategy, NodeSpec, GpuSpec...). Test objects hold a plain token instead.
 */
final class LincheckClusters {
  private LincheckClusters() {}

  private static final Map<Object, GpuCluster> CLUSTERS =
      Collections.synchronizedMap(new WeakHashMap<>());

  /** The node that {@link PlacementLincheckOps} adds, removes and cordons. */
  static NodeSpec nodeX() {
    return NodeSpec.builder("x").gpus(2, GpuModels.A100_40GB, GpuMode.WHOLE).build();
  }

  private static final java.util.concurrent.ConcurrentLinkedQueue<GpuCluster> WIDE_POOL =
      new java.util.concurrent.ConcurrentLinkedQueue<>();

  /**
   * A FIRST_FIT cluster for {@link PlacementLincheckOps} in its initial state, registered under the
   * token: node m (an H100 and an A30, both MIG_DYNAMIC), node w (two WHOLE A100s, host CPU for
   * two 1000-milli requests), node s (one SHARED H100) and node x (two WHOLE A100s). Taken from a
   * pool of clusters that earlier invocations returned to their initial state ({@link
   * #recycleWide}); building one costs far more than an invocation.
   */
  static void newWide(Object token) {
    GpuCluster c = WIDE_POOL.poll();
    if (c != null && !pristine(c)) {
      DISCARDED.incrementAndGet();
      c = null;
    }
    if (c == null) {
      c =
          GpuClusters.newBuilder()
              .strategy(PlacementStrategy.FIRST_FIT)
              .node(
                  NodeSpec.builder("m")
                      .gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
                      .gpus(1, GpuModels.A30_24GB, GpuMode.MIG_DYNAMIC)
                      .build())
              .node(
                  NodeSpec.builder("w")
                      .gpus(2, GpuModels.A100_40GB, GpuMode.WHOLE)
                      .hostResources(2000, NodeSpec.UNTRACKED)
                      .build())
              .node(NodeSpec.builder("s").gpus(1, GpuModels.H100_80GB, GpuMode.SHARED).build())
              .node(nodeX())
              .build();
    }
    CLUSTERS.put(token, c);
  }

  static final java.util.concurrent.atomic.AtomicInteger DISCARDED =
      new java.util.concurrent.atomic.AtomicInteger();

  /** All GPUs free, node x present and READY, the engine's invariants hold. */
  private static boolean pristine(GpuCluster c) {
    var snap = c.snapshot();
    boolean xReady =
        snap.nodes().stream()
            .anyMatch(n -> n.nodeId().equals("x") && n.state() == io.gpusched.NodeState.READY);
    return xReady
        && snap.total().freeGpus() == snap.total().gpus()
        && snap.nodes().size() == 4
        && EngineInvariants.verify((LockFreeCluster) c).isEmpty();
  }

  /**
   * Returns a cluster whose allocations have all been released to its initial state (node x
   * present and READY) and puts it in the pool, unless node x was re-added often enough that its
   * left-behind index slots would slow it down. The state is then the initial one as placements
   * see it: FIRST_FIT picks the lowest-index free GPU, and removed slots are never schedulable.
   */
  static void recycleWide(Object token) {
    GpuCluster c = CLUSTERS.remove(token);

    if (!c.nodes().stream().anyMatch(n -> n.id().equals("x"))) {
      c.addNode(nodeX());
    }
    c.setNodeState("x", io.gpusched.NodeState.READY);
    if (((LockFreeCluster) c).slot("x", 0).local < 64) {
      WIDE_POOL.add(c);
    }
  }

  static GpuCluster get(Object token) {
    return CLUSTERS.get(token);
  }

  private static final Map<Object, Object> OTHERS = Collections.synchronizedMap(new WeakHashMap<>());

  /** Keeps any other graph (scheduler handles) under a token, for the same reason. */
  static void put(Object token, Object value) {
    OTHERS.put(token, value);
  }

  static <T> T get(Object token, Class<T> type) {
    return type.cast(OTHERS.get(token));
  }

  /**
   * The stress options all Lincheck tests here use: 2 threads of 3 actors, one actor after, and
   * the given defaults for iterations and invocations, overridable with the system properties
   * {@code gpusched.lincheck.iterations} and {@code gpusched.lincheck.invocations}.
   */
  static org.jetbrains.kotlinx.lincheck.strategy.stress.StressOptions stress(
      int actorsBefore, int iterations, int invocations) {
    return new org.jetbrains.kotlinx.lincheck.strategy.stress.StressOptions()
        .threads(2)
        .actorsPerThread(3)
        .actorsBefore(actorsBefore)
        .actorsAfter(1)
        .iterations(Integer.getInteger("gpusched.lincheck.iterations", iterations))
        .invocationsPerIteration(Integer.getInteger("gpusched.lincheck.invocations", invocations));
  }
}
