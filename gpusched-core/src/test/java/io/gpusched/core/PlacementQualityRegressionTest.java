package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Regression tests for issue 13, item 1 (placement quality of the default strategy on the fill
 * suite): rare-model starvation and host-blind packing, each reduced to the one decision that went
 * wrong. Sequential and deterministic: the learned pressure and host ratios are updated at the mix's
 * pace (every {@value Mix#RELEARN_EVERY} placements of a thread), so each test first churns enough
 * placements through the cluster.
 */
class PlacementQualityRegressionTest {
  static final GpuModel COMMON = new GpuModel("Common", 16_384, 80, null);
  static final GpuModel RARE = new GpuModel("Rare", 16_384, 80, null);

  static NodeSpec node(String id, int gpus, GpuModel model, long cpu) {
    return NodeSpec.builder(id).hostResources(cpu, 1 << 20).gpus(gpus, model, GpuMode.SHARED).build();
  }

  static GpuCluster cluster(PlacementStrategy s, List<NodeSpec> nodes) {
    return GpuClusters.newBuilder().strategy(s).nodes(nodes).build();
  }

  /** Places and releases the requests in turn, {@code times} placements in all. */
  static void churn(GpuCluster c, int times, PlacementRequest... reqs) {
    for (int i = 0; i < times; i++) {
      c.place(reqs[i % reqs.length]).orElseThrow().release();
    }
  }

  @Test
  void unconstrainedWorkLeavesTheRareModelToTheRequestsThatNeedIt() {
    // the rare model's small node comes first, so index order and tight packing both pick it
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            List.of(node("rare", 2, RARE, 64_000), node("common-0", 8, COMMON, 96_000),
                node("common-1", 8, COMMON, 96_000)));
    PlacementRequest needsRare =
        PlacementRequest.wholeGpus(1).withConstraints(Constraints.models("Rare"));
    churn(c, 2 * Mix.RELEARN_EVERY, needsRare, PlacementRequest.share(500, 0));

    Allocation a = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(a.gpus().get(0).model()).isEqualTo("Common");
    Allocation s = c.place(PlacementRequest.share(500, 0)).orElseThrow();
    assertThat(s.gpus().get(0).model()).isEqualTo("Common");
    // the constrained requests still find the rare GPUs, and FIRST_FIT is unchanged
    assertThat(c.place(needsRare)).isPresent();
    assertThat(c.place(needsRare)).isPresent();
    GpuCluster ff =
        cluster(PlacementStrategy.FIRST_FIT, List.of(node("rare", 2, RARE, 64_000), node("c", 8, COMMON, 96_000)));
    churn(ff, 2 * Mix.RELEARN_EVERY, needsRare, PlacementRequest.share(500, 0));
    assertThat(ff.place(PlacementRequest.wholeGpus(1)).orElseThrow().gpus().get(0).model()).isEqualTo("Rare");
  }

  @Test
  void aCpuHeavyRequestGoesWhereCpuIsPlentiful() {
    // typical requests: 8 cores per GPU. Node "poor" (first) has 12 cores for 2 GPUs: a 12-core
    // request there leaves its other GPU without CPU.
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            List.of(node("poor", 2, COMMON, 12_000), node("rich", 2, COMMON, 64_000)));
    churn(c, 2 * Mix.RELEARN_EVERY, PlacementRequest.wholeGpus(1).withHost(8_000, 0));

    Allocation heavy = c.place(PlacementRequest.wholeGpus(1).withHost(12_000, 0)).orElseThrow();
    assertThat(heavy.nodeId()).isEqualTo("rich");
  }

  @Test
  void aRequestWithoutCpuUsesTheGpusThatACpuPoorNodeCannotFeed() {
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            List.of(node("rich", 2, COMMON, 64_000), node("poor", 2, COMMON, 12_000)));
    churn(c, 2 * Mix.RELEARN_EVERY, PlacementRequest.wholeGpus(1).withHost(8_000, 0));

    Allocation light = c.place(PlacementRequest.share(500, 0)).orElseThrow();
    assertThat(light.nodeId()).isEqualTo("poor");
  }

  @Test
  void aShareLeavesTheCoresThatTheTypicalWholeGpuPodNeeds() {
    // typical requests: half whole GPUs with 40 cores, half shares without CPU: on average 1,000
    // milli per 26.7 cores. Node "a" (first) has 2 GPUs and 50 cores: a 12-core share there leaves
    // 38 cores, which still feed its 1,500 free milli on average (the ratio term even prefers it),
    // but no typical 40-core pod fits there any more. FGD counts the node's free milli as
    // fragmented for that pod type; so does the per-type term.
    GpuCluster c =
        cluster(
            PlacementStrategy.FRAGMENTATION_AWARE,
            List.of(node("a", 2, COMMON, 50_000), node("b", 2, COMMON, 200_000)));
    churn(c, 2 * Mix.RELEARN_EVERY,
        PlacementRequest.wholeGpus(1).withHost(40_000, 0), PlacementRequest.share(500, 0));

    Allocation share = c.place(PlacementRequest.share(500, 0).withHost(12_000, 0)).orElseThrow();
    assertThat(share.nodeId()).isEqualTo("b");
  }

  static NodeSpec wholeNode(String id, long cpu) {
    return NodeSpec.builder(id).hostResources(cpu, 1 << 20).gpus(2, COMMON, GpuMode.WHOLE).build();
  }

  /**
   * {@code rich} nodes with CPU for both their GPUs, then, past the narrow peek's {@value
   * HostPeek#MAX} candidates in index order, nodes whose CPU cannot feed both GPUs.
   */
  static List<NodeSpec> richThenPoor(int rich, long... poorCpu) {
    List<NodeSpec> nodes = new java.util.ArrayList<>();
    for (int i = 0; i < rich; i++) {
      nodes.add(wholeNode("rich-" + i, 64_000));
    }
    for (int i = 0; i < poorCpu.length; i++) {
      nodes.add(wholeNode("poor-" + i, poorCpu[i]));
    }
    return nodes;
  }

  /** The ids of the nodes noted in the cluster's groups ({@link StarvedNodes}). */
  static java.util.Set<String> noted(GpuCluster c) {
    java.util.Set<String> ids = new java.util.TreeSet<>();
    for (Group g : ((LockFreeCluster) c).groups()) {
      for (int i = 0; i < StarvedNodes.SIZE; i++) {
        GroupNode gn = g.starved.get(i);
        if (gn != null) {
          ids.add(gn.node.spec.id());
        }
      }
    }
    return ids;
  }

  @Test
  void aWholeGpuRequestFindsANodeWhoseGpuItFeedsPastTheNarrowPeek() {
    // typical requests: 8 cores per GPU. Every node has two free GPUs (one tie group, index
    // order). A request without CPU changes nothing on a rich node; on "poor-0" (12 cores for two
    // GPUs, 500 milli stranded) it takes the GPU the CPU cannot feed. That node is candidate 41,
    // which the narrow peek (32) does not reach; the churn's sweep noted it as stranding capacity.
    GpuCluster c = cluster(PlacementStrategy.FRAGMENTATION_AWARE, richThenPoor(40, 12_000));
    churn(c, 2 * Mix.RELEARN_EVERY, PlacementRequest.wholeGpus(1).withHost(8_000, 0));
    assertThat(noted(c)).containsExactly("poor-0");

    Allocation a = c.place(PlacementRequest.wholeGpus(1)).orElseThrow();
    assertThat(a.nodeId()).isEqualTo("poor-0");
    // shares keep the narrow peek (the notes are looked at for whole GPUs only)
    GpuCluster shared =
        cluster(PlacementStrategy.FRAGMENTATION_AWARE,
            java.util.stream.Stream.concat(
                    java.util.stream.IntStream.range(0, 40)
                        .mapToObj(i -> node("rich-" + i, 2, COMMON, 64_000)),
                    java.util.stream.Stream.of(node("poor-0", 2, COMMON, 12_000)))
                .toList());
    churn(shared, 2 * Mix.RELEARN_EVERY, PlacementRequest.wholeGpus(1).withHost(8_000, 0));
    assertThat(shared.place(PlacementRequest.share(500, 0)).orElseThrow().nodeId()).isEqualTo("rich-0");
  }

  @Test
  void theNotesAreLookedAtOnlyIfNoNarrowCandidateLowersStranding() {
    // typical requests: 8 cores per GPU. Node 10 (12 cores) is within the narrow peek: a request
    // without CPU lowers its stranded capacity by 500 milli there. Node 41 (4 cores) would gain
    // 1,500, but the narrow peek already found a node where the request helps, so the notes are
    // not looked at: they are for requests the narrow peek has nothing good for.
    List<NodeSpec> nodes = new java.util.ArrayList<>(richThenPoor(40, 4_000));
    nodes.set(10, wholeNode("poor-near", 12_000));
    GpuCluster c = cluster(PlacementStrategy.FRAGMENTATION_AWARE, nodes);
    churn(c, 2 * Mix.RELEARN_EVERY, PlacementRequest.wholeGpus(1).withHost(8_000, 0));

    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("poor-near");
    // with the near one's stranded GPU taken, the far one is found through the notes
    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("poor-0");
  }

  @Test
  void aNotedNodeThatLeftIsCordonedOrFailsTheConstraintsIsPassedOver() {
    List<NodeSpec> nodes = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      nodes.add(NodeSpec.builder("rich-" + i).label("zone", "a").hostResources(64_000, 1 << 20)
          .gpus(2, COMMON, GpuMode.WHOLE).build());
    }
    nodes.add(wholeNode("poor-0", 12_000));
    nodes.add(wholeNode("poor-1", 12_000));
    GpuCluster c = cluster(PlacementStrategy.FRAGMENTATION_AWARE, nodes);
    churn(c, 2 * Mix.RELEARN_EVERY, PlacementRequest.wholeGpus(1).withHost(8_000, 0));
    assertThat(noted(c)).containsExactly("poor-0", "poor-1");

    // both poor nodes are noted; they lack the label the request asks for
    PlacementRequest inZoneA =
        PlacementRequest.wholeGpus(1).withConstraints(Constraints.NONE.withLabel("zone", "a"));
    Allocation a = c.place(inZoneA).orElseThrow();
    assertThat(a.nodeId()).isEqualTo("rich-0");
    a.release();
    c.removeNode("poor-0", false);
    assertThat(noted(c)).containsExactly("poor-1"); // a removed node is dropped
    c.setNodeState("poor-1", io.gpusched.NodeState.CORDONED);
    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("rich-0");
    c.setNodeState("poor-1", io.gpusched.NodeState.READY);
    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("poor-1");
  }

  @Test
  void aNotedSharedGpuIsNotTakenWholeWhileAWholeGpuFits() {
    // the CPU-poor node's GPUs are SHARED: a whole-GPU request takes an empty SHARED GPU only when
    // no WHOLE GPU fits, however much it would lower stranded capacity there
    List<NodeSpec> nodes = new java.util.ArrayList<>(richThenPoor(40));
    nodes.add(node("poor-shared", 8, COMMON, 8_000)); // 8 GPUs, one fed
    GpuCluster c = cluster(PlacementStrategy.FRAGMENTATION_AWARE, nodes);
    // shares land in the SHARED group, whose sweep notes its node (8 cores per GPU throughout)
    churn(c, 2 * Mix.RELEARN_EVERY,
        PlacementRequest.wholeGpus(1).withHost(8_000, 0), PlacementRequest.share(500, 0).withHost(4_000, 0));
    assertThat(noted(c)).containsExactly("poor-shared");

    assertThat(c.place(PlacementRequest.wholeGpus(1)).orElseThrow().nodeId()).isEqualTo("rich-0");
  }
}
