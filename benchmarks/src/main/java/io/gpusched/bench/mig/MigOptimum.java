package io.gpusched.bench.mig;

import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The exact offline optimum of an arrival-only MIG stream: the most compute slices that {@code
 * gpus} GPUs of one geometry can grant to a multiset of profile requests, when the order of
 * arrival does not matter and any request may be refused.
 *
 * <p><b>Method.</b> First every <em>configuration</em> of one GPU is enumerated: a multiset of the
 * chosen profiles that fits at valid, disjoint NVML placements within the compute slices and the
 * profiles' instance limits. Feasibility is closed under taking away instances, so only the
 * <em>maximal</em> configurations (to which no instance of any chosen profile can be added) are
 * kept: a GPU given a maximal configuration hosts any sub-multiset of it. The optimum is then the
 * integer program
 *
 * <pre>
 *   maximize   sum_p c_p y_p
 *   subject to y_p &lt;= n_p,   y_p &lt;= sum_k a_kp x_k   (each profile p),
 *              sum_k x_k &lt;= gpus,   x_k &gt;= 0 integer    (each maximal configuration k)
 * </pre>
 *
 * where {@code x_k} counts GPUs given configuration {@code k}, {@code a_kp} is the number of
 * instances of {@code p} in it, {@code c_p} its compute slices and {@code n_p} the requests of
 * {@code p} in the stream ({@code y} is integral whenever {@code x} is). It is solved exactly by
 * depth-first branch and bound on {@code x} with the LP relaxation as the bound ({@link
 * SmallSimplex}): the objective is integral, so a node whose LP bound, rounded down, does not beat
 * the incumbent is cut. This is a few dozen configurations and thirteen rows for an H100, and
 * solves a 100-GPU stream in milliseconds.
 *
 * <p>Not thread-safe (an instance is cheap; make one per thread).
 */
public final class MigOptimum {
  private static final double EPS = 1e-7;

  private final String[] names;
  private final int[] compute;
  private final int[][] configs;
  private final int computePerGpu;

  /**
   * Enumerates the maximal configurations of {@code geometry} over the named profiles.
   *
   * @param geometry the GPU's MIG geometry
   * @param profileNames the profiles requests may ask for (a subset of the geometry's)
   * @throws IllegalArgumentException if a name is not a profile of the geometry or repeats
   */
  public MigOptimum(MigGeometry geometry, List<String> profileNames) {
    this.names = profileNames.toArray(String[]::new);
    MigProfile[] ps = new MigProfile[names.length];
    for (int i = 0; i < names.length; i++) {
      String n = names[i];
      ps[i] =
          geometry
              .profile(n)
              .orElseThrow(() -> new IllegalArgumentException("no MIG profile " + n + " in geometry"));
      for (int j = 0; j < i; j++) {
        if (names[j].equals(n)) {
          throw new IllegalArgumentException("profile " + n + " named twice");
        }
      }
    }
    this.compute = new int[ps.length];
    for (int i = 0; i < ps.length; i++) {
      compute[i] = ps[i].computeSlices();
    }
    this.computePerGpu = geometry.computeSlices();
    Set<List<Integer>> feasible = feasibleCounts(geometry, ps);
    List<int[]> maximal = new ArrayList<>();
    for (List<Integer> v : feasible) {
      boolean isMax = true;
      for (int p = 0; p < ps.length && isMax; p++) {
        List<Integer> up = new ArrayList<>(v);
        up.set(p, up.get(p) + 1);
        isMax = !feasible.contains(up);
      }
      if (isMax) {
        maximal.add(v.stream().mapToInt(Integer::intValue).toArray());
      }
    }
    maximal.sort(Arrays::compare);
    this.configs = maximal.toArray(int[][]::new);
  }

  /**
   * All instance-count vectors (one count per profile of {@code ps}) that fit one GPU together, by
   * a search over sets of placements ({@code profile, start}) in a fixed order.
   */
  static Set<List<Integer>> feasibleCounts(MigGeometry g, MigProfile[] ps) {
    List<int[]> placements = new ArrayList<>(); // {profile, start}
    for (int p = 0; p < ps.length; p++) {
      for (int s : ps[p].placementStarts()) {
        placements.add(new int[] {p, s});
      }
    }
    Set<List<Integer>> out = new HashSet<>();
    search(g, ps, placements, 0, 0, 0, new int[ps.length], out);
    return out;
  }

  private static void search(
      MigGeometry g,
      MigProfile[] ps,
      List<int[]> placements,
      int from,
      int usedMask,
      int usedCompute,
      int[] counts,
      Set<List<Integer>> out) {
    out.add(Arrays.stream(counts).boxed().toList());
    for (int i = from; i < placements.size(); i++) {
      int p = placements.get(i)[0];
      int mask = ((1 << ps[p].memorySlices()) - 1) << placements.get(i)[1];
      if ((usedMask & mask) != 0
          || usedCompute + ps[p].computeSlices() > g.computeSlices()
          || counts[p] >= ps[p].maxInstances()) {
        continue;
      }
      counts[p]++;
      search(g, ps, placements, i + 1, usedMask | mask, usedCompute + ps[p].computeSlices(), counts, out);
      counts[p]--;
    }
  }

  /** The maximal configurations, each a count per profile (in the constructor's order). */
  public List<int[]> configurations() {
    List<int[]> out = new ArrayList<>();
    for (int[] c : configs) {
      out.add(c.clone());
    }
    return out;
  }

  /** The profile names, in the order of counts. */
  public List<String> profiles() {
    return List.of(names);
  }

  /**
   * The most compute slices {@code gpus} GPUs can grant to {@code requests[p]} requests of each
   * profile {@code p}.
   *
   * @throws IllegalArgumentException if the arrays do not match the profiles or hold a negative
   *     count
   */
  public int solve(int[] requests, int gpus) {
    if (requests.length != names.length) {
      throw new IllegalArgumentException(
          "requests has " + requests.length + " counts, expected " + names.length);
    }
    if (gpus < 0) {
      throw new IllegalArgumentException("gpus must be >= 0, was " + gpus);
    }
    for (int p = 0; p < requests.length; p++) {
      if (requests[p] < 0) {
        throw new IllegalArgumentException("negative count " + requests[p] + " for " + names[p]);
      }
    }
    int trivial = 0;
    for (int p = 0; p < requests.length; p++) {
      trivial += compute[p] * requests[p];
    }
    int cap = Math.min(trivial, computePerGpu * gpus);
    var bb = new BranchAndBound(requests, gpus, cap);
    bb.run(new int[configs.length], new int[configs.length]);
    return bb.best;
  }

  /** Compute granted when {@code x[k]} GPUs take configuration {@code k} (at most the requests). */
  int value(int[] x, int[] requests) {
    int v = 0;
    for (int p = 0; p < names.length; p++) {
      long cap = 0;
      for (int k = 0; k < configs.length; k++) {
        cap += (long) configs[k][p] * x[k];
      }
      v += compute[p] * (int) Math.min(cap, requests[p]);
    }
    return v;
  }

  private final class BranchAndBound {
    final int[] requests;
    final int gpus;
    final int cap;
    int best = -1;

    BranchAndBound(int[] requests, int gpus, int cap) {
      this.requests = requests;
      this.gpus = gpus;
      this.cap = cap;
    }

    /** Explores the node with bounds {@code lo[k] <= x_k <= hi[k]} ({@code hi[k] == 0}: none). */
    void run(int[] lo, int[] hiPlusOne) {
      if (best >= cap) {
        return;
      }
      int K = configs.length;
      int P = names.length;
      int fixed = 0;
      for (int v : lo) {
        fixed += v;
      }
      if (fixed > gpus) {
        return;
      }
      // columns: x'_k (= x_k - lo_k) 0..K-1, y_p K..K+P-1
      List<double[]> rows = new ArrayList<>();
      List<Double> rhs = new ArrayList<>();
      for (int p = 0; p < P; p++) {
        double[] r = new double[K + P];
        double base = 0;
        for (int k = 0; k < K; k++) {
          r[k] = -configs[k][p];
          base += (double) configs[k][p] * lo[k];
        }
        r[K + p] = 1;
        rows.add(r);
        rhs.add(base);
        double[] u = new double[K + P];
        u[K + p] = 1;
        rows.add(u);
        rhs.add((double) requests[p]);
      }
      double[] g = new double[K + P];
      for (int k = 0; k < K; k++) {
        g[k] = 1;
      }
      rows.add(g);
      rhs.add((double) (gpus - fixed));
      for (int k = 0; k < K; k++) {
        if (hiPlusOne[k] > 0) {
          int room = hiPlusOne[k] - 1 - lo[k];
          if (room < 0) {
            return;
          }
          double[] r = new double[K + P];
          r[k] = 1;
          rows.add(r);
          rhs.add((double) room);
        }
      }
      double[] obj = new double[K + P];
      for (int p = 0; p < P; p++) {
        obj[K + p] = compute[p];
      }
      double[][] a = rows.toArray(double[][]::new);
      double[] b = rhs.stream().mapToDouble(Double::doubleValue).toArray();
      double[] sol = SmallSimplex.maximize(a, b, obj);
      double lp = 0;
      for (int p = 0; p < P; p++) {
        lp += compute[p] * sol[K + p];
      }
      int bound = (int) Math.floor(lp + EPS);
      if (bound <= best) {
        return;
      }
      // incumbent from the LP solution rounded down, then the free GPUs filled greedily
      int[] x = new int[K];
      int used = 0;
      int branch = -1;
      double frac = 0;
      for (int k = 0; k < K; k++) {
        double v = lo[k] + sol[k];
        x[k] = (int) Math.floor(v + EPS);
        used += x[k];
        double f = v - Math.floor(v + EPS);
        if (f > EPS && Math.min(f, 1 - f) > frac) {
          frac = Math.min(f, 1 - f);
          branch = k;
        }
      }
      greedyFill(x, gpus - used);
      best = Math.max(best, value(x, requests));
      if (branch < 0 || bound <= best) {
        return;
      }
      double v = lo[branch] + sol[branch];
      int down = (int) Math.floor(v);
      // up branch first: it keeps the LP's preferred configuration
      int[] lo2 = lo.clone();
      lo2[branch] = down + 1;
      run(lo2, hiPlusOne);
      int[] hi2 = hiPlusOne.clone();
      hi2[branch] = hiPlusOne[branch] > 0 ? Math.min(hiPlusOne[branch], down + 1) : down + 1;
      run(lo, hi2);
    }

    /** Gives {@code free} more GPUs, one at a time, the configuration that adds the most value. */
    void greedyFill(int[] x, int free) {
      for (int i = 0; i < free; i++) {
        int base = value(x, requests);
        int bestK = -1;
        int bestGain = 0;
        for (int k = 0; k < configs.length; k++) {
          x[k]++;
          int gain = value(x, requests) - base;
          x[k]--;
          if (gain > bestGain) {
            bestGain = gain;
            bestK = k;
          }
        }
        if (bestK < 0) {
          return;
        }
        x[bestK]++;
      }
    }
  }
}
