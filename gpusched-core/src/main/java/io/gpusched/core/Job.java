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
import org.jspecify.annotations.Nullable;

/**
 * A job as the scheduler tracks it: its spec, its place in the queues and the books, and the
 * handle users hold.
 *
 * <p>The job's state, run number, stop reason and allocations are in its {@link
 * JobTransitions.Word}, which only {@link JobTransitions} can change: every transition is a
 * compare-and-set there, so of two racing transitions exactly one wins. This class reads the word
 * and hands every call that changes it ({@link #cancel}, {@link #complete}, {@link #fail}, {@link
 * #stopped}) to the seam. Fields marked "dispatcher" are touched only by the thread currently
 * dispatching (serialized by the scheduler's work counter); the volatile ones are read by any
 * thread.
 */
final class Job implements JobHandle {

  final JobTransitions transitions;
  final JobSpec spec;
  final long seq;
  final QueueState queue;
  final Shape shape;
  final Instant submittedAt;

  /** Any run: the job-level handle's calls act on whatever run is current. */
  static final int ANY_RUN = -1;

  /** State, run, stop reason and allocations: changed by {@link JobTransitions} only. */
  final JobTransitions.Word word = new JobTransitions.Word();

  private final CompletableFuture<JobHandle> started = new CompletableFuture<>();
  private final CompletableFuture<JobState> finished = new CompletableFuture<>();

  volatile int attempts;
  volatile @Nullable String checkpointRef;
  volatile long checkpointAtMillis = -1;
  volatile long queuedAtMillis;
  volatile long startedAtMillis = -1;
  volatile long endedAtMillis = -1;
  volatile @Nullable String endReason;
  volatile double accruedCost;
  /**
   * The job's total cost as of its end, taken with {@link #endedAtMillis} by the thread whose
   * compare-and-set ended a GPU-holding run ({@link JobTransitions#end}), so that the record that
   * CAS journals is already the final one; {@code NaN} otherwise, or once the dispatcher's booking
   * came out different (then {@link #accruedCost} is the cost).
   */
  volatile double endCost = Double.NaN;
  volatile double costPerMs;
  volatile boolean idle;
  volatile long lastHeartbeatMillis;
  /** The scheduler's start counter at this job's latest start, 0 before (see {@code StoredJob}). */
  volatile long startOrder;
  /**
   * Why it waits: {@code pass << 3 | PendingReason.ordinal()} of the last dispatch pass that
   * considered it, in one word so a reader never pairs a reason with another pass. Written by the
   * dispatcher before the pass ends; a reader compares it with {@link DispatchPass#passes}
   * (volatile, bumped at the start of a pass), so while a pass runs a job it has not reached yet
   * reads QUEUED.
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
  /** When a PREEMPTING job's GPUs are released anyway (dispatcher; read by the journal too). */
  volatile long stopDeadlineMillis;

  /**
   * Durable mode: a stop that is being committed or is committed but not yet handed to the
   * launcher, else null. While the job holds no GPUs, or runs again in a later run, its record
   * carries it (as the stop reason and deadline), so a scheduler recovered from the store sends
   * that stop again; cleared, and written with the next batch, once the launcher was called.
   */
  volatile @Nullable UnsentStop unsentStop;

  /**
   * The launch gate of the latest run started in this scheduler (see {@link LaunchGate}): written
   * by the dispatcher before the compare-and-set that starts the run, so a thread that sees the run
   * sees its gate. {@code null} for a job never started here (or recovered from the store).
   */
  volatile @Nullable LaunchGate launchGate;

  /**
   * Durable mode: how many times this job was appended to the journal (incremented by {@link
   * Journal#job} after the change it records, any thread).
   */
  volatile long journalSeq;

  /**
   * Durable mode: the {@link #journalSeq} read before the snapshot of the latest successful commit
   * that wrote this job (committing thread only): an entry with a sequence number no higher was
   * written by it, and is not written again.
   */
  volatile long committedSeq;

  static final java.util.concurrent.atomic.AtomicLongFieldUpdater<Job> JOURNAL_SEQ =
      java.util.concurrent.atomic.AtomicLongFieldUpdater.newUpdater(Job.class, "journalSeq");

  /** A stop's reason, deadline and run (see {@link #unsentStop}). */
  record UnsentStop(StopReason why, long deadlineMillis, int run) {}
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
  /**
   * Whether the latest placement attempt asked only for places that strand no compute (the
   * scheduler's MIG stranding hold, {@link JobStarter}): its failure then says nothing about the
   * shape, and the job holds no reservation (dispatcher).
   */
  boolean strandingHeld;

  /** The last back-off after an unrealized preemption plan, 0 after a start (dispatcher). */
  long preemptionBackoffMillis;
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
    return word.state();
  }

  /** The current run number (0 before the first start). */
  int run() {
    return word.run();
  }

  /** A handle for one run, given to the launcher: its calls never touch a later run. */
  JobHandle view(int run) {
    return new RunView(this, run);
  }

  /**
   * Why a job's start future failed: it ended without starting. An {@link IllegalStateException}
   * with its message and no stack trace: the trace would be the dispatcher's, which tells whoever
   * waits on the future nothing (a {@code join()} adds its own), and filling it in cost more than
   * the rest of a pending job's cancel (a benchmark cancelling millions of waiting jobs spent its
   * dispatcher's time there).
   */
  static final class NeverStarted extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    NeverStarted(String message) {
      super(message);
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /** Completes the futures once a final state was reached (any thread). */
  void settle(JobState finalState, long nowMillis) {
    endedAtMillis = nowMillis;
    started.completeExceptionally(new NeverStarted("job " + id() + " ended " + finalState + " without starting"));
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
    return word.held();
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
    return word.state();
  }

  @Override
  public List<Allocation> allocations() {
    return word.allocations(ANY_RUN);
  }

  /** The allocations while the job holds GPUs in run {@code run} (or any run), else none. */
  List<Allocation> allocations(int run) {
    return word.allocations(run);
  }

  /** Records why this job did not start in dispatch pass {@code pass} (dispatcher). */
  @SuppressWarnings("EnumOrdinal") // packed with the pass into one word; decoded by values()
  void waiting(PendingReason why, long pass) {
    waitReason = pass << 3 | why.ordinal();
  }

  @Override
  public Optional<PendingReason> pendingReason() {
    if (word.state() != JobState.PENDING) {
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
    return t < 0 || !word.state().isFinal()
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
    if (word.state().holdsGpus() && startedAtMillis >= 0) {
      c += runCost(transitions.nowMillis());
    }
    return c;
  }

  /**
   * The cost of the current run if it ends at {@code nowMillis}: the one formula the ledger books
   * at the end ({@link Ledger#unaccount}) and {@link JobTransitions#end} records with its CAS, so
   * that the two agree to the bit and the end is written once.
   */
  double runCost(long nowMillis) {
    return costPerMs * Math.max(0, nowMillis - startedAtMillis);
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
    return transitions.cancel(this, ANY_RUN); // waits for its commit in durable mode
  }

  @Override
  public boolean complete() {
    return transitions.durable(transitions.end(this, JobState.COMPLETED, null, null, ANY_RUN));
  }

  @Override
  public boolean fail(String reason) {
    Objects.requireNonNull(reason, "reason");
    return transitions.durable(transitions.end(this, JobState.FAILED, reason, null, ANY_RUN));
  }

  @Override
  public boolean stopped() {
    return transitions.durable(transitions.finishPreemption(this, ANY_RUN));
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
  public long leaderEpoch() {
    return transitions.leaderEpoch;
  }

  @Override
  public String toString() {
    return "Job[" + id() + ", " + queue.spec.name() + ", " + word + "]";
  }
}
