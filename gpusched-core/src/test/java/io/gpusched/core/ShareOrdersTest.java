package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * SHARED groups whose share orders are the same function ({@link ShareOrders}: the same weights,
 * strategy, largest node and GPU memory) build each order once; every other group builds its own,
 * and a shared order is exactly what the group would have built alone.
 */
class ShareOrdersTest {
  static final GpuModel X = new GpuModel("X", 16_384, 80, null);
  static final GpuModel Y = new GpuModel("Y", 16_384, 80, null);
  static final GpuModel Z = new GpuModel("Z", 16_384, 80, null);
  static final GpuModel BIG = new GpuModel("BIG", 32_768, 80, null);

  private static Map<String, Group> byModel(LockFreeCluster c) {
    Map<String, Group> m = new HashMap<>();
    for (Group g : c.groups()) {
      m.put(g.space.model.name(), g);
    }
    return m;
  }

  @Test
  void groupsWithTheSameInputsShareTheirOrdersAndOthersDoNot() {
    for (PlacementStrategy strategy :
        new PlacementStrategy[] {PlacementStrategy.FRAGMENTATION_AWARE, PlacementStrategy.BEST_FIT}) {
      LockFreeCluster c =
          (LockFreeCluster)
              GpuClusters.newBuilder()
                  .strategy(strategy)
                  .node(NodeSpec.builder("x").gpus(8, X, GpuMode.SHARED).build())
                  .node(NodeSpec.builder("y").gpus(8, Y, GpuMode.SHARED).build())
                  .node(NodeSpec.builder("z").gpus(4, Z, GpuMode.SHARED).build())
                  .node(NodeSpec.builder("big").gpus(8, BIG, GpuMode.SHARED).build())
                  .build();
      for (String model : new String[] {"X", "Y", "Z", "BIG"}) {
        PlacementRequest r =
            PlacementRequest.share(300, 1_024).withConstraints(Constraints.models(model));
        assertThat(c.tryPlace(r)).as("%s on %s", strategy.name(), model).isNotNull();
      }
      Map<String, Group> g = byModel(c);
      CandidateOrder x = g.get("X").tables.shareOrder(300, 1_024);
      assertThat(g.get("Y").tables.shareOrder(300, 1_024))
          .as("%s: same weights, 8-GPU nodes, same memory", strategy.name())
          .isSameAs(x);
      assertThat(g.get("Z").tables.shareOrder(300, 1_024)).as("4-GPU nodes").isNotSameAs(x);
      assertThat(g.get("BIG").tables.shareOrder(300, 1_024)).as("more GPU memory").isNotSameAs(x);

      for (Group each : g.values()) {
        DecisionTables t = each.tables;
        Group alone = new Group("alone", each.space, each.mixClasses, 0); // a cache of its own
        DecisionTables own = new DecisionTables(alone, strategy, t.source, t.maxF);
        for (int milli : new int[] {10, 300, 990}) {
          for (long mem : new long[] {0, 1_024, 16_000}) {
            CandidateOrder shared = t.shareOrder(milli, mem);
            CandidateOrder built = own.shareOrder(milli, mem);
            assertThat(built).as("a fresh build").isNotSameAs(shared);
            assertThat(shared.entries()).isEqualTo(built.entries());
            assertThat(shared.scores()).isEqualTo(built.scores());
            assertThat(shared.tieEnd()).isEqualTo(built.tieEnd());
            assertThat(shared.maskWords()).isEqualTo(built.maskWords());
          }
        }
      }
    }
  }

  @Test
  void newWeightsGetNewCachesAndDropTheOld() {
    ShareOrders so = new ShareOrders();
    double[] w1 = new double[Mix.CLASSES];
    double[] w2 = w1.clone(); // equal values, another array: not shared (matched by identity)
    var a = so.forTables(w1, PlacementStrategy.FRAGMENTATION_AWARE, 8, 16_384);
    assertThat(so.forTables(w1, PlacementStrategy.FRAGMENTATION_AWARE, 8, 16_384)).isSameAs(a);
    assertThat(so.forTables(w1, PlacementStrategy.BEST_FIT, 8, 16_384)).isNotSameAs(a);
    assertThat(so.forTables(w1, PlacementStrategy.FRAGMENTATION_AWARE, 4, 16_384)).isNotSameAs(a);
    assertThat(so.size()).isEqualTo(3);
    var b = so.forTables(w2, PlacementStrategy.FRAGMENTATION_AWARE, 8, 16_384);
    assertThat(b).isNotSameAs(a);
    assertThat(so.size()).as("the caches of w1 are dropped").isEqualTo(1);
  }
}
