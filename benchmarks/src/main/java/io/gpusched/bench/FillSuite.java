package io.gpusched.bench;

import io.gpusched.PlacementStrategy;
import io.gpusched.bench.FillExperiment.MixMode;
import io.gpusched.bench.FillExperiment.SeedResult;
import io.gpusched.bench.FillExperiment.Workload;
import io.gpusched.bench.workload.SuiteWorkloads;
import io.gpusched.bench.workload.SuiteWorkloads.Profile;
import io.gpusched.bench.workload.Trace;
import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.TraceGenerator;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The fill-experiment quality suite: every workload of {@link Profile#SUITE} (generated) and,
 * when a directory with the Alibaba trace's CSVs is given, the trace's own workloads, each run with
 * the fill protocol of {@link FillExperiment} for several seeds and strategies, the reference FGD
 * ({@link io.gpusched.bench.fgd.ReferenceFgd}) among them. Prints a Markdown table: allocation at
 * 100 % and 130 % arrived (mean of the seeds), decisions per second of the placing thread's CPU
 * time (the per-core rate; before anything is measured, every gpusched strategy places the first
 * seed of every workload, the trace's too, {@code --warmup} times ({@link #DEFAULT_WARMUP} by
 * default), discarded, so that the JIT has compiled the placement paths of all the workloads, and
 * each runs that seed once more before its own workload is measured; the reference is not warmed;
 * {@link io.gpusched.bench.jmh.FillDecisionBenchmark} measures the same rate under JMH), and for
 * the first strategy the worst gap to FIRST_FIT over every arrived percent 1..130 (negative: below
 * FIRST_FIT there); then the decision digests ({@link #printDigests}).
 *
 * <pre>
 * java -cp benchmarks/target/gpusched-benchmarks.jar io.gpusched.bench.FillSuite \
 *     [--nodes 1200] [--pods 8152] [--seeds 42,43,44] [--workloads default,share40,...]
 *     [--strategies FRAGMENTATION_AWARE,FIRST_FIT,BEST_FIT,REFERENCE_FGD] [--trace-dir DIR]
 *     [--warmup 5]
 * </pre>
 *
 * <p>A strategy named {@code NAME@N} places through {@code N} threads in turn ({@link Lanes}):
 * with the engine's per-thread start offsets, what {@code N} concurrent placers pack like
 * (decisions per CPU-second are not measured for it).
 */
public final class FillSuite {
  private FillSuite() {}

  /**
   * Warm-up rounds by default. Two were too few on a 2-core machine: the C2 compiles of the
   * placement path ({@code tryPlace}, the host peek) were still queued when the first workload was
   * measured, and it read about half its rate (PrintCompilation showed them installed during its
   * seeds); from four rounds on, no workload was below 100 k decisions per CPU-second in six JVMs.
   */
  public static final int DEFAULT_WARMUP = 5;

  /** The trace's pod lists that the suite runs when {@code --trace-dir} has them. */
  public static final List<String> TRACE_WORKLOADS =
      List.of("default", "gpushare40", "gpushare100", "multigpu50", "gpuspec20", "gpuspec33");

  /**
   * The outcome of one workload.
   *
   * @param workload workload name
   * @param results per strategy, its seeds' results
   */
  public record WorkloadResult(String workload, Map<String, List<SeedResult>> results) {

    /** The seeds' results of a strategy; throws naming it if it was not run. */
    private List<SeedResult> of(String strategy) {
      List<SeedResult> r = results.get(strategy);
      if (r == null) {
        throw new IllegalArgumentException(
            "strategy " + strategy + " was not run on " + workload + "; ran " + results.keySet());
      }
      return r;
    }

    /** Mean allocation of a strategy at an arrived percent over its seeds. */
    public double meanAt(String strategy, int pct) {
      return of(strategy).stream().mapToDouble(r -> r.allocAt(pct)).average().orElse(Double.NaN);
    }

    /** Mean decisions per CPU-second of the placing thread over a strategy's seeds. */
    public double decisionsPerCpuSecond(String strategy) {
      return of(strategy).stream()
          .mapToDouble(SeedResult::decisionsPerCpuSecond).average().orElse(Double.NaN);
    }

    /** Mean decisions/s of a strategy over its seeds. */
    public double decisionsPerSecond(String strategy) {
      return of(strategy).stream()
          .mapToDouble(SeedResult::decisionsPerSecond).average().orElse(Double.NaN);
    }

    /**
     * The smallest difference {@code mean(a) - mean(b)} over the arrived percents 1..130 both
     * reached, and the percent where it is: {@code {gap, pct}}.
     */
    public double[] worstGap(String a, String b) {
      double worst = Double.POSITIVE_INFINITY;
      int at = -1;
      for (int p = 1; p <= FillExperiment.MAX_PCT; p++) {
        double d = meanAt(a, p) - meanAt(b, p);
        if (!Double.isNaN(d) && d < worst) {
          worst = d;
          at = p;
        }
      }
      return new double[] {worst, at};
    }
  }

  /** Runs the strategies (names as {@link FillExperiment} takes them) on one workload. */
  public static WorkloadResult run(
      String name, Workload w, List<String> strategies, List<Long> seeds, double tune) {
    Map<String, List<SeedResult>> out = new LinkedHashMap<>();
    for (String s : strategies) {
      List<SeedResult> rs = new ArrayList<>();
      int lanes = Lanes.countOf(s);
      PlacementStrategy st =
          s.equals(FillExperiment.REFERENCE_FGD) ? null : PlacementStrategy.named(Lanes.strategyOf(s));
      warmUp(List.of(w), List.of(s), seeds.get(0), 1, tune); // a discarded run first: decisions/s warm
      for (long seed : seeds) {
        rs.add(
            st == null
                ? FillExperiment.runReference(w, seed, tune)
                : FillExperiment.run(w, st, seed, tune, MixMode.LEARNED, lanes, Lanes.offsetsOf(s)));
      }
      out.put(s, rs);
    }
    return new WorkloadResult(name, out);
  }

  /**
   * Warms the JIT up: every gpusched strategy of {@code strategies} (the reference and {@code
   * NAME@N} ones are skipped) places seed {@code seed} of every workload {@code rounds} times,
   * results discarded. Throws for negative rounds.
   */
  public static void warmUp(List<Workload> workloads, List<String> strategies, long seed, int rounds, double tune) {
    if (rounds < 0) {
      throw new IllegalArgumentException("warm-up rounds must be >= 0, was " + rounds);
    }
    for (int r = 0; r < rounds; r++) {
      for (Workload w : workloads) {
        for (String s : strategies) {
          if (!s.equals(FillExperiment.REFERENCE_FGD) && Lanes.countOf(s) == 1) {
            FillExperiment.run(w, PlacementStrategy.named(Lanes.strategyOf(s)), seed, tune, MixMode.LEARNED);
          }
        }
      }
    }
  }

  /** A generated workload of the suite: {@code nodes} nodes of seed 7, {@code pods} pods. */
  public static Workload generated(Profile p, int nodes, int pods) {
    List<NodeRow> n = TraceGenerator.nodes(nodes, 7);
    return FillExperiment.workload(n, SuiteWorkloads.pods(p, pods, n, 8));
  }

  /** Writes the Markdown table. */
  public static void print(List<WorkloadResult> results, List<String> strategies, PrintStream out) {
    StringBuilder h = new StringBuilder("| workload |");
    StringBuilder sep = new StringBuilder("|---|");
    for (String s : strategies) {
      h.append(' ').append(s).append(" 100 % / 130 % |");
      sep.append("---|");
    }
    h.append(" decisions per CPU-second (").append(String.join(", ", strategies)).append(") |");
    sep.append("---|");
    String ours = strategies.get(0);
    boolean ff = strategies.contains("FIRST_FIT") && !ours.equals("FIRST_FIT");
    if (ff) {
      h.append(" worst gap ").append(ours).append(" - FIRST_FIT (at arrived %) |");
      sep.append("---|");
    }
    out.println(h);
    out.println(sep);
    for (WorkloadResult r : results) {
      StringBuilder row = new StringBuilder("| ").append(r.workload()).append(" |");
      List<String> dps = new ArrayList<>();
      for (String s : strategies) {
        row.append(String.format(Locale.ROOT, " %.2f / %.2f |", r.meanAt(s, 100), r.meanAt(s, 130)));
        dps.add(String.format(Locale.ROOT, "%.0f", r.decisionsPerCpuSecond(s)));
      }
      row.append(' ').append(String.join(" / ", dps)).append(" |");
      if (ff) {
        double[] g = r.worstGap(ours, "FIRST_FIT");
        row.append(String.format(Locale.ROOT, " %+.2f (%d) |", g[0], (int) g[1]));
      }
      out.println(row);
    }
  }

  /** CLI; see the class comment. */
  public static void main(String[] args) {
    int nodes = 1200;
    int pods = 8152;
    List<Long> seeds = new ArrayList<>(List.of(42L, 43L, 44L));
    List<String> workloads = new ArrayList<>();
    List<String> strategies =
        new ArrayList<>(List.of("FRAGMENTATION_AWARE", "FIRST_FIT", "BEST_FIT", FillExperiment.REFERENCE_FGD));
    Path traceDir = null;
    int warmup = DEFAULT_WARMUP;
    for (int i = 0; i + 1 < args.length; i += 2) {
      String v = args[i + 1];
      switch (args[i]) {
        case "--nodes" -> nodes = Integer.parseInt(v);
        case "--pods" -> pods = Integer.parseInt(v);
        case "--seeds" -> {
          seeds.clear();
          for (String s : v.split(",", -1)) {
            seeds.add(Long.parseLong(s.trim()));
          }
        }
        case "--workloads" -> workloads.addAll(List.of(v.split(",", -1)));
        case "--strategies" -> strategies = new ArrayList<>(List.of(v.split(",", -1)));
        case "--trace-dir" -> traceDir = Path.of(v);
        case "--warmup" -> warmup = Integer.parseInt(v);
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (workloads.isEmpty()) {
      Profile.SUITE.forEach(p -> workloads.add(p.name()));
    }
    Map<String, Workload> built = new LinkedHashMap<>();
    for (String name : workloads) {
      Workload w = generated(Profile.named(name), nodes, pods);
      System.err.println("note: " + name + ": " + w.notes());
      built.put(name, w);
    }
    if (traceDir != null) {
      Path nodeFile = traceDir.resolve("openb_node_list_gpu_node.csv");
      for (String t : TRACE_WORKLOADS) {
        Path podFile = traceDir.resolve("openb_pod_list_" + t + ".csv");
        if (!Files.exists(nodeFile) || !Files.exists(podFile)) {
          System.err.println("note: trace workload " + t + " skipped: " + podFile + " not found");
          continue;
        }
        Workload w =
            FillExperiment.workload(Trace.readNodes(nodeFile.toString()), Trace.readPods(podFile.toString()));
        System.err.println("note: trace " + t + ": " + w.notes());
        built.put("trace " + t, w);
      }
    }
    // every workload, the trace's too, before anything is measured
    warmUp(List.copyOf(built.values()), strategies, seeds.get(0), warmup, 1.3);
    List<WorkloadResult> results = new ArrayList<>();
    for (var e : built.entrySet()) {
      results.add(run(e.getKey(), e.getValue(), strategies, seeds, 1.3));
    }
    print(results, strategies, System.out);
    printDigests(results, System.out);
  }

  /**
   * Writes the decision digests ({@link SeedResult#decisionDigest()}): one line per workload and
   * strategy (its seeds' digests combined in order) and one for all of them, e.g. {@code digest
   * default FRAGMENTATION_AWARE 5f0c...}. Two builds whose lines are equal made the same decisions.
   */
  public static void printDigests(List<WorkloadResult> results, PrintStream out) {
    long all = FillExperiment.FNV_OFFSET;
    for (WorkloadResult r : results) {
      for (var e : r.results().entrySet()) {
        long h = FillExperiment.FNV_OFFSET;
        for (SeedResult s : e.getValue()) {
          h = FillExperiment.mix(h, s.decisionDigest());
        }
        all = FillExperiment.mix(all, h);
        out.printf(Locale.ROOT, "digest %s %s %016x%n", r.workload().replace(' ', '-'), e.getKey(), h);
      }
    }
    out.printf(Locale.ROOT, "digest (all) %016x%n", all);
  }
}
