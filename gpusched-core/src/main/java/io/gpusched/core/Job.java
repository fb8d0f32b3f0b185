package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.PendingReason;
import io.gpusched.StopReason;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A job as the scheduler tracks it.
 *
 * <p>The state is one {@link AtomicReference}: every transition is a compare-and-set, so of two
 * racing transitions exactly one wins. A thread that wins a transition out of a GPU-holding state
 * releases the allocations itself (engine releases are thread-safe and idempotent) and then hands
 * the bookkeeping to the dispatcher through a command. Fields marked "dispatcher" are touched only
 * by the thread currently dispatching (serialized by the scheduler's work counter).
 */
final class Job implements JobHandle {

  final JobTransitions transitions;
  final JobSpec spec;
  final long seq;
  final QueueState queue;
  final Shape shape;
  final Instant submittedAt;

  /**
   * A state, the run (attempt) it belongs to and, for a stop, why; replaced whole, so one CAS
   * covers all three and a stop can never finish with a reason older than its state.
   */
  private record St(JobState s, int run, @Nullable StopReason why) {}

  /** Any run: the job-level handle's calls act on whatever run is current. */
  static final int ANY_RUN = -1;

  private final AtomicReference<St> state = new AtomicReference<>(new St(JobState.PENDING, 0, null));
  private final CompletableFuture<JobHandle> started = new CompletableFuture<>();
  private final CompletableFuture<JobState> finished = new CompletableFuture<>();

  volatile List<Allocation> allocations = List.of();
  volatile int attempts;
  volatile @Nullable String checkpointRef;
  volatile long checkpointAtMillis = -1;
  volatile long queuedAtMillis;
  volatile long startedAtMillis = -1;
  volatile long endedAtMillis = -1;
  volatile @Nullable String endReason;
  volatile double accruedCost;
  volatile double costPerMs;
  volatile boolean idle;
  volatile long lastHeartbeatMillis;
  /**
   * Why it waits: {@code pass << 3 | PendingReason.ordinal()} of the last dispatch pass that
   * considered it, in one word so a reader never pairs a reason with another pass.
   */
  private volatile long waitReason = -1;

  // ---- dispatcher-owned ----
  /** Estimated demand before placement, milli-GPU-equivalents (all gang members). */
  long demandMilli;
  /** Pools (model × mode) the job could use; recomputed when pools change. */
  int[] compatPools = new int[0];

  int poolsVersion = -1;
  /** Usage while running, by pool and by model, milli. */
  long[] poolMilli = new long[0];

  long[] modelMilli = new long[0];
  long usedMilli;
  boolean accounted;
  boolean inLane;
  long stopDeadlineMillis;
  @Nullable Job stopFor;
  /** Victims this job waits for (non-empty only for preemptors). */
  final LinkedHashSet<Job> victims = new LinkedHashSet<>();

  /** A cancel whose bookkeeping waits for the stop that requeued the job just before it. */
  boolean cancelAfterStop;

  long lastPlanVersion = -1;
  /** Whether a model that per-model quotas kept from the job this pass had room for it. */
  boolean quotaKeptItFromRoom;
  /** Models the job may be placed on this pass (per-model quota limits), or null for any. */
  java.util.@Nullable Set<String> allowedModels;
  long noPreemptionBeforeMillis = Long.MIN_VALUE;
  long idleReclaimAtMillis = -1;
  long idleRunStart = Long.MIN_VALUE;
  long lastIdleCheckMillis;
  long endBoundMillis = Long.MAX_VALUE;

  Job(JobTransitions transitions, JobSpec spec, long seq, QueueState queue, long nowMillis) {
    this.transitions = transitions;
    this.spec = spec;
    this.seq = seq;
    this.queue = queue;
    this.shape = new Shape(spec.request(), spec.gangSize());
    this.submittedAt = Instant.ofEpochMilli(nowMillis);
    this.queuedAtMillis = nowMillis;
  }

  JobState rawState() {
    return state.get().s();
  }

  /** The current run number (0 before the first start). */
  int run() {
    return state.get().run();
  }

  /** PENDING → RUNNING as a new run; returns the run number, or -1 if the job was not pending. */
  int startRun() {
    St cur = state.get();
    if (cur.s() != JobState.PENDING) {
      return -1;
    }
    St next = new St(JobState.RUNNING, cur.run() + 1, null);
    return state.compareAndSet(cur, next) ? next.run() : -1;
  }

  /** CAS of the state within the current run, if {@code run} is it (or {@link #ANY_RUN}). */
  private boolean cas(St cur, JobState to, int run) {
    return cas(cur, to, run, cur.why());
  }

  private boolean cas(St cur, JobState to, int run, @Nullable StopReason why) {
    return (run == ANY_RUN || cur.run() == run) && state.compareAndSet(cur, new St(to, cur.run(), why));
  }

  /** A handle for one run, given to the launcher: its calls never touch a later run. */
  JobHandle view(int run) {
    return new RunView(this, run);
  }

  /** Completes the futures once a final state was reached (any thread). */
  void settle(JobState finalState, long nowMillis) {
    endedAtMillis = nowMillis;
    started.completeExceptionally(new IllegalStateException("job " + id() + " ended " + finalState + " without starting"));
    finished.complete(finalState);
  }

  void markStarted() {
    started.complete(this);
  }

  /**
   * The allocations of the latest start, whatever the state now (dispatcher bookkeeping; users see
   * {@link #allocations()}).
   */
  List<Allocation> heldAllocations() {
    return allocations;
  }

  /** Releases every allocation of the current run; idempotent. */
  void releaseAllocations() {
    for (Allocation a : allocations) {
      a.release();
    }
  }

  /** Time since the last checkpoint, or since the start when there is none, in milliseconds. */
  long lostWorkMillis(long nowMillis) {
    long from = Math.max(startedAtMillis, checkpointAtMillis);
    return from < 0 ? 0 : Math.max(0, nowMillis - from);
  }

  @Override
  public String id() {
    return spec.id();
  }

  @Override
  public JobSpec spec() {
    return spec;
  }

  @Override
  public JobState state() {
    return state.get().s();
  }

  @Override
  public List<Allocation> allocations() {
    return state.get().s().holdsGpus() ? allocations : List.of();
  }

  List<Allocation> allocations(int run) {
    St cur = state.get();
    return cur.s().holdsGpus() && (run == ANY_RUN || cur.run() == run) ? allocations : List.of();
  }

  /** Records why this job did not start in dispatch pass {@code pass} (dispatcher). */
  void waiting(PendingReason why, long pass) {
    waitReason = pass << 3 | why.ordinal();
  }

  @Override
  public Optional<PendingReason> pendingReason() {
    if (state.get().s() != JobState.PENDING) {
      return Optional.empty();
    }
    long w = waitReason;
    if (w < 0 || (w >>> 3) != transitions.passes()) {
      return Optional.of(PendingReason.QUEUED);
    }
    return Optional.of(REASONS[(int) (w & 7)]);
  }

  private static final PendingReason[] REASONS = PendingReason.values();

  @Override
  public int attempts() {
    return attempts;
  }

  @Override
  public Optional<String> checkpointRef() {
    return Optional.ofNullable(checkpointRef);
  }

  @Override
  public Instant submittedAt() {
    return submittedAt;
  }

  @Override
  public Optional<Instant> startedAt() {
    long t = startedAtMillis;
    return t < 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(t));
  }

  @Override
  public Optional<Instant> endedAt() {
    long t = endedAtMillis;
    return t < 0 || !state.get().s().isFinal()
        ? Optional.empty()
        : Optional.of(Instant.ofEpochMilli(t));
  }

  @Override
  public Optional<String> endReason() {
    return Optional.ofNullable(endReason);
  }

  @Override
  public double cost() {
    double c = accruedCost;
    long s = startedAtMillis;
    if (state.get().s().holdsGpus() && s >= 0) {
      c += costPerMs * Math.max(0, transitions.nowMillis() - s);
    }
    return c;
  }

  @Override
  public boolean idle() {
    return idle;
  }

  @Override
  public CompletableFuture<JobHandle> whenStarted() {
    return started.copy();
  }

  @Override
  public CompletableFuture<JobState> whenFinished() {
    return finished.copy();
  }

  @Override
  public boolean cancel() {
    return cancel(ANY_RUN);
  }

  boolean cancel(int run) {
    for (; ; ) {
      St cur = state.get();
      JobState s = cur.s();
      if (s.isFinal() || (run != ANY_RUN && (cur.run() != run || !s.holdsGpus()))) {
        return false;
      }
      if (cas(cur, JobState.CANCELLED, run)) {
        endReason = "cancelled";
        try {
          if (s.holdsGpus()) {
            // Tell the host before the GPUs are free: a pass on another thread may hand them to
            // the next job right after the release. (The call never throws; the finally is a
            // second guard that the GPUs and the books follow the CAS whatever happens.)
            transitions.stopBeforeRelease(this, StopReason.CANCELLED);
          }
        } finally {
          if (s.holdsGpus()) {
            releaseAllocations();
          }
          transitions.ended(this, s, JobState.CANCELLED, null);
        }
        return true;
      }
    }
  }

  @Override
  public boolean complete() {
    return end(JobState.COMPLETED, null);
  }

  @Override
  public boolean fail(String reason) {
    Objects.requireNonNull(reason, "reason");
    return end(JobState.FAILED, reason);
  }

  /** Ends a GPU-holding job in {@code to}; used by the host and by the scheduler's timers. */
  boolean end(JobState to, @Nullable String reason) {
    return end(to, reason, null, ANY_RUN);
  }

  boolean end(JobState to, @Nullable String reason, @Nullable StopReason why) {
    return end(to, reason, why, ANY_RUN);
  }

  boolean end(JobState to, @Nullable String reason, @Nullable StopReason why, int run) {
    for (; ; ) {
      St cur = state.get();
      JobState s = cur.s();
      if (!s.holdsGpus() || (run != ANY_RUN && cur.run() != run)) {
        return false;
      }
      if (cas(cur, to, run)) {
        endReason = reason;
        releaseAllocations();
        transitions.ended(this, s, to, why);
        return true;
      }
    }
  }

  @Override
  public boolean stopped() {
    return finishPreemption(ANY_RUN);
  }

  boolean finishPreemption() {
    return finishPreemption(ANY_RUN);
  }

  /**
   * PREEMPTING → PENDING (requeue) or PREEMPTED; releases; any thread. The reason is read from the
   * same state word the CAS replaces, so a drain that {@linkplain #escalate escalated} the stop is
   * either seen here or fails its own CAS and sees the stop finished.
   */
  boolean finishPreemption(int run) {
    StopReason why;
    boolean requeue;
    for (; ; ) {
      St cur = state.get();
      if (cur.s() != JobState.PREEMPTING || (run != ANY_RUN && cur.run() != run)) {
        return false;
      }
      why = Objects.requireNonNull(cur.why(), "a PREEMPTING job has a reason");
      requeue = why.alwaysRequeues() || spec.requeueOnPreemption();
      if (cas(cur, requeue ? JobState.PENDING : JobState.PREEMPTED, run)) {
        break;
      }
    }
    if (!requeue) {
      endReason = "preempted: " + why;
    }
    releaseAllocations();
    transitions.preempted(this, why, requeue);
    return true;
  }

  /** RUNNING → PREEMPTING; the dispatcher then calls the launcher. */
  boolean beginPreemption(StopReason why) {
    St cur = state.get();
    return cur.s() == JobState.RUNNING && cas(cur, JobState.PREEMPTING, ANY_RUN, why);
  }

  /**
   * Gives a stop in progress a new reason (a drain or node loss overtaking a preemption, so the job
   * is requeued); false if the job is no longer PREEMPTING.
   */
  boolean escalate(StopReason why) {
    for (; ; ) {
      St cur = state.get();
      if (cur.s() != JobState.PREEMPTING) {
        return false;
      }
      if (cur.why() == why || cas(cur, JobState.PREEMPTING, ANY_RUN, why)) {
        return true;
      }
    }
  }

  /**
   * RUNNING or PREEMPTING → PENDING/PREEMPTED at once (node lost, idle reclaim): no grace.
   *
   * @return the state it left, or {@code null} if it held no GPUs
   */
  @Nullable JobState stopNow(StopReason why, boolean requeue) {
    for (; ; ) {
      St cur = state.get();
      JobState s = cur.s();
      if (!s.holdsGpus()) {
        return null;
      }
      if (cas(cur, requeue ? JobState.PENDING : JobState.PREEMPTED, ANY_RUN, why)) {
        if (!requeue) {
          endReason = "preempted: " + why;
        }
        releaseAllocations();
        return s;
      }
    }
  }

  @Override
  public void heartbeat() {
    lastHeartbeatMillis = transitions.nowMillis();
  }

  @Override
  public void checkpoint(String ref) {
    checkpointRef = Objects.requireNonNull(ref, "ref");
    checkpointAtMillis = transitions.nowMillis();
  }

  @Override
  public String toString() {
    St cur = state.get();
    return "Job[" + id() + ", " + queue.spec.name() + ", " + cur.s() + ", run " + cur.run() + "]";
  }
}
