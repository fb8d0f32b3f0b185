package io.gpusched.bench.jmh;

import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
import io.gpusched.bench.peer.PeerScheduler;
import io.gpusched.bench.peer.PeerSchedulers;
import java.util.List;
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
 * Steady-state place + release pairs per second.
 *
 * <p>The cluster ({@link ClusterState}, shared by all benchmark threads) is built from the {@code
 * mix} and {@code size} (GPUs) for the {@code impl} ({@code gpusched}: the lock-free library;
 * {@code locked}: {@link io.gpusched.bench.peer.LockedBestFit}; {@code fenzo}: {@link
 * io.gpusched.bench.peer.FenzoPeer}) and {@code strategy}. Each thread then fills it with random
 * requests of the mix until it holds its share of 75% of the GPUs (in GPU equivalents: whole GPUs,
 * MIG memory slices / 8, the larger share fraction), keeping them in a ring. One operation releases
 * the thread's oldest allocation and places the next request of a precomputed random sequence (64K
 * requests per thread, seeded by thread index) in its slot: no requests are allocated in the
 * measured loop. The {@code placed} and {@code failed} counters show how many of those placements
 * found capacity. See {@link BenchClusters} for the mixes.
 *
 * <p>{@code fenzo} is not run above 10,000 GPUs: each {@code scheduleOnce} evaluates every host,
 * and at 100,000 GPUs filling alone takes many minutes. Its setup fails with a clear message (JMH
 * reports it and moves on to the next combination).
 *
 * <p>Run (after {@code ./mvnw -B -q -pl benchmarks -am package -DskipTests}):
 *
 * <pre>
 * # full matrix (hours on a small machine)
 * java -jar benchmarks/target/gpusched-benchmarks.jar PlaceReleaseBenchmark
 * # the key comparison: MIG mix, BEST_FIT, 10k GPUs, all three implementations
 * java -jar benchmarks/target/gpusched-benchmarks.jar PlaceReleaseBenchmark -f 1 -wi 2 -i 3 -w 2s -r 2s \
 *     -p mix=MIG -p strategy=BEST_FIT -p size=10000 -p impl=gpusched,locked,fenzo
 * # scaling with threads (the threads share one cluster), with and without per-thread offsets
 * java -jar benchmarks/target/gpusched-benchmarks.jar PlaceReleaseBenchmark -t 2 -p impl=gpusched \
 *     -p offsets=on,always,off ...
 * </pre>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class PlaceReleaseBenchmark {

  /** Largest cluster the Fenzo peer is run on. */
  static final int FENZO_MAX_GPUS = 10_000;

  /** The shared cluster. */
  @State(Scope.Benchmark)
  public static class ClusterState {
    /** Request / cluster mix. */
    @Param({"WHOLE", "MIG", "SHARES", "MIXED"})
    public String mix;

    /** Cluster size in GPUs. */
    @Param({"1000", "10000", "100000"})
    public int size;

    /** Placement strategy. */
    @Param({"FIRST_FIT", "BEST_FIT", "SPREAD", "FRAGMENTATION_AWARE"})
    public String strategy;

    /** Implementation. */
    @Param({"gpusched", "locked", "fenzo"})
    public String impl;

    /**
     * gpusched's per-thread start offsets inside tie groups ({@code
     * GpuClusters.Builder#threadOffsets}): {@code on} (the default, {@code WHEN_CONTENDED}: a
     * thread takes its lane while placers lose races), {@code always} (every thread keeps its
     * lane) or {@code off}. With one thread all three walk from the lowest index; the peers ignore
     * it.
     */
    @Param({"on"})
    public String offsets;

    PeerScheduler scheduler;
    int gpus;

    /** Builds the cluster. */
    @Setup(Level.Trial)
    public void setUp() {
      if (impl.equals("fenzo") && size > FENZO_MAX_GPUS) {
        throw new UnsupportedOperationException(
            "skipped: fenzo is not run above " + FENZO_MAX_GPUS + " GPUs (size=" + size + ")");
      }
      var nodes = BenchClusters.nodes(mix, size);
      gpus = BenchClusters.gpuCount(nodes);
      ThreadOffsets threadOffsets =
          switch (offsets) {
            case "on" -> ThreadOffsets.WHEN_CONTENDED;
            case "always" -> ThreadOffsets.ALWAYS;
            case "off" -> ThreadOffsets.OFF;
            default ->
                throw new IllegalArgumentException(
                    "offsets must be on, always or off, was " + offsets);
          };
      scheduler =
          PeerSchedulers.create(
              impl, List.copyOf(nodes), PlacementStrategy.named(strategy), threadOffsets);
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
              c.scheduler, c.impl, c.mix, 0x5EEDL, c.gpus, bp.getThreads(), tp.getThreadIndex());
    }

    /** Reports what the thread still holds. */
    @TearDown(Level.Trial)
    public void tearDown(ThreadParams tp) {
      System.out.printf("%n[end] thread %d holds %d allocations%n", tp.getThreadIndex(), ring.heldNow());
    }
  }

  @Benchmark
  public @Nullable Object placeRelease(ClusterState c, ThreadState t, PlacementOutcome o) {
    return o.count(t.ring.step(c.scheduler));
  }
}
