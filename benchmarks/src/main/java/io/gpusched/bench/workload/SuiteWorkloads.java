package io.gpusched.bench.workload;

import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.Trace.PodRow;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The generated workloads of the fill-experiment quality suite: the node list of {@link
 * TraceGenerator#nodes} (the Alibaba trace's node shapes: 1, 2, 4 and 8 GPUs of seven models, with
 * CPU per GPU from 8 cores on V100 and P100 nodes to 52 on 2-GPU T4 nodes, so CPU runs out first on
 * some nodes) and pods drawn after the trace's default workload, varied the way the FGD paper
 * varies it (more shares, more multi-GPU pods, more model-constrained pods).
 *
 * <p>Compared with {@link TraceGenerator#pods} (kept for the shipped small pair), the pods here have:
 * <ul>
 *   <li>a long tail of share sizes: 80 % from the trace's clustered sizes (50..900 milli), 20 %
 *       anywhere from 10 to 990 milli;
 *   <li>CPU and memory sizes of the trace's frequent pods (e.g. 8-GPU pods with 88 cores of a
 *       96-core node, whole-GPU pods with 4 to 24 cores);
 *   <li>model constraints on a given share of the GPU pods, with the model drawn in proportion to
 *       the square root of its GPU count (so rare models are asked for more than their share of
 *       capacity, as in the trace's gpuspec workloads), among models with a node large enough.
 * </ul>
 *
 * @see Profile#SUITE
 */
public final class SuiteWorkloads {
  private SuiteWorkloads() {}

  /**
   * What a workload of the suite draws.
   *
   * @param name workload name
   * @param shareFraction share of GPU pods that ask for a fraction of one GPU
   * @param multiFraction share of GPU pods that ask for 2, 4 or 8 whole GPUs on one node
   * @param specFraction share of GPU pods constrained to a GPU model
   */
  public record Profile(String name, double shareFraction, double multiFraction, double specFraction) {
    /** Validates. */
    public Profile {
      if (!(shareFraction >= 0 && multiFraction >= 0 && specFraction >= 0 && specFraction <= 1
          && shareFraction + multiFraction <= 1)) {
        throw new IllegalArgumentException(
            "fractions must be in 0..1 with shares + multi <= 1: share " + shareFraction + ", multi "
                + multiFraction + ", spec " + specFraction);
      }
    }

    /** The suite: the default mix and the FGD paper's variations of it. */
    public static final List<Profile> SUITE =
        List.of(
            new Profile("default", 0.40, 0.04, 0.12),
            new Profile("share40", 0.40, 0.04, 0.00),
            new Profile("share100", 1.00, 0.00, 0.00),
            new Profile("multigpu50", 0.25, 0.50, 0.05),
            new Profile("gpuspec20", 0.40, 0.04, 0.20),
            new Profile("gpuspec33", 0.40, 0.04, 0.33));

    /** A suite profile by name. */
    public static Profile named(String name) {
      for (Profile p : SUITE) {
        if (p.name.equalsIgnoreCase(name)) {
          return p;
        }
      }
      throw new IllegalArgumentException(
          "unknown workload " + name + "; known: " + SUITE.stream().map(Profile::name).toList());
    }
  }

  /** The trace's clustered share sizes (milli) and weights. */
  private static final int[][] SHARES = {
    {50, 3}, {100, 5}, {110, 3}, {160, 4}, {200, 5}, {220, 8}, {230, 4}, {250, 6}, {270, 2},
    {300, 5}, {320, 8}, {400, 5}, {440, 3}, {460, 8}, {470, 6}, {480, 3}, {500, 7}, {550, 3},
    {590, 1}, {600, 3}, {650, 2}, {700, 2}, {750, 1}, {810, 2}, {900, 1}
  };

  /** Generates {@code count} GPU pods for the nodes, seeded and deterministic. */
  public static List<PodRow> pods(Profile p, int count, List<NodeRow> nodes, long seed) {
    Random rnd = new Random(seed);
    Map<String, int[]> models = TraceGenerator.gpuModels(nodes); // model -> {max per node, GPUs}
    List<PodRow> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String name = String.format("pod-%05d", i);
      double kind = rnd.nextDouble();
      long cpu;
      long mem;
      int num;
      int milli;
      if (kind < p.shareFraction) {
        num = 1;
        milli = rnd.nextInt(5) == 0 ? 10 * (1 + rnd.nextInt(99)) : pick(rnd, SHARES);
        cpu = pick(rnd, new long[] {1000, 2000, 3152, 4000, 6000, 8000, 12000},
            new int[] {3, 5, 4, 5, 3, 3, 1});
        mem = pick(rnd, new long[] {4096, 5600, 8192, 12288, 15258, 22888, 30517, 47104},
            new int[] {2, 3, 3, 3, 4, 2, 3, 1});
      } else if (kind < p.shareFraction + p.multiFraction) {
        num = (int) pick(rnd, new long[] {2, 4, 8}, new int[] {5, 3, 2});
        milli = 1000;
        long perGpu =
            num == 8
                ? pick(rnd, new long[] {8000, 11000}, new int[] {1, 2})
                : pick(rnd, new long[] {4000, 8000, 12000, 16000}, new int[] {2, 3, 2, 1});
        cpu = perGpu * num;
        mem = num * pick(rnd, new long[] {32768, 40960}, new int[] {1, 1});
      } else {
        num = 1;
        milli = 1000;
        cpu = pick(rnd, new long[] {3152, 4000, 8000, 12000, 16000, 18708, 24000},
            new int[] {3, 3, 4, 5, 3, 2, 1});
        mem = pick(rnd, new long[] {5600, 16384, 24576, 32768, 49152, 65536},
            new int[] {2, 3, 3, 3, 2, 1});
      }
      String spec = rnd.nextDouble() < p.specFraction ? pickSpec(rnd, models, num) : "";
      out.add(new PodRow(name, cpu, mem, num, milli, spec));
    }
    return out;
  }

  /** A model that can host {@code num} GPUs on one node, drawn in proportion to sqrt(GPUs). */
  private static String pickSpec(Random rnd, Map<String, int[]> models, int num) {
    List<String> ok = new ArrayList<>();
    List<Double> w = new ArrayList<>();
    double total = 0;
    for (var e : models.entrySet()) {
      if (e.getValue()[0] >= num) {
        ok.add(e.getKey());
        double x = Math.sqrt(e.getValue()[1]);
        w.add(x);
        total += x;
      }
    }
    if (ok.isEmpty()) {
      return "";
    }
    double r = rnd.nextDouble() * total;
    for (int i = 0; i < ok.size(); i++) {
      r -= w.get(i);
      if (r < 0) {
        return ok.get(i);
      }
    }
    return ok.get(ok.size() - 1);
  }

  private static int pick(Random rnd, int[][] valueWeights) {
    int[] w = new int[valueWeights.length];
    for (int i = 0; i < w.length; i++) {
      w[i] = valueWeights[i][1];
    }
    return valueWeights[WeightedPick.index(rnd, w)][0];
  }

  private static long pick(Random rnd, long[] values, int[] weights) {
    return values[WeightedPick.index(rnd, weights)];
  }
}
