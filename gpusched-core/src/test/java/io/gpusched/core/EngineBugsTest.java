package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Minimal reproductions of engine bugs found by the property and stress tests; kept as regression
 * tests once fixed.
 */
class EngineBugsTest {

  static java.util.List<PlacementStrategy> strategies() {
    return ClusterPropertiesTest.STRATEGIES.subList(0, 4);
  }

  @ParameterizedTest
  @MethodSource("strategies")
  void shareOrderCacheMissesCapacity(PlacementStrategy s) {
    // A100-40GB: 40960 MiB, buckets of 2560 MiB
    GpuCluster c =
        GpuClusters.newBuilder()
            .strategy(s)
            .node(NodeSpec.builder("n").gpus(1, GpuModels.A100_40GB, GpuMode.SHARED).build())
            .build();
    // builds the cached order for key (100 milli, 1 bucket) with mem = 2560: it leaves out states
    // whose free memory is below 2560
    assertThat(c.place(PlacementRequest.share(100, 2560))).isPresent();
    // leaves 1960 MiB and 800 milli free on the GPU
    assertThat(c.place(PlacementRequest.share(100, 36440))).isPresent();
    // 100 milli / 100 MiB fits, same key (100, 1) -> stale order without the free-memory-bucket-0 state
    assertThat(c.place(PlacementRequest.share(100, 100))).isPresent();
    assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
  }


  @org.junit.jupiter.api.Test
  void hugeHostRequestIsRejectedNotWrapped() {
    GpuCluster c =
        GpuClusters.newBuilder()
            .node(
                NodeSpec.builder("n")
                    .gpus(4, GpuModels.A100_40GB, GpuMode.WHOLE)
                    .hostResources(1000, 1000)
                    .build())
            .build();
    assertThat(c.place(PlacementRequest.wholeGpus(1).withHost(1, 1))).isPresent();
    // (used 1) + Long.MAX_VALUE wraps negative, so "used + cpu > cap" is false and it is granted
    assertThat(c.place(PlacementRequest.wholeGpus(1).withHost(Long.MAX_VALUE, 0))).isEmpty();
    assertThat(c.place(PlacementRequest.wholeGpus(1).withHost(0, Long.MAX_VALUE))).isEmpty();
    // spread: (cpu + count - 1) / count overflows to a negative per-GPU charge that is not tracked
    assertThat(c.place(PlacementRequest.wholeGpus(2).withHost(Long.MAX_VALUE, 0))).isEmpty();
    assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
  }


  @org.junit.jupiter.api.Test
  void gangRollbackLeavesNodeIndexedWithTooFewFreeGpus() {
    GpuCluster c =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.FIRST_FIT)
            .node(NodeSpec.builder("n").gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build())
            .build();
    AllocationImpl both = (AllocationImpl) c.place(PlacementRequest.wholeGpus(2, true)).orElseThrow();
    GpuSlot[] slots = both.slots.clone();
    assertThat(both.release()).isTrue();
    AllocationImpl one = (AllocationImpl) c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    GpuSlot other = one.slots[0] == slots[0] ? slots[1] : slots[0];
    // The interleaving, replayed step by step on one thread:
    // thread A, takeEmpty(k = 2): the taken GPU fails, the other one is CASed 0 -> 1 ...
    assertThat(other.casWord(0, 1)).isTrue();
    other.group.index.onChange(other, 0, 1); // the fixed takeEmpty re-indexes after every change
    // ... thread B releases the single allocation: onChange -> updateNode counts 1 free GPU
    // (the one B freed; A's transient word hides the other) and indexes the node under 1 ...
    assertThat(one.release()).isTrue();
    // ... thread A has fewer than k GPUs and rolls back as takeEmpty does.
    other.subtract(1);
    other.group.index.onChange(other, 1, 0); // ... rollbacks included
    // Both GPUs are empty, nothing is in flight, but the node is indexed with 1 free GPU:
    assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
    // and the engine misses the capacity at quiescence:
    assertThat(c.place(PlacementRequest.wholeGpus(2, true))).isPresent();
  }
}
