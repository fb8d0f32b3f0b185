package io.gpusched.bench.mig;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
import io.gpusched.core.GpuClusters;
import java.io.PrintStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import org.jspecify.annotations.Nullable;

/**
 * The MIG fill experiment: random streams of MIG profile requests arrive at a cluster of {@code
 * MIG_DYNAMIC} GPUs and never leave; each is placed or fails; the stream stops once the compute
 * slices asked for reach {@code tune} times the cluster's. The compute slices granted are compared
 * with the stream's exact offline optimum ({@link MigOptimum}), which may refuse any request and
 * sees the whole stream at once.
 *
 * <pre>
 * java -cp benchmarks/target/gpusched-benchmarks.jar io.gpusched.bench.mig.MigFillExperiment \
 *     [--nodes 25] [--gpus-per-node 4] [--tune 1.3] [--seeds 1-50] [--mix UNIFORM,BENCH,COMPUTE]
 *     [--strategies FIRST_FIT,BEST_FIT,FRAGMENTATION_AWARE,FRAGMENTATION_AWARE@2] [--learn learned|fixed]
 *     [--defer-stranding 50,end,never]
 * </pre>
 *
 * <p><b>Protocol.</b> H100-80GB GPUs, {@code gpus-per-node} per node. For a seed, a {@link
 * SplittableRandom}{@code (seed)} draws profiles of the {@link Mix} independently until the compute
 * slices drawn reach {@code ceil(tune x 7 x GPUs)}; every strategy gets the same stream on a fresh
 * cluster. {@code --learn learned} (default) lets the engine learn the mix as in production; {@code
 * fixed} gives it the mix's weights up front ({@link GpuClusters.Builder#expectedMix}).
 *
 * <p><b>Holding back requests that would strand compute</b> ({@code --defer-stranding}): every
 * strategy runs again with each {@link Deferral}. An arrival is placed with {@link
 * PlacementRequest#withoutStranding()}; when the engine refuses it (only places that {@linkplain
 * #strands strand} a compute slice are free, or none), the request is retried after that many
 * further arrivals ({@code end}: after the last; {@code never}: refused), first without stranding,
 * then wherever the engine chooses. It stands for a scheduler that holds such a job back while
 * other work may use the GPU without loss.
 *
 * <p><b>Output</b> (stdout): {@code mix,strategy,seed,requests,granted,optimum,pct} per seed, then
 * per mix and strategy {@code SUMMARY mix=.. strategy=.. seeds=.. min_pct=.. mean_pct=..
 * max_pct=..}.
 */
public final class MigFillExperiment {
  private MigFillExperiment() {}

  /** The six profiles of the stream (the H100-80GB names; no {@code +me}). */
  public static final List<String> PROFILES =
      List.of("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb");

  /** Profile mixes of the streams: relative draw weights of {@link #PROFILES}. */
  @SuppressWarnings("ImmutableEnumChecker") // weights are never written after construction; weights() copies
  public enum Mix {
    /** Each profile equally likely. */
    UNIFORM(1, 1, 1, 1, 1, 1),
    /** The JMH benchmarks' MIG mix ({@code BenchClusters}): 30/15/20/15/10/10. */
    BENCH(30, 15, 20, 15, 10, 10),
    /** Each profile brings the same compute on average (weight 1 / compute slices). */
    COMPUTE(1, 1, 1.0 / 2, 1.0 / 3, 1.0 / 4, 1.0 / 7),
    /** Mostly small: 40 % 1g.10gb, 20 % 1g.20gb, 20 % 2g.20gb, 10 % 3g.40gb, 5 % 4g, 5 % 7g. */
    SMALL(40, 20, 20, 10, 5, 5);

    final double[] weights;

    Mix(double... weights) {
      this.weights = weights;
    }

    /** The draw weight of each profile of {@link #PROFILES}. */
    public double[] weights() {
      return weights.clone();
    }
  }

  /** One stream: the profile index of each arrival, in order. */
  @SuppressWarnings("ArrayRecordComponent") // a benchmark's stream, never compared or mutated
  public record Stream(int[] profiles) {
    /** Requests of each profile in the stream. */
    public int[] counts() {
      int[] c = new int[PROFILES.size()];
      for (int p : profiles) {
        c[p]++;
      }
      return c;
    }
  }

  /** Result of one strategy on one stream. */
  public record SeedResult(
      Mix mix, String strategy, long seed, int requests, int granted, int optimum) {
    /** Granted compute as a percent of the optimum. */
    public double pct() {
      return optimum == 0 ? 100 : 100.0 * granted / optimum;
    }
  }

  /** Compute slices of each profile of {@link #PROFILES} on the model. */
  /** The model's MIG geometry; throws if it has none. */
  static MigGeometry geometry(GpuModel model) {
    return Objects.requireNonNull(model.mig(), () -> model.name() + " has no MIG geometry");
  }

  static int[] computeSlices(GpuModel model) {
    int[] c = new int[PROFILES.size()];
    for (int p = 0; p < c.length; p++) {
      String n = PROFILES.get(p);
      c[p] = geometry(model).profile(n).orElseThrow().computeSlices();
    }
    return c;
  }

  /** Draws a stream whose compute reaches {@code ceil(tune x 7 x gpus)}. */
  public static Stream stream(Mix mix, int gpus, double tune, long seed) {
    if (!(tune > 0) || Double.isInfinite(tune)) {
      throw new IllegalArgumentException("tune must be positive, was " + tune);
    }
    int[] c = computeSlices(GpuModels.H100_80GB);
    long target = (long) Math.ceil(tune * geometry(GpuModels.H100_80GB).computeSlices() * gpus);
    SplittableRandom r = new SplittableRandom(seed);
    double total = 0;
    for (double w : mix.weights) {
      total += w;
    }
    List<Integer> out = new ArrayList<>();
    long sum = 0;
    while (sum < target) {
      double x = r.nextDouble() * total;
      int p = 0;
      while (p < mix.weights.length - 1 && (x -= mix.weights[p]) >= 0) {
        p++;
      }
      out.add(p);
      sum += c[p];
    }
    return new Stream(out.stream().mapToInt(Integer::intValue).toArray());
  }

  /** {@code nodes} nodes of {@code perNode} H100-80GB MIG_DYNAMIC GPUs. */
  public static List<NodeSpec> nodes(int nodes, int perNode) {
    List<NodeSpec> out = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      out.add(NodeSpec.builder("m" + i).gpus(perNode, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build());
    }
    return out;
  }

  /** The mix's weights as an expected mix for {@link GpuClusters.Builder#expectedMix}. */
  static Map<GpuDemand, Double> expectedMix(Mix mix) {
    Map<GpuDemand, Double> m = new LinkedHashMap<>();
    for (int p = 0; p < PROFILES.size(); p++) {
      m.put(new GpuDemand.Mig(PROFILES.get(p)), mix.weights[p]);
    }
    return m;
  }

  /**
   * How long the experiment defers a request whose placement strands compute ({@link #strands}).
   *
   * @param arrivals further arrivals to wait: 0 never defers (the engine as it is), {@link
   *     Integer#MAX_VALUE} waits until the stream has ended, -1 refuses the request
   */
  public record Deferral(int arrivals) {
    /** The engine as it is: every placement is kept. */
    public static final Deferral NONE = new Deferral(0);

    /** Retried once the stream has ended (a scheduler whose queue has run dry). */
    public static final Deferral UNTIL_END = new Deferral(Integer.MAX_VALUE);

    /** Refused: a placement that strands compute is never kept. */
    public static final Deferral NEVER = new Deferral(-1);

    /**
     * Validates the count.
     *
     * @throws IllegalArgumentException if {@code arrivals < -1}
     */
    public Deferral {
      if (arrivals < -1) {
        throw new IllegalArgumentException("deferral must be >= -1 arrivals, was " + arrivals);
      }
    }

    /**
     * Parses {@code end}, {@code never} or a positive count of arrivals.
     *
     * @throws IllegalArgumentException if {@code s} is none of them
     */
    public static Deferral parse(String s) {
      String t = s.trim();
      if (t.equals("end")) {
        return UNTIL_END;
      }
      if (t.equals("never")) {
        return NEVER;
      }
      try {
        int n = Integer.parseInt(t);
        if (n >= 1) {
          return new Deferral(n);
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(
          "--defer-stranding takes end, never or a positive number of arrivals, was " + s);
    }

    /** The suffix of a strategy's name in the output: {@code +defer-50}, {@code +defer-end}. */
    String suffix() {
      if (arrivals == 0) {
        return "";
      }
      return "+defer-"
          + (arrivals == Integer.MAX_VALUE ? "end" : arrivals < 0 ? "never" : String.valueOf(arrivals));
    }
  }

  /**
   * Whether a MIG instance strands compute on its GPU: it takes more memory slices than compute
   * slices and does not end at the GPU's last memory slice. On the H100 geometry (8 memory slices
   * for 7 compute; any free slot 0-6 takes a {@code 1g.10gb}) this is exactly a placement that
   * lowers the most compute its GPU can still reach by one slice: only {@code 1g.20gb} at 6,
   * {@code 3g.40gb} at 4 and {@code 7g.80gb} use memory slice 7, and every other memory-heavy
   * instance occupies a memory slice of 0-6 whose compute slice nothing can use.
   *
   * @throws IllegalArgumentException if the GPU holds no MIG instance of the geometry
   */
  public static boolean strands(MigGeometry geo, AllocatedGpu gpu) {
    String name = gpu.migProfile();
    if (name == null) {
      throw new IllegalArgumentException("not a MIG instance: " + gpu);
    }
    MigProfile p =
        geo.profile(name)
            .orElseThrow(() -> new IllegalArgumentException("no profile " + name + " in " + geo));
    return p.memorySlices() > p.computeSlices()
        && gpu.migStartSlot() + p.memorySlices() < geo.memorySlices();
  }

  /** Runs one stream with one strategy on a fresh cluster; returns the compute slices granted. */
  public static int granted(
      Stream s, List<NodeSpec> nodes, PlacementStrategy strategy, @Nullable Map<GpuDemand, Double> mix) {
    return granted(s, nodes, strategy, mix, 1);
  }

  /**
   * {@link #granted(Stream, List, PlacementStrategy, Map)} placing through {@code lanes} threads in
   * turn ({@link io.gpusched.bench.Lanes}).
   */
  public static int granted(
      Stream s, List<NodeSpec> nodes, PlacementStrategy strategy, @Nullable Map<GpuDemand, Double> mix,
      int lanes) {
    return granted(s, nodes, strategy, mix, lanes, Deferral.NONE);
  }

  /**
   * {@link #granted(Stream, List, PlacementStrategy, Map, int)} deferring placements that strand
   * compute by {@code deferral} (see the class comment).
   */
  public static int granted(
      Stream s, List<NodeSpec> nodes, PlacementStrategy strategy, @Nullable Map<GpuDemand, Double> mix,
      int lanes, Deferral deferral) {
    return granted(
        s, nodes, strategy, mix, lanes, deferral,
        lanes == 1 ? ThreadOffsets.WHEN_CONTENDED : ThreadOffsets.ALWAYS);
  }

  /**
   * {@link #granted(Stream, List, PlacementStrategy, Map, int, Deferral)} on a cluster with these
   * thread offsets (the other forms: {@code ALWAYS} with more than one lane, every thread keeping
   * its own, see {@link io.gpusched.bench.Lanes}).
   */
  public static int granted(
      Stream s, List<NodeSpec> nodes, PlacementStrategy strategy, @Nullable Map<GpuDemand, Double> mix,
      int lanes, Deferral deferral, ThreadOffsets offsets) {
    MigGeometry geo = geometry(GpuModels.H100_80GB);
    GpuClusters.Builder b =
        GpuClusters.newBuilder().strategy(strategy).threadOffsets(offsets).nodes(nodes);
    if (mix != null) {
      b.expectedMix(mix);
    }
    GpuCluster cluster = b.build();
    int[] c = computeSlices(GpuModels.H100_80GB);
    PlacementRequest[] reqs = new PlacementRequest[PROFILES.size()];
    PlacementRequest[] lossless = new PlacementRequest[PROFILES.size()];
    for (int p = 0; p < reqs.length; p++) {
      reqs[p] = PlacementRequest.mig(PROFILES.get(p));
      lossless[p] = reqs[p].withoutStranding();
    }
    int granted = 0;
    int[] arrivals = s.profiles();
    ArrayDeque<long[]> deferred = new ArrayDeque<>(); // {profile, due arrival}, in due order
    try (io.gpusched.bench.Lanes l = new io.gpusched.bench.Lanes(lanes)) {
      for (int i = 0; i <= arrivals.length; i++) {
        while (!deferred.isEmpty() && (i == arrivals.length || deferred.peekFirst()[1] <= i)) {
          int p = (int) deferred.pollFirst()[0];
          Allocation a = l.place(cluster, lossless[p]); // a place that strands nothing, if any now
          if (a == null) {
            a = l.place(cluster, reqs[p]); // else wherever the engine chooses
          }
          if (a != null) {
            granted += c[p];
          }
        }
        if (i == arrivals.length) {
          break;
        }
        int p = arrivals[i];
        if (deferral.arrivals() == 0) {
          granted += l.place(cluster, reqs[p]) != null ? c[p] : 0;
          continue;
        }
        Allocation a = l.place(cluster, lossless[p]);
        if (a == null) { // held, or refused: only stranding places are free, or none at all
          if (deferral.arrivals() > 0) {
            deferred.addLast(new long[] {p, (long) i + deferral.arrivals()});
          }
          continue;
        }
        if (strands(geo, a.gpus().get(0))) { // the engine and this class's rule must agree
          throw new IllegalStateException("a no-stranding placement stranded compute: " + a.gpus());
        }
        granted += c[p];
      }
    }
    return granted;
  }

  /** Runs every strategy on the seeds of one mix. */
  public static List<SeedResult> run(
      Mix mix,
      List<PlacementStrategy> strategies,
      long[] seeds,
      int nodeCount,
      int perNode,
      double tune,
      boolean fixedMix) {
    List<String> names = new ArrayList<>();
    strategies.forEach(st -> names.add(st.name()));
    return runNamed(mix, names, seeds, nodeCount, perNode, tune, fixedMix, List.of());
  }

  /**
   * Runs every strategy on the seeds of one mix; a name {@code NAME@N} places through {@code N}
   * threads in turn ({@link io.gpusched.bench.Lanes}). Then every strategy again with each of the
   * {@code deferrals} ({@link #granted(Stream, List, PlacementStrategy, Map, int, Deferral)}),
   * named with the deferral's suffix ({@code FRAGMENTATION_AWARE+defer-end}).
   */
  public static List<SeedResult> runNamed(
      Mix mix,
      List<String> strategies,
      long[] seeds,
      int nodeCount,
      int perNode,
      double tune,
      boolean fixedMix,
      List<Deferral> deferrals) {
    MigOptimum opt = new MigOptimum(geometry(GpuModels.H100_80GB), PROFILES);
    List<NodeSpec> nodes = nodes(nodeCount, perNode);
    int gpus = nodeCount * perNode;
    List<SeedResult> out = new ArrayList<>();
    for (long seed : seeds) {
      Stream s = stream(mix, gpus, tune, seed);
      int best = opt.solve(s.counts(), gpus);
      for (String name : strategies) {
        PlacementStrategy st = PlacementStrategy.named(io.gpusched.bench.Lanes.strategyOf(name));
        int lanes = io.gpusched.bench.Lanes.countOf(name);
        ThreadOffsets offsets = io.gpusched.bench.Lanes.offsetsOf(name);
        String label = st.name() + io.gpusched.bench.Lanes.suffixOf(name);
        int g =
            granted(s, nodes, st, fixedMix ? expectedMix(mix) : null, lanes, Deferral.NONE, offsets);
        out.add(new SeedResult(mix, label, seed, s.profiles().length, g, best));
        for (Deferral d : deferrals) {
          int gd = granted(s, nodes, st, fixedMix ? expectedMix(mix) : null, lanes, d, offsets);
          out.add(new SeedResult(mix, label + d.suffix(), seed, s.profiles().length, gd, best));
        }
      }
    }
    return out;
  }

  /** Prints the rows and one SUMMARY line per mix and strategy. */
  static void print(List<SeedResult> results, PrintStream out) {
    out.println("mix,strategy,seed,requests,granted,optimum,pct");
    Map<String, List<SeedResult>> by = new LinkedHashMap<>();
    for (SeedResult r : results) {
      out.printf(
          Locale.ROOT, "%s,%s,%d,%d,%d,%d,%.2f%n",
          r.mix(), r.strategy(), r.seed(), r.requests(), r.granted(), r.optimum(), r.pct());
      by.computeIfAbsent(r.mix() + " " + r.strategy(), k -> new ArrayList<>()).add(r);
    }
    for (List<SeedResult> rs : by.values()) {
      double min = Double.MAX_VALUE;
      double max = 0;
      double sum = 0;
      int worstGranted = 0;
      int worstOpt = 0;
      for (SeedResult r : rs) {
        if (r.pct() < min) {
          min = r.pct();
          worstGranted = r.granted();
          worstOpt = r.optimum();
        }
        max = Math.max(max, r.pct());
        sum += r.pct();
      }
      out.printf(
          Locale.ROOT,
          "SUMMARY mix=%s strategy=%s seeds=%d min_pct=%.2f (%d/%d) mean_pct=%.2f max_pct=%.2f%n",
          rs.get(0).mix(), rs.get(0).strategy(), rs.size(), min, worstGranted, worstOpt,
          sum / rs.size(), max);
    }
  }

  /** Parses {@code 1-50} or {@code 1,2,3}. */
  static long[] seeds(String spec) {
    if (spec.contains("-")) {
      String[] ab = spec.split("-", 2);
      long a = Long.parseLong(ab[0].trim());
      long b = Long.parseLong(ab[1].trim());
      if (b < a) {
        throw new IllegalArgumentException("empty seed range " + spec);
      }
      long[] out = new long[(int) (b - a + 1)];
      for (int i = 0; i < out.length; i++) {
        out[i] = a + i;
      }
      return out;
    }
    String[] parts = spec.split(",", -1);
    long[] out = new long[parts.length];
    for (int i = 0; i < parts.length; i++) {
      out[i] = Long.parseLong(parts[i].trim());
    }
    return out;
  }

  /**
   * Command line entry; see the class comment.
   *
   * @param args the options
   */
  public static void main(String[] args) {
    int nodes = 25;
    int perNode = 4;
    double tune = 1.3;
    String seedSpec = "1-50";
    String mixes = "UNIFORM,BENCH,COMPUTE,SMALL";
    String strategies = "FIRST_FIT,BEST_FIT,FRAGMENTATION_AWARE";
    boolean fixed = false;
    List<Deferral> deferrals = new ArrayList<>();
    for (Map.Entry<String, String> o : io.gpusched.bench.Args.pairs(args)) {
      String a = o.getKey();
      String v = o.getValue();
      switch (a) {
        case "--nodes" -> nodes = Integer.parseInt(v);
        case "--gpus-per-node" -> perNode = Integer.parseInt(v);
        case "--tune" -> tune = Double.parseDouble(v);
        case "--seeds" -> seedSpec = v;
        case "--mix" -> mixes = v;
        case "--strategies" -> strategies = v;
        case "--defer-stranding" -> {
          for (String d : v.split(",", -1)) {
            deferrals.add(Deferral.parse(d));
          }
        }
        case "--learn" -> {
          if (!v.equals("learned") && !v.equals("fixed")) {
            throw new IllegalArgumentException("--learn must be learned or fixed, was " + v);
          }
          fixed = v.equals("fixed");
        }
        default -> throw new IllegalArgumentException("unknown option " + a);
      }
    }
    List<String> sts = new ArrayList<>();
    for (String s : strategies.split(",", -1)) {
      sts.add(s.trim());
    }
    List<SeedResult> all = new ArrayList<>();
    for (String m : mixes.split(",", -1)) {
      all.addAll(
          runNamed(Mix.valueOf(m.trim().toUpperCase(Locale.ROOT)), sts, seeds(seedSpec), nodes, perNode, tune, fixed,
              deferrals));
    }
    print(all, System.out);
  }
}
