package io.gpusched.core;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The expected request mix that {@link io.gpusched.PlacementStrategy#FRAGMENTATION_AWARE} measures
 * fragmentation against: a weight per request <em>class</em> (whole GPUs by count, shares by
 * milli-GPU in steps of 25, MIG profiles by model and name).
 *
 * <p>Either given up front (fixed) or learned: every placement increments its class's {@link
 * LongAdder} (contention-free), and every {@value #RELEARN_EVERY} successful placements of a thread
 * (counted by its block of allocation ids, so the pace is deterministic for a given sequence) it
 * folds the recent counts into the weights with equal weight for old and new, first after {@value
 * #FIRST_SAMPLES} placements and then every {@value #MIN_SAMPLES}; if the weights moved by more
 * than {@value #REBUILD_DISTANCE} (L1) from those the tables were built from, the cluster rebuilds
 * its decision tables. A CAS guard, held until that rebuild is done, keeps relearning to one thread
 * at a time (never a lock: a thread that finds it taken skips its turn), so two relearns never race
 * and older weights are never published after newer ones.
 */
@EnginePart
final class Mix {
  static final int WHOLE_BASE = 0;
  static final int SHARE_BASE = 64;
  static final int MIG_BASE = SHARE_BASE + 41;
  static final int MAX_MIG_CLASSES = 512;
  static final int CLASSES = MIG_BASE + MAX_MIG_CLASSES;
  static final int RELEARN_EVERY = 256;
  static final double REBUILD_DISTANCE = 0.1;
  /** Samples before the first fold: a first estimate replaces the prior quickly. */
  static final long FIRST_SAMPLES = 128;
  /**
   * Samples per later fold: large enough that sampling noise alone (an L1 error of about 0.1 for
   * 50 classes) moves the blended weights less than {@link #REBUILD_DISTANCE}.
   */
  static final long MIN_SAMPLES = 4096;

  private boolean learnedOnce;

  private final Map<String, Integer> migClasses = new ConcurrentHashMap<>();
  private final LongAdder[] counts = new LongAdder[CLASSES];
  private final AtomicBoolean relearning = new AtomicBoolean();
  /**
   * The counts {@link #relearn} read, reused (written only by the thread that holds {@link
   * #relearning}): relearn runs every {@link #RELEARN_EVERY} placements and usually finds too few
   * samples, and a new array of {@value #CLASSES} longs each time was 19 bytes per placement.
   */
  private final long[] recent = new long[CLASSES];
  private final boolean fixed;
  private volatile double[] weights;

  private final Map<String, Double> fixedMig;

  Mix(double[] initial, Map<String, Double> fixedMig, boolean fixed) {
    this.fixedMig = Map.copyOf(fixedMig);
    for (int i = 0; i < CLASSES; i++) {
      counts[i] = new LongAdder();
    }
    this.weights = initial.clone();
    this.fixed = fixed;
  }

  static int wholeClass(int count) {
    return WHOLE_BASE + Math.min(count, 64) - 1;
  }

  static int shareClass(int milli) {
    return SHARE_BASE + (milli + 24) / 25;
  }

  /** The class of a MIG profile of a model; registered on first use. */
  int migClass(String model, String profile) {
    Integer c = migClasses.get(model + '/' + profile);
    if (c != null) {
      return c;
    }
    synchronized (migClasses) { // registration happens when nodes are added, not per placement
      return migClasses.computeIfAbsent(
          model + '/' + profile,
          k -> {
            if (migClasses.size() >= MAX_MIG_CLASSES) {
              throw new IllegalStateException("more than " + MAX_MIG_CLASSES + " MIG profiles");
            }
            int cls = MIG_BASE + migClasses.size();
            Double w = fixedMig.get(profile);
            if (fixed && w != null) {
              double[] next = weights.clone();
              next[cls] = w;
              weights = next;
            }
            return cls;
          });
    }
  }

  void record(int cls) {
    if (!fixed && cls >= 0) {
      counts[cls].increment();
    }
  }

  double[] weights() {
    return weights;
  }

  /** The requests recorded since the counts were last folded in (a sum: diagnostics and tests). */
  long recorded() {
    long n = 0;
    for (LongAdder c : counts) {
      n += c.sum();
    }
    return n;
  }

  boolean isFixed() {
    return fixed;
  }

  /**
   * Folds recent counts into the weights if enough were seen, and if they moved far enough from
   * the weights the tables were built from ({@code built}, read under the guard) to be worth new
   * tables, calls {@code rebuild} with them, still under the guard. Returns whether it did.
   * Non-blocking: returns false at once if another thread is relearning.
   */
  boolean relearn(Supplier<double[]> built, Consumer<double[]> rebuild) {
    if (fixed || !relearning.compareAndSet(false, true)) {
      return false;
    }
    try {
      long total = 0;
      for (int i = 0; i < CLASSES; i++) {
        recent[i] = counts[i].sum();
        total += recent[i];
      }
      if (total < (learnedOnce ? MIN_SAMPLES : FIRST_SAMPLES)) {
        return false;
      }
      learnedOnce = true;
      for (int i = 0; i < CLASSES; i++) {
        counts[i].add(-recent[i]);
      }
      double[] old = weights;
      double oldTotal = Arrays.stream(old).sum();
      double[] next = new double[CLASSES];
      for (int i = 0; i < CLASSES; i++) {
        double o = oldTotal > 0 ? old[i] / oldTotal : 0;
        double r = (double) recent[i] / total;
        next[i] = oldTotal > 0 ? 0.5 * o + 0.5 * r : r;
      }
      weights = next;
      if (distance(next, built.get()) <= REBUILD_DISTANCE) {
        return false;
      }
      rebuild.accept(next);
      return true;
    } finally {
      relearning.set(false);
    }
  }

  static double distance(double[] a, double[] b) {
    double sa = Arrays.stream(a).sum();
    double sb = Arrays.stream(b).sum();
    double d = 0;
    for (int i = 0; i < a.length; i++) {
      d += Math.abs((sa > 0 ? a[i] / sa : 0) - (sb > 0 ? b[i] / sb : 0));
    }
    return d;
  }
}
