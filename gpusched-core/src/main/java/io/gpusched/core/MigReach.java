package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Stranding on one MIG_DYNAMIC GPU, computed from the model's {@link MigGeometry} alone, for the
 * scheduler half (the victim planner), which sees GPUs through {@link AllocatedGpu}s and not
 * through the engine's state tables. A placement <em>strands</em> compute when, after it, the GPU
 * can reach fewer compute slices by adding instances of any of the model's profiles than before
 * (the engine's rule for {@link io.gpusched.GpuDemand.Mig#noStranding()}; its tests check that
 * the two agree). The rules of a placement are the engine's: free memory slices, the compute
 * slices of the GPU, and each profile's {@code maxInstances}.
 *
 * <p>Not thread-safe: one instance per planning run (it memoizes reach per GPU state).
 */
final class MigReach {
  private final Map<MigGeometry, Map<Object, Integer>> memo = new HashMap<>();

  /**
   * The start slot of the first free placement of {@code profile} that strands no compute on a
   * GPU holding {@code held}, or -1 if there is none (or the profile is not the geometry's).
   */
  int firstLosslessStart(MigGeometry geo, List<AllocatedGpu> held, String profile) {
    List<MigProfile> ps = geo.profiles();
    int p = indexOf(ps, profile);
    if (p < 0) {
      return -1;
    }
    int mask = 0;
    int compute = 0;
    int[] counts = new int[ps.size()];
    for (AllocatedGpu g : held) {
      String name = g.migProfile();
      int q = name == null ? -1 : indexOf(ps, name);
      if (q < 0) {
        return -1;
      }
      mask |= block(ps.get(q), g.migStartSlot());
      compute += ps.get(q).computeSlices();
      counts[q]++;
    }
    int before = reach(geo, mask, compute, counts);
    MigProfile prof = ps.get(p);
    if (compute + prof.computeSlices() > geo.computeSlices() || counts[p] >= prof.maxInstances()) {
      return -1;
    }
    counts[p]++;
    for (int start : prof.placementStarts()) {
      int b = block(prof, start);
      if ((mask & b) == 0 && reach(geo, mask | b, compute + prof.computeSlices(), counts) == before) {
        return start;
      }
    }
    return -1;
  }

  /** The most compute slices reachable from the state by adding instances of any profile. */
  private int reach(MigGeometry geo, int mask, int compute, int[] counts) {
    Map<Object, Integer> m = memo.computeIfAbsent(geo, k -> new HashMap<>());
    Object key = key(mask, compute, counts);
    Integer known = m.get(key);
    if (known != null) {
      return known;
    }
    int best = compute;
    List<MigProfile> ps = geo.profiles();
    for (int q = 0; q < ps.size(); q++) {
      MigProfile prof = ps.get(q);
      if (compute + prof.computeSlices() > geo.computeSlices() || counts[q] >= prof.maxInstances()) {
        continue;
      }
      counts[q]++;
      for (int start : prof.placementStarts()) {
        int b = block(prof, start);
        if ((mask & b) == 0) {
          best = Math.max(best, reach(geo, mask | b, compute + prof.computeSlices(), counts));
        }
      }
      counts[q]--;
    }
    m.put(key, best);
    return best;
  }

  /**
   * Occupied slices, compute and the instance count of each profile: one {@code long} (8 bits, then
   * 4 bits each: counts never exceed 8, one compute slice each) for up to 13 profiles, else text.
   */
  private static Object key(int mask, int compute, int[] counts) {
    if (counts.length > 13) {
      return mask + ":" + compute + ":" + java.util.Arrays.toString(counts);
    }
    long k = ((long) mask << 4) | compute;
    for (int c : counts) {
      k = (k << 4) | c;
    }
    return k;
  }

  private static int block(MigProfile p, int start) {
    return ((1 << p.memorySlices()) - 1) << start;
  }

  private static int indexOf(List<MigProfile> ps, @Nullable String name) {
    for (int i = 0; i < ps.size(); i++) {
      if (ps.get(i).name().equals(name)) {
        return i;
      }
    }
    return -1;
  }
}
