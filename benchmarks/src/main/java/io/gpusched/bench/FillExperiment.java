package io.gpusched.bench;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
import io.gpusched.bench.fgd.ReferenceFgd;
import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.Trace.PodRow;
import io.gpusched.bench.workload.Trace;
import io.gpusched.core.GpuClusters;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.function.IntPredicate;
import org.jspecify.annotations.Nullable;

/**
 * The fill experiment of the FGD paper (Weng et al., USENIX ATC 2023), on gpusched: pods of a
 * trace arrive one by one and never leave, each is placed or fails, and we record how much of the
 * cluster's GPU capacity is allocated as the requested GPU capacity grows past 100%.
 *
 * <pre>
 * java -cp benchmarks/target/gpusched-benchmarks.jar io.gpusched.bench.FillExperiment \
 *     --nodes NODES.csv --pods PODS.csv --strategy FRAGMENTATION_AWARE --seeds 42,43,44 [--tune 1.3]
 *     [--mix learned|trace] [--no-host]
 * </pre>
 *
 * <p>Inputs are {@link Trace} CSVs (files or {@code classpath:workloads/...-small.csv}).
 *
 * <p><b>Mapping.</b> Each node becomes a {@link NodeSpec} with {@code hostResources(cpu_milli,
 * memory_mib)} and its GPUs in {@link GpuMode#SHARED} of a model named after {@code model}: the
 * built-in {@link GpuModels} entry when the name is one, else {@code new GpuModel(name, guess,
 * 80, null)} with a memory guess (the trace has no GPU memory per pod, so shares ask 0 MiB and the
 * guess does not matter). Nodes with no GPU are added too (gpusched accepts them; nothing is ever
 * placed there). A pod with {@code num_gpu == 1} and {@code gpu_milli < 1000} is {@code
 * share(gpu_milli, 0)}; with {@code gpu_milli == 1000} {@code wholeGpus(1)}; {@code num_gpu > 1} is
 * {@code wholeGpus(n, true)} (one node). {@code gpu_spec} becomes {@link Constraints#models}, host
 * CPU and memory {@link PlacementRequest#withHost}.
 *
 * <p><b>CPU-only pods</b> ({@code num_gpu == 0}) are left out: gpusched places GPU work only, and
 * in the trace's cluster such pods mostly run on the CPU-only nodes. Leaving them out slightly
 * favours all strategies alike (their CPU would otherwise compete on GPU nodes) and does not touch
 * the GPU metrics, which count GPU milli only. Rows that the API rejects (e.g. {@code gpu_milli 0}
 * with {@code num_gpu 1}) are skipped and counted in a note on stderr.
 *
 * <p><b>Protocol.</b> The GPU pods are sorted by name and shuffled with {@code new Random(seed)};
 * they arrive in that order until the requested GPU milli reaches {@code tune} times the cluster's
 * GPU milli, and if the list runs out first, pods drawn with replacement by the same {@code Random}
 * keep arriving until it does. Requests that no node could ever host (the API throws {@link
 * IllegalArgumentException}) count as arrived and failed.
 *
 * <p><b>Output</b> (stdout): {@code strategy,seed,arrived_pct,allocated_pct} with one row per
 * integer arrived percent from 0 up to the last one reached (the allocation right after the
 * arrival that first reached it), then one {@code SUMMARY} line per seed; notes go to stderr.
 * {@code decisions_per_s} is placements attempted divided by the wall time of the placement loop.
 *
 * <p><b>Mix.</b> {@code --mix learned} (default) lets {@link PlacementStrategy#FRAGMENTATION_AWARE}
 * learn the request mix as the engine does in production; {@code --mix trace} fixes it to the GPU
 * pods' distribution up front ({@link GpuClusters.Builder#expectedMix}), as the FGD paper does.
 * {@code --no-host} drops the pods' CPU and memory requests (GPU-only packing, for comparison).
 */
public final class FillExperiment {
  private FillExperiment() {}

  /** Highest arrived percent reported. */
  public static final int MAX_PCT = 130;

  /** GPU memory assumed for trace models that are not built in, in MiB. */
  static final long DEFAULT_MEMORY_MIB = 32_768;

  private static final Map<String, Long> MEMORY_GUESS =
      Map.of("T4", 16_384L, "P100", 16_384L, "V100M16", 16_384L, "V100M32", 32_768L,
          "A10", 24_576L);

  /** How FRAGMENTATION_AWARE gets its request mix. */
  public enum MixMode {
    /** Learned by the engine from the requests it sees. */
    LEARNED,
    /** Fixed up front to the distribution of the workload's GPU pods. */
    TRACE
  }

  /**
   * A trace mapped to gpusched.
   *
   * @param nodes the node specs
   * @param pods the GPU pods that map to valid requests, sorted by name
   * @param requests the request of each pod, same order
   * @param milli requested GPU milli of each pod, same order
   * @param totalGpuMilli capacity of the cluster in GPU milli
   * @param skippedRows pod rows the API rejects
   * @param cpuOnlyPods pods without GPUs (left out)
   * @param cpuOnlyNodes nodes without GPUs (added, never used)
   */
  @SuppressWarnings("ArrayRecordComponent") // a result carrier, never compared or hashed
  public record Workload(
      List<NodeSpec> nodes,
      List<PodRow> pods,
      List<PlacementRequest> requests,
      long[] milli,
      long totalGpuMilli,
      int skippedRows,
      int cpuOnlyPods,
      int cpuOnlyNodes) {

    /** Notes for stderr about what was left out. */
    public String notes() {
      return String.format(Locale.ROOT,
          "workload: %d nodes (%d without GPUs), %d GPUs; %d GPU pods used, %d CPU-only pods left"
              + " out, %d invalid rows skipped",
          nodes.size(), cpuOnlyNodes, totalGpuMilli / 1000, pods.size(), cpuOnlyPods, skippedRows);
    }
  }

  /**
   * The outcome of one seed.
   *
   * @param strategy strategy name
   * @param seed the seed
   * @param allocatedPct allocation in percent at each integer arrived percent, index 0..{@link
   *     #MAX_PCT}; NaN where not reached
   * @param attempted placements attempted
   * @param placed placements that succeeded
   * @param neverPlaceable attempts the API refused as impossible on this cluster
   * @param loopNanos wall time of the placement loop
   * @param loopCpuNanos CPU time of the placing thread in the loop (-1 where the JVM cannot tell)
   * @param allocatedMilli GPU milli allocated at the end
   * @param snapshotAllocatedMilli the same according to {@link GpuCluster#snapshot()}
   * @param finalArrivedPct requested GPU milli at the end, percent of capacity
   * @param fragmentationPct the final snapshot's fragmentation percent
   * @param decisionDigest a 64-bit digest of every decision in order: where each request went
   *     (node, GPU index, MIG start slot of each GPU held) or that it failed; equal digests mean
   *     the same decisions (up to a hash collision), so a change that must not alter decisions can
   *     be checked by it ({@link FillSuite} prints them)
   */
  @SuppressWarnings("ArrayRecordComponent") // a result carrier, never compared or hashed
  public record SeedResult(
      String strategy,
      long seed,
      double[] allocatedPct,
      int attempted,
      int placed,
      int neverPlaceable,
      long loopNanos,
      long loopCpuNanos,
      long allocatedMilli,
      long snapshotAllocatedMilli,
      double finalArrivedPct,
      double fragmentationPct,
      long decisionDigest) {

    /** Allocation at an arrived percent, NaN if not reached. */
    public double allocAt(int pct) {
      return pct < allocatedPct.length ? allocatedPct[pct] : Double.NaN;
    }

    /** Placements attempted per second of the placement loop. */
    public double decisionsPerSecond() {
      return loopNanos == 0 ? 0 : attempted * 1e9 / loopNanos;
    }

    /**
     * Placements attempted per second of the placing thread's CPU time: the per-core rate, which a
     * loaded machine does not lower as much as the wall-clock one (NaN where unmeasured).
     */
    public double decisionsPerCpuSecond() {
      return loopCpuNanos <= 0 ? Double.NaN : attempted * 1e9 / loopCpuNanos;
    }
  }

  // ------------------------------------------------------------------ mapping

  /** Maps node and pod rows to gpusched, with the pods' host CPU and memory requests. */
  public static Workload workload(List<NodeRow> nodeRows, List<PodRow> podRows) {
    return workload(nodeRows, podRows, true);
  }

  /**
   * Maps node and pod rows to gpusched.
   *
   * @param host whether pods request host CPU and memory ({@code false}: GPU only, for comparison)
   */
  public static Workload workload(List<NodeRow> nodeRows, List<PodRow> podRows, boolean host) {
    Map<String, GpuModel> models = new HashMap<>();
    List<NodeSpec> nodes = new ArrayList<>();
    long total = 0;
    int cpuOnlyNodes = 0;
    for (NodeRow r : nodeRows) {
      NodeSpec.Builder b = NodeSpec.builder(r.sn()).hostResources(r.cpuMilli(), r.memoryMib());
      if (r.gpus() > 0) {
        GpuModel m = models.computeIfAbsent(r.model(), FillExperiment::modelFor);
        b.gpus(r.gpus(), m, GpuMode.SHARED);
        total += 1000L * r.gpus();
      } else {
        cpuOnlyNodes++;
      }
      nodes.add(b.build());
    }
    Map<String, String> nameOf = new HashMap<>();
    models.forEach((trace, m) -> nameOf.put(trace, m.name()));
    List<PodRow> sorted = new ArrayList<>(podRows);
    sorted.sort(Comparator.comparing(PodRow::name));
    List<PodRow> pods = new ArrayList<>();
    List<PlacementRequest> reqs = new ArrayList<>();
    List<Long> milli = new ArrayList<>();
    int skipped = 0;
    int cpuOnly = 0;
    for (PodRow p : sorted) {
      if (p.numGpu() == 0) {
        cpuOnly++;
        continue;
      }
      Optional<PlacementRequest> req = request(host ? p : withoutHost(p), nameOf);
      if (req.isEmpty()) {
        skipped++;
        continue;
      }
      pods.add(p);
      reqs.add(req.get());
      milli.add(p.requestedGpuMilli());
    }
    return new Workload(
        List.copyOf(nodes), List.copyOf(pods), List.copyOf(reqs),
        milli.stream().mapToLong(Long::longValue).toArray(), total, skipped, cpuOnly, cpuOnlyNodes);
  }

  private static PodRow withoutHost(PodRow p) {
    return new PodRow(p.name(), 0, 0, p.numGpu(), p.gpuMilli(), p.gpuSpec());
  }

  /** The GPU model for a trace model name: built in if known, else a guess. */
  static GpuModel modelFor(String traceName) {
    return GpuModels.byName(traceName)
        .orElseGet(
            () -> new GpuModel(traceName, MEMORY_GUESS.getOrDefault(traceName, DEFAULT_MEMORY_MIB),
                80, null));
  }

  /**
   * The request for a GPU pod, or empty when the API rejects the row (e.g. {@code gpu_milli} 0 or
   * above 1000 with one GPU, a negative amount, more than 64 GPUs).
   *
   * @param modelNames trace model name to cluster model name
   */
  static Optional<PlacementRequest> request(PodRow p, Map<String, String> modelNames) {
    try {
      PlacementRequest r;
      if (p.numGpu() == 1 && p.gpuMilli() == 1000) {
        r = PlacementRequest.wholeGpus(1);
      } else if (p.numGpu() == 1) {
        r = PlacementRequest.share(p.gpuMilli(), 0);
      } else if (p.numGpu() > 1) {
        r = PlacementRequest.wholeGpus(p.numGpu(), true);
      } else {
        return Optional.empty();
      }
      r = r.withHost(p.cpuMilli(), p.memoryMib());
      List<String> allowed = p.allowedModels();
      if (!allowed.isEmpty()) {
        String[] names =
            allowed.stream()
                .map(n -> modelNames.getOrDefault(n, GpuModels.byName(n).map(GpuModel::name).orElse(n)))
                .distinct()
                .toArray(String[]::new);
        r = r.withConstraints(Constraints.models(names));
      }
      return Optional.of(r);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  // ------------------------------------------------------------------ protocol

  /**
   * The arrival order for a seed: indices into the workload's pods (sorted by name), shuffled with
   * {@code new Random(seed)}, cut where the requested milli first reaches {@code target}; if the
   * list runs out first, indices drawn with replacement by the same {@code Random} follow until it
   * does.
   *
   * @throws IllegalArgumentException if there are no pods
   */
  public static int[] arrivals(long[] milli, long target, long seed) {
    if (milli.length == 0 || Arrays.stream(milli).sum() == 0) {
      throw new IllegalArgumentException("no GPU pods to arrive");
    }
    Random rnd = new Random(seed);
    List<Integer> order = new ArrayList<>(milli.length);
    for (int i = 0; i < milli.length; i++) {
      order.add(i);
    }
    Collections.shuffle(order, rnd);
    List<Integer> seq = new ArrayList<>();
    long sum = 0;
    for (int i : order) {
      if (sum >= target) {
        break;
      }
      seq.add(i);
      sum += milli[i];
    }
    while (sum < target) {
      int i = order.get(rnd.nextInt(order.size()));
      seq.add(i);
      sum += milli[i];
    }
    return seq.stream().mapToInt(Integer::intValue).toArray();
  }

  /** The GPU pods' distribution as an expected mix (whole GPUs by count, shares by milli). */
  public static Map<GpuDemand, Double> traceMix(Workload w) {
    Map<GpuDemand, Double> mix = new LinkedHashMap<>();
    for (PlacementRequest r : w.requests()) {
      GpuDemand d = r.gpus();
      GpuDemand key = d instanceof GpuDemand.Whole wh ? new GpuDemand.Whole(wh.count(), true) : d;
      mix.merge(key, 1.0, Double::sum);
    }
    return mix;
  }

  /** Builds a fresh cluster for the workload. */
  public static GpuCluster cluster(Workload w, PlacementStrategy strategy, MixMode mix) {
    return cluster(w, strategy, mix, ThreadOffsets.WHEN_CONTENDED);
  }

  /** Builds a fresh cluster for the workload with these thread offsets. */
  public static GpuCluster cluster(
      Workload w, PlacementStrategy strategy, MixMode mix, ThreadOffsets offsets) {
    GpuClusters.Builder b =
        GpuClusters.newBuilder().strategy(strategy).threadOffsets(offsets).nodes(w.nodes());
    if (mix == MixMode.TRACE) {
      b.expectedMix(traceMix(w));
    }
    return b.build();
  }

  /**
   * The arrival sequence of one seed, until {@code tune} times the workload's GPU capacity has
   * arrived; throws for a tune that is not positive and finite or a cluster without GPUs.
   */
  public static int[] arrivals(Workload w, long seed, double tune) {
    if (!(tune > 0) || Double.isInfinite(tune)) {
      throw new IllegalArgumentException("tune must be positive, was " + tune);
    }
    if (w.totalGpuMilli() == 0) {
      throw new IllegalArgumentException("the cluster has no GPUs");
    }
    return arrivals(w.milli(), (long) Math.ceil(tune * w.totalGpuMilli()), seed);
  }

  /** Runs one seed on a fresh cluster. */
  public static SeedResult run(
      Workload w, PlacementStrategy strategy, long seed, double tune, MixMode mix) {
    return run(w, strategy, seed, tune, mix, 1);
  }

  /**
   * Runs one seed on a fresh cluster, placing through {@code lanes} threads in turn ({@link
   * Lanes}), each thread keeping its own start offset ({@code ThreadOffsets.ALWAYS}): what that
   * many placers that collide all the time pack like. With more than one lane the result is named
   * {@code STRATEGY@lanes} and its CPU time is not measured.
   */
  public static SeedResult run(
      Workload w, PlacementStrategy strategy, long seed, double tune, MixMode mix, int lanes) {
    return run(
        w, strategy, seed, tune, mix, lanes,
        lanes == 1 ? ThreadOffsets.WHEN_CONTENDED : ThreadOffsets.ALWAYS);
  }

  /**
   * {@link #run(Workload, PlacementStrategy, long, double, MixMode, int)} with these thread
   * offsets; with more than one lane and the default offsets the result is named {@code
   * STRATEGY@lanesc} ({@link Lanes}).
   */
  public static SeedResult run(
      Workload w, PlacementStrategy strategy, long seed, double tune, MixMode mix, int lanes,
      ThreadOffsets offsets) {
    long total = w.totalGpuMilli();
    int[] seq = arrivals(w, seed, tune);
    PlacementRequest[] reqs = w.requests().toArray(PlacementRequest[]::new);
    GpuCluster cluster = cluster(w, strategy, mix, offsets);
    Allocation[] outcomes = new Allocation[seq.length];
    int[] n = {0};
    Fill f;
    try (Lanes l = new Lanes(lanes)) {
      f = fill(seq, w.milli(), total, i -> {
        Allocation a = l.place(cluster, reqs[i]);
        outcomes[n[0]++] = a;
        return a != null;
      });
    }
    ClusterSnapshot snap = cluster.snapshot();
    return new SeedResult(
        lanes == 1
            ? strategy.name()
            : strategy.name() + "@" + lanes
                + (offsets == ThreadOffsets.WHEN_CONTENDED ? "c" : ""),
        seed, f.at, seq.length,
        f.placed, f.impossible, f.nanos, lanes == 1 ? f.cpuNanos : -1,
        f.allocated,
        snap.total().allocatedMilli(), 100.0 * f.requested / total,
        snap.total().fragmentationPercent(), digestOf(outcomes, n[0]));
  }

  private static final long FNV_PRIME = 0x100000001b3L;

  /** The start of a digest ({@link #mix}). */
  static final long FNV_OFFSET = 0xcbf29ce484222325L;

  /** Folds one 64-bit value into a digest (FNV-style, over whole values rather than bytes). */
  static long mix(long h, long v) {
    return (h ^ v) * FNV_PRIME;
  }

  /**
   * The decision digest of the first {@code n} outcomes of a fill, in order: for each allocation
   * the node id's hash, GPU index and MIG start slot of every GPU held, then a separator; for a
   * failed placement ({@code null}) a marker. Computed after the timed loop.
   */
  static long digestOf(@Nullable Allocation[] outcomes, int n) {
    long h = FNV_OFFSET;
    for (int k = 0; k < n; k++) {
      Allocation a = outcomes[k];
      if (a == null) {
        h = mix(h, -1);
        continue;
      }
      for (AllocatedGpu g : a.gpus()) {
        h = mix(mix(mix(h, g.nodeId().hashCode()), g.gpuIndex()), g.migStartSlot());
      }
      h = mix(h, -2);
    }
    return h;
  }

  /** Name of the reference FGD in the output (see {@link ReferenceFgd}). */
  public static final String REFERENCE_FGD = "REFERENCE_FGD";

  /**
   * Runs one seed of the same protocol on the reference FGD ({@link ReferenceFgd}), whose target
   * workload is the workload's GPU pods. Snapshot allocation and fragmentation are not measured
   * (the allocation is checked against the simulation's own count instead).
   */
  public static SeedResult runReference(Workload w, long seed, double tune) {
    long total = w.totalGpuMilli();
    int[] seq = arrivals(w, seed, tune);
    PlacementRequest[] reqs = w.requests().toArray(PlacementRequest[]::new);
    ReferenceFgd fgd = new ReferenceFgd(w.nodes(), w.requests());
    int[] nodes = new int[seq.length];
    int[] n = {0};
    Fill f = fill(seq, w.milli(), total, i -> {
      int node = fgd.place(reqs[i]);
      nodes[n[0]++] = node;
      return node >= 0;
    });
    long h = FNV_OFFSET;
    for (int k = 0; k < n[0]; k++) {
      h = mix(h, nodes[k]);
    }
    return new SeedResult(
        REFERENCE_FGD, seed, f.at, seq.length, f.placed, f.impossible, f.nanos, f.cpuNanos,
        f.allocated,
        fgd.allocatedMilli(), 100.0 * f.requested / total, Double.NaN, h);
  }

  /** What one fill loop measured. */
  @SuppressWarnings("ArrayRecordComponent") // a private result, read once, never compared
  private record Fill(
      double[] at, int placed, int impossible, long nanos, long cpuNanos, long allocated,
      long requested) {}

  /** Places the pods of {@code seq} in order and records allocation per arrived percent. */
  private static Fill fill(int[] seq, long[] milli, long total, IntPredicate place) {
    double[] at = new double[MAX_PCT + 1];
    Arrays.fill(at, Double.NaN);
    at[0] = 0;
    int nextPct = 1;
    long requested = 0;
    long allocated = 0;
    int placed = 0;
    int impossible = 0;
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    boolean cpu = mx.isCurrentThreadCpuTimeSupported();
    long c0 = cpu ? mx.getCurrentThreadCpuTime() : 0;
    long t0 = System.nanoTime();
    for (int i : seq) {
      try {
        if (place.test(i)) {
          allocated += milli[i];
          placed++;
        }
      } catch (IllegalArgumentException e) {
        impossible++;
      }
      requested += milli[i];
      // integer percents reached: requested * 100 >= pct * total
      while (nextPct <= MAX_PCT && requested * 100 >= (long) nextPct * total) {
        at[nextPct++] = 100.0 * allocated / total;
      }
    }
    long nanos = System.nanoTime() - t0;
    long cpuNanos = cpu ? mx.getCurrentThreadCpuTime() - c0 : -1;
    return new Fill(at, placed, impossible, nanos, cpuNanos, allocated, requested);
  }

  // ------------------------------------------------------------------ output

  /** The CSV header. */
  public static final String HEADER = "strategy,seed,arrived_pct,allocated_pct";

  /** Writes the rows of one seed (no header). */
  public static void printRows(SeedResult r, PrintStream out) {
    for (int p = 0; p <= MAX_PCT; p++) {
      if (!Double.isNaN(r.allocatedPct()[p])) {
        out.printf(Locale.ROOT, "%s,%d,%d,%.3f%n", r.strategy(), r.seed(), p, r.allocatedPct()[p]);
      }
    }
  }

  /** The SUMMARY line of one seed. */
  public static String summary(SeedResult r) {
    return String.format(Locale.ROOT,
        "SUMMARY strategy=%s seed=%d alloc_at_100=%.3f alloc_at_130=%.3f decisions_per_s=%.0f"
            + " decisions_per_cpu_s=%.0f",
        r.strategy(), r.seed(), r.allocAt(100), r.allocAt(130), r.decisionsPerSecond(),
        r.decisionsPerCpuSecond());
  }

  // ------------------------------------------------------------------ CLI

  /** CLI entry point; see the class comment. Exit status 2 on bad arguments. */
  public static void main(String[] args) {
    int rc = cli(args, System.out, System.err);
    if (rc != 0) {
      System.exit(rc);
    }
  }

  /** Runs the CLI with these streams; returns the exit status (0, or 2 for bad arguments). */
  public static int cli(String[] args, PrintStream out, PrintStream err) {
    String nodes = null;
    String pods = null;
    List<String> strategies = new ArrayList<>();
    List<Long> seeds = new ArrayList<>(List.of(42L));
    double tune = 1.3;
    MixMode mix = MixMode.LEARNED;
    boolean host = true;
    try {
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (a.equals("-h") || a.equals("--help")) {
          usage(out);
          return 0;
        }
        if (a.equals("--no-host")) {
          host = false;
          continue;
        }
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(a + " needs a value");
        }
        String v = args[++i];
        switch (a) {
          case "--nodes" -> nodes = v;
          case "--pods" -> pods = v;
          case "--strategy" -> {
            for (String s : v.split(",", -1)) {
              strategies.add(
                  s.trim().equalsIgnoreCase(REFERENCE_FGD) ? REFERENCE_FGD
                      : PlacementStrategy.named(s).name());
            }
          }
          case "--seeds" -> {
            seeds.clear();
            for (String s : v.split(",", -1)) {
              seeds.add(Long.parseLong(s.trim()));
            }
          }
          case "--tune" -> tune = Double.parseDouble(v);
          case "--mix" -> mix = MixMode.valueOf(v.trim().toUpperCase(Locale.ROOT));
          default -> throw new IllegalArgumentException("unknown argument " + a);
        }
      }
      if (nodes == null || pods == null) {
        throw new IllegalArgumentException("--nodes and --pods are required");
      }
      if (strategies.isEmpty()) {
        strategies.add(PlacementStrategy.FRAGMENTATION_AWARE.name());
      }
      if (!(tune > 0) || Double.isInfinite(tune)) {
        throw new IllegalArgumentException("--tune must be a positive number, was " + tune);
      }
    } catch (IllegalArgumentException e) {
      err.println("error: " + e.getMessage());
      usage(err);
      return 2;
    }
    Workload w = workload(Trace.readNodes(nodes), Trace.readPods(pods), host);
    err.println("note: " + w.notes());
    out.println(HEADER);
    List<String> summaries = new ArrayList<>();
    for (String s : strategies) {
      for (long seed : seeds) {
        SeedResult r =
            s.equals(REFERENCE_FGD)
                ? runReference(w, seed, tune)
                : run(w, PlacementStrategy.named(s), seed, tune, mix);
        printRows(r, out);
        summaries.add(summary(r));
        err.printf(Locale.ROOT,
            "note: %s seed %d: %d arrivals, %d placed, %d failed (%d never placeable on this"
                + " cluster), final fragmentation %.1f%%%n",
            r.strategy(), seed, r.attempted(), r.placed(), r.attempted() - r.placed(),
            r.neverPlaceable(), r.fragmentationPct());
        if (r.allocatedMilli() != r.snapshotAllocatedMilli()) { // the reference: its own count
          err.printf("warning: tracked allocation %d milli != snapshot %d milli%n",
              r.allocatedMilli(), r.snapshotAllocatedMilli());
        }
      }
    }
    summaries.forEach(out::println);
    out.flush();
    return 0;
  }

  private static void usage(PrintStream out) {
    out.println(
        "usage: FillExperiment --nodes NODES.csv --pods PODS.csv --strategy NAME[,NAME...]"
            + " [--seeds 42,43,44] [--tune 1.3] [--mix learned|trace] [--no-host]\n"
            + "  strategies: FIRST_FIT, BEST_FIT, SPREAD, FRAGMENTATION_AWARE, REFERENCE_FGD\n"
            + "  a CSV may be classpath:workloads/nodes-small.csv / classpath:workloads/pods-small.csv");
  }
}
