package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuModels;
import io.gpusched.MigProfile;
import io.gpusched.PlacementStrategy;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The MIG decision tables of {@link PlacementStrategy#FRAGMENTATION_AWARE} on an H100-80GB, checked
 * over every state against a brute force written here from the profiles' placement data: what a
 * GPU can still reach (most compute slices; then most memory slices at that compute) by adding
 * instances of the six non-{@code +me} profiles.
 */
class MigChoiceTablesTest {
  static MigSpace.Dynamic mig;
  static DecisionTables tables;
  static final Map<Long, int[]> memo = new HashMap<>();

  @BeforeAll
  static void build() {
    mig = new MigSpace.Dynamic(GpuModels.H100_80GB);
    int n = mig.profiles.length;
    int[] classes = new int[n];
    double[] global = new double[n];
    for (int p = 0; p < n; p++) {
      classes[p] = p;
      global[p] = mig.profiles[p].isMediaExtension() ? 0 : 1; // the six profiles, equally
    }
    Group g = new Group("h100-mig", mig, classes, 0);
    tables = new DecisionTables(g, PlacementStrategy.FRAGMENTATION_AWARE, global, 1);
  }

  /** {most compute reachable, most memory slices at that compute} from (mask, compute). */
  static int[] reach(int mask, int compute) {
    long key = ((long) mask << 8) | compute;
    int[] known = memo.get(key);
    if (known != null) {
      return known;
    }
    int[] best = {compute, Integer.bitCount(mask)};
    for (MigProfile p : mig.profiles) {
      if (p.isMediaExtension() || compute + p.computeSlices() > mig.geometry.computeSlices()) {
        continue;
      }
      for (int start : p.placementStarts()) {
        int m = ((1 << p.memorySlices()) - 1) << start;
        if ((mask & m) == 0) {
          int[] r = reach(mask | m, compute + p.computeSlices());
          if (r[0] > best[0] || (r[0] == best[0] && r[1] > best[1])) {
            best = r;
          }
        }
      }
    }
    memo.put(key, best);
    return best;
  }

  static int[] reachAfter(int state, int p, int choice) {
    long next = mig.words[state] + mig.delta(p, choice);
    return reach(mig.slotMask(next), mig.computeUsed(next));
  }

  /** Compute reach, then memory reach, as one comparable number. */
  static int rank(int[] r) {
    return r[0] * 16 + r[1];
  }

  @Test
  void theSlotTakenStrandsNoComputeAndKeepsTheSpareSliceWheneverAnotherSlotWould() {
    int checked = 0;
    for (int p = 0; p < mig.profiles.length; p++) {
      if (mig.profiles[p].isMediaExtension()) {
        continue;
      }
      for (int s = 0; s < mig.stateCount(); s++) {
        int f = mig.feasible[p][s];
        if (f == 0) {
          assertThat(tables.choice[p][s]).isEqualTo((byte) -1);
          continue;
        }
        int best = -1;
        while (f != 0) {
          int c = Integer.numberOfTrailingZeros(f);
          f &= f - 1;
          best = Math.max(best, rank(reachAfter(s, p, c)));
        }
        int chosen = rank(reachAfter(s, p, tables.choice[p][s]));
        assertThat(chosen)
            .as("%s on state %s (slots %s, compute %d): slot %d",
                mig.profiles[p].name(), s, Integer.toBinaryString(mig.slotMask(mig.words[s])),
                mig.computeUsed(mig.words[s]), tables.choice[p][s])
            .isEqualTo(best);
        checked++;
      }
    }
    assertThat(checked).isGreaterThan(500);
  }

  @Test
  void onAnEmptyGpuTheMemoryHeavyProfilesTakeTheSliceOnlyTheyCanUse() {
    int empty = mig.state(0L);
    assertThat(mig.startSlot(profile("3g.40gb"), tables.choice[profile("3g.40gb")][empty])).isEqualTo(4);
    assertThat(mig.startSlot(profile("1g.20gb"), tables.choice[profile("1g.20gb")][empty])).isEqualTo(6);
    int small = mig.startSlot(profile("1g.10gb"), tables.choice[profile("1g.10gb")][empty]);
    assertThat(small).as("1g.10gb on an empty GPU").isNotIn(0, 6);
  }

  @Test
  void reachOfTheSpaceMatchesTheBruteForce() {
    boolean[] allowed = new boolean[mig.profiles.length];
    for (int p = 0; p < allowed.length; p++) {
      allowed[p] = !mig.profiles[p].isMediaExtension();
    }
    int[][] r = mig.reach(allowed);
    for (int s = 0; s < mig.stateCount(); s++) {
      long w = mig.words[s];
      assertThat(new int[] {r[0][s], r[1][s]}).isEqualTo(reach(mig.slotMask(w), mig.computeUsed(w)));
    }
    assertThat(r[0][mig.state(0L)]).isEqualTo(7);
    assertThat(r[1][mig.state(0L)]).isEqualTo(8);
  }

  /**
   * The rows for requests that must not strand compute ({@code GpuDemand.Mig#noStranding}), for
   * every strategy: a state has a choice there exactly when one of its feasible slots keeps the
   * GPU's reachable compute, that choice keeps it, and where the plain choice keeps it too the two
   * are the same (the same preference over fewer slots).
   */
  @Test
  void theNoStrandingRowsOfferExactlyTheSlotsThatKeepReachableCompute() {
    int n = mig.profiles.length;
    int[] classes = new int[n];
    double[] global = new double[n];
    for (int p = 0; p < n; p++) {
      classes[p] = p;
      global[p] = mig.profiles[p].isMediaExtension() ? 0 : 1;
    }
    int lossy = 0;
    int none = 0;
    for (PlacementStrategy strategy :
        java.util.List.of(
            PlacementStrategy.FIRST_FIT,
            PlacementStrategy.BEST_FIT,
            PlacementStrategy.SPREAD,
            PlacementStrategy.FRAGMENTATION_AWARE,
            PlacementStrategy.CHEAPEST)) {
      DecisionTables t =
          new DecisionTables(new Group("h100-mig", mig, classes, 0), strategy, global, 1);
      assertThat(t.choice).hasNumberOfRows(2 * n);
      for (int p = 0; p < n; p++) {
        for (int s = 0; s < mig.stateCount(); s++) {
          long w = mig.words[s];
          int before = reach(mig.slotMask(w), mig.computeUsed(w))[0];
          boolean any = false;
          int f = mig.feasible[p][s];
          while (f != 0) {
            int c = Integer.numberOfTrailingZeros(f);
            f &= f - 1;
            boolean keeps = reachAfter(s, p, c)[0] == before;
            assertThat(mig.strands(s, p, c)).isEqualTo(!keeps);
            any |= keeps;
          }
          int chosen = t.choice[n + p][s];
          String at = strategy + " " + mig.profiles[p].name() + " on state " + s;
          if (!any) {
            assertThat(chosen).as(at).isEqualTo(-1);
            none += mig.feasible[p][s] != 0 ? 1 : 0;
            continue;
          }
          assertThat(chosen).as(at).isGreaterThanOrEqualTo(0);
          assertThat(mig.feasible[p][s] & (1 << chosen)).as(at).isNotZero();
          assertThat(reachAfter(s, p, chosen)[0]).as(at).isEqualTo(before);
          int plain = t.choice[p][s];
          if (!mig.strands(s, p, plain)) {
            assertThat(chosen).as(at).isEqualTo(plain);
          } else {
            lossy++;
          }
        }
      }
    }
    // the rows differ from the plain ones somewhere, and refuse somewhere a plain request fits
    assertThat(lossy).isPositive();
    assertThat(none).isPositive();
  }

  /** On every built-in MIG model, every profile has a place on an empty GPU that strands nothing. */
  @Test
  void everyProfileFitsAnEmptyGpuOfEveryModelWithoutStranding() {
    for (io.gpusched.GpuModel model : GpuModels.all()) {
      if (model.mig() == null) {
        continue;
      }
      MigSpace.Dynamic space = new MigSpace.Dynamic(model);
      int empty = space.state(0L);
      MigReach planner = new MigReach();
      for (int p = 0; p < space.profiles.length; p++) {
        boolean any = false;
        int f = space.feasible[p][empty];
        while (f != 0) {
          int c = Integer.numberOfTrailingZeros(f);
          f &= f - 1;
          any |= !space.strands(empty, p, c);
        }
        String name = space.profiles[p].name();
        assertThat(any).as("%s on an empty %s", name, model.name()).isTrue();
        assertThat(planner.firstLosslessStart(model.mig(), java.util.List.of(), name))
            .as("the planner: %s on an empty %s", name, model.name())
            .isGreaterThanOrEqualTo(0);
      }
    }
  }

  static int profile(String name) {
    return mig.profileIndex(name);
  }
}
