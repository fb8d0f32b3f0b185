package io.gpusched.core;

import io.gpusched.GpuMode;
import io.gpusched.PlacementStrategy;
import io.gpusched.PlacementStrategy.Candidate;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The decision tables of one {@link Group}: per request shape, the candidate states and node
 * buckets in strategy order ({@link CandidateOrder}), which MIG placement to take from each state,
 * and the fragmentation measures that scores use. Built from the strategy, the group's largest
 * node and the request-mix weights; immutable once published (the share orders are filled in
 * lazily and idempotently, in a cache that SHARED groups with the same inputs share: {@link
 * ShareOrders}). Published by {@link Group#ensureTables}.
 *
 * <p><b>MIG rows.</b> {@link #choice} and {@link #migOrder} have two rows per profile {@code p}:
 * row {@code p} for a plain request, row {@code P + p} ({@code P} profiles) for a request that must
 * not strand compute ({@link io.gpusched.GpuDemand.Mig#noStranding()}): the same choice among the
 * placements that strand none ({@link MigSpace#strands}), and only the states that have one.
 *
 * <p><b>Group weights.</b> A group sees the mix as a vector of {@value #WHOLE_CLASSES} whole-GPU
 * classes followed by {@value #SHARE_CLASSES} share classes (WHOLE and SHARED groups), or one class
 * per MIG profile (MIG groups), normalized to sum 1.
 */
@EnginePart
final class DecisionTables {
  /** Whole-GPU classes of the group weights: gangs of 1 to 64 GPUs (index = count - 1). */
  static final int WHOLE_CLASSES = GroupIndex.MAX_NODE_GPUS;

  /** Share classes of the group weights, one per milli bucket (index = milli rounded up / 25). */
  static final int SHARE_CLASSES = Space.Shared.MILLI_BUCKETS;

  private final Space space;
  private final boolean wholeCapable;
  private final int[] mixClasses;
  final PlacementStrategy strategy;
  final double[] weights;
  final double[] gpuFrag;
  final double[] nodeFrag;
  final int maxF;
  final byte[][] choice;
  final CandidateOrder[] migOrder;
  final CandidateOrder[] wholeOrder;
  final double[] shareW;
  final double wholeWSum;
  final AtomicReferenceArray<CandidateOrder> shareOrder;

  /** The global weights these tables were built from (compared by identity, then by value). */
  final double[] source;

  DecisionTables(Group group, PlacementStrategy strategy, double[] globalWeights, int maxF) {
    this.space = group.space;
    this.wholeCapable = group.wholeCapable;
    this.mixClasses = group.mixClasses;
    this.strategy = strategy;
    this.maxF = maxF;
    this.source = globalWeights;
    this.weights = groupWeights(globalWeights);
    boolean frag = strategy.usesFragmentation();
    // node-level fragmentation: free GPUs that whole requests of the mix cannot use, in milli
    nodeFrag = new double[maxF + 1];
    double wsum = 0;
    shareW = new double[SHARE_CLASSES];
    if (space.mode == GpuMode.SHARED || space.mode == GpuMode.WHOLE) {
      for (int k = 1; k <= WHOLE_CLASSES; k++) {
        double w = weights[k - 1];
        wsum += w;
        for (int f = 0; f <= maxF; f++) {
          nodeFrag[f] += w * 1000.0 * (f % k);
        }
      }
      if (space.mode == GpuMode.SHARED) {
        System.arraycopy(weights, WHOLE_CLASSES, shareW, 0, SHARE_CLASSES);
      }
    }
    wholeWSum = wsum;
    gpuFrag = new double[space.stateCount()];
    if (space instanceof MigSpace mig) {
      int slices = mig.geometry.memorySlices();
      for (int s = 0; s < gpuFrag.length; s++) {
        double f = 0;
        for (int p = 0; p < mig.profiles.length; p++) {
          f += weights[p] * mig.unusableSlots(s, p) * 1000.0 / slices;
        }
        gpuFrag[s] = f;
      }
      // without fragmentation scoring, empty tables (never read: every use is under `frag`)
      int[][] reach = frag ? mig.reach(reachableProfiles(mig)) : new int[2][0];
      double[] potential = frag ? migPotential(mig, reach) : new double[0];
      // rows p: profile p's choice and order; rows P + p: the same among the choices that strand
      // no compute (GpuDemand.Mig#noStranding), so such a request is never offered another
      int np = mig.profiles.length;
      choice = new byte[2 * np][gpuFrag.length];
      migOrder = new CandidateOrder[2 * np];
      for (int row = 0; row < 2 * np; row++) {
        int p = row % np;
        boolean lossless = row >= np;
        CandidateOrder.Rows rows = new CandidateOrder.Rows(16);
        for (int s = 0; s < gpuFrag.length; s++) {
          int feasible = mig.feasible[p][s];
          choice[row][s] = -1;
          double best = Double.POSITIVE_INFINITY;
          int bestReach = Integer.MIN_VALUE;
          while (feasible != 0) {
            int c = Integer.numberOfTrailingZeros(feasible);
            feasible &= feasible - 1;
            if (lossless && mig.strands(s, p, c)) {
              continue;
            }
            int next = mig.state(mig.words[s] + mig.delta(p, c));
            // with fragmentation, the slot that keeps the most reachable compute, then memory,
            // wins on this GPU whatever the score; the score then breaks ties and ranks GPUs
            int r = frag ? reach[0][next] * 16 + reach[1][next] : 0;
            double score =
                strategy.score(
                    new Candidate(
                        space.mode,
                        space.freeFraction(s),
                        space.freeFraction(next),
                        -1,
                        -1,
                        frag ? potential[next] - potential[s] : 0));
            if (r > bestReach || (r == bestReach && score < best)) {
              bestReach = r;
              best = score;
              choice[row][s] = (byte) c;
            }
          }
          if (choice[row][s] >= 0) {
            rows.add(s, best, CandidateOrder.GPU_STATE);
          }
        }
        migOrder[row] = CandidateOrder.of(rows);
      }
    } else {
      choice = new byte[0][];
      migOrder = new CandidateOrder[0];
      if (space.mode == GpuMode.SHARED) {
        int empty = space.state(0L);
        for (int s = 0; s < gpuFrag.length; s++) {
          gpuFrag[s] = s == empty ? 0 : fragOfFree(Space.Shared.freeMilliOf(s));
        }
      }
    }
    wholeOrder = new CandidateOrder[maxF + 1];
    wholeOrder[0] = CandidateOrder.EMPTY;
    for (int k = 1; k <= maxF; k++) {
      CandidateOrder.Rows rows = new CandidateOrder.Rows(16);
      for (int f = k; f <= maxF && wholeCapable; f++) {
        double delta = frag ? nodeFrag[f - k] - nodeFrag[f] : 0;
        double score = strategy.score(new Candidate(space.mode, 1, 0, f, f - k, delta));
        rows.add(CandidateOrder.nodeBucket(f), score, CandidateOrder.NODE_BUCKET);
      }
      wholeOrder[k] = CandidateOrder.of(rows);
    }
    // shared with the other SHARED groups whose orders are the same function (ShareOrders)
    shareOrder =
        space instanceof Space.Shared sh
            ? group.shareOrders.forTables(globalWeights, strategy, maxF, sh.memoryMiB)
            : new AtomicReferenceArray<>(0);
  }

  /** The profiles a MIG GPU is expected to be completed with: those of the mix. */
  private boolean[] reachableProfiles(MigSpace mig) {
    boolean[] allowed = new boolean[mig.profiles.length];
    for (int p = 0; p < allowed.length; p++) {
      allowed[p] = weights[p] > 0;
    }
    return allowed;
  }

  /**
   * The per-state potential whose increase is a MIG placement's {@code fragmentationDelta}, in
   * milli-GPU: {@link #gpuFrag} (the mix-weighted unusable slots), plus 1000 / compute slices for
   * each compute slice the GPU can no longer reach with the mix's profiles ({@code reach[0]}), plus
   * 1000 / memory slices for each memory slice that no completion of that most compute can occupy
   * ({@code reach[1]}). On an H100 the last term is the spare memory slice (8 memory for 7
   * compute): only {@code 1g.20gb} at 6, {@code 3g.40gb} at 4 and {@code 7g.80gb} reach slice 7,
   * so a GPU that gives it to nobody else can still take one of them without losing compute. The
   * start slot on a GPU is chosen by {@code reach} first (see the constructor), so these weights
   * only rank GPUs against each other: stranding a slice here against, say, taking a GPU that a
   * {@code 7g.80gb} could have had.
   */
  private double[] migPotential(MigSpace mig, int[][] reach) {
    int compute = mig.geometry.computeSlices();
    int memory = mig.geometry.memorySlices();
    double[] pot = new double[gpuFrag.length];
    for (int s = 0; s < pot.length; s++) {
      pot[s] =
          1000.0 * (compute - reach[0][s]) / compute
              + 1000.0 * (memory - reach[1][s]) / memory
              + gpuFrag[s];
    }
    return pot;
  }

  /** Whether these tables are what a build from {@code maxF} and {@code global} would give. */
  boolean builtFrom(int maxF, double[] global) {
    return this.maxF == maxF
        && (source == global || Arrays.equals(weights, groupWeights(global)));
  }

  /** Fragmentation of a partly used SHARED GPU with {@code freeMilli} free, in milli. */
  double fragOfFree(double freeMilli) {
    double f = wholeWSum * freeMilli;
    // classes b with b * MILLI_STEP <= freeMilli - MILLI_STEP cannot pass the test: start just
    // below the first that may (the same additions in the same order, so the same result)
    int first = Math.max(1, (int) (freeMilli / Space.Shared.MILLI_STEP) - 1);
    for (int b = first; b < SHARE_CLASSES; b++) {
      if (freeMilli < b * Space.Shared.MILLI_STEP) {
        f += shareW[b] * freeMilli;
      }
    }
    return f;
  }

  /**
   * The candidate order for a share. Orders are cached per <em>shape class</em>: milli rounded
   * down to 25 and memory rounded down to 1/16 of the GPU, at most {@code MILLI_BUCKETS} × {@code MEM_BUCKETS} =
   * 41 × 17 classes. The
   * candidate states of a class are those that may fit its lower bounds, a superset of those that
   * fit any share of the class, so no capacity is missed; the exact fit is checked on the word.
   * Scores use the class's representative amounts.
   */
  CandidateOrder shareOrder(int milli, long memMiB) {
    Space.Shared sh = (Space.Shared) space;
    int milliClass = milli / Space.Shared.MILLI_STEP;
    int memClass = (int) Math.min(16, memMiB * 16 / sh.memoryMiB);
    int key = milliClass * Space.Shared.MEM_BUCKETS + memClass;
    CandidateOrder o = shareOrder.get(key);
    if (o == null) {
      o = buildShareOrder(milliClass, memClass);
      shareOrder.lazySet(key, o); // idempotent: racing builders compute the same order
    }
    return o;
  }

  /**
   * A share-order builder per thread, reused: a build then allocates only the order's own arrays
   * (share orders are built lazily on the placement path, hundreds of times in a fill after each
   * relearn; a fresh builder with its sort's scratch was about 60 % of a build's 24 KB).
   */
  private static final ThreadLocal<CandidateOrder.Rows> SHARE_ROWS =
      ThreadLocal.withInitial(() -> new CandidateOrder.Rows(1024));

  /**
   * Per share milli class, the fragmentation of a GPU of each milli bucket after a share of the
   * class's representative milli ({@link #fragAfter}); the memory classes of a milli class share
   * it. Filled lazily, each row published whole.
   */
  private final AtomicReferenceArray<double[]> fragAfterByMilliClass =
      new AtomicReferenceArray<>(Space.Shared.MILLI_BUCKETS);

  /**
   * {@link #fragOfFree} of each milli bucket's free milli less {@code milli}, the representative
   * amount of {@code milliClass}: a state's free milli depends only on its milli bucket ({@link
   * Space.Shared#freeMilliOf}), so the fragmentation after a share is computed once per bucket
   * (41), not once per state (697), and once per milli class, not once per share order. Racing
   * threads compute the same row (the same additions in the same order: bitwise the same).
   */
  private double[] fragAfter(int milliClass, int milli) {
    double[] row = fragAfterByMilliClass.get(milliClass);
    if (row == null) {
      row = new double[Space.Shared.MILLI_BUCKETS];
      for (int b = 0; b < row.length; b++) {
        row[b] =
            fragOfFree(Math.max(0, Space.Shared.freeMilliOf(b * Space.Shared.MEM_BUCKETS) - milli));
      }
      fragAfterByMilliClass.set(milliClass, row); // a volatile write: the row is read whole
    }
    return row;
  }

  /** The fragmentation rows of a strategy without fragmentation scoring: never read. */
  private static final double[] NO_FRAG = new double[0];

  private CandidateOrder buildShareOrder(int milliClass, int memClass) {
    Space.Shared sh = (Space.Shared) space;
    int milliLow = milliClass * Space.Shared.MILLI_STEP;
    long memLow = (memClass * sh.memoryMiB + 15) / 16;
    int milli = Math.min(1000, milliLow + Space.Shared.MILLI_STEP / 2);
    long memMiB = memLow;
    boolean frag = strategy.usesFragmentation();
    CandidateOrder.Rows rows = SHARE_ROWS.get();
    rows.reset();
    double memAfterEmpty = (double) (sh.memoryMiB - memMiB) / sh.memoryMiB;
    // before the share, a state's fragmentation is gpuFrag (the same function of the same amount:
    // bitwise the same scores as computing both per state)
    int empty = space.state(0L);
    double[] fragAfter = frag ? fragAfter(milliClass, milli) : NO_FRAG;
    for (int s = 0; s < gpuFrag.length; s++) {
      if (s == empty) {
        continue; // empty GPUs are found through the node buckets
      }
      int milliBucket = s / Space.Shared.MEM_BUCKETS;
      int memBucket = s % Space.Shared.MEM_BUCKETS;
      int maxFreeMilli =
          milliBucket == Space.Shared.MILLI_BUCKETS - 1
              ? 1000
              : milliBucket * Space.Shared.MILLI_STEP + Space.Shared.MILLI_STEP - 1;
      long maxFreeMem =
          memBucket == 16 ? sh.memoryMiB : ((memBucket + 1) * sh.memoryMiB + 15) / 16 - 1;
      if (maxFreeMilli < milliLow || maxFreeMem < memLow) {
        continue;
      }
      double freeMilli = Space.Shared.freeMilliOf(s);
      double afterMilli = Math.max(0, freeMilli - milli);
      double afterMem = Math.max(0, Space.Shared.freeMemFractionOf(s) - (double) memMiB / sh.memoryMiB);
      double delta = frag ? fragAfter[milliBucket] - gpuFrag[s] : 0;
      double score =
          strategy.score(
              new Candidate(
                  space.mode,
                  space.freeFraction(s),
                  Math.min(afterMilli / 1000, afterMem),
                  -1,
                  -1,
                  delta));
      rows.add(s, score, CandidateOrder.GPU_STATE);
    }
    double fragOfRest = frag ? fragOfFree(1000 - milli) : 0;
    for (int f = 1; f <= maxF; f++) {
      double delta = frag ? fragOfRest + nodeFrag[f - 1] - nodeFrag[f] : 0;
      double score =
          strategy.score(
              new Candidate(
                  space.mode, 1, Math.min((1000 - milli) / 1000.0, memAfterEmpty), f, f - 1, delta));
      rows.add(CandidateOrder.nodeBucket(f), score, CandidateOrder.NODE_BUCKET);
    }
    // Last of all, the empty state itself: a GPU that a placement has just taken part of is
    // still indexed as empty until that placement re-indexes it, while a stale-bucket cleanup
    // may already have moved its node to a bucket without empty GPUs. Sequentially this entry
    // finds nothing the node buckets did not (an empty GPU is reached through its node first).
    rows.add(empty, Double.MAX_VALUE, CandidateOrder.LAST_RESORT);
    return CandidateOrder.of(rows);
  }

  /** The share class of an amount: milli rounded up to the bucket (as {@link Mix#shareClass}). */
  private static int shareClass(int milli) {
    return Mix.shareClass(milli) - Mix.SHARE_BASE;
  }

  /**
   * The group's weights over the mix classes it can serve (see the class comment), normalized; a
   * prior (a few common shapes, equally) if the mix has none of them yet.
   */
  double[] groupWeights(double[] global) {
    double[] w;
    if (space instanceof MigSpace mig) {
      w = new double[mig.profiles.length];
      for (int p = 0; p < w.length; p++) {
        w[p] = global[mixClasses[p]];
      }
      if (sum(w) == 0) {
        Arrays.fill(w, 1);
      }
    } else {
      w = new double[WHOLE_CLASSES + SHARE_CLASSES];
      for (int k = 0; k < WHOLE_CLASSES; k++) {
        w[k] = global[Mix.WHOLE_BASE + k];
      }
      if (space.mode == GpuMode.SHARED) {
        for (int b = 0; b < SHARE_CLASSES; b++) {
          w[WHOLE_CLASSES + b] = global[Mix.SHARE_BASE + b];
        }
      }
      if (sum(w) == 0) {
        if (space.mode == GpuMode.SHARED) {
          w[0] = 1; // one whole GPU
          w[WHOLE_CLASSES + shareClass(100)] = 1;
          w[WHOLE_CLASSES + shareClass(250)] = 1;
          w[WHOLE_CLASSES + shareClass(500)] = 1;
        } else {
          w[1 - 1] = 1; // gangs of 1, 2, 4 and 8 GPUs
          w[2 - 1] = 1;
          w[4 - 1] = 1;
          w[8 - 1] = 1;
        }
      }
    }
    double s = sum(w);
    for (int i = 0; i < w.length; i++) {
      w[i] /= s;
    }
    return w;
  }

  private static double sum(double[] a) {
    double s = 0;
    for (double v : a) {
      s += v;
    }
    return s;
  }

  /**
   * What the snapshot reports as fragmented on one GPU: {@link #fragmentedMilli} less what the same
   * GPU counts when its node's GPUs of this group are all empty ({@code nodeGpus} free, the GPU's
   * empty state). That baseline is capacity the expected mix can never use on this hardware (a
   * gang of 8 on a 4-GPU node, a profile the model lacks): not fragmentation caused by how work was
   * placed, and reported as none, so an empty cluster shows 0. Never negative.
   */
  double placementFragmentedMilli(long word, int nodeFree, int nodeGpus) {
    double now = fragmentedMilli(word, nodeFree);
    if (now <= 0) {
      return 0;
    }
    double empty = fragmentedMilli(0, Math.max(1, nodeGpus));
    return Math.max(0, now - empty);
  }

  /** Fragmented milli of one GPU given its word and, for empty GPUs, its node's free count. */
  double fragmentedMilli(long word, int nodeFree) {
    if (word == 0 && wholeCapable) {
      return nodeFree <= 0 || nodeFree > maxF ? 0 : nodeFrag[nodeFree] / nodeFree;
    }
    if (space instanceof MigSpace) {
      return gpuFrag[space.state(word)];
    }
    if (space.mode == GpuMode.SHARED) {
      double free = 1000 - Space.Shared.milliUsed(word);
      return Math.min(free, fragOfFree(free));
    }
    return 0;
  }
}
