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

  /** A new one-H100 MIG_DYNAMIC FIRST_FIT cluster registered under the token. */
  static void newH100(Object token) {
    CLUSTERS.put(
        token,
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.FIRST_FIT)
            .node(NodeSpec.builder("n").gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build())
            .build());
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
