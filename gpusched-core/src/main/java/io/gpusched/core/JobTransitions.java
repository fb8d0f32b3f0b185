package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobState;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one seam through which a job's state and allocations change: submit, start, stop
 * requested, preempted, requeued, completed, failed, cancelled, lease expired, node lost, idle
 * reclaimed. Each method applies the change, books it in the {@link Ledger} (and the {@link
 * PendingLanes} and {@link JobBook}), tells the host through the {@link JobLauncher} and emits the
 * {@link SchedulerEvent}.
 *
 * <h2>The state word</h2>
 *
 * A job's state, its run number, the reason of a stop in progress and its allocations live in its
 * {@link Word}, whose fields and mutators are private to this class: nothing else can change a
 * job's state. The state, run and reason are one immutable record in an {@link AtomicReference},
 * replaced whole by one compare-and-set ({@link #commit}), so of two racing transitions exactly
 * one wins and a stop can never finish with a reason older than its state. The allocations are
 * written only by {@link #start}, before the CAS that makes the job RUNNING (a reader that sees the
 * state sees them).
 *
 * <h2>Threads</h2>
 *
 * The host's reports ({@link #cancel}, {@link #end}, {@link #finishPreemption}), node loss ({@link
 * #nodeLost}) and a drain's {@link #escalate} run on the caller's thread: the CAS, the release of
 * the GPUs, then a command that books the change ({@link #onEnded}, {@link #onPreempted}).
 * Everything else runs on the dispatcher. Events come in the order of those commands.
 *
 * <h2>Memory ordering and linearization points</h2>
 *
 * <ul>
 *   <li><b>A transition</b> takes effect at its successful {@link #commit}, a compare-and-set on
 *       the word's {@link AtomicReference} (volatile semantics: a release of what the winner wrote
 *       before, an acquire of what the previous winner wrote). Reads of the state ({@link
 *       Word#state}, {@link Word#run}) are volatile reads of the same reference.
 *   <li><b>A start</b> writes the allocations (a volatile field) and the start time before its
 *       CAS: a thread that reads RUNNING then reads the allocations sees this start's. A failed
 *       CAS (cancelled meanwhile) clears them again and gives the GPUs back.
 *   <li><b>A release</b> follows the winning CAS on the winning thread only; engine releases are
 *       idempotent, so a later release by the dispatcher (a failed start) is harmless. The host
 *       hears {@code stop(CANCELLED)} before the release, so before another job can get the GPUs.
 *   <li><b>Launcher calls of one run</b> are ordered by that run's {@link LaunchGate}, created
 *       before the CAS that starts the run: a stop path consults it after its own CAS, so a stop
 *       reaches the host after that run's {@code start} returned (made by the starting thread if
 *       {@code start} is still running, a cancel's release with it), or the start is never made.
 *   <li><b>The booking</b> of a transition made on another thread is a command: enqueued after
 *       the CAS and the release, so it happens-after both ({@link CommandLoop}). The ledger thus
 *       never books out a job whose state it cannot see.
 *   <li><b>A node lost during a start</b>: {@code nodeDown} marks the allocation lost in the engine
 *       and then reads {@link Ledger#owners}; {@link #start} writes the owner (a concurrent map:
 *       release/acquire) and then reads {@code Allocation.isActive()}. One of the two sees the
 *       other, and {@link #stopNow}'s CAS lets exactly one of them requeue the job.
 *   <li><b>Fields written after the CAS</b> ({@code endReason}, {@code attempts}) are volatile
 *       and may be seen a moment after the new state; nothing decides on them.
 * </ul>
 *
 * <h2>The journal (durable mode)</h2>
 *
 * Every state change is one successful {@link #commit}; every change of allocations is in {@link
 * #start} (set, or cleared when the CAS fails) and in the releases that follow a winning CAS. With
 * a store ({@link #attachJournal}), the winning thread appends the job to the {@link Journal} right
 * after its CAS and before any release, and the bookings append it again (times they set); the
 * journal writes each job's record as of its commit. Launcher calls follow the commit of their
 * change: on the dispatcher they are {@linkplain Journal#later deferred} to the end of the
 * dispatch iteration (one group commit for a whole pass); a cancel waits for its commit on the
 * caller's thread before it tells the host, and the host's reports ({@link #durable}) wait before
 * they return. Without a store the journal is {@code null} and none of this runs.
 */
final class JobTransitions {

  private static final Logger log = LoggerFactory.getLogger(JobTransitions.class);

  /** Claims a run's launch gate without a call to make: an undelivered start is then never made. */
  private static final LaunchGate.StopAction NO_STOP = started -> {};

  private final InstantSource clock;
  private final CommandLoop loop;
  private final Ledger ledger;
  private final PendingLanes lanes;
  private final JobBook book;
  private final EventBus events;
  private final JobLauncher launcher;
  private final LongSupplier passes;
  /** The leadership epoch of a replica's scheduler, 0 otherwise ({@link Job#leaderEpoch()}). */
  final long leaderEpoch;
  /** Starts so far: each queue's last start orders fair-share ties round-robin (dispatcher). */
  private long starts;

  /** The journal in durable mode, else null (set once, before the scheduler is published). */
  private @Nullable Journal journal;

  JobTransitions(
      InstantSource clock,
      CommandLoop loop,
      Ledger ledger,
      PendingLanes lanes,
      JobBook book,
      EventBus events,
      JobLauncher launcher,
      LongSupplier passes,
      long leaderEpoch) {
    this.clock = clock;
    this.leaderEpoch = leaderEpoch;
    this.loop = loop;
    this.ledger = ledger;
    this.lanes = lanes;
    this.book = book;
    this.events = events;
    this.launcher = launcher;
    this.passes = passes;
  }

  /**
   * A job's state word: state, run and stop reason in one CAS-replaced record, and the allocations
   * of its latest start. Its fields and mutators are private: only {@link JobTransitions} changes
   * them; anyone in the package reads.
   */
  static final class Word {
    /**
     * A state, the run (attempt) it belongs to and, for a stop, why; replaced whole, so one CAS
     * covers all three.
     */
    private record St(JobState s, int run, @Nullable StopReason why) {}

    private final AtomicReference<St> state = new AtomicReference<>(new St(JobState.PENDING, 0, null));
    private volatile List<Allocation> allocations = List.of();

    /** The current state: never null, the reference is only ever set to a new {@code St}. */
    St st() {
      return Objects.requireNonNull(state.get());
    }

    JobState state() {
      return st().s();
    }

    /** The current run number (0 before the first start). */
    int run() {
      return st().run();
    }

    /** The allocations while the job holds GPUs in run {@code run} (or any run), else none. */
    List<Allocation> allocations(int run) {
      St cur = st();
      return cur.s().holdsGpus() && (run == Job.ANY_RUN || cur.run() == run) ? allocations : List.of();
    }

    /** The allocations of the latest start, whatever the state now. */
    List<Allocation> held() {
      return allocations;
    }

    @Override
    public String toString() {
      St cur = st();
      return cur.s() + ", run " + cur.run();
    }
  }

  /**
   * The only write of a job's state: {@code cur} → {@code next} by CAS. The linearization point of
   * every transition, and where a journal records it (see the class comment).
   */
  private static boolean commit(Word w, Word.St cur, Word.St next) {
    return w.state.compareAndSet(cur, next);
  }

  /** CAS of the state within the current run, if {@code run} is it (or {@link Job#ANY_RUN}). */
  private static boolean cas(Word w, Word.St cur, JobState to, int run) {
    return cas(w, cur, to, run, cur.why());
  }

  private static boolean cas(Word w, Word.St cur, JobState to, int run, @Nullable StopReason why) {
    return (run == Job.ANY_RUN || cur.run() == run) && commit(w, cur, new Word.St(to, cur.run(), why));
  }

  /** Releases every allocation of the job's latest start; idempotent. */
  private static void release(Job j) {
    for (Allocation a : j.word.allocations) {
      a.release();
    }
  }

  /** PENDING → RUNNING as a new run; returns the run number, or -1 if the job was not pending. */
  private static int startRun(Job j) {
    Word w = j.word;
    Word.St cur = w.st();
    if (cur.s() != JobState.PENDING) {
      return -1;
    }
    Word.St next = new Word.St(JobState.RUNNING, cur.run() + 1, null);
    j.launchGate = new LaunchGate(next.run()); // before the CAS: whoever sees the run sees its gate
    return commit(w, cur, next) ? next.run() : -1;
  }

  long nowMillis() {
    return clock.millis();
  }

  /** Durable mode: journal every transition from now on (constructor thread, before use). */
  void attachJournal(Journal j) {
    this.journal = j;
  }

  /** The start counter (dispatcher). */
  long starts() {
    return starts;
  }

  /** Appends the job to the journal in durable mode (after a CAS, before a release). */
  private void journal(Job j) {
    Journal jn = journal;
    if (jn != null) {
      jn.job(j);
    }
  }

  /**
   * A host report's result, after waiting in durable mode until its change is committed (a report
   * that changed nothing returns at once).
   *
   * @throws io.gpusched.store.StoreException if the commit failed: the change was made in memory
   *     and is written by the next commit that succeeds
   */
  boolean durable(boolean changed) {
    Journal jn = journal;
    if (changed && jn != null) {
      jn.flush();
    }
    return changed;
  }

  /**
   * The job's record as of now, for the journal's batch; {@code null} if a newer job owns its id
   * (its record is the one to keep). Any thread.
   */
  @SuppressWarnings("ReferenceEquality") // the same St object read twice, not an equal one
  io.gpusched.store.@Nullable StoreChange stored(Job j) {
    Job owner = book.get(j.id());
    if (owner != null && owner != j) {
      return null;
    }
    Word w = j.word;
    Word.St cur;
    List<Allocation> allocs;
    do {
      cur = w.st();
      allocs = w.allocations;
    } while (w.st() != cur); // the allocations of the run this state belongs to
    var stored = new ArrayList<io.gpusched.store.StoredAllocation>();
    if (cur.s().holdsGpus()) {
      for (Allocation a : allocs) {
        stored.add(
            new io.gpusched.store.StoredAllocation(
                a.gpus(), j.spec.request().cpuMillis(), j.spec.request().memoryMiB()));
      }
    }
    // a stop not yet handed to the launcher goes in the record of a job that holds no GPUs (a
    // PREEMPTING job's record has its stop anyway); a final job's end time and cost are taken at
    // its CAS where end() ended it, else set on the dispatcher, possibly after this batch: until
    // then the commit's time stands for it
    Job.UnsentStop unsent = j.unsentStop;
    if (unsent != null
        && (cur.s() == JobState.PREEMPTING || (cur.s().holdsGpus() && unsent.run() >= cur.run()))) {
      unsent = null; // a stop of this very run that still holds GPUs: PREEMPTING records its own
    }
    long ended = j.endedAtMillis;
    double endCost = j.endCost;
    double cost = cur.s().isFinal() && !Double.isNaN(endCost) ? endCost : j.accruedCost;
    return new io.gpusched.store.StoreChange.PutJob(
        new io.gpusched.store.StoredJob(
            j.spec, j.seq, cur.s(), cur.run(), unsent != null ? unsent.why() : cur.why(), j.endReason,
            j.submittedAt.toEpochMilli(), j.queuedAtMillis, j.startedAtMillis,
            cur.s().isFinal() ? (ended >= 0 ? ended : nowMillis()) : -1,
            cur.s() == JobState.PREEMPTING
                ? j.stopDeadlineMillis
                : unsent != null ? unsent.deadlineMillis() : -1,
            j.startOrder, cost,
            j.checkpointRef, stored));
  }

  /** The latest dispatch pass's number (for {@link Job#pendingReason}). */
  long passes() {
    return passes.getAsLong();
  }

  private static Instant at(long millis) {
    return Instant.ofEpochMilli(millis);
  }

  // ---- recovery (constructor thread, before the scheduler is published) ----

  /** Recovery: the job's state word as stored (a job that holds no GPUs). */
  void restoreState(Job j, JobState state, int run, @Nullable StopReason why) {
    j.word.state.set(new Word.St(state, run, why));
  }

  /** Recovery: the start counter continues from the stored one. */
  void restoreStarts(long n) {
    starts = Math.max(starts, n);
  }

  /**
   * Recovery: a job that held GPUs holds {@code allocs} (restored exactly) again, in {@code state}
   * (RUNNING or PREEMPTING with its deadline), booked as started at {@code startedAt}.
   */
  void restoreRunning(
      Job j,
      List<Allocation> allocs,
      Ledger.Accounting acct,
      JobState state,
      int run,
      @Nullable StopReason why,
      long startedAt,
      long stopDeadline) {
    Word w = j.word;
    w.allocations = List.copyOf(allocs);
    w.state.set(new Word.St(state, run, why));
    j.startedAtMillis = startedAt;
    j.attempts = run;
    ledger.account(j, allocs, acct, startedAt);
    if (state == JobState.PREEMPTING) {
      j.stopDeadlineMillis = stopDeadline;
      ledger.preempting.add(j);
    }
  }

  /**
   * Recovery: the launcher says the job is gone. A PREEMPTING job finishes its stop as its reason
   * says; a RUNNING one is requeued as for a lost node if its spec requeues on preemption, else
   * FAILED. Its GPUs are released at once; the bookings are offered to the command loop (the
   * caller runs it). The host is not told to stop: it says the job is not running.
   */
  void recoveredGone(Job j) {
    Word w = j.word;
    Word.St cur = w.st();
    if (!cur.s().holdsGpus()) {
      return;
    }
    boolean preempting = cur.s() == JobState.PREEMPTING;
    StopReason why = preempting ? Objects.requireNonNull(cur.why()) : StopReason.NODE_LOST;
    boolean requeue = (preempting && why.alwaysRequeues()) || j.spec.requeueOnPreemption();
    JobState to = requeue ? JobState.PENDING : preempting ? JobState.PREEMPTED : JobState.FAILED;
    if (!commit(w, cur, new Word.St(to, cur.run(), why))) {
      return;
    }
    if (!requeue) {
      j.endReason = preempting ? "preempted: " + why : "gone at recovery";
    }
    journal(j);
    release(j);
    JobState from = cur.s();
    if (to == JobState.FAILED) {
      loop.offer(() -> onEnded(j, from, JobState.FAILED, null));
    } else {
      loop.offer(() -> onPreempted(j, why, requeue));
    }
  }

  // ---- submit ----

  /** A new job, already the live job of its id: reported and queued by a command (any thread). */
  void submitted(Job j, long now) {
    loop.command(
        () -> {
          events.publish(
              new SchedulerEvent.JobSubmitted(at(now), j.id(), j.spec.queue(), j.spec.priority()));
          lanes.enqueuePending(j);
        });
  }

  // ---- start ----

  /**
   * PENDING → RUNNING on {@code allocs}, placed and prepared by {@link JobStarter}: books the job,
   * reports the start and calls the launcher (dispatcher). Returns false, with the allocations
   * released, if the job was no longer pending (cancelled while it was being placed).
   */
  boolean start(Job j, List<Allocation> allocs, Ledger.Accounting acct, long now) {
    Word w = j.word;
    w.allocations = allocs;
    long prevStart = j.startedAtMillis;
    j.startedAtMillis = now;
    int run = startRun(j);
    if (run < 0) {
      for (Allocation a : allocs) {
        a.release();
      }
      w.allocations = List.of();
      j.startedAtMillis = prevStart;
      return false;
    }
    lanes.started(j);
    j.attempts = run;
    j.queue.lastStart = ++starts;
    j.startOrder = starts;
    j.lastHeartbeatMillis = now;
    j.idle = false;
    j.idleReclaimAtMillis = -1;
    j.idleRunStart = Long.MIN_VALUE;
    ledger.account(j, allocs, acct, now);
    // appended after the fields its record carries (start order), so that a batch built at once by
    // another thread writes them: a change is always appended after it is made
    Journal jn = journal;
    Journal.Entry entry = jn == null ? null : jn.job(j);
    var gpus = new ArrayList<AllocatedGpu>();
    allocs.forEach(a -> gpus.addAll(a.gpus()));
    events.publish(
        new SchedulerEvent.JobStarted(
            at(now), j.id(), j.queue.spec.name(), j.attempts, gpus,
            Duration.ofMillis(Math.max(0, now - j.queuedAtMillis))));
    events.run(j::markStarted);
    if (jn == null || entry == null) {
      launch(j, run);
    } else { // write-ahead: the host hears of the start once it is committed
      jn.later(
          entry,
          () -> {
            if (j.run() == run && j.rawState().holdsGpus()) {
              launch(j, run);
            }
          });
    }
    // A nodeDown between the engine's place and account() above found no owner for the lost
    // allocation and left the job to us. It marks the allocation lost before it reads the owners,
    // and account() wrote the owner before this check reads the allocation: one of the two sees
    // the other, and stopNow lets only one of them requeue the job.
    for (Allocation a : allocs) {
      if (!a.isActive()) {
        if (nodeLost(j)) {
          nodeLostBooked(j, now);
        }
        break;
      }
    }
    return true;
  }

  /**
   * Tells the host to start run {@code run}, unless a stop of that run came first (its {@link
   * LaunchGate}); stops that arrive while {@code start} runs are delivered, on this thread, when it
   * returns. A launcher that throws fails the job (dispatcher).
   */
  private void launch(Job j, int run) {
    LaunchGate g = j.launchGate;
    if (g != null && g.run != run) {
      g = null; // cannot happen (a run's start is launched before the next run exists): no gate
    }
    if (g != null && !g.begin()) {
      return; // the run ended before its start was delivered: the host never hears of it
    }
    try {
      launcher.start(j.view(run));
    } catch (Throwable e) { // an Error, or a checked exception thrown sneakily, too
      log.warn("gpusched launcher failed to start {}", j, e);
      end(j, JobState.FAILED, "launcher failed: " + e, null, run);
      loop.absorb(e);
    } finally {
      if (g != null) {
        g.open();
      }
    }
  }

  // ---- stops the scheduler requests ----

  /**
   * RUNNING → PREEMPTING with a deadline {@code graceMillis} from now, for {@code forJob} (a
   * preemptor) or for nobody (a drain); tells the host (dispatcher).
   *
   * @return false if the job was not RUNNING
   */
  boolean requestStop(Job v, StopReason why, long graceMillis, @Nullable Job forJob, long now) {
    Word.St cur = v.word.st(); // RUNNING → PREEMPTING; the launcher is called below
    if (cur.s() != JobState.RUNNING || !cas(v.word, cur, JobState.PREEMPTING, Job.ANY_RUN, why)) {
      return false;
    }
    v.stopDeadlineMillis = now + graceMillis;
    journal(v);
    v.stopFor = forJob;
    ledger.preempting.add(v);
    events.publish(
        new SchedulerEvent.PreemptionRequested(
            at(now), v.id(), v.queue.spec.name(), why, at(v.stopDeadlineMillis),
            forJob == null ? null : forJob.id()));
    safeStop(v, why, v.stopDeadlineMillis);
    if (graceMillis == 0) {
      // Released after this pass, so that the next pass offers the capacity to the preemptor
      // before anyone else (a release inside the pass would let later jobs take it).
      loop.offer(() -> finishPreemption(v, Job.ANY_RUN));
    }
    return true;
  }

  /**
   * Gives a stop in progress a new reason (a drain or node loss overtaking a preemption, so the job
   * is requeued), in the caller's program order (any thread); false if the job is no longer
   * PREEMPTING.
   */
  boolean escalate(Job j, StopReason why) {
    Word w = j.word;
    for (; ; ) {
      Word.St cur = w.st();
      if (cur.s() != JobState.PREEMPTING) {
        return false;
      }
      if (cur.why() == why) {
        return true;
      }
      if (cas(w, cur, JobState.PREEMPTING, Job.ANY_RUN, why)) {
        journal(j);
        return true;
      }
    }
  }

  /**
   * Its node is lost: RUNNING or PREEMPTING → PENDING at once, GPUs released (any thread; the
   * caller then has {@link #nodeLostBooked} run on the dispatcher).
   *
   * @return false if the job held no GPUs
   */
  boolean nodeLost(Job j) {
    return stopNow(j, StopReason.NODE_LOST, true) != null;
  }

  /** Books and reports a job its node's loss requeued ({@link #nodeLost}; dispatcher). */
  void nodeLostBooked(Job j, long now) {
    safeStop(j, StopReason.NODE_LOST, now);
    onPreempted(j, StopReason.NODE_LOST, true);
  }

  /** Idle reclaim: RUNNING → PREEMPTED at once, booked and reported (dispatcher). */
  void idleReclaim(Job j, long now) {
    if (stopNow(j, StopReason.IDLE_RECLAIM, false) != null) {
      safeStop(j, StopReason.IDLE_RECLAIM, now);
      events.publish(new SchedulerEvent.IdleReclaimed(at(now), j.id(), j.queue.spec.name()));
      onPreempted(j, StopReason.IDLE_RECLAIM, false);
    }
  }

  /** The lease ran out (no heartbeat since {@code lastHeartbeat}): FAILED (dispatcher). */
  void leaseExpired(Job j, long lastHeartbeat, long now) {
    if (end(j, JobState.FAILED, "lease expired", StopReason.LEASE_EXPIRED, Job.ANY_RUN)) {
      events.publish(
          new SchedulerEvent.LeaseExpired(at(now), j.id(), j.queue.spec.name(), at(lastHeartbeat)));
    }
  }

  /**
   * RUNNING or PREEMPTING → PENDING/PREEMPTED at once (node lost, idle reclaim): no grace; the
   * GPUs are released here, the booking is the caller's (any thread).
   *
   * @return the state it left, or {@code null} if it held no GPUs
   */
  private @Nullable JobState stopNow(Job j, StopReason why, boolean requeue) {
    Word w = j.word;
    for (; ; ) {
      Word.St cur = w.st();
      JobState s = cur.s();
      if (!s.holdsGpus()) {
        return null;
      }
      if (cas(w, cur, requeue ? JobState.PENDING : JobState.PREEMPTED, Job.ANY_RUN, why)) {
        if (!requeue) {
          j.endReason = "preempted: " + why;
        }
        journal(j);
        LaunchGate.afterStart(j, cur.run(), NO_STOP); // an undelivered start never is (node lost)
        release(j);
        return s;
      }
    }
  }

  /** Time limit reached: RUNNING → FAILED (dispatcher). */
  void timeLimit(Job j, Duration limit) {
    end(j, JobState.FAILED, "time limit " + limit + " reached", StopReason.TIME_LIMIT, Job.ANY_RUN);
  }

  // ---- the host's reports (any thread): CAS, release, then a command books it ----

  /**
   * → CANCELLED from PENDING or, in run {@code run} (or any run), from a GPU-holding state (then
   * the host is told to stop before the GPUs are released).
   */
  boolean cancel(Job j, int run) {
    Word w = j.word;
    for (; ; ) {
      Word.St cur = w.st();
      JobState s = cur.s();
      if (s.isFinal() || (run != Job.ANY_RUN && (cur.run() != run || !s.holdsGpus()))) {
        return false;
      }
      if (cas(w, cur, JobState.CANCELLED, run)) {
        j.endReason = "cancelled";
        io.gpusched.store.StoreException failed = null;
        Journal jn = journal;
        long deadline = nowMillis();
        int stopped = cur.run();
        boolean held = s.holdsGpus();
        Job.UnsentStop unsent = new Job.UnsentStop(StopReason.CANCELLED, deadline, stopped);
        if (jn != null) { // write-ahead: the cancel is committed before the host hears of it
          if (held) {
            j.unsentStop = unsent; // re-sent after a crash until the host was told
          }
          Journal.Entry e = jn.job(j);
          try {
            jn.await(e);
          } catch (io.gpusched.store.StoreException ex) {
            failed = ex;
            if (held) { // the host hears of it after the commit that writes it
              JobHandle view = j.view(stopped);
              jn.later(
                  e,
                  () ->
                      LaunchGate.afterStart(
                          j,
                          stopped,
                          started -> {
                            if (started) {
                              deliverStop(view, j, StopReason.CANCELLED, deadline, unsent, 1);
                            } else {
                              stopSent(j, unsent);
                            }
                          }));
            }
          }
        }
        if (held) {
          boolean tell = failed == null;
          // Tell the host before the GPUs are free: a pass on another thread may hand them to the
          // next job right after the release. If the host's start of this run is still in
          // progress, all of it happens when that start returns, on its thread (LaunchGate); if it
          // was not delivered yet, it never is, and the host is not told to stop what it never
          // started. (stopHost never throws; the finally is a second guard that the GPUs and the
          // books follow the CAS whatever happens.)
          LaunchGate.afterStart(
              j,
              stopped,
              started -> {
                try {
                  if (tell) {
                    if (started) {
                      deliverStop(j.view(stopped), j, StopReason.CANCELLED, deadline, unsent, 1);
                    } else {
                      stopSent(j, unsent);
                    }
                  }
                } finally {
                  release(j);
                  ended(j, s, JobState.CANCELLED, null);
                }
              });
        } else {
          ended(j, s, JobState.CANCELLED, null);
        }
        if (failed != null) {
          throw new io.gpusched.store.StoreException(
              "job " + j.id() + " is cancelled, but the store failed to commit it (it is written by the"
                  + " next commit that succeeds, and the host is told then): " + failed.getMessage(),
              failed);
        }
        return true;
      }
    }
  }

  /**
   * Ends a GPU-holding job in {@code to} (COMPLETED or FAILED) in run {@code run} (or any run);
   * used by the host and by the scheduler's timers ({@code why}: the stop the host is told of).
   */
  boolean end(Job j, JobState to, @Nullable String reason, @Nullable StopReason why, int run) {
    Word w = j.word;
    for (; ; ) {
      Word.St cur = w.st();
      JobState s = cur.s();
      if (!s.holdsGpus() || (run != Job.ANY_RUN && cur.run() != run)) {
        return false;
      }
      if (cas(w, cur, to, run)) {
        j.endReason = reason;
        // the end time and the cost the dispatcher's booking will arrive at (the same sum, from
        // the same time), so that this one record is the job's final one (see onEnded)
        long now = nowMillis();
        j.endCost = j.accruedCost + j.runCost(now);
        j.endedAtMillis = now;
        journal(j);
        // a start of this run not delivered yet never is (the host, or the user, ended it first)
        LaunchGate.afterStart(j, cur.run(), NO_STOP);
        release(j);
        ended(j, s, to, why);
        return true;
      }
    }
  }

  /**
   * PREEMPTING → PENDING (requeue) or PREEMPTED; releases; any thread. The reason is read from the
   * same state word the CAS replaces, so a drain that {@linkplain #escalate escalated} the stop is
   * either seen here or fails its own CAS and sees the stop finished.
   */
  boolean finishPreemption(Job j, int run) {
    Word w = j.word;
    StopReason why;
    boolean requeue;
    for (; ; ) {
      Word.St cur = w.st();
      if (cur.s() != JobState.PREEMPTING || (run != Job.ANY_RUN && cur.run() != run)) {
        return false;
      }
      why = Objects.requireNonNull(cur.why(), "a PREEMPTING job has a reason");
      requeue = why.alwaysRequeues() || j.spec.requeueOnPreemption();
      if (cas(w, cur, requeue ? JobState.PENDING : JobState.PREEMPTED, run)) {
        break;
      }
    }
    if (!requeue) {
      j.endReason = "preempted: " + why;
    }
    journal(j);
    release(j);
    StopReason reason = why;
    boolean requeued = requeue;
    loop.command(() -> onPreempted(j, reason, requeued));
    return true;
  }

  // ---- booking on the dispatcher ----

  /** After a CAS out of PENDING or a GPU-holding state to a final state: book it by a command. */
  private void ended(Job j, JobState from, JobState to, @Nullable StopReason why) {
    loop.command(() -> onEnded(j, from, to, why));
  }

  private void onEnded(Job j, JobState from, JobState to, @Nullable StopReason why) {
    boolean stamped = !Double.isNaN(j.endCost);
    long now = stamped ? j.endedAtMillis : nowMillis();
    String qn = j.queue.spec.name();
    if (from == JobState.PENDING) {
      lanes.leavePending(j);
      if (j.accounted) {
        // Cancelled after a stop requeued it and before the stop's own command ran (the stopping
        // thread was between its CAS and that command): the stop's command books and reports the
        // preemption, then this cancel, so the events keep the order things happened in.
        j.cancelAfterStop = true;
        return;
      }
    } else {
      long runTime = Math.max(0, now - j.startedAtMillis);
      ledger.unaccount(j, now);
      if (why != null) {
        safeStop(j, why, now);
      }
      if (to == JobState.COMPLETED) {
        events.publish(
            new SchedulerEvent.JobCompleted(at(now), j.id(), qn, Duration.ofMillis(runTime), j.accruedCost));
      }
    }
    if (to == JobState.FAILED) {
      events.publish(
          new SchedulerEvent.JobFailed(at(now), j.id(), qn, String.valueOf(j.endReason)));
    } else if (to == JobState.CANCELLED) {
      events.publish(new SchedulerEvent.JobCancelled(at(now), j.id(), qn, from));
    }
    book.retire(j, to, now);
    // Its end time and cost, unless end() wrote both with its CAS and the booking agrees (the
    // usual case: one record per end instead of two). A stop to tell the host is written too.
    if (!stamped || why != null || Double.compare(j.accruedCost, j.endCost) != 0) {
      j.endCost = Double.NaN;
      journal(j);
    }
  }

  private void onPreempted(Job j, @Nullable StopReason why, boolean requeued) {
    long now = nowMillis();
    long lost = j.lostWorkMillis(now);
    ledger.unaccount(j, now);
    String qn = j.queue.spec.name();
    StopReason reason = why == null ? StopReason.PRIORITY : why;
    // A cancel may have overtaken the requeue (PENDING -> CANCELLED before this command ran): then
    // the job is not back in its queue, and the cancel is reported and the job retired after this
    // preemption, by the cancel's command or (if that one ran first) below.
    boolean back = requeued && j.rawState() == JobState.PENDING;
    events.publish(
        new SchedulerEvent.JobPreempted(at(now), j.id(), qn, reason, Duration.ofMillis(lost), back));
    if (back) {
      j.queuedAtMillis = now;
      events.publish(new SchedulerEvent.JobRequeued(at(now), j.id(), qn, j.attempts, j.checkpointRef));
      lanes.enqueuePending(j);
    } else if (!requeued) {
      book.retire(j, JobState.PREEMPTED, now);
    } else if (j.cancelAfterStop) { // the cancel's command came first and left the rest to this one
      j.cancelAfterStop = false;
      events.publish(new SchedulerEvent.JobCancelled(at(now), j.id(), qn, JobState.PENDING));
      book.retire(j, JobState.CANCELLED, now);
    }
    journal(j); // its queue or end time
  }

  /**
   * Tells the host to stop the job's current run by {@code deadlineMillis}; never throws
   * (dispatcher). In durable mode the call follows the commit of the job's record as of now. It
   * follows the return of the host's {@code start} of that run, and is not made at all if that start
   * was never delivered ({@link LaunchGate}).
   */
  void safeStop(Job j, StopReason why, long deadlineMillis) {
    int run = j.run();
    JobHandle view = j.view(run);
    Journal jn = journal;
    if (jn == null) {
      LaunchGate.afterStart( // after the host's start of this run returned, or not at all
          j,
          run,
          started -> {
            if (started) {
              deliverStop(view, j, why, deadlineMillis, null, 1);
            }
          });
    } else {
      Job.UnsentStop unsent = new Job.UnsentStop(why, deadlineMillis, run);
      j.unsentStop = unsent; // re-sent after a crash until the host was told
      jn.later(
          jn.job(j),
          () ->
              LaunchGate.afterStart(
                  j,
                  run,
                  started -> {
                    if (started) {
                      deliverStop(view, j, why, deadlineMillis, unsent, 1);
                    } else {
                      stopSent(j, unsent);
                    }
                  }));
    }
  }

  /** How many times a {@code stop} that throws is made in all before the scheduler gives up. */
  static final int STOP_ATTEMPTS = 10;

  /** The wait before the first retry of a {@code stop} that threw; doubled for each next one. */
  static final long STOP_RETRY_FIRST_MILLIS = 100;

  /** The longest wait between two retries of a {@code stop}. */
  static final long STOP_RETRY_MAX_MILLIS = 30_000;

  /** A {@code stop} that threw, made again by a later tick (see {@link #retryStops}). */
  private record StopRetry(
      Job job, JobHandle view, StopReason why, long deadlineMillis, Job.@Nullable UnsentStop unsent, int attempt,
      long dueMillis) {}

  /** Stops to make again; added by any thread, taken by the dispatcher's ticks. */
  private final java.util.concurrent.ConcurrentLinkedQueue<StopRetry> stopRetries =
      new java.util.concurrent.ConcurrentLinkedQueue<>();

  /**
   * Makes attempt {@code attempt} of telling the host to stop {@code view}'s run. If the launcher
   * returns, the durable record's "stop not yet told" mark ({@code unsent}, if any) is cleared. If
   * it throws, the mark stays (a restart sends the stop again) and the stop is made again by a
   * later tick, after {@link #STOP_RETRY_FIRST_MILLIS} doubled per attempt up to {@link
   * #STOP_RETRY_MAX_MILLIS}, {@link #STOP_ATTEMPTS} times in all; then the scheduler logs an error
   * and gives up. Never throws.
   */
  private void deliverStop(
      JobHandle view, Job j, StopReason why, long deadlineMillis, Job.@Nullable UnsentStop unsent, int attempt) {
    if (stopHost(view, j, why, deadlineMillis)) {
      if (unsent != null) {
        stopSent(j, unsent);
      }
      return;
    }
    if (attempt >= STOP_ATTEMPTS) {
      log.error(
          "gpusched: the launcher threw on each of {} stops of {} run {} ({}); giving up (a durable"
              + " scheduler sends it again after a restart)",
          attempt, j, view.attempts(), why);
      return;
    }
    long delay = Math.min(STOP_RETRY_MAX_MILLIS, STOP_RETRY_FIRST_MILLIS << Math.min(attempt - 1, 20));
    stopRetries.add(new StopRetry(j, view, why, deadlineMillis, unsent, attempt + 1, nowMillis() + delay));
  }

  /** Makes again the stops that threw and are due at {@code now} (dispatcher, each tick). */
  void retryStops(long now) {
    for (int n = stopRetries.size(); n > 0; n--) {
      StopRetry r = stopRetries.poll();
      if (r == null) {
        return;
      }
      if (r.dueMillis() > now) {
        stopRetries.add(r);
      } else {
        deliverStop(r.view(), r.job(), r.why(), r.deadlineMillis(), r.unsent(), r.attempt());
      }
    }
  }

  /** Stops waiting to be made again (for tests). */
  int stopRetries() {
    return stopRetries.size();
  }

  /**
   * Durable mode: the launcher was called with {@code stop}; the job's record no longer asks for
   * it (written with the next batch, nobody waits). Any thread.
   */
  @SuppressWarnings("ReferenceEquality") // this very stop, not an equal later one
  void stopSent(Job j, Job.UnsentStop stop) {
    Journal jn = journal;
    if (jn != null && j.unsentStop == stop) {
      j.unsentStop = null;
      jn.job(j);
    }
  }

  /**
   * Recovery: sends again a stop the store recorded as committed and perhaps not handed to the
   * launcher before the previous scheduler ended (constructor thread, after the build's commit).
   */
  void resendStop(Job j, StopReason why, long deadlineMillis, int run) {
    deliverStop(j.view(run), j, why, deadlineMillis, j.unsentStop, 1);
  }

  /** Calls the launcher's {@code stop}; whether it returned (a throw is logged). Never throws. */
  private boolean stopHost(JobHandle view, Job j, StopReason why, long deadlineMillis) {
    try {
      launcher.stop(view, why, at(deadlineMillis));
      return true;
    } catch (Throwable e) {
      log.warn("gpusched launcher failed to stop {} ({})", j, why, e);
      loop.absorb(e);
      return false;
    }
  }
}
