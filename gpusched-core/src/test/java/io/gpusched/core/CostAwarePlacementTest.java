package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.Allocation;
import io.gpusched.CapacityClass;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PendingReason;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.QueueSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Cost-aware placement (issue 15 item 6): the cost-first strategies of the engine, the
 * model-agnostic "any GPU with at least X GiB" request, and the scheduler's spot rules. The
 * property that every placement lands on a cheapest fitting node is {@link
 * ClusterPropertiesTest#cheapestFirstPlacesOnACheapestFittingNode}.
 */
class CostAwarePlacementTest {

  final SchedulerHarness h = new SchedulerHarness();

  static NodeSpec node(String id, int gpus, io.gpusched.GpuModel model, GpuMode mode, double price) {
    return NodeSpec.builder(id).gpus(gpus, model, mode).pricePerGpuHour(price).build();
  }

  static NodeSpec spot(String id, int gpus, double price) {
    return NodeSpec.builder(id)
        .gpus(gpus, GpuModels.H100_80GB, GpuMode.WHOLE)
        .pricePerGpuHour(price)
        .capacityClass(CapacityClass.SPOT)
        .build();
  }

  // ------------------------------------------------------------------ engine

  @Test
  void cheapestFirstTakesTheCheapestNodeWhateverTheOrderAndTheStrategysScore() {
    // added dearest first: without cost, FIRST_FIT and BEST_FIT take the first node's GPU
    List<NodeSpec> nodes =
        List.of(
            node("dear", 2, GpuModels.H100_80GB, GpuMode.WHOLE, 4),
            node("mid", 2, GpuModels.H100_80GB, GpuMode.WHOLE, 2.5),
            node("cheap", 2, GpuModels.H100_80GB, GpuMode.WHOLE, 1));
    for (PlacementStrategy s :
        List.of(PlacementStrategy.FIRST_FIT, PlacementStrategy.BEST_FIT, PlacementStrategy.SPREAD,
            PlacementStrategy.FRAGMENTATION_AWARE)) {
      GpuCluster plain = GpuClusters.newBuilder().strategy(s).nodes(nodes).build();
      GpuCluster cost = GpuClusters.newBuilder().strategy(s.withCheapestFirst()).nodes(nodes).build();
      assertThat(cost.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).as(s.name()).isEqualTo("cheap");
      assertThat(cost.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).as(s.name()).isEqualTo("cheap");
      assertThat(cost.place(PlacementRequest.wholeGpus(2, true)).orElseThrow().nodeId()).as(s.name()).isEqualTo("mid");
      assertThat(cost.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).as(s.name()).isEqualTo("dear");
      if (s != PlacementStrategy.SPREAD) { // the plain strategy packs to the first node added
        assertThat(plain.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("dear");
      }
    }
  }

  @Test
  void aSpreadGangTakesTheCheapestPlanAcrossModels() {
    // 4 A100s at 1.0 beat 4 H100s at 3.0, though the H100 node comes first
    GpuCluster c =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.CHEAPEST)
            .node(node("h", 4, GpuModels.H100_80GB, GpuMode.WHOLE, 3))
            .node(node("a1", 2, GpuModels.A100_80GB, GpuMode.WHOLE, 1))
            .node(node("a2", 2, GpuModels.A100_80GB, GpuMode.WHOLE, 1))
            .build();
    Allocation gang = c.place(PlacementRequest.wholeGpus(4)).orElseThrow();
    assertThat(gang.gpus()).allMatch(g -> g.model().equals(GpuModels.A100_80GB.name()));
  }

  @Test
  void anyGpuWithAtLeastSomeMemoryLetsCostPickTheModel() {
    GpuCluster c =
        GpuClusters.newBuilder()
            .strategy(PlacementStrategy.CHEAPEST)
            .node(node("h100", 1, GpuModels.H100_80GB, GpuMode.WHOLE, 4))
            .node(node("a30", 1, GpuModels.A30_24GB, GpuMode.WHOLE, 0.5)) // cheapest, too small
            .node(node("a100-40", 1, GpuModels.A100_40GB, GpuMode.WHOLE, 1.5))
            .node(node("a100-80", 1, GpuModels.A100_80GB, GpuMode.WHOLE, 2))
            .build();
    PlacementRequest atLeast40 =
        PlacementRequest.wholeGpus(1).withConstraints(Constraints.minGpuMemoryGiB(40));
    assertThat(c.place(atLeast40).orElseThrow().nodeId()).isEqualTo("a100-40");
    assertThat(c.place(atLeast40).orElseThrow().nodeId()).isEqualTo("a100-80");
    assertThat(c.place(atLeast40).orElseThrow().nodeId()).isEqualTo("h100");
    assertThat(c.place(atLeast40)).isEmpty(); // the A30 is free but has 24 GiB
    // no GPU of the cluster has 100 GiB: refused at once, naming the floor
    assertThatThrownBy(
            () -> c.place(PlacementRequest.wholeGpus(1).withConstraints(Constraints.minGpuMemoryGiB(100))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least 102400 MiB of GPU memory");
  }

  @Test
  void badMemoryFloorsAreRejectedNamingTheValue() {
    assertThatThrownBy(() -> Constraints.minGpuMemoryGiB(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was 0 GiB");
    assertThatThrownBy(() -> Constraints.NONE.withMinGpuMemoryGiB(-3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was -3 GiB");
    assertThatThrownBy(() -> Constraints.NONE.withMinGpuMemoryGiB(Integer.MAX_VALUE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was " + Integer.MAX_VALUE + " GiB");
    assertThatThrownBy(() -> Constraints.NONE.withMinGpuMemoryMiB(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("was -1");
    assertThat(Constraints.minGpuMemoryGiB(40).minGpuMemoryMiB()).isEqualTo(40 * 1024L);
    // the floor survives the other copy methods
    assertThat(Constraints.minGpuMemoryGiB(40).withLabel("zone", "a").withCapacityClasses(CapacityClass.SPOT)
            .withGpuModels(java.util.Set.of("x")).minGpuMemoryMiB())
        .isEqualTo(40 * 1024L);
  }

  @Test
  void strategiesByName() {
    assertThat(PlacementStrategy.named("cheapest")).isSameAs(PlacementStrategy.CHEAPEST);
    PlacementStrategy bf = PlacementStrategy.named("best-fit+cheapest");
    assertThat(bf.cheapestFirst()).isTrue();
    assertThat(bf.name()).isEqualTo("BEST_FIT+CHEAPEST");
    assertThat(bf.withCheapestFirst()).isSameAs(bf);
    assertThat(PlacementStrategy.BEST_FIT.cheapestFirst()).isFalse();
    assertThatThrownBy(() -> PlacementStrategy.named("+cheapest"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("+cheapest");
  }

  @Test
  void theMemoryFloorAndAllowSpotSurviveTheStoresCodec() {
    JobSpec job =
        JobSpec.builder(PlacementRequest.mig("3g.40gb").withConstraints(Constraints.minGpuMemoryGiB(80)))
            .id("j")
            .build();
    assertThat(SpecCodec.job(SpecCodec.job(job))).isEqualTo(job);
    QueueSpec q = QueueSpec.builder("q").allowSpot(true).build();
    assertThat(SpecCodec.queue(SpecCodec.queue(q))).isEqualTo(q);
    QueueSpec plain = QueueSpec.of("p");
    assertThat(SpecCodec.queue(SpecCodec.queue(plain)).allowSpot()).isFalse();
  }

  // ------------------------------------------------------------------ scheduler: spot rules

  @Test
  void preemptibleJobsPreferSpotEvenWhenOnDemandIsCheaper() {
    GpuScheduler s =
        h.builder()
            .nodes(List.of(node("od", 2, GpuModels.H100_80GB, GpuMode.WHOLE, 1), spot("spot", 1, 2)))
            .preferCheapest(true)
            .build();
    JobHandle p1 = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("p1").preemptible(true).build());
    JobHandle p2 = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("p2").preemptible(true).build());
    assertThat(p1.allocations().get(0).nodeId()).isEqualTo("spot");
    // spot is full: then the cheapest fitting on-demand node
    assertThat(p2.allocations().get(0).nodeId()).isEqualTo("od");
    s.close();
  }

  @Test
  void nonPreemptibleJobsAvoidSpotUnlessTheirQueueAllowsIt() {
    GpuScheduler s =
        h.builder()
            .nodes(List.of(node("od", 1, GpuModels.H100_80GB, GpuMode.WHOLE, 4), spot("spot", 2, 1)))
            .queue(QueueSpec.of("strict"))
            .queue(QueueSpec.builder("thrifty").allowSpot(true).build())
            .preferCheapest(true)
            .build();
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("a").queue("strict").build());
    // a job that names spot itself goes there, whatever its queue says
    JobHandle d =
        s.submit(
            JobSpec.builder(
                    PlacementRequest.wholeGpus(1)
                        .withConstraints(Constraints.NONE.withCapacityClasses(CapacityClass.SPOT)))
                .id("d")
                .queue("strict")
                .build());
    JobHandle b = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("b").queue("strict").build());
    assertThat(d.allocations().get(0).nodeId()).isEqualTo("spot");
    JobHandle c = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("c").queue("thrifty").build());
    assertThat(a.allocations().get(0).nodeId()).isEqualTo("od"); // spot is cheaper, but not allowed
    assertThat(a.spec().request().constraints().capacityClasses()).containsExactly(CapacityClass.ON_DEMAND);
    assertThat(b.state()).isEqualTo(JobState.PENDING); // a free spot GPU is not used for it
    assertThat(c.allocations().get(0).nodeId()).isEqualTo("spot"); // its queue allows spot
    a.complete();
    assertThat(b.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.allocations().get(0).nodeId()).isEqualTo("od");
    s.close();
  }

  @Test
  void withoutPreferCheapestNothingChanges() {
    GpuScheduler s =
        h.builder()
            .nodes(List.of(node("od", 1, GpuModels.H100_80GB, GpuMode.WHOLE, 4), spot("spot", 1, 1)))
            .build();
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("a").build());
    JobHandle b = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("b").build());
    assertThat(List.of(a.allocations().get(0).nodeId(), b.allocations().get(0).nodeId()))
        .containsExactly("od", "spot");
    assertThat(a.spec().request().constraints().capacityClasses()).isEmpty();
    s.close();
  }

  @Test
  void aNonPreemptibleJobOnASpotOnlyClusterIsUnschedulableNotLost() {
    GpuScheduler s = h.builder().nodes(List.of(spot("spot", 2, 1))).preferCheapest(true).build();
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("a").build());
    assertThat(a.state()).isEqualTo(JobState.PENDING);
    assertThat(a.pendingReason()).contains(PendingReason.UNSCHEDULABLE);
    s.close();
  }

  // ------------------------------------------------------------------ cost per day

  @Test
  void costIsReportedPerUtcDayAndQueueSplitAtMidnightAndBounded() {
    // 3.6 per GPU-hour = 0.001 per GPU-second; the clock starts at 2023-11-14T22:13:20Z
    GpuScheduler s =
        h.builder()
            .nodes(List.of(node("n", 2, GpuModels.H100_80GB, GpuMode.WHOLE, 3.6)))
            .queue(QueueSpec.of("a"))
            .queue(QueueSpec.of("b"))
            .build();
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("a").queue("a").build());
    h.advance(s, java.time.Duration.ofMinutes(60)); // 23:13:20
    JobHandle b = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("b").queue("b").build());
    h.advance(s, java.time.Duration.ofMinutes(120)); // 01:13:20 the next day
    var mid = s.snapshot().costByDay();
    assertThat(mid).extracting(io.gpusched.DailyCost::day)
        .containsExactly(java.time.LocalDate.parse("2023-11-14"), java.time.LocalDate.parse("2023-11-15"));
    // a: 6400 s before midnight, 4400 s after; b: 2800 s before, 4400 s after (running, to now)
    assertThat(mid.get(0).byQueue().get("a")).isCloseTo(6.4, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(mid.get(0).byQueue().get("b")).isCloseTo(2.8, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(mid.get(0).total()).isCloseTo(9.2, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(mid.get(1).byQueue().get("a")).isCloseTo(4.4, org.assertj.core.data.Offset.offset(1e-9));
    a.complete();
    h.advance(s, java.time.Duration.ofMinutes(60));
    b.complete();
    var done = s.snapshot();
    assertThat(done.costByDay().get(1).byQueue().get("a")).isCloseTo(4.4, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(done.costByDay().get(1).byQueue().get("b")).isCloseTo(8.0, org.assertj.core.data.Offset.offset(1e-9));
    // the days add up to the queues' totals
    double days = done.costByDay().stream().mapToDouble(io.gpusched.DailyCost::total).sum();
    double queues = done.queues().stream().mapToDouble(io.gpusched.QueueStats::cost).sum();
    assertThat(days).isCloseTo(queues, org.assertj.core.data.Offset.offset(1e-9));
    // 40 days later only the last COST_DAYS days are kept: the old days are gone
    h.advance(s, java.time.Duration.ofDays(40));
    JobHandle c = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("c").queue("a").build());
    h.advance(s, java.time.Duration.ofMinutes(10));
    c.complete();
    var later = s.snapshot().costByDay();
    assertThat(later).hasSize(1);
    assertThat(later.get(0).day()).isEqualTo(java.time.LocalDate.parse("2023-12-25"));
    assertThat(later.get(0).byQueue()).containsOnlyKeys("a");
    assertThat(later.get(0).total()).isCloseTo(0.6, org.assertj.core.data.Offset.offset(1e-9));
    s.close();
  }

  @Test
  void dailyCostRejectsBadValuesNamingThem() {
    assertThatThrownBy(
            () -> new io.gpusched.DailyCost(java.time.LocalDate.EPOCH, java.util.Map.of("q", -1.0), 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("cost of queue q on 1970-01-01")
        .hasMessageContaining("-1.0");
    assertThatThrownBy(
            () -> new io.gpusched.DailyCost(java.time.LocalDate.EPOCH, java.util.Map.of(), Double.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("NaN");
  }
}
