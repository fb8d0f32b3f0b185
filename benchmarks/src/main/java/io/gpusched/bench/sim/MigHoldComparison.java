package io.gpusched.bench.sim;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.QueueSpec;
import io.gpusched.bench.mig.MigFillExperiment;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The scheduler's MIG stranding hold ({@code GpuSchedulers.Builder.migStrandingHold}) with jobs
 * that leave: the same stream of MIG jobs on H100s in {@code MIG_DYNAMIC} mode, scheduled with the
 * hold off and at several lengths, compared on utilization (compute slices held), jobs completed,
 * and the wait of memory-heavy jobs ({@code 1g.20gb}, {@code 3g.40gb}) against the others. The
 * arrivals-only fill experiment ({@link MigFillExperiment}) cannot show what a held job gains when
 * a GPU frees; this can.
 *
 * <pre>
 * java -cp benchmarks/target/gpusched-benchmarks.jar io.gpusched.bench.sim.MigHoldComparison \
 *     [--mix UNIFORM] [--load 1.3] [--hours 48] [--seed 1] [--holds 0,10m,1h,6h]
 *     [--strategy FRAGMENTATION_AWARE]
 * </pre>
 *
 * <p><b>Workload.</b> 100 H100-80GB in 25 nodes of 4, one queue. Jobs arrive as a Poisson stream
 * for {@code hours}; each draws a profile of the {@link MigFillExperiment.Mix} and a run time,
 * log-uniform between 30 minutes and 8 hours; the rate makes the compute slices asked for
 * {@code load} times what the cluster holds over the window. No job is preemptible and the
 * cluster has no disruptions, so only placement and the hold differ between runs.
 */
public final class MigHoldComparison {
  private MigHoldComparison() {}

  /** Nodes, GPUs per node. */
  static final int NODES = 25;

  static final int PER_NODE = 4;

  /**
   * One run.
   *
   * @param hold the hold (zero: off)
   * @param result the simulation's result
   */
  public record Run(Duration hold, SimResult result) {}

  /** The cluster: 25 nodes of 4 H100-80GB in MIG_DYNAMIC mode, one queue {@code mig}. */
  public static SimCluster cluster() {
    List<NodeSpec> nodes = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      nodes.add(
          NodeSpec.builder(String.format(Locale.ROOT, "m%02d", i))
              .gpus(PER_NODE, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
              .build());
    }
    return new SimCluster(nodes, List.of(QueueSpec.of("mig")), List.of());
  }

  /**
   * The job stream (deterministic for a seed).
   *
   * @param mix the profile mix
   * @param load compute slices asked for over those the cluster holds during the window
   * @param hours the arrival window
   * @param seed the random seed
   */
  public static Workload workload(MigFillExperiment.Mix mix, double load, int hours, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    double[] w = mix.weights();
    double total = Arrays.stream(w).sum();
    int[] compute = {1, 1, 2, 3, 4, 7};
    double meanCompute = 0;
    for (int p = 0; p < w.length; p++) {
      meanCompute += w[p] / total * compute[p];
    }
    double lo = Math.log(1_800);
    double hi = Math.log(8 * 3_600);
    double meanDuration = (Math.exp(hi) - Math.exp(lo)) / (hi - lo); // of the log-uniform draw
    double sliceSeconds = 7.0 * NODES * PER_NODE * hours * 3_600.0;
    double jobs = load * sliceSeconds / (meanCompute * meanDuration);
    double gap = hours * 3_600.0 / jobs; // mean seconds between arrivals
    List<SimJob> out = new ArrayList<>();
    double t = 0;
    for (int i = 0; ; i++) {
      t += -gap * Math.log(1 - rnd.nextDouble());
      if (t >= hours * 3_600.0) {
        break;
      }
      double x = rnd.nextDouble() * total;
      int p = 0;
      while (p < w.length - 1 && x >= w[p]) {
        x -= w[p];
        p++;
      }
      long duration = Math.round(Math.exp(lo + rnd.nextDouble() * (hi - lo)));
      out.add(
          new SimJob(
              "j" + i, (long) t, "mig", 0, MigFillExperiment.PROFILES.get(p),
              "mig:" + MigFillExperiment.PROFILES.get(p), "H100-80GB", 1, duration, 0, false, false,
              0));
    }
    return new Workload(out);
  }

  /** Runs the workload once per hold, in order, on fresh schedulers with the default policy. */
  public static List<Run> run(SimCluster cluster, Workload workload, List<Duration> holds) {
    return run(cluster, workload, holds, io.gpusched.PlacementStrategy.FRAGMENTATION_AWARE);
  }

  /** {@link #run(SimCluster, Workload, List)} with another placement strategy. */
  public static List<Run> run(
      SimCluster cluster, Workload workload, List<Duration> holds, io.gpusched.PlacementStrategy strategy) {
    SimConfig cfg = SimConfig.defaults(SimConfig.Variant.FAIR_SHARE_PREEMPT_BACKFILL);
    List<Run> runs = new ArrayList<>();
    for (Duration h : holds) {
      var factory = new CoreSchedulerFactory(false, h, strategy);
      runs.add(new Run(h, new Simulator(cluster, workload, cfg, factory).run()));
    }
    return runs;
  }

  /** Whether a job's profile takes more memory slices than compute slices on an H100. */
  static boolean memoryHeavy(SimJob j) {
    return j.kind().equals("1g.20gb") || j.kind().equals("3g.40gb");
  }

  /** Prints one row per hold. */
  public static void print(List<Run> runs, PrintStream out) {
    String line = "-".repeat(118);
    out.println(line);
    out.printf(Locale.ROOT, "%-8s %6s %10s %8s %28s %28s %6s %5s%n", "hold", "util", "completed",
        "started", "heavy wait p50/p95 (min)", "other wait p50/p95 (min)", "unfin", "lost");
    out.println(line);
    for (Run run : runs) {
      SimResult r = run.result();
      List<Double> heavy = new ArrayList<>();
      List<Double> other = new ArrayList<>();
      int completed = 0;
      int started = 0;
      for (SimResult.JobOutcome o : r.jobs()) {
        double wait = o.waitSeconds(r.endSeconds()) / 60.0;
        (memoryHeavy(o.job()) ? heavy : other).add(wait);
        completed += o.state() == io.gpusched.JobState.COMPLETED ? 1 : 0;
        started += o.firstStartSeconds() >= 0 ? 1 : 0;
      }
      double[] hw = sorted(heavy);
      double[] ow = sorted(other);
      out.printf(Locale.ROOT, "%-8s %5.1f%% %10d %8d %13.0f / %-12.0f %13.0f / %-12.0f %6d %5d%n",
          label(run.hold()), r.meanUtilizationPercent(), completed, started,
          SimResult.percentile(hw, 50), SimResult.percentile(hw, 95),
          SimResult.percentile(ow, 50), SimResult.percentile(ow, 95), r.unfinished(), r.jobsLost());
    }
    out.println(line);
  }

  private static double[] sorted(List<Double> v) {
    double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(a);
    return a;
  }

  static String label(Duration d) {
    if (d.isZero()) {
      return "off";
    }
    long m = d.toMinutes();
    return m % 60 == 0 ? m / 60 + "h" : m + "m";
  }

  /** Parses {@code 0}, {@code 10m}, {@code 6h}. */
  static Duration parseHold(String s) {
    String t = s.trim();
    if (t.equals("0") || t.equals("off")) {
      return Duration.ZERO;
    }
    long n = Long.parseLong(t.substring(0, t.length() - 1));
    return switch (t.charAt(t.length() - 1)) {
      case 'm' -> Duration.ofMinutes(n);
      case 'h' -> Duration.ofHours(n);
      default -> throw new IllegalArgumentException("a hold is 0, Nm or Nh, was " + s);
    };
  }

  /**
   * Command line entry; see the class comment.
   *
   * @param args the options
   */
  public static void main(String[] args) {
    MigFillExperiment.Mix mix = MigFillExperiment.Mix.UNIFORM;
    double load = 1.3;
    int hours = 48;
    long seed = 1;
    io.gpusched.PlacementStrategy strategy = io.gpusched.PlacementStrategy.FRAGMENTATION_AWARE;
    List<Duration> holds = new ArrayList<>(List.of(Duration.ZERO, Duration.ofMinutes(10),
        Duration.ofHours(1), Duration.ofHours(6)));
    for (Map.Entry<String, String> o : io.gpusched.bench.Args.pairs(args)) {
      String a = o.getKey();
      String v = o.getValue();
      switch (a) {
        case "--mix" -> mix = MigFillExperiment.Mix.valueOf(v.trim().toUpperCase(Locale.ROOT));
        case "--load" -> load = Double.parseDouble(v);
        case "--hours" -> hours = Integer.parseInt(v);
        case "--seed" -> seed = Long.parseLong(v);
        case "--strategy" -> strategy = io.gpusched.PlacementStrategy.named(v.trim());
        case "--holds" -> {
          holds.clear();
          for (String h : v.split(",", -1)) {
            holds.add(parseHold(h));
          }
        }
        default -> throw new IllegalArgumentException("unknown option " + a);
      }
    }
    Workload w = workload(mix, load, hours, seed);
    System.out.printf(Locale.ROOT, "%s mix, load %.2f, %d h, seed %d, %s: %d jobs on %d H100s%n",
        mix, load, hours, seed, strategy.name(), w.jobs().size(), NODES * PER_NODE);
    print(run(cluster(), w, holds, strategy), System.out);
  }
}
