package io.gpusched.core;


import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.CapacityClass;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PendingReason;
import io.gpusched.QueueSpec;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A narrower request the scheduler tries on its own (a price tier, spot first, the models a quota
 * allows) that no node could ever host says nothing about the job's own request: it must neither
 * keep the job from its other tiers nor mark its shape UNSCHEDULABLE.
 */
class PlacementTiersRegressionTest {

  final SchedulerHarness h = new SchedulerHarness();

  @Test
  void aSpotTierNoNodeCouldHostDoesNotMakeAPreemptibleGangUnschedulable() {
    NodeSpec big =
        NodeSpec.builder("big").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(4).build();
    NodeSpec spot =
        NodeSpec.builder("spot").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(1)
            .capacityClass(CapacityClass.SPOT).build();
    var s = h.builder().nodes(List.of(big, spot)).preferCheapest(true).build();
    // four GPUs on one node: only "big" could ever host it; the spot tier alone never could
    JobHandle gang =
        s.submit(
            JobSpec.builder(PlacementRequest.wholeGpus(4, true)).id("gang").preemptible(true).build());
    assertThat(gang.state()).isEqualTo(JobState.RUNNING);
    assertThat(gang.allocations().get(0).nodeId()).isEqualTo("big");
    s.close();
  }

  @Test
  void aPriceTierNoNodeCouldHostIsSkippedForTheNextTier() {
    NodeSpec dear =
        NodeSpec.builder("dear").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(4).build();
    NodeSpec cheap =
        NodeSpec.builder("cheap").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).pricePerGpuHour(2).build();
    var s = h.builder().nodes(List.of(dear, cheap)).preferCheapest(true).build();
    JobHandle gang = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(3, true)).id("gang").build());
    assertThat(gang.state()).isEqualTo(JobState.RUNNING);
    assertThat(gang.allocations().get(0).nodeId()).isEqualTo("dear");
    // a request nothing could host is still told apart
    JobHandle never = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(5, true)).id("never").build());
    assertThat(never.pendingReason()).contains(PendingReason.UNSCHEDULABLE);
    s.close();
  }

  @Test
  void aQuotaNarrowedRequestOnlyRemovedNodesCouldHostDoesNotBlockTheSameShapeElsewhere() {
    NodeSpec h100 = NodeSpec.builder("h").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build();
    NodeSpec a100 = NodeSpec.builder("a").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build();
    var s =
        h.builder()
            .nodes(List.of(h100, a100))
            // queue "a" may not use A100s, so its jobs are narrowed to H100s
            .queue(QueueSpec.builder("a").modelQuota(GpuModels.A100_80GB.name(), 0, 0).build())
            .queue(QueueSpec.of("b"))
            .build();
    s.nodeDown("h"); // the only H100 is gone: "a"'s narrowed request could never be placed now
    JobHandle blocker = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("blocker").queue("b").build());
    JobHandle narrowed = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("narrowed").queue("a").build());
    JobHandle same = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("same").queue("b").build());
    assertThat(blocker.state()).isEqualTo(JobState.RUNNING);
    blocker.complete(); // one pass tries "narrowed" (refused: no H100 left) and then "same"
    assertThat(same.state()).isEqualTo(JobState.RUNNING);
    assertThat(same.allocations().get(0).nodeId()).isEqualTo("a");
    // the job's own request fits the A100 it is kept from: its quota, not "never", keeps it waiting
    assertThat(narrowed.pendingReason()).contains(PendingReason.QUOTA);
    s.close();
  }

  /**
   * A node added on the cluster underneath and removed again between the engine's placement and
   * the scheduler learning it: the start is given up and the pass goes on to the next job.
   */
  @Test
  void aNodeGoneBeforeTheSchedulerLearnsItDoesNotAbortThePass() {
    GpuCluster cluster =
        GpuClusters.newBuilder()
            .node(NodeSpec.builder("n1").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build())
            .node(NodeSpec.builder("m1").gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build())
            .build();
    var armed = new AtomicBoolean();
    var s =
        h.builder()
            .cluster(cluster)
            .placementObserver(
                (demand, placed, nanos) -> {
                  if (placed && armed.compareAndSet(true, false)) {
                    cluster.removeNode("late", true); // gone before the scheduler books the start
                  }
                })
            .build();
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("a").build());
    JobHandle mig = s.submit(JobSpec.builder(PlacementRequest.mig("7g.80gb")).id("mig").build());
    JobHandle b = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("b").build());
    JobHandle small = s.submit(JobSpec.builder(PlacementRequest.mig("1g.10gb")).id("small").build());
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    assertThat(small.state()).isEqualTo(JobState.PENDING);
    cluster.addNode(NodeSpec.builder("late").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build());
    armed.set(true);
    mig.complete(); // one pass: "b" is placed on "late", which is removed at once; then "small"
    assertThat(b.state()).isEqualTo(JobState.PENDING);
    assertThat(small.state()).isEqualTo(JobState.RUNNING);
    assertThat(cluster.snapshot().total().allocatedGpus()).isEqualTo(2);
    s.close();
  }
}
