package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * A tie group's mask ({@link CandidateOrder#maskOff}) only skips states the group's summary says
 * are empty: walking a cursor over an order with its masks yields exactly the candidates, in the
 * same order, as walking the same order without them, on a MIG cluster filled at random.
 */
class MaskedTieWalkTest {

  @Property(tries = 30)
  void aMaskedWalkYieldsWhatTheFullWalkYields(
      @ForAll long seed,
      @ForAll @IntRange(min = 20, max = 95) int fillPercent,
      @ForAll("strategies") PlacementStrategy strategy) {
    Random r = new Random(seed);
    var nodes = new ArrayList<NodeSpec>();
    for (int n = 0; n < 8; n++) {
      nodes.add(NodeSpec.builder("n" + n).gpus(4, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build());
      nodes.add(NodeSpec.builder("s" + n).gpus(4, GpuModels.A100_80GB, GpuMode.SHARED).build());
    }
    int[][] shares = {{100, 4_000}, {250, 10_000}, {500, 20_000}, {300, 40_000}};
    GpuCluster c = GpuClusters.newBuilder().strategy(strategy).nodes(nodes).build();
    String[] profiles = {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"};
    var held = new ArrayList<Allocation>();
    for (int i = 0; i < 32 * 7 * fillPercent / 100; i++) {
      c.place(PlacementRequest.mig(profiles[r.nextInt(profiles.length)])).ifPresent(held::add);
      int[] sh = shares[r.nextInt(shares.length)];
      c.place(PlacementRequest.share(sh[0], sh[1])).ifPresent(held::add);
    }
    for (Allocation a : held) {
      if (r.nextInt(3) == 0) {
        a.release();
      }
    }
    int masked = 0;
    for (Group g : ((LockFreeCluster) c).groups()) {
      var orders = new ArrayList<CandidateOrder>(List.of(g.tables.migOrder));
      if (g.space.mode == GpuMode.SHARED) {
        for (int[] sh : shares) {
          orders.add(g.tables.shareOrder(sh[0], sh[1]));
        }
      }
      for (int k = 0; k < orders.size(); k++) {
        CandidateOrder o = orders.get(k);
        int shape = k < g.tables.migOrder.length ? k : -1;
        for (int i = 0; i < o.entries().length; i++) {
          if (o.hasMask(i)) {
            masked++;
          }
        }
        CandidateOrder plain = o.withoutMasks();
        Bits[] filter = g.filterFor(Constraints.NONE);
        assertThat(walk(new GroupCursor(g, o, filter, shape, 0)))
            .as("order %d of %s", k, g.key)
            .isEqualTo(walk(new GroupCursor(g, plain, filter, shape, 0)));
      }
    }
    assertThat(masked).as("orders with masked tie groups").isPositive();
  }

  @net.jqwik.api.Provide
  net.jqwik.api.Arbitrary<PlacementStrategy> strategies() {
    return net.jqwik.api.Arbitraries.of(
        PlacementStrategy.FRAGMENTATION_AWARE, PlacementStrategy.BEST_FIT, PlacementStrategy.FIRST_FIT);
  }

  private static List<String> walk(GroupCursor cur) {
    var out = new ArrayList<String>();
    while (cur.next()) {
      out.add(cur.entryValue() + "@" + cur.index);
    }
    return out;
  }
}
