package io.gpusched.core;

import io.gpusched.NodeSpec;

/**
 * The host-aware first choice of {@link io.gpusched.PlacementStrategy#FRAGMENTATION_AWARE} for
 * shares and whole GPUs (MIG instances are placed by their tables alone): the
 * decision tables rank GPUs and nodes by GPU fragmentation only (host resources are not part of
 * a GPU's state), so before the usual walk a placement looks at the first few candidates in table
 * order ({@value #MAX} at most, within {@value #WINDOW} milli of the best rank and of the same tier)
 * and tries them in the order of their rank plus the change of <em>host-stranded</em> GPU capacity
 * on their node. A whole-GPU request none of whose first candidates lowers that capacity also looks
 * at the nodes its groups last saw stranding capacity ({@link StarvedNodes}), within {@value
 * #STARVED_WINDOW} milli of the best rank: there it may use GPUs their host could not feed.
 *
 * <p><b>Host-stranded capacity.</b> A node's free GPU milli that its free CPU (or memory) cannot
 * feed at the typical ratio of the requests: {@code max(0, freeGpu - freeCpu × gpuPerCpu, freeGpu -
 * freeMem × gpuPerMem)}, with the ratios learned from the requests ({@link ModelPressure}). A GPU
 * left on a node whose CPU is gone counts as fragmented, as in the FGD paper; a CPU-heavy request
 * therefore goes where CPU is plentiful, and a CPU-light one uses the GPUs of a CPU-poor node.
 *
 * <p>Only the order of the first tries changes: if none of them succeeds, the placement walks the
 * tables as usual (which sees these candidates again), so a miss is judged exactly as without the
 * peek. Per placement: a few bitset searches and the GPU words of at most {@value #MAX} nodes (and
 * of up to {@value StarvedNodes#SIZE} noted nodes per group for a whole-GPU request that looks at
 * them), and one node's GPU words afterwards to keep the notes ({@link #strandedNow}); no
 * allocation (this thread's scratch arrays are reused, as {@link GroupCursor#reusable} does).
 */
@EnginePart
final class HostPeek {
  /** Candidates looked at, at most. */
  static final int MAX = 32;

  /** How much worse than the best (milli of score) a candidate may rank and still be looked at. */
  static final double WINDOW = 1000;

  /**
   * How much worse than the best (milli of score) a noted node ({@link StarvedNodes}) may rank and
   * still be looked at by a whole-GPU request: wider than {@link #WINDOW}, because such a node is
   * looked at only where it may use GPUs that its host could not feed.
   */
  static final double STARVED_WINDOW = 8000;

  /**
   * Rounding tolerance of the host-stranded terms, in milli: a change below {@code -TOLERANCE}
   * lowers a node's stranded capacity, a value above {@code TOLERANCE} is stranded capacity.
   */
  static final double TOLERANCE = 1e-9;

  /** Room for the candidates of one peek: the narrow ones and the notes of up to six groups. */
  static final int CAPACITY = MAX + 6 * StarvedNodes.SIZE;

  private static final ThreadLocal<HostPeek> SPARE = ThreadLocal.withInitial(HostPeek::new);

  final Group[] group = new Group[CAPACITY];
  final int[] ent = new int[CAPACITY];
  final int[] index = new int[CAPACITY];
  final int[] shape = new int[CAPACITY];
  final double[] rank = new double[CAPACITY];

  /** Per candidate: {@link #strandedNow} of its node once the request landed there. */
  final double[] after = new double[CAPACITY];

  /** Set by {@link #strandedDelta} with this scratch as {@code keep}. */
  double lastAfter;
  int n;
  private boolean inUse;

  private HostPeek() {}

  /** This thread's scratch, emptied; a new one if it is taken (a nested search). */
  static HostPeek get() {
    HostPeek p = SPARE.get();
    if (p.inUse) {
      p = new HostPeek();
    }
    p.inUse = true;
    p.n = 0;
    return p;
  }

  /** Hands the scratch back, letting go of the groups. */
  void done() {
    java.util.Arrays.fill(group, 0, n, null); // only the first n were set
    n = 0;
    inUse = false;
  }

  /** Whether another candidate fits ({@link #CAPACITY}). */
  boolean full() {
    return n == CAPACITY;
  }

  void add(Group g, int e, int i, int s, double r, double afterNow) {
    group[n] = g;
    after[n] = afterNow;
    ent[n] = e;
    index[n] = i;
    shape[n] = s;
    rank[n] = r;
    n++;
  }

  /** The index of the lowest rank not yet tried (tried ones are set to +infinity), or -1. */
  int nextBest() {
    int best = -1;
    for (int k = 0; k < n; k++) {
      if (rank[k] != Double.POSITIVE_INFINITY && (best < 0 || rank[k] < rank[best])) {
        best = k;
      }
    }
    if (best >= 0) {
      rank[best] = Double.POSITIVE_INFINITY;
    }
    return best;
  }

  /**
   * The change of the node's host-stranded GPU milli if a request of {@code milli}, {@code cpu}
   * and {@code mem} lands there, by the ratios given (0 = not learned: that resource is left out).
   */
  static double strandedDelta(
      NodeEntry node, long milli, long cpu, long mem, double gpuPerCpu, double gpuPerMem) {
    return strandedDelta(node, milli, cpu, mem, gpuPerCpu, gpuPerMem, 0, null);
  }

  /**
   * Weight of the per-type term ({@link #typeStranded}) against the ratio term: 0.5, the best of
   * 0, 0.5, 1 and 2 tried on seed 42 of the fill suite (docs/fill-experiment.md).
   */
  static final double TYPE_WEIGHT = 0.5;

  /**
   * {@link #strandedDelta(NodeEntry, long, long, long, double, double)} plus, with learned request
   * types ({@code unfit}, {@link ModelPressure#gangUnfit}), the change of {@link #typeStranded}
   * when the request takes {@code empties} of the node's empty GPUs.
   */
  static double strandedDelta(
      NodeEntry node, long milli, long cpu, long mem, double gpuPerCpu, double gpuPerMem,
      int empties, double @org.jspecify.annotations.Nullable [][] unfit) {
    return strandedDelta(node, milli, cpu, mem, gpuPerCpu, gpuPerMem, empties, unfit, null);
  }

  /**
   * {@link #strandedDelta(NodeEntry, long, long, long, double, double, int, double[][])}; with
   * {@code keep}, also leaves in its {@link #lastAfter} what {@link #strandedNow} will say of the
   * node once the request landed there (so that noting it costs no second look at its GPUs).
   */
  static double strandedDelta(
      NodeEntry node, long milli, long cpu, long mem, double gpuPerCpu, double gpuPerMem,
      int empties, double @org.jspecify.annotations.Nullable [][] unfit,
      @org.jspecify.annotations.Nullable HostPeek keep) {
    long fe = freeAndEmpty(node);
    long freeGpu = fe >>> 32;
    int empty = (int) fe;
    long word = node.host.lvResolved();
    double free = cpuFree(node, word);
    double types = 0;
    double typesAfter = 0;
    if (unfit != null && free >= 0) {
      typesAfter =
          typeStranded(unfit, (double) Math.max(0, freeGpu - milli), empty - empties,
              Math.max(0, free - (double) Math.max(0, cpu)));
      types = typesAfter - typeStranded(unfit, (double) freeGpu, empty, free);
    }
    double cpuFree = gpuPerCpu == 0 ? -1 : free;
    double memFree = gpuPerMem == 0 ? -1 : memFree(node, word);
    double before = stranded((double) freeGpu, cpuFree, memFree, gpuPerCpu, gpuPerMem);
    double after =
        stranded(
            (double) Math.max(0, freeGpu - milli),
            cpuFree < 0 ? -1 : Math.max(0, cpuFree - (double) Math.max(0, cpu)),
            memFree < 0 ? -1 : Math.max(0, memFree - (double) Math.max(0, mem)),
            gpuPerCpu,
            gpuPerMem);
    if (keep != null) {
      keep.lastAfter = after + TYPE_WEIGHT * typesAfter;
    }
    return after - before + TYPE_WEIGHT * types;
  }

  /**
   * The node's host-stranded GPU milli now, by the ratios given, plus {@link #TYPE_WEIGHT} times
   * its type-stranded milli ({@link #typeStranded}, with learned types): the quantity whose change
   * {@link #strandedDelta} ranks by. Above {@link #TOLERANCE}, the node goes into its groups'
   * {@link StarvedNodes}.
   */
  static double strandedNow(
      NodeEntry node, double gpuPerCpu, double gpuPerMem,
      double @org.jspecify.annotations.Nullable [][] unfit) {
    long fe = freeAndEmpty(node);
    double freeGpu = (double) (fe >>> 32);
    long word = node.host.lvResolved();
    double cpuFree = cpuFree(node, word);
    double types = unfit != null && cpuFree >= 0 ? typeStranded(unfit, freeGpu, (int) fe, cpuFree) : 0;
    double memFree = gpuPerMem == 0 ? -1 : memFree(node, word);
    return stranded(freeGpu, gpuPerCpu == 0 ? -1 : cpuFree, memFree, gpuPerCpu, gpuPerMem)
        + TYPE_WEIGHT * types;
  }

  /** The node's free milli-CPU by its host word {@code word}, or -1 if it does not track CPU. */
  private static double cpuFree(NodeEntry node, long word) {
    return node.cpuCap == NodeSpec.UNTRACKED ? -1 : node.cpuCap - (word & NodeEntry.CPU_MASK);
  }

  /** The node's free memory in MiB by its host word {@code word}, or -1 if it does not track it. */
  private static double memFree(NodeEntry node, long word) {
    return node.memCap == NodeSpec.UNTRACKED ? -1 : node.memCap - (word >>> NodeEntry.CPU_BITS);
  }

  /** The node's free GPU milli (high 32 bits) and empty GPUs (low 32 bits), by their words. */
  private static long freeAndEmpty(NodeEntry node) {
    long freeGpu = 0;
    int empty = 0;
    for (GpuSlot s : node.gpus) {
      if (s != null) {
        long w = s.lvWord();
        freeGpu += 1000 - s.group.space.allocatedMilli(w);
        if (w == 0) {
          empty++;
        }
      }
    }
    return freeGpu << 32 | empty;
  }

  /**
   * The node's free GPU milli that whole-GPU request types cannot use for want of CPU, weighted by
   * the types' frequency, as FGD counts it: for each type of {@code k} GPUs on one node that the
   * node's empty GPUs could take ({@code empty >= k}) but its free CPU cannot, all the free milli.
   */
  static double typeStranded(double[][] unfit, double freeGpu, int empty, double cpuFree) {
    int f = ModelPressure.freeBuckets(cpuFree);
    double w = 0;
    for (int k = 0; k < unfit.length; k++) {
      if (empty >= ModelPressure.TYPE_GPUS[k]) {
        w += unfit[k][f];
      }
    }
    return w * freeGpu;
  }

  private static double stranded(
      double freeGpu, double cpuFree, double memFree, double gpuPerCpu, double gpuPerMem) {
    double s = 0;
    if (cpuFree >= 0) {
      s = Math.max(s, freeGpu - cpuFree * gpuPerCpu);
    }
    if (memFree >= 0) {
      s = Math.max(s, freeGpu - memFree * gpuPerMem);
    }
    return s;
  }
}
