package io.gpusched.bench.mig;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuModels;
import io.gpusched.MigProfile;
import java.util.ArrayList;
import io.gpusched.PlacementStrategy;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link MigOptimum} against a brute force on tiny instances. The brute force shares no code with
 * the solver: it finds the instance-count vectors one H100 can hold by trying every subset of the
 * profiles' placements, then combines GPUs by dynamic programming over the vectors used so far.
 */
class MigOptimumTest {
  static final List<String> SIX = MigFillExperiment.PROFILES;
  static MigOptimum opt;
  static int[] compute;
  static List<int[]> oneGpu;

  @BeforeAll
  static void setUp() {
    opt = new MigOptimum(GpuModels.H100_80GB.mig(), SIX);
    MigProfile[] ps = SIX.stream().map(n -> GpuModels.H100_80GB.mig().profile(n).orElseThrow())
        .toArray(MigProfile[]::new);
    compute = Arrays.stream(ps).mapToInt(MigProfile::computeSlices).toArray();
    // every subset of the 18 placements
    List<int[]> placements = new ArrayList<>();
    for (int p = 0; p < ps.length; p++) {
      for (int s : ps[p].placementStarts()) {
        placements.add(new int[] {p, ((1 << ps[p].memorySlices()) - 1) << s});
      }
    }
    Set<List<Integer>> vectors = new HashSet<>();
    for (int subset = 0; subset < 1 << placements.size(); subset++) {
      int mask = 0;
      int slices = 0;
      int[] counts = new int[ps.length];
      boolean ok = true;
      for (int i = 0; i < placements.size() && ok; i++) {
        if ((subset & (1 << i)) != 0) {
          int[] pl = placements.get(i);
          ok = (mask & pl[1]) == 0;
          mask |= pl[1];
          slices += ps[pl[0]].computeSlices();
          counts[pl[0]]++;
        }
      }
      if (ok && slices <= 7) {
        vectors.add(Arrays.stream(counts).boxed().toList());
      }
    }
    oneGpu = vectors.stream().map(v -> v.stream().mapToInt(Integer::intValue).toArray()).toList();
  }

  /**
   * The optimum by DP over GPUs: which request-count vectors (3 bits per profile, so counts up to
   * 7) the first g GPUs can grant.
   */
  static int bruteForce(int[] requests, int gpus) {
    boolean[] reach = new boolean[1 << 18];
    reach[0] = true;
    for (int g = 0; g < gpus; g++) {
      boolean[] next = reach.clone();
      for (int v = 0; v < reach.length; v++) {
        if (!reach[v]) {
          continue;
        }
        for (int[] add : oneGpu) {
          int w = 0;
          boolean ok = true;
          for (int p = 0; p < add.length && ok; p++) {
            int c = ((v >>> (3 * p)) & 7) + add[p];
            ok = c <= requests[p];
            w |= c << (3 * p);
          }
          if (ok) {
            next[w] = true;
          }
        }
      }
      reach = next;
    }
    int best = 0;
    for (int v = 0; v < reach.length; v++) {
      if (reach[v]) {
        int c = 0;
        for (int p = 0; p < 6; p++) {
          c += ((v >>> (3 * p)) & 7) * compute[p];
        }
        best = Math.max(best, c);
      }
    }
    return best;
  }

  @Test
  void matchesTheBruteForceOnRandomTinyInstances() {
    SplittableRandom r = new SplittableRandom(13);
    int belowTheTrivialBound = 0;
    for (int i = 0; i < 80; i++) {
      int gpus = 1 + r.nextInt(3);
      int[] req = new int[6];
      int trivial = 0;
      // memory-heavy profiles (1g.20gb, 3g.40gb) often, so that compute is left unusable
      int[] most = i % 2 == 0 ? new int[] {8, 5, 5, 5, 5, 5} : new int[] {2, 8, 2, 8, 2, 2};
      for (int p = 0; p < 6; p++) {
        req[p] = r.nextInt(most[p]);
        trivial += req[p] * compute[p];
      }
      int expected = bruteForce(req, gpus);
      assertThat(opt.solve(req, gpus)).as("%s on %d GPUs", Arrays.toString(req), gpus).isEqualTo(expected);
      if (expected < Math.min(trivial, 7 * gpus)) {
        belowTheTrivialBound++;
      }
    }
    // the instances must exercise the search, not just the bound min(requested, 7 x GPUs)
    assertThat(belowTheTrivialBound).isGreaterThan(10);
  }

  @Test
  void knownOptima() {
    // 1g.20gb only: four per GPU (the memory runs out first), 3 compute slices unusable
    assertThat(opt.solve(new int[] {0, 10, 0, 0, 0, 0}, 2)).isEqualTo(8);
    // 3g.40gb pairs: 6 of 7 compute slices per GPU
    assertThat(opt.solve(new int[] {0, 0, 0, 4, 0, 0}, 2)).isEqualTo(12);
    // 4g.40gb + 3g.40gb fills a GPU; a second 4g.40gb needs another GPU
    assertThat(opt.solve(new int[] {0, 0, 0, 1, 2, 0}, 1)).isEqualTo(7);
    // 7g.80gb takes a whole GPU: two of them and a 1g.10gb on 2 GPUs
    assertThat(opt.solve(new int[] {1, 0, 0, 0, 0, 2}, 2)).isEqualTo(14);
    assertThat(opt.solve(new int[] {0, 0, 0, 0, 0, 0}, 5)).isZero();
    assertThat(opt.solve(new int[] {3, 3, 3, 3, 3, 3}, 0)).isZero();
  }

  @Test
  void maximalConfigurationsCannotTakeAnotherInstance() {
    Set<List<Integer>> feasible = new HashSet<>();
    for (int[] v : oneGpu) {
      feasible.add(Arrays.stream(v).boxed().toList());
    }
    List<int[]> configs = opt.configurations();
    assertThat(configs).isNotEmpty();
    for (int[] c : configs) {
      assertThat(feasible).contains(Arrays.stream(c).boxed().toList());
      for (int p = 0; p < c.length; p++) {
        int[] up = c.clone();
        up[p]++;
        assertThat(feasible).doesNotContain(Arrays.stream(up).boxed().toList());
      }
    }
    // every feasible vector is under some maximal configuration
    for (int[] v : oneGpu) {
      assertThat(configs.stream().anyMatch(c -> dominates(c, v))).as(Arrays.toString(v)).isTrue();
    }
  }

  static boolean dominates(int[] c, int[] v) {
    for (int p = 0; p < c.length; p++) {
      if (c[p] < v[p]) {
        return false;
      }
    }
    return true;
  }

  @Test
  void theOptimumOfAHundredGpuStreamBoundsWhatTheStrategiesGrant() {
    var s = MigFillExperiment.stream(MigFillExperiment.Mix.BENCH, 100, 1.3, 7);
    int o = opt.solve(s.counts(), 100);
    assertThat(o).isLessThanOrEqualTo(700);
    var nodes = MigFillExperiment.nodes(25, 4);
    for (var strategy : List.of(PlacementStrategy.FIRST_FIT, PlacementStrategy.FRAGMENTATION_AWARE)) {
      assertThat(MigFillExperiment.granted(s, nodes, strategy, null)).isLessThanOrEqualTo(o);
    }
  }

  @Test
  void rejectsBadInput() {
    assertThatThrownBy(() -> opt.solve(new int[] {1, 2}, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("2 counts, expected 6");
    assertThatThrownBy(() -> opt.solve(new int[] {0, -1, 0, 0, 0, 0}, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-1")
        .hasMessageContaining("1g.20gb");
    assertThatThrownBy(() -> opt.solve(new int[6], -3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-3");
    assertThatThrownBy(() -> new MigOptimum(GpuModels.H100_80GB.mig(), List.of("1g.10gb", "9g.90gb")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("9g.90gb");
    assertThatThrownBy(() -> new MigOptimum(GpuModels.H100_80GB.mig(), List.of("1g.10gb", "1g.10gb")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("1g.10gb");
  }
}
