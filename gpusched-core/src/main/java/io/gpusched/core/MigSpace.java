package io.gpusched.core;

import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.MigGeometry;
import io.gpusched.MigInstance;
import io.gpusched.MigProfile;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * MIG state spaces. Both layouts are plain data derived from the model's {@link MigGeometry}; the
 * state graph is enumerated once, breadth-first from the empty GPU, so every state id is reachable
 * through valid NVML placements only.
 */
@EnginePart
abstract class MigSpace extends Space {
  final MigGeometry geometry;
  final MigProfile[] profiles;

  /** {@code [profile][state]}: bitmask of feasible choices (start slots, or static instances). */
  @SuppressWarnings("NullAway.Init") // built by the subclass constructor, before any use
  int[][] feasible;

  /** {@code [state]}: the word of each state id. */
  @SuppressWarnings("NullAway.Init") // built by the subclass constructor, before any use
  long[] words;

  MigSpace(GpuModel model, GpuMode mode) {
    super(model, mode);
    this.geometry = Objects.requireNonNull(model.mig(), "a MIG model");
    this.profiles = geometry.profiles().toArray(MigProfile[]::new);
    for (int i = 0; i < profiles.length; i++) {
      profileIndexByName.put(profiles[i].name(), i);
    }
  }

  private final java.util.Map<String, Integer> profileIndexByName = new java.util.HashMap<>();

  /** Identity-keyed cache in front of the map: requests usually reuse the same name strings. */
  private final IdentityCache<String, Integer> profileIndexes =
      new IdentityCache<>(16, name -> profileIndexByName.getOrDefault(name, -1));

  /** The index of a profile in {@link #profiles}, or -1. */
  int profileIndex(String name) {
    return profileIndexes.get(name);
  }

  /** Delta of choice {@code c} (a start slot or an instance index) of profile {@code p}. */
  abstract long delta(int p, int c);

  /** Start memory slice of choice {@code c} of profile {@code p}. */
  abstract int startSlot(int p, int c);

  /** Occupied memory-slice mask of a word. */
  abstract int slotMask(long word);

  /** Compute slices used by a word. */
  abstract int computeUsed(long word);

  /** Free memory slices of a state that no feasible placement of profile {@code p} covers. */
  int unusableSlots(int state, int p) {
    int used = slotMask(words[state]);
    int free = ~used & ((1 << geometry.memorySlices()) - 1);
    int covered = 0;
    int f = feasible[p][state];
    while (f != 0) {
      int c = Integer.numberOfTrailingZeros(f);
      f &= f - 1;
      covered |= ((1 << profiles[p].memorySlices()) - 1) << startSlot(p, c);
    }
    return Integer.bitCount(free & ~covered);
  }

  /**
   * What each state can still become: {@code [0][s]} is the most compute slices a GPU in state
   * {@code s} can reach by adding instances of the {@code allowed} profiles (its own compute if
   * none fits), and {@code [1][s]} the most memory slices occupied by such a completion of most
   * compute. Placements only add, so the recursion ends; each state is solved once.
   */
  int[][] reach(boolean[] allowed) {
    int n = words.length;
    int[][] out = new int[2][n];
    boolean[] done = new boolean[n];
    for (int s = 0; s < n; s++) {
      reach(s, allowed, out, done);
    }
    return out;
  }

  private void reach(int s, boolean[] allowed, int[][] out, boolean[] done) {
    if (done[s]) {
      return;
    }
    long word = words[s];
    int bestCompute = computeUsed(word);
    int bestMem = Integer.bitCount(slotMask(word));
    for (int p = 0; p < profiles.length; p++) {
      if (!allowed[p]) {
        continue;
      }
      int f = feasible[p][s];
      while (f != 0) {
        int c = Integer.numberOfTrailingZeros(f);
        f &= f - 1;
        int next = state(word + delta(p, c));
        reach(next, allowed, out, done);
        int comp = out[0][next];
        int mem = out[1][next];
        if (comp > bestCompute || (comp == bestCompute && mem > bestMem)) {
          bestCompute = comp;
          bestMem = mem;
        }
      }
    }
    out[0][s] = bestCompute;
    out[1][s] = bestMem;
    done[s] = true;
  }

  @Override
  int allocatedMilli(long word) {
    int slots = Integer.bitCount(slotMask(word)) * 1000 / geometry.memorySlices();
    int compute = computeUsed(word) * 1000 / geometry.computeSlices();
    return Math.max(slots, compute);
  }

  @Override
  double freeFraction(int state) {
    return 1 - allocatedMilli(words[state]) / 1000.0;
  }

  /** Enumerates states breadth-first and fills {@link #words} and {@link #feasible}. */
  void enumerate(int rawBits, int choices) {
    int[] dense = new int[1 << rawBits];
    Arrays.fill(dense, -1);
    long[] w = new long[64];
    int n = 0;
    var queue = new ArrayDeque<Long>();
    dense[0] = n;
    w[n++] = 0;
    queue.add(0L);
    while (!queue.isEmpty()) {
      long word = queue.poll();
      for (int p = 0; p < profiles.length; p++) {
        for (int c = 0; c < choices; c++) {
          if (canPlace(word, p, c)) {
            long next = word + delta(p, c);
            if (dense[(int) next] < 0) {
              if (n == w.length) {
                w = Arrays.copyOf(w, n * 2);
              }
              dense[(int) next] = n;
              w[n++] = next;
              queue.add(next);
            }
          }
        }
      }
    }
    this.denseOf = dense;
    for (int p = 0; p < profiles.length; p++) {
      for (int c = 0; c < choices; c++) {
        if (isChoice(p, c)) {
          byDelta.put(delta(p, c), new int[] {p, c});
        }
      }
    }
    this.words = Arrays.copyOf(w, n);
    this.feasible = new int[profiles.length][n];
    for (int p = 0; p < profiles.length; p++) {
      for (int s = 0; s < n; s++) {
        int mask = 0;
        for (int c = 0; c < choices; c++) {
          if (canPlace(words[s], p, c)) {
            mask |= 1 << c;
          }
        }
        feasible[p][s] = mask;
      }
    }
    boolean[] all = new boolean[profiles.length];
    Arrays.fill(all, true);
    this.fullReach = reach(all)[0];
    long full = 0;
    for (int st = 0; st < n; st++) { // a state where no profile fits, the most allocated
      boolean none = true;
      for (int p = 0; p < profiles.length && none; p++) {
        none = feasible[p][st] == 0;
      }
      if (none && allocatedMilli(words[st]) >= allocatedMilli(full)) {
        full = words[st];
      }
    }
    if (full == 0 && profiles.length > 0) {
      throw new IllegalStateException("no full state in the MIG space of " + model.name());
    }
    this.deadWordValue = full;
  }

  private long deadWordValue;

  /**
   * {@code [state]}: the most compute slices a GPU in the state can reach by adding instances of
   * any of the model's profiles ({@link #reach} with every profile allowed).
   */
  @SuppressWarnings("NullAway.Init") // built by the subclass constructor, before any use
  private int[] fullReach;

  /**
   * Whether choice {@code c} of profile {@code p}, placed on a GPU in state {@code state}, strands
   * compute: the GPU can then reach fewer compute slices than before, with any profiles of its
   * model ({@link io.gpusched.GpuDemand.Mig#noStranding()}). The choice must be feasible there.
   */
  boolean strands(int state, int p, int c) {
    return fullReach[state(words[state] + delta(p, c))] < fullReach[state];
  }

  /** The most compute slices a GPU in {@code state} can reach, with any profiles of its model. */
  int reachableCompute(int state) {
    return fullReach[state];
  }

  @Override
  long deadWord() {
    return deadWordValue;
  }

  @SuppressWarnings("NullAway.Init") // built by the subclass constructor, before any use
  private int[] denseOf;
  private final java.util.Map<Long, int[]> byDelta = new java.util.HashMap<>();

  /** The {profile, choice} whose delta this is. */
  int[] decode(long delta) {
    int[] pc = byDelta.get(delta);
    if (pc == null) {
      throw new IllegalStateException("not a placement delta of " + model.name() + ": " + delta);
    }
    return pc;
  }

  /** Whether {@code c} is a choice of profile {@code p} at all (whatever the GPU's state). */
  abstract boolean isChoice(int p, int c);

  /** The choice of profile {@code p} that starts at memory slice {@code start}, or -1 if none. */
  abstract int choiceAt(int p, int start);

  /** Whether choice {@code c} of profile {@code p} can be placed on a GPU whose word is given. */
  abstract boolean canPlace(long word, int p, int c);

  @Override
  int stateCount() {
    return words.length;
  }

  @Override
  int state(long word) {
    return denseOf[(int) word];
  }

  /**
   * MIG_DYNAMIC layout. Bits 0-7: occupied memory slices. Bits 8-11: compute slices used. From bit
   * 12: a small instance counter for each profile whose {@code maxInstances} is below what its
   * placements and compute slices would allow (the {@code +me} profiles, one per GPU). Placing
   * profile {@code p} at start {@code s} adds its slice mask, its compute slices and one to its
   * counter; releasing subtracts the same.
   */
  static final class Dynamic extends MigSpace {
    private final int[] counterShift;
    private final int[] counterMax;
    private final long[][] deltas;

    Dynamic(GpuModel model) {
      super(model, GpuMode.MIG_DYNAMIC);
      counterShift = new int[profiles.length];
      counterMax = new int[profiles.length];
      deltas = new long[profiles.length][MigGeometry.MAX_SLICES];
      int shift = 12;
      for (int p = 0; p < profiles.length; p++) {
        MigProfile prof = profiles[p];
        int natural = Math.min(disjointPlacements(prof), geometry.computeSlices() / prof.computeSlices());
        if (prof.maxInstances() < natural) {
          counterShift[p] = shift;
          counterMax[p] = prof.maxInstances();
          shift += 32 - Integer.numberOfLeadingZeros(prof.maxInstances());
        } else {
          counterShift[p] = -1;
        }
        for (int start : prof.placementStarts()) {
          long d = ((1L << prof.memorySlices()) - 1) << start;
          d |= (long) prof.computeSlices() << 8;
          if (counterShift[p] >= 0) {
            d += 1L << counterShift[p];
          }
          deltas[p][start] = d;
        }
      }
      if (shift > 20) {
        throw new IllegalArgumentException(
            "MIG geometry of " + model.name() + " has too many instance-limited profiles");
      }
      enumerate(shift, MigGeometry.MAX_SLICES);
    }

    private static int disjointPlacements(MigProfile p) {
      int used = 0;
      int n = 0;
      for (int start : p.placementStarts()) {
        int m = ((1 << p.memorySlices()) - 1) << start;
        if ((used & m) == 0) {
          used |= m;
          n++;
        }
      }
      return n;
    }

    @Override
    boolean isChoice(int p, int start) {
      return deltas[p][start] != 0;
    }

    @Override
    int choiceAt(int p, int start) {
      return start >= 0 && start < deltas[p].length && deltas[p][start] != 0 ? start : -1;
    }

    @Override
    boolean canPlace(long word, int p, int start) {
      long d = deltas[p][start];
      if (d == 0) {
        return false; // not a valid start of this profile
      }
      MigProfile prof = profiles[p];
      if ((word & d & 0xFF) != 0) {
        return false;
      }
      if (computeUsed(word) + prof.computeSlices() > geometry.computeSlices()) {
        return false;
      }
      int shift = counterShift[p];
      if (shift >= 0) {
        int width = 32 - Integer.numberOfLeadingZeros(counterMax[p]);
        long count = (word >>> shift) & ((1L << width) - 1);
        return count < counterMax[p];
      }
      return true;
    }

    @Override
    long delta(int p, int start) {
      return deltas[p][start];
    }

    @Override
    int startSlot(int p, int start) {
      return start;
    }

    @Override
    int slotMask(long word) {
      return (int) (word & 0xFF);
    }

    @Override
    int computeUsed(long word) {
      return (int) ((word >>> 8) & 0xF);
    }
  }

  /**
   * MIG_STATIC layout: bit {@code i} of the word is set while pre-made instance {@code i} is
   * allocated. A "choice" is an instance index.
   */
  static final class Static extends MigSpace {
    final List<MigInstance> instances;
    private final int[] instanceProfile;
    private final int[] instanceMask;

    Static(GpuModel model, List<MigInstance> instances) {
      super(model, GpuMode.MIG_STATIC);
      this.instances = List.copyOf(instances);
      instanceProfile = new int[instances.size()];
      instanceMask = new int[instances.size()];
      for (int i = 0; i < instances.size(); i++) {
        MigInstance inst = instances.get(i);
        int p = profileIndex(inst.profile());
        instanceProfile[i] = p;
        instanceMask[i] = ((1 << profiles[p].memorySlices()) - 1) << inst.startSlot();
      }
      enumerate(instances.size(), instances.size());
    }

    @Override
    boolean isChoice(int p, int i) {
      return i < instanceProfile.length && instanceProfile[i] == p;
    }

    @Override
    int choiceAt(int p, int start) {
      for (int i = 0; i < instanceProfile.length; i++) {
        if (instanceProfile[i] == p && instances.get(i).startSlot() == start) {
          return i;
        }
      }
      return -1;
    }

    @Override
    boolean canPlace(long word, int p, int i) {
      return i < instanceProfile.length && instanceProfile[i] == p && (word & (1L << i)) == 0;
    }

    @Override
    long delta(int p, int i) {
      return 1L << i;
    }

    @Override
    int startSlot(int p, int i) {
      return instances.get(i).startSlot();
    }

    @Override
    int slotMask(long word) {
      int m = 0;
      for (int i = 0; i < instanceMask.length; i++) {
        if ((word & (1L << i)) != 0) {
          m |= instanceMask[i];
        }
      }
      return m;
    }

    @Override
    int computeUsed(long word) {
      int c = 0;
      for (int i = 0; i < instanceProfile.length; i++) {
        if ((word & (1L << i)) != 0) {
          c += profiles[instanceProfile[i]].computeSlices();
        }
      }
      return c;
    }

    /** Static MIG: "unusable" means no free pre-made instance of the profile is left. */
    @Override
    int unusableSlots(int state, int p) {
      long word = words[state];
      int free = 0;
      for (int i = 0; i < instanceMask.length; i++) {
        if ((word & (1L << i)) == 0) {
          free |= instanceMask[i];
        }
      }
      int covered = 0;
      for (int i = 0; i < instanceMask.length; i++) {
        if ((word & (1L << i)) == 0 && instanceProfile[i] == p) {
          covered |= instanceMask[i];
        }
      }
      return Integer.bitCount(free & ~covered);
    }

    @Override
    int allocatedMilli(long word) {
      int total = 0;
      for (int m : instanceMask) {
        total |= m;
      }
      int used = slotMask(word);
      return Integer.bitCount(used) * 1000 / Math.max(1, Integer.bitCount(total));
    }
  }
}
