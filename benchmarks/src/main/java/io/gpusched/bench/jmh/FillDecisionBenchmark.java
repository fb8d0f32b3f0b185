package io.gpusched.bench.jmh;

import io.gpusched.GpuCluster;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.bench.FillExperiment;
import io.gpusched.bench.FillExperiment.MixMode;
import io.gpusched.bench.FillExperiment.Workload;
import io.gpusched.bench.FillSuite;
import io.gpusched.bench.fgd.ReferenceFgd;
import io.gpusched.bench.workload.SuiteWorkloads.Profile;
import io.gpusched.bench.workload.Trace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Placement decisions per second in the fill experiment ({@link FillExperiment}, see
 * docs/fill-experiment.md): one operation fills a fresh cluster of a quality-suite workload with
 * one seed's arrivals, to 130 % of its GPU capacity, arrivals only. The fresh cluster and the
 * arrival sequence are made in an invocation-level setup (not timed); the operation is the loop of
 * {@code tryPlace} calls alone, as {@code FillSuite}'s decisions per CPU-second count it, here with
 * JMH's warm-up and forks. The {@code decisions} counter is the rate to read (decisions per
 * second of the benchmark thread); {@code placed} counts those that found room. The warm-up is
 * long (ten 2-second iterations): on a 2-core machine a fresh fork's rate kept rising for 15-30
 * seconds while the JIT compiled the placement path.
 *
 * <p>{@code workload} names a generated workload of the suite ({@code default}, {@code share40},
 * ...: 1,200 nodes, 8,152 pods) or, with {@code traceDir} set to a folder holding the Alibaba
 * trace's CSVs, {@code trace:NAME} for its pod list {@code NAME} ({@link FillSuite#TRACE_WORKLOADS}).
 * {@code strategy} is a {@link PlacementStrategy} name, or {@code REFERENCE_FGD} for the reference
 * FGD of the same protocol (the peer). Seeds 42, 43, 44 are used in turn.
 *
 * <pre>
 * java -jar benchmarks/target/gpusched-benchmarks.jar FillDecisionBenchmark
 * java -jar benchmarks/target/gpusched-benchmarks.jar FillDecisionBenchmark \
 *     -p workload=trace:default,trace:gpushare40 -p traceDir=/path/to/csv \
 *     -p strategy=FRAGMENTATION_AWARE,REFERENCE_FGD
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 10, time = 2)
@Measurement(iterations = 5, time = 2)
@State(Scope.Thread)
public class FillDecisionBenchmark {

  /** A suite workload name, or {@code trace:NAME} with {@link #traceDir}. */
  @Param({"default", "share40", "share100", "multigpu50", "gpuspec20", "gpuspec33"})
  public String workload;

  /** A strategy name, or {@code REFERENCE_FGD}. */
  @Param({"FRAGMENTATION_AWARE"})
  public String strategy;

  /** The folder of the trace's CSVs, for {@code trace:} workloads (empty: none). */
  @Param({""})
  public String traceDir;

  /** Counters JMH reports as rates per second. */
  @AuxCounters(AuxCounters.Type.OPERATIONS)
  @State(Scope.Thread)
  public static class Decisions {
    /** Placement decisions made (each request of the arrival sequence once). */
    public long decisions;

    /** Decisions that found room. */
    public long placed;
  }

  private Workload w;
  private PlacementRequest[] requests;
  private @Nullable PlacementStrategy st;
  private long seed = 42;

  private int[] seq;
  private @Nullable GpuCluster cluster;
  private @Nullable ReferenceFgd fgd;

  /** Loads or generates the workload. */
  @Setup(Level.Trial)
  public void load() {
    w = workloadNamed(workload, traceDir);
    requests = w.requests().toArray(PlacementRequest[]::new);
    st = strategy.equals(FillExperiment.REFERENCE_FGD) ? null : PlacementStrategy.named(strategy);
  }

  /**
   * The workload a name stands for; throws {@code IllegalArgumentException} naming a missing trace
   * folder or file, or an unknown workload.
   */
  static Workload workloadNamed(String name, String traceDir) {
    if (!name.startsWith("trace:")) {
      return FillSuite.generated(Profile.named(name), 1200, 8152);
    }
    String t = name.substring("trace:".length());
    if (traceDir.isEmpty()) {
      throw new IllegalArgumentException("workload " + name + " needs -p traceDir=FOLDER");
    }
    Path nodes = Path.of(traceDir, "openb_node_list_gpu_node.csv");
    Path pods = Path.of(traceDir, "openb_pod_list_" + t + ".csv");
    for (Path p : new Path[] {nodes, pods}) {
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException("workload " + name + ": no file " + p);
      }
    }
    return FillExperiment.workload(Trace.readNodes(nodes.toString()), Trace.readPods(pods.toString()));
  }

  /** A fresh cluster (or reference FGD) and the next seed's arrivals: not timed. */
  @Setup(Level.Invocation)
  public void fresh() {
    seq = FillExperiment.arrivals(w, seed, 1.3);
    seed = seed == 44 ? 42 : seed + 1;
    if (st == null) {
      fgd = new ReferenceFgd(w.nodes(), w.requests());
    } else {
      cluster = FillExperiment.cluster(w, st, MixMode.LEARNED);
    }
  }

  /** One fill: every arrival placed or refused, in order. */
  @Benchmark
  public void fill(Decisions d) {
    PlacementRequest[] reqs = requests;
    GpuCluster c = cluster;
    ReferenceFgd f = fgd;
    long placed = 0;
    for (int i : seq) {
      try {
        if (c != null ? c.tryPlace(reqs[i]) != null : f != null && f.place(reqs[i]) >= 0) {
          placed++;
        }
      } catch (IllegalArgumentException e) {
        // a request the cluster can never host: a decision all the same, as FillExperiment counts it
      }
    }
    d.decisions += seq.length;
    d.placed += placed;
  }
}
