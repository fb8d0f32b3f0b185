package io.gpusched.bench.workload;

import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.Trace.PodRow;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import org.jspecify.annotations.Nullable;

/**
 * Generates synthetic node and pod lists in the {@link Trace} format, modelled on the published
 * statistics of the Alibaba GPU-sharing trace ({@code cluster-trace-gpu-v2023}, the "Default"
 * workload of the FGD paper, Weng et al., USENIX ATC 2023). Seeded and deterministic.
 *
 * <p><b>Nodes</b> ({@link #NODE_SHAPES}): the trace's node shapes (model, GPUs per node, CPU,
 * memory) in proportions that give about 5.2 GPUs per node, as the trace's 1,213 GPU nodes with
 * 6,212 GPUs: mostly 8-GPU nodes of the dominant model (G2) with 12 cores per GPU, many 2-GPU T4
 * nodes with lots of CPU, and a tail of V100 / P100 / A10 / G3 nodes. G1..G3 are the trace's
 * undisclosed models.
 *
 * <p><b>Pods</b>: about 13% CPU-only, 38% fractional GPU shares (most 100..500 milli, a few
 * 50..900), 46% one whole GPU, 3% multi-GPU (2, 4 or 8 on one node). About 12% of GPU pods carry a
 * GPU type constraint, always one that some node could host, drawn in proportion to the models'
 * GPU counts. CPU and memory requests follow the
 * trace's typical sizes: a whole-GPU pod asks 4..24 cores (9.4 on average; the G2 nodes have 12
 * per GPU, so CPU binds there sometimes), a share 1..8 cores (3.2 on average, about 8.5 per GPU's
 * worth of shares), an 8-GPU pod 64..88 cores.
 *
 * <p>The fill-experiment quality suite draws its pods with {@link SuiteWorkloads} instead (a long
 * tail of share sizes, more constraints on rare models); this class's pods stay as they were, so
 * that the shipped small pair does not change.
 *
 * <p>CLI: {@code TraceGenerator --nodes N --pods P --seed S --out-nodes FILE --out-pods FILE}, or
 * {@code --preset small|large} for the shipped small pair (60 nodes, 2,000 pods) and the large
 * experiment (1,200 nodes, about 6,200 GPUs, 8,152 pods as in the trace).
 */
public final class TraceGenerator {
  private TraceGenerator() {}

  /**
   * A node shape and its share of the node count.
   *
   * @param model GPU model name
   * @param gpus GPUs per node
   * @param cpuMilli host CPU
   * @param memoryMib host memory
   * @param weight relative frequency
   */
  public record NodeShape(String model, int gpus, long cpuMilli, long memoryMib, int weight) {}

  /** The node shapes and their weights (per 1,200 nodes). */
  public static final List<NodeShape> NODE_SHAPES =
      List.of(
          new NodeShape("G2", 8, 96_000, 393_216, 540),
          new NodeShape("G3", 8, 128_000, 786_432, 40),
          new NodeShape("V100M32", 8, 96_000, 786_432, 40),
          new NodeShape("V100M32", 4, 48_000, 376_832, 10),
          new NodeShape("V100M16", 8, 64_000, 262_144, 15),
          new NodeShape("V100M16", 4, 32_000, 131_072, 40),
          new NodeShape("V100M16", 1, 8_000, 32_768, 15),
          new NodeShape("T4", 2, 104_000, 524_288, 320),
          new NodeShape("T4", 4, 96_000, 393_216, 20),
          new NodeShape("P100", 2, 64_000, 262_144, 40),
          new NodeShape("P100", 2, 16_000, 122_880, 60),
          new NodeShape("P100", 1, 8_000, 61_440, 20),
          new NodeShape("A10", 1, 32_000, 131_072, 40));

  /** GPU share sizes (milli) and weights, clustered like the trace's (220, 320, 460, 470, ...). */
  private static final int[][] SHARES = {
    {50, 3}, {100, 5}, {110, 3}, {160, 4}, {200, 5}, {220, 8}, {230, 4}, {250, 6}, {270, 2},
    {300, 5}, {320, 8}, {400, 5}, {440, 3}, {460, 8}, {470, 6}, {480, 3}, {500, 7}, {550, 3},
    {590, 1}, {600, 3}, {650, 2}, {700, 2}, {750, 1}, {810, 2}, {900, 1}
  };

  /** Generates {@code count} nodes. Shapes are apportioned by weight, then shuffled. */
  public static List<NodeRow> nodes(int count, long seed) {
    if (count < 1) {
      throw new IllegalArgumentException("node count must be positive, was " + count);
    }
    Random rnd = new Random(seed);
    int totalWeight = NODE_SHAPES.stream().mapToInt(NodeShape::weight).sum();
    int[] n = new int[NODE_SHAPES.size()];
    double[] rem = new double[n.length];
    int given = 0;
    for (int i = 0; i < n.length; i++) {
      double exact = (double) count * NODE_SHAPES.get(i).weight() / totalWeight;
      n[i] = (int) exact;
      rem[i] = exact - n[i];
      given += n[i];
    }
    while (given < count) { // largest remainder
      int best = 0;
      for (int i = 1; i < n.length; i++) {
        if (rem[i] > rem[best]) {
          best = i;
        }
      }
      n[best]++;
      rem[best] = -1;
      given++;
    }
    List<NodeShape> shapes = new ArrayList<>();
    for (int i = 0; i < n.length; i++) {
      for (int k = 0; k < n[i]; k++) {
        shapes.add(NODE_SHAPES.get(i));
      }
    }
    Collections.shuffle(shapes, rnd);
    List<NodeRow> out = new ArrayList<>(count);
    for (int i = 0; i < shapes.size(); i++) {
      NodeShape s = shapes.get(i);
      out.add(new NodeRow(String.format("node-%04d", i), s.cpuMilli(), s.memoryMib(), s.gpus(), s.model()));
    }
    return out;
  }

  /**
   * The GPU models of a node list, in first-seen order: model to {most GPUs on one node, GPUs in
   * all}.
   */
  static Map<String, int[]> gpuModels(List<NodeRow> nodes) {
    Map<String, int[]> models = new LinkedHashMap<>();
    for (NodeRow n : nodes) {
      if (n.gpus() > 0) {
        int[] m = models.computeIfAbsent(n.model(), k -> new int[2]);
        m[0] = Math.max(m[0], n.gpus());
        m[1] += n.gpus();
      }
    }
    return models;
  }

  /**
   * Generates {@code count} pods for a node list: GPU type constraints name only models that
   * some node has, with enough GPUs on one node for the pod.
   */
  public static List<PodRow> pods(int count, List<NodeRow> nodes, long seed) {
    Random rnd = new Random(seed);
    Map<String, int[]> models = gpuModels(nodes);
    List<PodRow> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      String name = String.format("pod-%05d", i);
      double kind = rnd.nextDouble();
      long cpu;
      long mem;
      int num;
      int milli;
      if (kind < 0.13) { // CPU-only
        num = 0;
        milli = 0;
        cpu = pick(rnd, new long[] {1000, 2000, 4000, 8000, 16000, 32000}, new int[] {2, 3, 4, 4, 2, 1});
        mem = cpu * pick(rnd, new long[] {2, 4, 8}, new int[] {2, 4, 1}) / 1000 * 1024;
      } else if (kind < 0.51) { // fractional share
        num = 1;
        milli = pickShare(rnd);
        cpu = pick(rnd, new long[] {1000, 2000, 3152, 4000, 6000, 8000}, new int[] {3, 5, 4, 4, 2, 1});
        mem = pick(rnd, new long[] {4096, 5600, 8192, 12288, 15258, 22888, 30517, 47104},
            new int[] {2, 3, 3, 3, 4, 2, 3, 1});
      } else if (kind < 0.97) { // one whole GPU
        num = 1;
        milli = 1000;
        cpu = pick(rnd, new long[] {4000, 6000, 8000, 12000, 16000, 24000},
            new int[] {4, 3, 5, 4, 2, 1});
        mem = pick(rnd, new long[] {16384, 24576, 32768, 49152, 65536}, new int[] {3, 3, 3, 2, 1});
      } else { // multi-GPU on one node
        num = (int) pick(rnd, new long[] {2, 4, 8}, new int[] {5, 3, 2});
        milli = 1000;
        long perGpu = num == 8 ? pick(rnd, new long[] {8000, 11000}, new int[] {2, 1})
            : pick(rnd, new long[] {6000, 8000, 12000}, new int[] {2, 2, 1});
        cpu = perGpu * num;
        mem = num * pick(rnd, new long[] {32768, 40960}, new int[] {1, 1});
      }
      String spec = "";
      if (num > 0 && rnd.nextDouble() < 0.12) {
        spec = pickSpec(rnd, models, num);
      }
      out.add(new PodRow(name, cpu, mem, num, milli, spec));
    }
    return out;
  }

  /**
   * A GPU type constraint of one or two models that can host {@code num} GPUs on one node, drawn
   * in proportion to each model's GPU count (so rare models are asked for rarely, as in the trace).
   */
  private static String pickSpec(Random rnd, Map<String, int[]> models, int num) {
    List<String> ok = new ArrayList<>();
    long total = 0;
    for (var e : models.entrySet()) {
      if (e.getValue()[0] >= num) {
        ok.add(e.getKey());
        total += e.getValue()[1];
      }
    }
    if (ok.isEmpty()) {
      return "";
    }
    // the trace's typical pair, when both exist
    if (ok.contains("V100M16") && ok.contains("V100M32") && rnd.nextInt(4) == 0) {
      return "V100M16|V100M32";
    }
    String a = weighted(rnd, ok, models, total);
    if (ok.size() > 1 && rnd.nextInt(4) == 0) {
      String b = weighted(rnd, ok, models, total);
      if (!b.equals(a)) {
        return a + "|" + b;
      }
    }
    return a;
  }

  private static String weighted(Random rnd, List<String> ok, Map<String, int[]> models, long total) {
    long r = (long) (rnd.nextDouble() * total);
    for (String m : ok) {
      r -= Objects.requireNonNull(models.get(m), "ok lists known models")[1];
      if (r < 0) {
        return m;
      }
    }
    return ok.get(ok.size() - 1);
  }

  private static int pickShare(Random rnd) {
    int total = 0;
    for (int[] s : SHARES) {
      total += s[1];
    }
    int r = rnd.nextInt(total);
    for (int[] s : SHARES) {
      r -= s[1];
      if (r < 0) {
        return s[0];
      }
    }
    throw new AssertionError();
  }

  private static long pick(Random rnd, long[] values, int[] weights) {
    return values[WeightedPick.index(rnd, weights)];
  }

  /** Writes a generated pair to files. */
  public static void write(int nodeCount, int podCount, long seed, Path nodesOut, Path podsOut)
      throws IOException {
    List<NodeRow> nodes = nodes(nodeCount, seed);
    List<PodRow> pods = pods(podCount, nodes, seed + 1);
    for (Path p : List.of(nodesOut, podsOut)) {
      Path dir = p.toAbsolutePath().getParent();
      if (dir != null) {
        Files.createDirectories(dir);
      }
    }
    try (Writer w = Files.newBufferedWriter(nodesOut, StandardCharsets.UTF_8)) {
      Trace.writeNodes(nodes, w);
    }
    try (Writer w = Files.newBufferedWriter(podsOut, StandardCharsets.UTF_8)) {
      Trace.writePods(pods, w);
    }
  }

  /**
   * CLI: {@code [--preset small|large] [--nodes N] [--pods P] [--seed S] --out-nodes FILE
   * --out-pods FILE}.
   */
  public static void main(String[] args) throws IOException {
    int nodes = 1200;
    int pods = 8152;
    long seed = 7;
    Path outNodes = null;
    Path outPods = null;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--preset" -> {
          if ("small".equals(v)) {
            nodes = 60;
            pods = 2000;
          } else if ("large".equals(v)) {
            nodes = 1200;
            pods = 8152;
          } else {
            usage("unknown preset " + v);
          }
          i++;
        }
        case "--nodes" -> { nodes = Integer.parseInt(req(a, v)); i++; }
        case "--pods" -> { pods = Integer.parseInt(req(a, v)); i++; }
        case "--seed" -> { seed = Long.parseLong(req(a, v)); i++; }
        case "--out-nodes" -> { outNodes = Path.of(req(a, v)); i++; }
        case "--out-pods" -> { outPods = Path.of(req(a, v)); i++; }
        case "-h", "--help" -> { usage(null); return; }
        default -> usage("unknown argument " + a);
      }
    }
    if (outNodes == null || outPods == null) {
      usage("--out-nodes and --out-pods are required");
      return;
    }
    write(nodes, pods, seed, outNodes, outPods);
    List<NodeRow> n = Trace.readNodes(outNodes.toString());
    System.err.printf("wrote %d nodes (%d GPUs) to %s and %d pods to %s%n",
        n.size(), n.stream().mapToInt(NodeRow::gpus).sum(), outNodes, pods, outPods);
  }

  private static String req(String flag, @Nullable String v) {
    if (v == null) {
      usage(flag + " needs a value");
      throw new IllegalArgumentException(flag + " needs a value"); // usage exits first
    }
    return v;
  }

  private static void usage(@Nullable String error) {
    if (error != null) {
      System.err.println("error: " + error);
    }
    System.err.println(
        "usage: TraceGenerator [--preset small|large] [--nodes N] [--pods P] [--seed S]"
            + " --out-nodes FILE --out-pods FILE");
    if (error != null) {
      System.exit(2);
    }
  }
}
