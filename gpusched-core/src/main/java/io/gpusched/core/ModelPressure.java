package io.gpusched.core;

import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * How much of each group's capacity the model-constrained demand needs: the answer of {@link
 * io.gpusched.PlacementStrategy#FRAGMENTATION_AWARE} to rare-model starvation. Without it a packing
 * strategy fills the small nodes of rare models with unconstrained work (they are the tightest
 * fit), and requests that may run only on those models then find them full.
 *
 * <p>Every request is counted by its GPU milli ({@link #record}): all of it into the total, and
 * for a request restricted to some GPU models, its milli split over its eligible groups by their
 * GPU counts into each group's {@link Group#constrainedMilli}. Every {@value
 * Mix#RELEARN_EVERY} placements of a thread (the mix's pace; more often at first, {@link
 * #updateDue}) {@link #update} turns the recent counts
 * into each group's {@link Group#pressure}: the share of the demand constrained to the group over
 * the group's share of the capacity (1 means the constrained demand alone would fill the group when
 * the demand equals the capacity), from counts that decay by half every {@link #HALF_LIFE_MILLI}
 * milli requested (so a rare model's few requests still count, and a shift is followed). A placement on
 * several groups then ranks each group's candidates by their score plus {@code pressure × milli}
 * ({@link #bias}): an unconstrained request goes to a group that constrained demand needs only when
 * the others offer a clearly better fit.
 *
 * <p>Contention-free: a record is one or a few {@link LongAdder} increments; an update runs on one
 * thread at a time (a CAS guard, never a lock: a thread that finds it taken skips).
 */
@EnginePart
final class ModelPressure {
  /** Weight of the pressure in a candidate's rank, in milli of score per milli requested. */
  static final double WEIGHT = 2.0;

  /** Recent demand (milli) below which an update keeps the old pressures. */
  static final long MIN_RECENT_MILLI = 16_000;

  /**
   * Requested milli over which the counts lose half their weight: the pressures and ratios follow
   * the last few thousand GPUs' worth of requests.
   */
  static final double HALF_LIFE_MILLI = 2_000_000;

  /**
   * The prior: before any request is seen, each group counts as if {@value #PRIOR_SHARE} of
   * {@value #PRIOR_MILLI} milli of demand (split evenly over the groups) were constrained to it.
   * Scarce models thus start with a higher pressure than common ones (a small group's share of
   * capacity is small), so unconstrained work does not use them up before the first requests that
   * need them arrive; the prior decays like the counts.
   */
  static final double PRIOR_SHARE = 0.05;

  /** Demand the prior stands for, in milli (see {@link #PRIOR_SHARE}). */
  static final double PRIOR_MILLI = 100_000;

  /** Allocation ids below which updates come every {@value #EARLY_EVERY} placements. */
  static final long EARLY_UNTIL = 1024;

  /** The early pace of updates: a fresh cluster learns its pressures within a few dozen requests. */
  static final int EARLY_EVERY = 32;

  /**
   * Whether the placement with this allocation id updates the pressures: every {@value
   * #EARLY_EVERY} placements of a thread at first, then at the mix's pace.
   */
  static boolean updateDue(long id) {
    return (id & (Mix.RELEARN_EVERY - 1)) == 0 || (id < EARLY_UNTIL && (id & (EARLY_EVERY - 1)) == 0);
  }

  /** GPU counts of the whole-GPU request types tracked per CPU size ({@link #gangUnfit}). */
  static final int[] TYPE_GPUS = {1, 2, 4, 8};

  /** Width of a CPU size bucket of {@link #gangUnfit}, in milli-CPU. */
  static final long CPU_BUCKET = 4000;

  /** CPU size buckets: 0 .. 128 cores; larger requests count in the last. */
  static final int CPU_BUCKETS = 33;

  private final LongAdder requests = new LongAdder();
  private final LongAdder[] typeCounts = new LongAdder[TYPE_GPUS.length * CPU_BUCKETS];

  {
    for (int i = 0; i < typeCounts.length; i++) {
      typeCounts[i] = new LongAdder();
    }
  }
  private final long[] seenTypes = new long[TYPE_GPUS.length * CPU_BUCKETS]; // under the guard
  private final double[] decayedTypes = new double[TYPE_GPUS.length * CPU_BUCKETS];
  private long seenRequests;
  private double decayedRequests;

  /**
   * The whole-GPU request types by CPU size ({@link HostPeek}): {@code gangUnfit[k][f]} is the
   * share of recent requests (by count, as FGD weights its typical pods) that ask for {@code
   * TYPE_GPUS[k]} whole GPUs on one node and more than {@code f} buckets of {@value #CPU_BUCKET}
   * milli-CPU, so that a node with {@code f} buckets of CPU free cannot take them whatever its
   * GPUs. Null until learned; replaced whole (never written after publication).
   */
  volatile double @org.jspecify.annotations.Nullable [][] gangUnfit;

  private final LongAdder demandMilli = new LongAdder();
  private final LongAdder cpuMilli = new LongAdder();
  private final LongAdder memMiB = new LongAdder();
  private final AtomicBoolean updating = new AtomicBoolean();
  private long seenDemand; // under the guard
  private long seenCpu;
  private long seenMem;
  private double decayedDemand;
  private double decayedCpu;
  private double decayedMem;

  /**
   * GPU milli requested per milli-CPU requested, recently (see {@link HostPeek}); 0 until learned
   * or when the requests ask no CPU.
   */
  volatile double gpuPerCpu;

  /** GPU milli requested per MiB of host memory requested, recently; 0 until learned or none. */
  volatile double gpuPerMem;

  /**
   * The GPU milli a demand asks for; 0 for a MIG instance, which MIG groups rank by their own
   * tables (no pressure, no host peek).
   */
  static long milliOf(GpuDemand d) {
    if (d instanceof GpuDemand.Share s) {
      return s.milliGpu();
    }
    if (d instanceof GpuDemand.Whole w) {
      return 1000L * w.count();
    }
    return 0;
  }

  /** Counts one request over its eligible groups. */
  void record(Group[] eligible, GpuDemand d, Constraints c, long cpu, long mem) {
    long milli = milliOf(d);
    if (milli == 0) {
      return;
    }
    demandMilli.add(milli);
    requests.increment();
    if (d instanceof GpuDemand.Whole w && (w.sameNode() || w.count() == 1)) {
      int k = typeOf(w.count());
      if (k >= 0) {
        typeCounts[k * CPU_BUCKETS + cpuBucket(cpu)].increment();
      }
    }
    if (cpu > 0) {
      cpuMilli.add(cpu);
    }
    if (mem > 0) {
      memMiB.add(mem);
    }
    if (c.gpuModels().isEmpty() && c.minGpuMemoryMiB() == 0) {
      return; // unconstrained (a memory floor constrains the models as a list of names does)
    }
    long live = 0;
    for (Group g : eligible) {
      live += g.liveGpus;
    }
    if (live == 0) {
      return;
    }
    for (Group g : eligible) {
      long share = milli * g.liveGpus / live;
      if (share > 0) {
        g.constrainedMilli.add(share);
      }
    }
  }

  /** The {@link #TYPE_GPUS} index of a GPU count, or -1 if it is not tracked. */
  static int typeOf(int gpus) {
    for (int k = 0; k < TYPE_GPUS.length; k++) {
      if (TYPE_GPUS[k] == gpus) {
        return k;
      }
    }
    return -1;
  }

  /** The CPU bucket a request of {@code cpu} milli needs: its size rounded up to a bucket. */
  static int cpuBucket(long cpu) {
    long b = cpu <= 0 ? 0 : cpu / CPU_BUCKET + (cpu % CPU_BUCKET == 0 ? 0 : 1); // no overflow
    return (int) Math.min(CPU_BUCKETS - 1, b);
  }

  /** Full CPU buckets in {@code cpuFree} milli (capped at the last bucket). */
  static int freeBuckets(double cpuFree) {
    return (int) Math.min(CPU_BUCKETS - 1, Math.max(0, cpuFree / CPU_BUCKET));
  }

  /** Folds the recent counts into the groups' pressures (see the class comment). */
  void update(Group[] groups) {
    if (!updating.compareAndSet(false, true)) {
      return;
    }
    try {
      long total = demandMilli.sum();
      long recent = total - seenDemand;
      if (recent < MIN_RECENT_MILLI) {
        return;
      }
      seenDemand = total;
      double keep = Math.pow(0.5, (double) recent / HALF_LIFE_MILLI);
      long cpu = cpuMilli.sum();
      long mem = memMiB.sum();
      decayedDemand = decayedDemand * keep + recent;
      decayedCpu = decayedCpu * keep + (cpu - seenCpu);
      decayedMem = decayedMem * keep + (mem - seenMem);
      seenCpu = cpu;
      seenMem = mem;
      gpuPerCpu = decayedCpu == 0 ? 0 : decayedDemand / decayedCpu;
      gpuPerMem = decayedMem == 0 ? 0 : decayedDemand / decayedMem;
      updateTypes(keep);
      long live = 0;
      for (Group g : groups) {
        live += g.liveGpus;
      }
      for (Group g : groups) {
        if (!g.pressurePrior) { // a group not seen before: the prior share of the prior demand
          g.pressurePrior = true;
          g.decayedConstrained += PRIOR_SHARE * PRIOR_MILLI / groups.length;
          decayedDemand += PRIOR_MILLI / groups.length;
        }
      }
      for (Group g : groups) {
        long c = g.constrainedMilli.sum();
        g.decayedConstrained = g.decayedConstrained * keep + (c - g.seenConstrained);
        g.seenConstrained = c;
        g.pressure =
            g.liveGpus == 0 ? 0 : g.decayedConstrained / decayedDemand * live / g.liveGpus;
      }
    } finally {
      updating.set(false);
    }
  }

  /** Folds the recent request types into {@link #gangUnfit}; under the guard. */
  private void updateTypes(double keep) {
    long n = requests.sum();
    decayedRequests = decayedRequests * keep + (n - seenRequests);
    seenRequests = n;
    if (decayedRequests <= 0) {
      return;
    }
    double[][] unfit = new double[TYPE_GPUS.length][CPU_BUCKETS];
    boolean any = false;
    for (int k = 0; k < TYPE_GPUS.length; k++) {
      for (int b = 0; b < CPU_BUCKETS; b++) {
        int i = k * CPU_BUCKETS + b;
        long c = typeCounts[i].sum();
        decayedTypes[i] = decayedTypes[i] * keep + (c - seenTypes[i]);
        seenTypes[i] = c;
      }
      // unfit[k][f]: the types of k GPUs that need more than f buckets
      double above = 0;
      for (int f = CPU_BUCKETS - 1; f >= 0; f--) {
        unfit[k][f] = above / decayedRequests;
        above += decayedTypes[k * CPU_BUCKETS + f];
      }
      any |= above > 0;
    }
    gangUnfit = any ? unfit : null;
  }

  /** Whether a host-aware peek has a learned ratio to work with. */
  boolean hostLearned() {
    return gpuPerCpu != 0 || gpuPerMem != 0;
  }

  /** What a candidate of group {@code g} adds to its rank for a demand of {@code milli}. */
  static double bias(Group g, long milli) {
    return WEIGHT * g.pressure * milli;
  }
}
