package io.gpusched.bench.sim;

import io.gpusched.CapacityClass;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.QueueSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/**
 * The simulated cluster: nodes (models, modes, prices, capacity class), queues, and the node
 * failures and spot interruptions that hit it.
 *
 * @param nodes the nodes present at the start
 * @param queues the scheduler's queues
 * @param disruptions node failures and spot interruptions, sorted by time
 */
public record SimCluster(List<NodeSpec> nodes, List<QueueSpec> queues, List<Disruption> disruptions) {

  /** Copies the lists; disruptions are sorted by time. */
  public SimCluster {
    nodes = List.copyOf(nodes);
    queues = List.copyOf(queues);
    List<Disruption> d = new ArrayList<>(disruptions);
    d.sort(Comparator.comparingLong(Disruption::atSeconds).thenComparing(Disruption::nodeId));
    disruptions = List.copyOf(d);
  }

  /**
   * A node failure (the node is lost at once and comes back after {@code downSeconds}) or a spot
   * interruption (notice, then the node is gone {@code noticeSeconds} later and comes back after
   * {@code downSeconds}).
   *
   * @param atSeconds when, seconds from the start
   * @param nodeId the node
   * @param spot whether it is a spot interruption (else a failure)
   * @param noticeSeconds spot notice before the node is taken away (0 for failures)
   * @param downSeconds how long the node stays away
   */
  public record Disruption(
      long atSeconds, String nodeId, boolean spot, long noticeSeconds, long downSeconds) {}

  /** Returns the total GPU count of the nodes. */
  public int gpus() {
    return nodes.stream().mapToInt(n -> n.gpus().size()).sum();
  }

  /** Returns a copy with other disruptions. */
  public SimCluster withDisruptions(List<Disruption> d) {
    return new SimCluster(nodes, queues, d);
  }

  /**
   * The demo cluster, 18 nodes and 136 GPUs: 8 on-demand and 4 spot nodes of 8 H100-80GB taken
   * whole (training, 16-GPU gangs), 4 nodes of 8 A100-80GB in MIG_DYNAMIC (inference and
   * notebooks), 2 nodes of 4 A30-24GB SHARED (small notebooks). Queues {@code research} (weight
   * 2, guarantee 48), {@code product} and {@code notebooks} (weight 1, guarantee 24 each).
   */
  public static SimCluster demo() {
    List<NodeSpec> nodes = new ArrayList<>();
    pool(nodes, "h100-od", 8, 8, GpuModels.H100_80GB, GpuMode.WHOLE, 4.00, CapacityClass.ON_DEMAND);
    pool(nodes, "h100-spot", 4, 8, GpuModels.H100_80GB, GpuMode.WHOLE, 1.60, CapacityClass.SPOT);
    pool(nodes, "a100-mig", 4, 8, GpuModels.A100_80GB, GpuMode.MIG_DYNAMIC, 2.20, CapacityClass.ON_DEMAND);
    pool(nodes, "a30-shr", 2, 4, GpuModels.A30_24GB, GpuMode.SHARED, 0.70, CapacityClass.ON_DEMAND);
    List<QueueSpec> queues =
        List.of(
            QueueSpec.builder("research").weight(2).guaranteedGpus(48).build(),
            QueueSpec.builder("product").weight(1).guaranteedGpus(24).build(),
            QueueSpec.builder("notebooks").weight(1).guaranteedGpus(24).build());
    return new SimCluster(nodes, queues, List.of());
  }

  /**
   * The cost-comparison cluster, 20 nodes and 152 GPUs of mixed prices: H100-80GB taken whole on
   * demand in two regions, 4 nodes at $4.00 (listed first) and 4 at $3.10 per GPU-hour, and 4 spot
   * nodes at $1.60; 2 nodes of 8 A100-80GB taken whole at $2.20; A100-80GB in MIG_DYNAMIC on 2 nodes
   * at $2.60 and 2 at $1.90; 2 nodes of 4 A30-24GB SHARED at $0.70. The queues of {@link #demo()}.
   */
  public static SimCluster costDemo() {
    List<NodeSpec> nodes = new ArrayList<>();
    pool(nodes, "h100-east", 4, 8, GpuModels.H100_80GB, GpuMode.WHOLE, 4.00, CapacityClass.ON_DEMAND);
    pool(nodes, "h100-west", 4, 8, GpuModels.H100_80GB, GpuMode.WHOLE, 3.10, CapacityClass.ON_DEMAND);
    pool(nodes, "h100-spot", 4, 8, GpuModels.H100_80GB, GpuMode.WHOLE, 1.60, CapacityClass.SPOT);
    pool(nodes, "a100-whole", 2, 8, GpuModels.A100_80GB, GpuMode.WHOLE, 2.20, CapacityClass.ON_DEMAND);
    pool(nodes, "a100-mig-east", 2, 8, GpuModels.A100_80GB, GpuMode.MIG_DYNAMIC, 2.60, CapacityClass.ON_DEMAND);
    pool(nodes, "a100-mig-west", 2, 8, GpuModels.A100_80GB, GpuMode.MIG_DYNAMIC, 1.90, CapacityClass.ON_DEMAND);
    pool(nodes, "a30-shr", 2, 4, GpuModels.A30_24GB, GpuMode.SHARED, 0.70, CapacityClass.ON_DEMAND);
    return new SimCluster(nodes, demo().queues(), List.of());
  }

  /**
   * Adds {@code count} nodes named {@code prefix-NN} with {@code gpus} GPUs each, alternating
   * between two zones.
   */
  public static void pool(
      List<NodeSpec> nodes,
      String prefix,
      int count,
      int gpus,
      GpuModel model,
      GpuMode mode,
      double price,
      CapacityClass capacity) {
    for (int i = 0; i < count; i++) {
      nodes.add(
          NodeSpec.builder(String.format("%s-%02d", prefix, i))
              .label("zone", i % 2 == 0 ? "z1" : "z2")
              .gpus(gpus, model, mode)
              .pricePerGpuHour(price)
              .capacityClass(capacity)
              .build());
    }
  }

  /**
   * Draws disruptions for {@code horizonSeconds}, seeded: each node fails as a Poisson process
   * with mean time between failures {@code mtbfHours} and is repaired after 1..4 hours; each spot
   * node is interrupted with mean {@code spotMeanHours} between notices (2-minute notice) and comes
   * back after 0.5..3 hours. A rate of 0 (or less) turns that kind off.
   */
  public SimCluster withRandomDisruptions(
      long horizonSeconds, double mtbfHours, double spotMeanHours, long seed) {
    Random rnd = new Random(seed);
    List<Disruption> out = new ArrayList<>();
    for (NodeSpec n : nodes) {
      draw(out, rnd, n.id(), horizonSeconds, mtbfHours, false, 0, 3_600, 4 * 3_600);
      if (n.capacityClass() == CapacityClass.SPOT) {
        draw(out, rnd, n.id(), horizonSeconds, spotMeanHours, true, 120, 1_800, 3 * 3_600);
      }
    }
    // a node that is away cannot be hit again until it is back
    out.sort(Comparator.comparingLong(Disruption::atSeconds));
    List<Disruption> kept = new ArrayList<>();
    java.util.Map<String, Long> backAt = new java.util.HashMap<>();
    for (Disruption d : out) {
      if (d.atSeconds() >= backAt.getOrDefault(d.nodeId(), 0L)) {
        kept.add(d);
        backAt.put(d.nodeId(), d.atSeconds() + d.noticeSeconds() + d.downSeconds() + 60);
      }
    }
    return withDisruptions(kept);
  }

  private static void draw(
      List<Disruption> out,
      Random rnd,
      String node,
      long horizon,
      double meanHours,
      boolean spot,
      long notice,
      long minDown,
      long maxDown) {
    if (!(meanHours > 0)) {
      return;
    }
    double t = 0;
    while (true) {
      t += -Math.log(1 - rnd.nextDouble()) * meanHours * 3_600;
      if (t >= horizon) {
        return;
      }
      long down = minDown + (long) (rnd.nextDouble() * (maxDown - minDown));
      out.add(new Disruption((long) t, node, spot, notice, down));
    }
  }
}
