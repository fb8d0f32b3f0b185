package io.gpusched.bench.jmh;

import io.gpusched.PlacementStrategy;
import io.gpusched.bench.peer.PeerScheduler;
import io.gpusched.bench.peer.PeerSchedulers;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.ThreadParams;

/**
 * Placement decisions per second with {@code FRAGMENTATION_AWARE} on a heterogeneous cluster of
 * 1,200 nodes and 6,000 GPUs (H100-80GB, A100-80GB and A30-24GB; WHOLE, SHARED and MIG_DYNAMIC
 * nodes; 1..8 GPUs per node, 5 on average; four zones; see {@link BenchClusters#decisionNodes()}).
 *
 * <p>Requests: 40% whole GPUs (1, or same-node gangs of 2, 4, 8), 35% MIG instances (H100/A100
 * profiles and, a quarter of them, A30 profiles), 25% shares of at most 24 GB; 20% of them pinned
 * to a GPU model and 10% to a zone. Like {@link PlaceReleaseBenchmark}, each thread first fills the
 * cluster to its share of 75% and then each operation releases its oldest allocation and makes one
 * placement decision; an operation is therefore one decision plus the release that keeps the load
 * steady. {@code placed} / {@code failed} count the decisions that found capacity or not.
 *
 * <p>{@code impl} defaults to {@code gpusched}; {@code locked} and {@code fenzo} run the same
 * workload ({@code locked} falls back to best fit, Fenzo to GPU bin packing: neither has a
 * fragmentation model).
 *
 * <p>Run (after {@code ./mvnw -B -q -pl benchmarks -am package -DskipTests}):
 *
 * <pre>
 * java -jar benchmarks/target/gpusched-benchmarks.jar DecisionBenchmark -f 1 -wi 2 -i 3 -w 2s -r 2s
 * java -jar benchmarks/target/gpusched-benchmarks.jar DecisionBenchmark -p impl=gpusched,locked,fenzo -t 1
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DecisionBenchmark {

  /** The shared cluster. */
  @State(Scope.Benchmark)
  public static class ClusterState {
    /** Placement strategy. */
    @Param({"FRAGMENTATION_AWARE"})
    public String strategy;

    /** Implementation. */
    @Param({"gpusched"})
    public String impl;

    PeerScheduler scheduler;
    int gpus;

    /** Builds the cluster. */
    @Setup(Level.Trial)
    public void setUp() {
      var nodes = BenchClusters.decisionNodes();
      gpus = BenchClusters.gpuCount(nodes);
      scheduler = PeerSchedulers.create(impl, nodes, PlacementStrategy.named(strategy));
    }

    /** Stops Fenzo's threads. */
    @TearDown(Level.Trial)
    public void tearDown() {
      if (scheduler != null) {
        scheduler.close();
      }
    }
  }

  /** One thread's ring of held allocations and its request sequence. */
  @State(Scope.Thread)
  public static class ThreadState {
    SteadyRing ring;

    /** Fills this thread's share of the cluster. */
    @Setup(Level.Trial)
    public void setUp(ClusterState c, BenchmarkParams bp, ThreadParams tp) {
      ring =
          SteadyRing.forThread(
              c.scheduler, c.impl, "DECISION", 0xDEC1L, c.gpus, bp.getThreads(), tp.getThreadIndex());
    }
  }

  @Benchmark
  public @Nullable Object decide(ClusterState c, ThreadState t, PlacementOutcome o) {
    return o.count(t.ring.step(c.scheduler));
  }
}
