package io.gpusched.bench;

import io.gpusched.NodeSpec;
import io.gpusched.bench.sim.CoreSchedulerFactory;
import io.gpusched.bench.sim.PolicyComparison;
import io.gpusched.bench.sim.SimCluster;
import io.gpusched.bench.sim.SimConfig;
import io.gpusched.bench.sim.SimReport;
import io.gpusched.bench.sim.SimResult;
import io.gpusched.bench.sim.Workload;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The project's demo: the job scheduler driven by the discrete-event simulator ({@link
 * io.gpusched.bench.sim}) on the built-in cluster ({@link SimCluster#demo()}, 136 GPUs: H100
 * whole on-demand and spot, A100 MIG, A30 shared) and the shipped workload ({@value
 * Workload#SHIPPED}: 36 hours of notebooks, short and long training, 16-GPU gangs and MIG
 * inference), with random node failures and spot interruptions, under five scheduler
 * configurations. Prints the summary table and writes CSVs and charts.
 *
 * <pre>
 * ./mvnw -B -q -DskipTests package
 * java -cp benchmarks/target/gpusched-benchmarks.jar io.gpusched.bench.Demo \
 *     [--workload FILE] [--out DIR] [--seed S] [--no-disruptions] [--placement]
 * </pre>
 *
 * <p>On a machine with NVIDIA GPUs it first runs {@link LocalGpuDemo}: the scheduler in real time
 * on the local GPUs as NVML reports them, with NVML idle detection.
 *
 * <p>{@code --placement} also runs the earlier placement-strategy demo ({@link PlacementDemo}).
 */
public final class Demo {
  private Demo() {}

  /** Default output folder for CSVs and charts. */
  public static final String DEFAULT_OUT = "sim-out";

  /**
   * Runs the comparison and prints the tables.
   *
   * @param out where to print
   * @param workloadSource the workload (file or {@code classpath:})
   * @param outDir where to write CSVs and charts, or null for none
   * @param seed seed of the node failures and spot interruptions
   * @param disruptions whether nodes fail and spot nodes get interrupted
   */
  public static List<SimResult> run(
      PrintStream out, String workloadSource, Path outDir, long seed, boolean disruptions)
      throws IOException {
    Workload w = Workload.read(workloadSource);
    SimCluster c = SimCluster.demo();
    if (disruptions) {
      c = c.withRandomDisruptions(w.lastArrivalSeconds() + 86_400, 24 * 14, 24, seed);
    }
    int gpus = c.gpus();
    Map<String, Integer> models = new TreeMap<>();
    for (NodeSpec n : c.nodes()) {
      models.merge(n.gpus().get(0).model().name() + " " + n.gpus().get(0).mode()
          + (n.capacityClass() == io.gpusched.CapacityClass.SPOT ? " spot" : ""), n.gpus().size(), Integer::sum);
    }
    out.printf(Locale.ROOT, "gpusched demo: the scheduler in a discrete-event simulation%n");
    out.printf(Locale.ROOT, "cluster: %d nodes, %d GPUs %s; queues %s%n", c.nodes().size(), gpus,
        models, c.queues().stream().map(q -> q.name() + "(w" + (int) q.weight() + ",g"
            + (int) q.guaranteedGpus() + ")").toList());
    Map<String, Integer> kinds = new TreeMap<>();
    w.jobs().forEach(j -> kinds.merge(j.kind(), 1, Integer::sum));
    out.printf(Locale.ROOT, "workload: %s, %d jobs over %.0f h %s, %.0f GPU-hours of work%n",
        workloadSource, w.jobs().size(), w.lastArrivalSeconds() / 3_600.0, kinds, w.gpuSeconds() / 3_600);
    out.printf(Locale.ROOT, "disruptions: %d node failures, %d spot interruptions%n%n",
        c.disruptions().stream().filter(d -> !d.spot()).count(),
        c.disruptions().stream().filter(d -> d.spot()).count());
    SimConfig base = SimConfig.defaults(SimConfig.Variant.FIFO);
    List<SimResult> results = PolicyComparison.run(c, w, base, new CoreSchedulerFactory(), out);
    out.println();
    SimReport.printSummary(results, out);
    out.println("util: mean GPU-equivalents held / capacity while jobs arrive; wait: submit to first"
        + " start; JCT: submit to completion;\nJain: over 1 h windows of share received / weighted"
        + " max-min entitlement; preempt: priority + quota-reclaim stops;\nlost GPUh: work redone"
        + " after preemption, drain, spot and node loss; gang16 max: longest wait of a 16-GPU gang;\n"
        + "unfin: jobs not final when the simulation ended; lost: jobs the scheduler lost (must be 0)");
    if (outDir != null) {
      List<Path> files = SimReport.write(results, outDir);
      out.printf(Locale.ROOT, "%nwrote %d files (CSV, PNG charts) to %s%n", files.size(), outDir.toAbsolutePath());
    }
    return results;
  }

  /** CLI: {@code [--workload FILE] [--out DIR] [--seed S] [--no-disruptions] [--placement]}. */
  public static void main(String[] args) throws IOException {
    System.setProperty("java.awt.headless", "true");
    String workload = Workload.SHIPPED;
    Path out = Path.of(DEFAULT_OUT);
    long seed = 42;
    boolean disruptions = true;
    boolean placement = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--workload" -> workload = args[++i];
        case "--out" -> out = Path.of(args[++i]);
        case "--seed" -> seed = Long.parseLong(args[++i]);
        case "--no-disruptions" -> disruptions = false;
        case "--placement" -> placement = true;
        default -> {
          System.err.println("usage: Demo [--workload FILE] [--out DIR] [--seed S] [--no-disruptions] [--placement]");
          System.exit(2);
        }
      }
    }
    try {
      if (LocalGpuDemo.runIfAvailable(System.out)) {
        System.out.println();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (RuntimeException e) {
      System.out.println("local GPU demo failed (" + e + "); going on with the simulation");
    }
    long t0 = System.nanoTime();
    run(System.out, workload, out, seed, disruptions);
    System.out.printf(Locale.ROOT, "simulation demo took %.1f s%n", (System.nanoTime() - t0) / 1e9);
    if (placement) {
      System.out.println();
      PlacementDemo.run(System.out, 100_000, seed);
    }
  }
}
