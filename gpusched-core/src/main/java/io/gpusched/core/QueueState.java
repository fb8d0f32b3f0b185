package io.gpusched.core;

import java.util.NavigableSet;
import io.gpusched.QueueSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * A queue's pending jobs and accounting. Mutated only by the dispatching thread; the volatile
 * fields are what snapshots read from other threads.
 *
 * <p>Pending jobs are kept in <em>lanes</em>, one per {@link Shape}, each ordered by the policy's
 * job order; {@link #heads} holds the first job of every lane. A dispatch pass walks heads, so its
 * cost grows with the number of distinct shapes, not with the number of pending jobs.
 */
@SuppressWarnings("NonAtomicVolatileUpdate") // one writer, the dispatcher; others only read
final class QueueState {

  final QueueSpec spec;
  final int index;
  /** The spec's limits in milli-GPU, saturated at {@link #UNLIMITED} (see {@link #toMilli}). */
  final long guaranteeMilli;

  final long borrowLimitMilli;
  final long lendLimitMilli;
  /** Per-model quotas by model name, in milli-GPU. */
  final Map<String, ModelLimits> modelQuotas = new HashMap<>();
  private final Comparator<Job> order;
  private final Map<Shape, TreeSet<Job>> lanes = new HashMap<>();
  final TreeSet<Job> heads;
  final LinkedHashSet<Job> running = new LinkedHashSet<>();

  /** Usage by model index, milli; grows with the model table. */
  long[] modelMilli = new long[0];

  /** Exponentially weighted usage share by model, 0..1. */
  double[] ewmaShare = new double[0];

  /** Start counter value at this queue's last start: ties in fair share go round-robin. */
  long lastStart;

  volatile int pending;
  volatile int runningJobs;
  volatile long usedMilli;
  volatile double dominantShare;
  volatile double endedCost;

  QueueState(QueueSpec spec, int index, Comparator<Job> order) {
    this.spec = spec;
    this.index = index;
    this.order = order;
    this.heads = new TreeSet<>(order);
    this.guaranteeMilli = toMilli(spec.guaranteedGpus());
    this.borrowLimitMilli = toMilli(spec.borrowLimitGpus());
    this.lendLimitMilli = toMilli(spec.lendLimitGpus());
    spec.modelQuotas()
        .forEach(
            (model, quota) -> {
              long g = toMilli(quota.guaranteedGpus());
              long b = toMilli(quota.borrowLimitGpus());
              modelQuotas.put(model, new ModelLimits(g, plus(g, b), toMilli(quota.lendLimitGpus())));
            });
  }

  /**
   * One model's quota in milli-GPU, each amount saturated at {@link #UNLIMITED}.
   *
   * @param guaranteeMilli the guarantee: usage the queue may reclaim by preemption
   * @param capMilli the guarantee plus the borrow limit: the most the queue may use of the model
   * @param lendLimitMilli how much of its unused guarantee the queue lends to others
   */
  record ModelLimits(long guaranteeMilli, long capMilli, long lendLimitMilli) {}

  /**
   * A limit of {@link #UNLIMITED} milli-GPU is no limit: {@code POSITIVE_INFINITY}, and every
   * finite value too large for a {@code long} of milli-GPU (far beyond any cluster), map to it.
   */
  static final long UNLIMITED = Long.MAX_VALUE;

  /**
   * GPU-equivalents to milli-GPU, saturating at {@link #UNLIMITED}: every value the specs accept
   * ({@code >= 0}, up to {@code Double.MAX_VALUE} or infinity) converts without overflow.
   */
  static long toMilli(double gpus) {
    double milli = gpus * 1000;
    return milli >= 0x1p63 ? UNLIMITED : Math.round(milli);
  }

  /**
   * {@code a + b} for non-negative amounts, saturating at {@link #UNLIMITED}: limits are summed
   * (guarantee + borrow limit, guarantees kept by several queues) and must never wrap negative.
   */
  static long plus(long a, long b) {
    long r = a + b;
    return ((a ^ r) & (b ^ r)) < 0 ? (a < 0 ? Long.MIN_VALUE : UNLIMITED) : r;
  }

  /** {@code a - b}, saturating instead of wrapping. */
  static long minus(long a, long b) {
    long r = a - b;
    return ((a ^ b) & (a ^ r)) < 0 ? (a < 0 ? Long.MIN_VALUE : UNLIMITED) : r;
  }

  void ensureModels(int n) {
    if (modelMilli.length < n) {
      modelMilli = Arrays.copyOf(modelMilli, n);
      ewmaShare = Arrays.copyOf(ewmaShare, n);
    }
  }

  /** Adds a pending job; returns the job that stopped being its lane's head, if any. */
  void add(Job j, NavigableSet<Job> globalHeads) {
    TreeSet<Job> lane = lanes.computeIfAbsent(j.shape, s -> new TreeSet<>(order));
    Job oldHead = lane.isEmpty() ? null : lane.first();
    lane.add(j);
    j.inLane = true;
    pending++;
    if (oldHead == null || order.compare(j, oldHead) < 0) {
      if (oldHead != null) {
        heads.remove(oldHead);
        globalHeads.remove(oldHead);
      }
      heads.add(j);
      globalHeads.add(j);
    }
  }

  /** Removes a pending job (started or cancelled). */
  void remove(Job j, NavigableSet<Job> globalHeads) {
    if (!j.inLane) {
      return;
    }
    j.inLane = false;
    pending--;
    TreeSet<Job> lane = Objects.requireNonNull(lanes.get(j.shape), "a job in a lane has one");
    boolean wasHead = lane.first() == j;
    lane.remove(j);
    if (wasHead) {
      heads.remove(j);
      globalHeads.remove(j);
      if (lane.isEmpty()) {
        lanes.remove(j.shape);
      } else {
        heads.add(lane.first());
        globalHeads.add(lane.first());
      }
    }
  }

  /** The next job after {@code j} in its lane, or null. */
  @org.jspecify.annotations.Nullable Job after(Job j) {
    TreeSet<Job> lane = lanes.get(j.shape);
    return lane == null ? null : lane.higher(j);
  }

  /** All pending jobs, lane by lane (for snapshots and tests; dispatcher thread only). */
  List<Job> pendingJobs() {
    var out = new ArrayList<Job>();
    for (TreeSet<Job> lane : lanes.values()) {
      out.addAll(lane);
    }
    return out;
  }

  @Override
  public String toString() {
    return "Queue[" + spec.name() + "]";
  }
}
