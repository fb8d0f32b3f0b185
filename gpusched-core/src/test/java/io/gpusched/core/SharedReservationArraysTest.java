package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * One-GPU allocations share their arrays ({@link Reservation#one}): the slots are the GPU's {@link
 * GpuSlot#alone}, and without host resources the words are the group's shared cells. Shared
 * arrays must never change what an allocation reads: each allocation still sees its own delta,
 * host charge and holder position, and releasing everything leaves every word at zero.
 */
class SharedReservationArraysTest {
  private static long[] words(AllocationImpl a) throws ReflectiveOperationException {
    Field f = AllocationImpl.class.getDeclaredField("words");
    f.setAccessible(true);
    return (long[]) f.get(a);
  }

  @Test
  void oneGpuAllocationsShareTheirArraysAndReadTheirOwnValues() throws Exception {
    GpuCluster c =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.BEST_FIT)
            .node(
                NodeSpec.builder("n")
                    .gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
                    .hostResources(64_000, 512_000)
                    .build())
            .build();
    AllocationImpl a = (AllocationImpl) c.tryPlace(PlacementRequest.mig("1g.10gb"));
    assertThat(a).isNotNull();
    assertThat(a.slots).isSameAs(a.slots[0].alone);
    long[] aWords = words(a);
    long aDelta = a.delta(0);
    assertThat(a.release()).isTrue();
    AllocationImpl again = (AllocationImpl) c.tryPlace(PlacementRequest.mig("1g.10gb"));
    assertThat(again).isNotNull();
    assertThat(again.slots).isSameAs(a.slots);
    assertThat(again.delta(0)).isEqualTo(aDelta);
    assertThat(words(again)).as("the same delta and position: the same shared words").isSameAs(aWords);
    AllocationImpl b = (AllocationImpl) c.tryPlace(PlacementRequest.mig("1g.10gb"));
    assertThat(b).isNotNull();
    assertThat(b.slots[0]).isSameAs(again.slots[0]); // BEST_FIT: the same GPU, another slot
    assertThat(b.delta(0)).isNotEqualTo(again.delta(0));
    assertThat(words(b)).isNotSameAs(aWords);
    assertThat(again.delta(0)).as("b's placement changed nothing again reads").isEqualTo(aDelta);

    AllocationImpl host =
        (AllocationImpl)
            c.tryPlace(PlacementRequest.mig("1g.10gb").withHost(2_000, 4_096));
    assertThat(host).isNotNull();
    assertThat(host.hostCpu(0)).isEqualTo(2_000);
    assertThat(host.hostMem(0)).isEqualTo(4_096);
    assertThat(words(host)).as("host charges: own words").isNotSameAs(words(a));
    assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
  }

  @Test
  void randomChurnOnSharedArraysLeavesEveryWordAtZero() {
    LockFreeCluster c =
        (LockFreeCluster)
            GpuClusters.newBuilder()
                .strategy(PlacementStrategy.FRAGMENTATION_AWARE)
                .node(NodeSpec.builder("m").gpus(4, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build())
                .node(NodeSpec.builder("s").gpus(4, GpuModels.A100_80GB, GpuMode.SHARED).build())
                .build();
    String[] profiles = {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"};
    Random r = new Random(7);
    List<io.gpusched.Allocation> held = new ArrayList<>();
    for (int i = 0; i < 20_000; i++) {
      if (!held.isEmpty() && r.nextInt(3) == 0) {
        assertThat(held.remove(r.nextInt(held.size())).release()).isTrue();
      } else if (r.nextBoolean()) {
        c.place(PlacementRequest.mig(profiles[r.nextInt(profiles.length)])).ifPresent(held::add);
      } else {
        c.place(PlacementRequest.share(1 + r.nextInt(600), 1 + r.nextInt(20_000))).ifPresent(held::add);
      }
    }
    assertThat(EngineInvariants.verify(c)).isEmpty();
    held.forEach(io.gpusched.Allocation::release);
    for (Group g : c.groups()) {
      for (GpuSlot s : g.gpus) {
        assertThat(s.lvWord()).as("%s after releasing everything", s).isZero();
      }
    }
    assertThat(EngineInvariants.verify(c)).isEmpty();
  }
}
