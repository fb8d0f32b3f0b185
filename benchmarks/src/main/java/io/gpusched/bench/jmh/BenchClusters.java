package io.gpusched.bench.jmh;

import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;

/**
 * Clusters and request sequences of the JMH benchmarks. Everything is deterministic for a seed.
 *
 * <p>Mixes (cluster / requests):
 *
 * <ul>
 *   <li>{@code WHOLE}: 8-GPU H100-80GB WHOLE nodes / 1 GPU 70%, same-node gangs of 2 (15%), 4
 *       (10%) and 8 (5%).
 *   <li>{@code MIG}: 8-GPU H100-80GB MIG_DYNAMIC nodes / 1g.10gb 30%, 1g.20gb 15%, 2g.20gb 20%,
 *       3g.40gb 15%, 4g.40gb 10%, 7g.80gb 10%.
 *   <li>{@code SHARES}: 8-GPU H100-80GB SHARED nodes / milli-GPU 100..1000 in steps of 50,
 *       memory 30..100% of the same fraction of 80 GB.
 *   <li>{@code MIXED}: a repeating block of H100 WHOLE x8, A100-80GB MIG x8, H100 SHARED x4,
 *       A30 WHOLE x4 and H100 MIG x4 nodes (28 GPUs) / 40% whole as above, 35% MIG as above (same
 *       profile names on H100 and A100-80GB), 25% shares of at most 40 GB.
 * </ul>
 *
 * <p>The decision cluster ({@link #decisionNodes()}): 1,200 nodes, 6,000 GPUs; node {@code i} has
 * model H100-80GB / A100-80GB / A30-24GB by {@code i % 3}, mode WHOLE / SHARED / MIG_DYNAMIC by
 * {@code (i / 3) % 3}, GPU count from the cycle 8,4,2,6,5,1,7,3,6,8 (1..8, mean 5) and label
 * {@code zone=z(i % 4)}.
 */
public final class BenchClusters {
  private BenchClusters() {}

  static final String[] MIG_PROFILES = {
    "1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"
  };
  static final double[] MIG_WEIGHTS = {30, 15, 20, 15, 10, 10};
  static final int[] MIG_SLICES = {1, 2, 2, 4, 4, 8};
  static final String[] A30_PROFILES = {"1g.6gb", "2g.12gb", "4g.24gb"};
  static final int[] A30_SLICES = {1, 2, 4};
  private static final int[] DECISION_COUNTS = {8, 4, 2, 6, 5, 1, 7, 3, 6, 8};
  private static final GpuModel[] DECISION_MODELS = {
    GpuModels.H100_80GB, GpuModels.A100_80GB, GpuModels.A30_24GB
  };
  private static final GpuMode[] DECISION_MODES = {GpuMode.WHOLE, GpuMode.SHARED, GpuMode.MIG_DYNAMIC};

  /** Nodes of a mix with {@code gpus} GPUs in total (the last node may be smaller). */
  public static List<NodeSpec> nodes(String mix, int gpus) {
    List<NodeSpec> out = new ArrayList<>();
    switch (mix.toUpperCase(Locale.ROOT)) {
      case "WHOLE" -> uniform(out, gpus, GpuModels.H100_80GB, GpuMode.WHOLE);
      case "MIG" -> uniform(out, gpus, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC);
      case "SHARES" -> uniform(out, gpus, GpuModels.H100_80GB, GpuMode.SHARED);
      case "MIXED" -> {
        Object[][] block = {
          {GpuModels.H100_80GB, GpuMode.WHOLE, 8},
          {GpuModels.A100_80GB, GpuMode.MIG_DYNAMIC, 8},
          {GpuModels.H100_80GB, GpuMode.SHARED, 4},
          {GpuModels.A30_24GB, GpuMode.WHOLE, 4},
          {GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC, 4},
        };
        int left = gpus;
        for (int i = 0; left > 0; i++) {
          Object[] t = block[i % block.length];
          int n = Math.min(left, (Integer) t[2]);
          out.add(node("n" + i, n, (GpuModel) t[0], (GpuMode) t[1], null));
          left -= n;
        }
      }
      default -> throw new IllegalArgumentException("unknown mix " + mix);
    }
    return out;
  }

  private static void uniform(List<NodeSpec> out, int gpus, GpuModel model, GpuMode mode) {
    for (int i = 0; gpus > 0; i++) {
      int n = Math.min(8, gpus);
      out.add(node("n" + i, n, model, mode, null));
      gpus -= n;
    }
  }

  private static NodeSpec node(String id, int n, GpuModel model, GpuMode mode, @Nullable String zone) {
    NodeSpec.Builder b = NodeSpec.builder(id).gpus(n, model, mode);
    if (zone != null) {
      b.label("zone", zone);
    }
    return b.build();
  }

  /** The 1,200-node, 6,000-GPU heterogeneous cluster of the decision benchmark. */
  public static List<NodeSpec> decisionNodes() {
    List<NodeSpec> out = new ArrayList<>();
    for (int i = 0; i < 1200; i++) {
      out.add(
          node(
              "d" + i,
              DECISION_COUNTS[i % DECISION_COUNTS.length],
              DECISION_MODELS[i % 3],
              DECISION_MODES[(i / 3) % 3],
              "z" + (i % 4)));
    }
    return out;
  }

  /** A request and its weight in GPUs (for filling a cluster to a target). */
  public record Weighted(PlacementRequest request, double gpus) {}

  /** {@code n} random requests of a mix ({@code WHOLE}, {@code MIG}, {@code SHARES}, {@code MIXED}, {@code DECISION}). */
  public static Weighted[] requests(String mix, int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    Weighted[] out = new Weighted[n];
    for (int i = 0; i < n; i++) {
      out[i] =
          switch (mix.toUpperCase(Locale.ROOT)) {
            case "WHOLE" -> whole(r);
            case "MIG" -> mig(r);
            case "SHARES" -> share(r, GpuModels.H100_80GB.memoryMiB());
            case "MIXED" -> {
              double u = r.nextDouble();
              yield u < 0.40 ? whole(r) : u < 0.75 ? mig(r) : share(r, 40_960);
            }
            case "DECISION" -> decision(r);
            default -> throw new IllegalArgumentException("unknown mix " + mix);
          };
    }
    return out;
  }

  private static Weighted whole(SplittableRandom r) {
    double u = r.nextDouble();
    int k = u < 0.70 ? 1 : u < 0.85 ? 2 : u < 0.95 ? 4 : 8;
    return new Weighted(PlacementRequest.wholeGpus(k, true), k);
  }

  private static Weighted mig(SplittableRandom r) {
    int p = pick(r, MIG_WEIGHTS);
    return new Weighted(PlacementRequest.mig(MIG_PROFILES[p]), MIG_SLICES[p] / 8.0);
  }

  private static Weighted share(SplittableRandom r, long maxMem) {
    int milli = 100 + 50 * r.nextInt(19);
    long mem = Math.max(1, (long) (maxMem * milli / 1000.0 * (0.3 + 0.7 * r.nextDouble())));
    return new Weighted(
        PlacementRequest.share(milli, mem), Math.max(milli / 1000.0, (double) mem / maxMem));
  }

  /** The decision mix: the MIXED shapes over all three models, 20% pinned to a model, 10% to a zone. */
  private static Weighted decision(SplittableRandom r) {
    double u = r.nextDouble();
    Weighted w;
    String model = null;
    if (u < 0.40) {
      w = whole(r);
      if (r.nextDouble() < 0.2) {
        model = DECISION_MODELS[r.nextInt(3)].name();
      }
    } else if (u < 0.75) {
      if (r.nextDouble() < 0.25) {
        int p = r.nextInt(A30_PROFILES.length);
        w = new Weighted(PlacementRequest.mig(A30_PROFILES[p]), A30_SLICES[p] / 4.0);
      } else {
        w = mig(r);
        if (r.nextDouble() < 0.2) {
          model = DECISION_MODELS[r.nextInt(2)].name();
        }
      }
    } else {
      w = share(r, 24_576);
      if (r.nextDouble() < 0.2) {
        model = DECISION_MODELS[r.nextInt(3)].name();
      }
    }
    PlacementRequest req = w.request();
    if (model != null) {
      req = req.withConstraints(Constraints.models(model));
    }
    if (r.nextDouble() < 0.10) {
      req = req.withConstraints(req.constraints().withLabel("zone", "z" + r.nextInt(4)));
    }
    return new Weighted(req, w.gpus());
  }

  private static int pick(SplittableRandom r, double[] weights) {
    double total = 0;
    for (double w : weights) {
      total += w;
    }
    double x = r.nextDouble() * total;
    for (int i = 0; i < weights.length; i++) {
      x -= weights[i];
      if (x < 0) {
        return i;
      }
    }
    return weights.length - 1;
  }

  /** Returns the GPU count of nodes. */
  public static int gpuCount(List<NodeSpec> nodes) {
    int n = 0;
    for (NodeSpec s : nodes) {
      n += s.gpus().size();
    }
    return n;
  }
}
