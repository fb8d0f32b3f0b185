package io.gpusched.bench;

import io.gpusched.Allocation;
import io.gpusched.CapacityClass;
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
import io.gpusched.UsageSummary;
import io.gpusched.core.GpuClusters;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import io.gpusched.bench.workload.WeightedPick;
import java.util.Random;

/**
 * The placement demo (part of {@link Demo} with {@code --placement}): a simulated heterogeneous cluster, a short randomized arrival / departure
 * simulation of mixed requests under each built-in strategy, and a summary.
 *
 * <pre>
 * ./mvnw -B -q -DskipTests package
 * java -cp benchmarks/target/gpusched-benchmarks.jar io.gpusched.bench.PlacementDemo [--arrivals N] [--seed S]
 * </pre>
 *
 * <p>The cluster ({@link #cluster()}): H100 nodes in {@link GpuMode#MIG_DYNAMIC}, A100 nodes
 * taken {@link GpuMode#WHOLE}, A30 nodes {@link GpuMode#SHARED}, some of each on spot capacity.
 * The workload ({@link #nextRequest}): MIG slices of every size, fractional shares, single GPUs,
 * NVLink gangs of 2/4/8 on one node and spread gangs, some pinned to a model or to on-demand
 * capacity. Arrivals are Poisson with exponentially distributed lifetimes, offered at about 1.1x
 * the cluster's capacity, so the cluster runs full and some requests are turned away.
 *
 * <p>Built to be extended: {@link #simulate} takes any cluster and request source, and {@link
 * Stats} is what the summary prints.
 */
public final class PlacementDemo {
  private PlacementDemo() {}

  /** Results of one simulated run. */
  @SuppressWarnings("NullAway.Init") // filled in by the run that returns it
  public static final class Stats {
    /** Strategy name. */
    public String strategy;
    /** Requests placed. */
    public int placed;
    /** Requests turned away (no capacity free at arrival). */
    public int rejected;
    /** Highest allocation seen, percent of GPU capacity. */
    public double peakAllocatedPct;
    /** Mean allocation over the sampled snapshots (after warm-up), percent. */
    public double meanAllocatedPct;
    /** Mean fragmentation of free capacity over the sampled snapshots, percent. */
    public double meanFragmentationPct;
    /** Placement decisions per second (wall time of {@code place} calls only). */
    public double decisionsPerSecond;
    /** The last snapshot. */
    public ClusterSnapshot last;
  }

  /**
   * Adds {@code count} identical nodes named {@code prefix-NN} in two zones, the first {@code
   * onDemand} of them on-demand at {@code price}, the rest spot at {@code spotPrice}.
   */
  private static void pool(
      List<NodeSpec> nodes,
      String prefix,
      String pool,
      int count,
      int onDemand,
      int gpus,
      GpuModel model,
      GpuMode mode,
      long cpuMillis,
      long memoryMiB,
      double price,
      double spotPrice) {
    for (int i = 0; i < count; i++) {
      boolean od = i < onDemand;
      nodes.add(
          NodeSpec.builder(String.format("%s-%02d", prefix, i))
              .label("zone", i % 2 == 0 ? "eu-1a" : "eu-1b")
              .label("pool", pool)
              .gpus(gpus, model, mode)
              .hostResources(cpuMillis, memoryMiB)
              .pricePerGpuHour(od ? price : spotPrice)
              .capacityClass(od ? CapacityClass.ON_DEMAND : CapacityClass.SPOT)
              .build());
    }
  }

  /** Builds the demo cluster's nodes: 36 nodes, 232 GPUs. */
  public static List<NodeSpec> cluster() {
    List<NodeSpec> nodes = new ArrayList<>();
    pool(nodes, "h100", "mig", 10, 7, 8, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC, 192_000, 2_097_152, 2.50, 1.00);
    pool(nodes, "a100", "training", 12, 8, 8, GpuModels.A100_80GB, GpuMode.WHOLE, 128_000, 1_048_576, 1.80, 0.70);
    pool(nodes, "a30", "inference", 14, 10, 4, GpuModels.A30_24GB, GpuMode.SHARED, 64_000, 262_144, 0.60, 0.25);
    return nodes;
  }

  private static final String A100 = GpuModels.A100_80GB.name();
  private static final String A30 = GpuModels.A30_24GB.name();
  private static final String[] MIG_PROFILES = {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"};
  private static final int[] MIG_WEIGHTS = {20, 10, 20, 25, 10, 15};

  /**
   * A random request of the demo mix with its GPU-capacity weight in milli (for the offered load):
   * half MIG slices on H100, 31.5% shares on A30, 14% single whole GPUs, 4.5% gangs (2, 4, 8 on one
   * node; 16 spread), a quarter of them restricted to on-demand capacity.
   */
  public static PlacementRequest nextRequest(Random rnd) {
    double k = rnd.nextDouble();
    PlacementRequest r;
    if (k < 0.50) {
      r = PlacementRequest.mig(MIG_PROFILES[WeightedPick.index(rnd, MIG_WEIGHTS)]).withHost(8_000, 65_536);
    } else if (k < 0.815) {
      int milli = 100 * (1 + rnd.nextInt(8)); // 100..800
      long mem = 2_048L * (1 + rnd.nextInt(5)); // 2..10 GiB
      r = PlacementRequest.share(milli, mem).withHost(2_000, 16_384)
          .withConstraints(Constraints.models(A30));
    } else if (k < 0.955) {
      r = PlacementRequest.wholeGpus(1).withHost(12_000, 131_072)
          .withConstraints(rnd.nextBoolean() ? Constraints.models(A100) : Constraints.NONE);
    } else if (k < 0.995) {
      int n = new int[] {2, 4, 8}[WeightedPick.index(rnd, new int[] {6, 3, 1})];
      r = PlacementRequest.wholeGpus(n, true).withHost(12_000L * n, 131_072L * n)
          .withConstraints(Constraints.models(A100));
    } else {
      r = PlacementRequest.wholeGpus(16, false).withHost(16 * 8_000, 16 * 65_536)
          .withConstraints(Constraints.models(A100));
    }
    if (rnd.nextDouble() < 0.25) { // latency-critical: no spot capacity
      r = r.withConstraints(r.constraints().withCapacityClasses(CapacityClass.ON_DEMAND));
    }
    return r;
  }

  /** GPU capacity a request takes, in milli (MIG by compute slices of 7), for the offered load. */
  static double milliOf(PlacementRequest r) {
    if (r.gpus() instanceof GpuDemand.Whole w) {
      return 1000.0 * w.count();
    }
    if (r.gpus() instanceof GpuDemand.Share s) {
      return s.milliGpu();
    }
    GpuDemand.Mig m = (GpuDemand.Mig) r.gpus();
    return 1000.0 * GpuModels.H100_80GB.migProfile(m.profile()).memorySlices() / 8;
  }

  /**
   * The demo mix as an expected mix ({@link GpuClusters.Builder#expectedMix}), from a sample of
   * {@link #nextRequest}; every strategy gets the same one, so their fragmentation figures are
   * measured alike.
   */
  public static Map<GpuDemand, Double> expectedMix(long seed) {
    Random rnd = new Random(seed ^ 0x2545F4914F6CDD1DL);
    Map<GpuDemand, Double> mix = new HashMap<>();
    for (int i = 0; i < 20_000; i++) {
      mix.merge(nextRequest(rnd).gpus(), 1.0, Double::sum);
    }
    return mix;
  }

  private record Departure(double time, Allocation allocation) {}

  /**
   * Simulates {@code arrivals} Poisson arrivals with mean lifetime 1 (time unit), at a rate that
   * offers {@code load} times the cluster's GPU capacity, sampling a snapshot every {@code
   * sampleEvery} arrivals.
   */
  public static Stats simulate(
      GpuCluster cluster, int arrivals, long seed, double load, int sampleEvery) {
    Random rnd = new Random(seed);
    double capacity = cluster.snapshot().total().capacityMilli();
    // mean milli per request, estimated from the mix itself
    Random est = new Random(seed ^ 0x5DEECE66DL);
    double mean = 0;
    for (int i = 0; i < 20_000; i++) {
      mean += milliOf(nextRequest(est));
    }
    mean /= 20_000;
    double rate = load * capacity / mean; // arrivals per unit time, lifetime mean 1
    PriorityQueue<Departure> departures =
        new PriorityQueue<>((a, b) -> Double.compare(a.time(), b.time()));
    Stats st = new Stats();
    long placeNanos = 0;
    int samples = 0;
    double now = 0;
    int warmup = arrivals / 5;
    for (int i = 0; i < arrivals; i++) {
      now += -Math.log(1 - rnd.nextDouble()) / rate;
      while (!departures.isEmpty() && departures.peek().time() <= now) {
        departures.poll().allocation().release();
      }
      PlacementRequest req = nextRequest(rnd);
      double life = -Math.log(1 - rnd.nextDouble());
      long t0 = System.nanoTime();
      Optional<Allocation> a = cluster.place(req);
      placeNanos += System.nanoTime() - t0;
      if (a.isPresent()) {
        st.placed++;
        departures.add(new Departure(now + life, a.get()));
      } else {
        st.rejected++;
      }
      if ((i + 1) % sampleEvery == 0) {
        ClusterSnapshot s = cluster.snapshot();
        double alloc = s.total().allocatedPercent();
        st.peakAllocatedPct = Math.max(st.peakAllocatedPct, alloc);
        if (i >= warmup) {
          st.meanAllocatedPct += alloc;
          st.meanFragmentationPct += s.total().fragmentationPercent();
          samples++;
        }
      }
    }
    if (samples > 0) {
      st.meanAllocatedPct /= samples;
      st.meanFragmentationPct /= samples;
    }
    st.decisionsPerSecond = placeNanos == 0 ? 0 : arrivals * 1e9 / placeNanos;
    st.last = cluster.snapshot();
    return st;
  }

  /** Runs the demo and prints to {@code out}. */
  public static List<Stats> run(PrintStream out, int arrivals, long seed) {
    List<NodeSpec> nodes = cluster();
    int gpus = nodes.stream().mapToInt(n -> n.gpus().size()).sum();
    out.printf(Locale.ROOT,
        "gpusched demo: %d nodes, %d GPUs (H100 MIG_DYNAMIC, A100 WHOLE, A30 SHARED; on-demand and"
            + " spot)%n", nodes.size(), gpus);
    out.printf(Locale.ROOT,
        "workload: %,d Poisson arrivals at ~1.1x capacity, exponential lifetimes; 50%% MIG slices,"
            + " 31.5%% shares, 14%% single GPUs, 4.5%% gangs (2-16 GPUs); 25%% on-demand only%n%n",
        arrivals);
    List<Stats> all = new ArrayList<>();
    List<PlacementStrategy> strategies =
        List.of(PlacementStrategy.FIRST_FIT, PlacementStrategy.BEST_FIT, PlacementStrategy.SPREAD,
            PlacementStrategy.FRAGMENTATION_AWARE);
    Map<GpuDemand, Double> mix = expectedMix(seed);
    // warm the JIT once so the first strategy's decisions/s is comparable
    simulate(GpuClusters.newBuilder().nodes(nodes).expectedMix(mix).build(),
        Math.min(arrivals, 20_000), seed + 1, 1.1, 1_000);
    for (PlacementStrategy s : strategies) {
      GpuCluster c = GpuClusters.newBuilder().strategy(s).nodes(nodes).expectedMix(mix).build();
      Stats st = simulate(c, arrivals, seed, 1.1, Math.max(1, arrivals / 200));
      st.strategy = s.name();
      all.add(st);
    }
    String line = "-".repeat(96);
    out.println(line);
    out.printf(Locale.ROOT, "%-20s %9s %9s %10s %12s %8s %14s%n",
        "strategy", "placed", "rejected", "peak alloc", "mean alloc", "frag", "decisions/s");
    out.println(line);
    for (Stats st : all) {
      out.printf(Locale.ROOT, "%-20s %,9d %,9d %9.1f%% %11.1f%% %7.1f%% %,14.0f%n",
          st.strategy, st.placed, st.rejected, st.peakAllocatedPct, st.meanAllocatedPct,
          st.meanFragmentationPct, st.decisionsPerSecond);
    }
    out.println(line);
    out.println("mean alloc / frag: over snapshots after warm-up; frag = share of free capacity that"
        + " the\nrequest mix cannot use (ClusterSnapshot), measured against the same expected mix for"
        + " every strategy");
    Stats def = all.get(all.size() - 1);
    out.printf(Locale.ROOT, "%nfinal snapshot, %s, by GPU model:%n", def.strategy);
    out.printf(Locale.ROOT, "%-12s %5s %5s %10s %13s %16s %8s%n",
        "model", "GPUs", "free", "allocated", "MIG slices", "shared milli", "frag");
    for (Map.Entry<String, UsageSummary> e : def.last.byModel().entrySet()) {
      UsageSummary u = e.getValue();
      out.printf(Locale.ROOT, "%-12s %5d %5d %9.1f%% %13s %16s %7.1f%%%n",
          e.getKey(), u.gpus(), u.freeGpus(), u.allocatedPercent(),
          u.migSlices() == 0 ? "-" : u.migSlicesUsed() + "/" + u.migSlices(),
          u.sharedMilli() == 0 ? "-" : u.sharedMilliUsed() + "/" + u.sharedMilli(),
          u.fragmentationPercent());
    }
    UsageSummary t = def.last.total();
    out.printf(Locale.ROOT, "%-12s %5d %5d %9.1f%% %13s %16s %7.1f%%%n",
        "total", t.gpus(), t.freeGpus(), t.allocatedPercent(), t.migSlicesUsed() + "/" + t.migSlices(),
        t.sharedMilliUsed() + "/" + t.sharedMilli(), t.fragmentationPercent());
    return all;
  }

  /** CLI: {@code [--arrivals N] [--seed S]}. */
  public static void main(String[] args) {
    int arrivals = 100_000;
    long seed = 42;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--arrivals" -> arrivals = Integer.parseInt(args[++i]);
        case "--seed" -> seed = Long.parseLong(args[++i]);
        default -> {
          System.err.println("usage: PlacementDemo [--arrivals N] [--seed S]");
          System.exit(2);
        }
      }
    }
    run(System.out, arrivals, seed);
  }
}
