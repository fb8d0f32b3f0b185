package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuSpec;
import io.gpusched.JobSpec;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * MIG requests that must not strand compute ({@link PlacementRequest#withoutStranding()}): where
 * the engine puts them, when it refuses them, and that the victim planner and the store agree.
 */
class NoStrandingTest {
  private static final PlacementRequest HEAVY = PlacementRequest.mig("1g.20gb");
  private static final PlacementRequest HEAVY_LOSSLESS = HEAVY.withoutStranding();

  private static GpuCluster cluster(PlacementStrategy s, int gpus) {
    return GpuClusters.newBuilder()
        .strategy(s)
        .node(NodeSpec.builder("m").gpus(gpus, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build())
        .build();
  }

  private static AllocatedGpu gpu(@Nullable Allocation a) {
    return Objects.requireNonNull(a, "placed").gpus().get(0);
  }

  @Test
  void firstFitPutsAMemoryHeavyInstanceWhereItStrandsNothing() {
    GpuCluster c = cluster(PlacementStrategy.FIRST_FIT, 1);
    assertThat(gpu(c.tryPlace(HEAVY)).migStartSlot()).as("first fit, plain").isZero();
    GpuCluster d = cluster(PlacementStrategy.FIRST_FIT, 1);
    assertThat(gpu(d.tryPlace(HEAVY_LOSSLESS)).migStartSlot()).as("first fit, no stranding").isEqualTo(6);
    // the 1g.20gb used the GPU's one spare memory slice: a 3g.40gb (4 memory, 3 compute) would
    // now strand one compute slice wherever it goes, a 2g.20gb strands none
    assertThat(d.tryPlace(PlacementRequest.mig("3g.40gb").withoutStranding())).isNull();
    assertThat(gpu(d.tryPlace(PlacementRequest.mig("2g.20gb").withoutStranding())).migStartSlot())
        .isZero();
  }

  @Test
  void refusedWhenOnlyAStrandingPlaceIsFreeWhileAPlainRequestStillFits() {
    GpuCluster c = cluster(PlacementStrategy.FIRST_FIT, 1);
    assertThat(gpu(c.tryPlace(HEAVY_LOSSLESS)).migStartSlot()).isEqualTo(6);
    // slice 7 is taken: any further 1g.20gb takes two memory slices for one compute slice
    assertThat(c.tryPlace(HEAVY_LOSSLESS)).isNull();
    assertThat(gpu(c.tryPlace(HEAVY)).migStartSlot()).isZero();
    assertThat(c.tryPlace(PlacementRequest.mig("1g.10gb").withoutStranding())).isNotNull();
    assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
  }

  /** A pre-made instance strands nothing (the layout is fixed): the flag changes no placement. */
  @Test
  void onStaticMigGpusTheFlagChangesNothing() {
    GpuSpec gpu =
        new GpuSpec(
            0, "GPU-s", GpuModels.H100_80GB, GpuMode.MIG_STATIC,
            List.of(
                new io.gpusched.MigInstance("1g.20gb", 0),
                new io.gpusched.MigInstance("1g.20gb", 2),
                new io.gpusched.MigInstance("3g.40gb", 4)));
    GpuCluster c =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.FIRST_FIT)
            .node(NodeSpec.builder("s").gpu(gpu).build())
            .build();
    assertThat(gpu(c.tryPlace(HEAVY_LOSSLESS)).migStartSlot()).isZero();
    assertThat(gpu(c.tryPlace(HEAVY_LOSSLESS)).migStartSlot()).isEqualTo(2);
    assertThat(gpu(c.tryPlace(PlacementRequest.mig("3g.40gb").withoutStranding())).migStartSlot())
        .isEqualTo(4);
    assertThat(c.tryPlace(HEAVY_LOSSLESS)).isNull();
  }

  @Test
  void itSkipsAGpuWhereItWouldStrandForOneWhereItWouldNot() {
    for (PlacementStrategy s :
        List.of(PlacementStrategy.FIRST_FIT, PlacementStrategy.BEST_FIT, PlacementStrategy.FRAGMENTATION_AWARE)) {
      GpuCluster c = cluster(s, 2);
      AllocatedGpu first = gpu(c.tryPlace(HEAVY_LOSSLESS));
      assertThat(first.migStartSlot()).as(s.name()).isEqualTo(6);
      AllocatedGpu second = gpu(c.tryPlace(HEAVY_LOSSLESS));
      assertThat(second.gpuIndex()).as(s.name()).isNotEqualTo(first.gpuIndex());
      assertThat(second.migStartSlot()).as(s.name()).isEqualTo(6);
      assertThat(c.tryPlace(HEAVY_LOSSLESS)).as(s.name()).isNull();
    }
  }

  /**
   * Random streams on a small cluster: a no-stranding request never lowers the compute its GPU can
   * reach, and is refused only when every GPU would lose compute or lacks room; releases free it.
   */
  @Test
  void randomStreamsNeverStrandAndRefuseOnlyWhatMustBe() {
    String[] profiles = {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"};
    MigSpace.Dynamic space = new MigSpace.Dynamic(GpuModels.H100_80GB);
    io.gpusched.MigGeometry geo = Objects.requireNonNull(GpuModels.H100_80GB.mig());
    MigReach planner = new MigReach(); // the scheduler half's rule, checked against the engine
    for (PlacementStrategy s :
        List.of(PlacementStrategy.FIRST_FIT, PlacementStrategy.BEST_FIT, PlacementStrategy.FRAGMENTATION_AWARE)) {
      Random rnd = new Random(17);
      GpuCluster c = cluster(s, 4);
      List<Allocation> held = new ArrayList<>();
      for (int i = 0; i < 2_000; i++) {
        if (!held.isEmpty() && rnd.nextInt(3) == 0) {
          held.remove(rnd.nextInt(held.size())).release();
          continue;
        }
        String p = profiles[rnd.nextInt(profiles.length)];
        boolean lossless = rnd.nextBoolean();
        PlacementRequest r = lossless ? PlacementRequest.mig(p).withoutStranding() : PlacementRequest.mig(p);
        int[] reachBefore = reachByGpu(c, space);
        int[] plannerStart = new int[4];
        for (int g = 0; g < 4; g++) {
          plannerStart[g] = planner.firstLosslessStart(geo, on(c, g), p);
        }
        Allocation a = c.tryPlace(r);
        if (a != null) {
          held.add(a);
          AllocatedGpu got = a.gpus().get(0);
          int g = got.gpuIndex();
          int[] reachAfter = reachByGpu(c, space);
          if (lossless) {
            assertThat(reachAfter[g]).as("%s %s step %d", s.name(), p, i).isEqualTo(reachBefore[g]);
            assertThat(plannerStart[g]).as("the planner finds a place where the engine did").isNotNegative();
          }
          // the planner's first lossless start is lossless by the engine's tables too
          assertThat(plannerStart[g] < 0 || !strandsAt(space, on(c, g), got, plannerStart[g], p))
              .as("%s %s step %d: planner start %d", s.name(), p, i, plannerStart[g])
              .isTrue();
        } else if (lossless) {
          assertThat(plannerStart)
              .as("%s refused %s at step %d, but the planner sees a lossless place", s.name(), p, i)
              .containsOnly(-1);
        }
      }
      assertThat(EngineInvariants.verify((LockFreeCluster) c)).isEmpty();
      held.forEach(Allocation::release);
      assertThat(c.allocations("m")).isEmpty();
      assertThat(reachByGpu(c, space)).containsOnly(7);
    }
  }

  private static List<AllocatedGpu> on(GpuCluster c, int gpu) {
    List<AllocatedGpu> out = new ArrayList<>();
    for (Allocation a : c.allocations("m")) {
      for (AllocatedGpu g : a.gpus()) {
        if (g.gpuIndex() == gpu) {
          out.add(g);
        }
      }
    }
    return out;
  }

  /**
   * Whether {@code profile} at {@code start} strands compute by the engine's tables, on GPU {@code
   * got}'s instances without {@code got} itself (the state before it was placed).
   */
  private static boolean strandsAt(
      MigSpace.Dynamic space, List<AllocatedGpu> now, AllocatedGpu got, int start, String profile) {
    long word = 0;
    for (AllocatedGpu a : now) {
      if (a.equals(got)) {
        continue;
      }
      int q = space.profileIndex(Objects.requireNonNull(a.migProfile()));
      word += space.delta(q, space.choiceAt(q, a.migStartSlot()));
    }
    int p = space.profileIndex(profile);
    return space.strands(space.state(word), p, space.choiceAt(p, start));
  }

  private static int[] reachByGpu(GpuCluster c, MigSpace.Dynamic space) {
    int[] out = new int[4];
    for (int g = 0; g < out.length; g++) {
      long word = 0;
      for (AllocatedGpu a : on(c, g)) {
        int p = space.profileIndex(Objects.requireNonNull(a.migProfile()));
        word += space.delta(p, space.choiceAt(p, a.migStartSlot()));
      }
      out[g] = space.reachableCompute(space.state(word));
    }
    return out;
  }

  /**
   * A refused no-stranding request is repeated by design (a held job): the mix (learned with
   * fragmentation-aware strategies only) must not count it.
   */
  @Test
  void refusalsOfNoStrandingRequestsAreNotLearnedAsDemand() {
    LockFreeCluster c = (LockFreeCluster) cluster(PlacementStrategy.FRAGMENTATION_AWARE, 1);
    assertThat(c.tryPlace(HEAVY_LOSSLESS)).isNotNull();
    long seen = c.mix().recorded();
    assertThat(seen).isEqualTo(1);
    for (int i = 0; i < 5; i++) {
      assertThat(c.tryPlace(HEAVY_LOSSLESS)).isNull();
    }
    assertThat(c.mix().recorded()).isEqualTo(seen);
    assertThat(c.tryPlace(PlacementRequest.mig("7g.80gb"))).isNull();
    assertThat(c.mix().recorded()).as("a plain miss is demand").isEqualTo(seen + 1);
  }

  @Test
  void theVictimPlannerOffersOnlyPlacesThatStrandNothing() {
    GpuSpec spec = NodeSpec.builder("m").gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build().gpus().get(0);
    AllocatedGpu atSix =
        new AllocatedGpu("m", 0, spec.uuid(), "H100-80GB", GpuMode.MIG_DYNAMIC, "1g.20gb", 6, 0, 20_480);
    VictimPlanner planner =
        new VictimPlanner(cluster(PlacementStrategy.FIRST_FIT, 1), new Capacity(), java.util.Map.of());
    AllocatedGpu plain = planner.placeOn(HEAVY.gpus(), "m", spec, List.of(atSix));
    assertThat(plain).isNotNull();
    assertThat(Objects.requireNonNull(plain).migStartSlot()).isZero();
    assertThat(planner.placeOn(HEAVY_LOSSLESS.gpus(), "m", spec, List.of(atSix))).isNull();
    AllocatedGpu onEmpty = planner.placeOn(HEAVY_LOSSLESS.gpus(), "m", spec, List.of());
    assertThat(Objects.requireNonNull(onEmpty).migStartSlot()).isEqualTo(6);
  }

  @Test
  void theFlagIsStoredAndReadBack() {
    JobSpec job = JobSpec.builder(HEAVY_LOSSLESS).id("j").build();
    assertThat(SpecCodec.job(SpecCodec.job(job))).isEqualTo(job);
    JobSpec plain = JobSpec.builder(HEAVY).id("p").build();
    assertThat(SpecCodec.job(plain)).doesNotContain("noStranding");
    assertThat(SpecCodec.job(SpecCodec.job(plain))).isEqualTo(plain);
  }

  @Test
  void onlyMigRequestsCanAskForIt() {
    assertThatThrownBy(() -> PlacementRequest.wholeGpus(1).withoutStranding())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("Whole");
    assertThat(HEAVY_LOSSLESS.withoutStranding()).isSameAs(HEAVY_LOSSLESS);
    assertThat(HEAVY_LOSSLESS.gpus()).isEqualTo(new GpuDemand.Mig("1g.20gb", true));
    assertThat(HEAVY.gpus()).isEqualTo(new GpuDemand.Mig("1g.20gb"));
  }
}
