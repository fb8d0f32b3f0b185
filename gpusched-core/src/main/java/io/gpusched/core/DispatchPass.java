package io.gpusched.core;

import io.gpusched.JobState;
import io.gpusched.PendingReason;
import io.gpusched.SchedulingPolicy;
import io.gpusched.core.Pass.Outcome;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.NavigableSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dispatch pass: decides which pending jobs start now, in policy order.
 *
 * <ol>
 *   <li>Jobs waiting for their preemption victims ("preemptors") are tried first: the capacity
 *       their victims free is theirs.
 *   <li>Then lane heads in policy order (FAIR_SHARE: queues under guarantee first, then by
 *       weighted dominant share, ties round-robin; FIFO/PRIORITY: one global order). A job starts
 *       if its queue's borrow and lend limits allow it ({@link QuotaPolicy}), if it passes the
 *       backfill test against the reservation ({@link Reservations}), and if the engine places it
 *       ({@link JobStarter}; gangs all-or-nothing). The first job found blocked for capacity holds
 *       the pass's reservation (recomputed every pass, so it follows the policy order; a job
 *       within its queue's guarantee takes it over from one beyond). A blocked job may trigger
 *       preemption planning ({@link Preemption}). Without backfill the first blocked job ends the
 *       pass (strict order).
 * </ol>
 *
 * <p>Owns the pass counter (read by job handles for {@code pendingReason()}) and the order of the
 * walk; every pass's memo is a fresh {@link Pass}. Threads: the dispatcher only, except {@link
 * #passes}, read by any thread.
 */
@SuppressWarnings("NonAtomicVolatileUpdate") // passes: one writer, the dispatcher
final class DispatchPass {

  private static final Logger log = LoggerFactory.getLogger(DispatchPass.class);

  /**
   * The longest a job whose preemption freed capacity it then could not use waits before it may
   * preempt again. The wait starts at {@link #FIRST_PREEMPTION_BACKOFF_MILLIS} and doubles with
   * each such plan of the job up to this, and is reset when the job starts: a one-off cause (a
   * cordon while the victims stopped, another job taking the capacity) costs about a second, while
   * a lasting mismatch between victim planning and the engine cannot preempt in a loop.
   */
  static final long PREEMPTION_BACKOFF_MILLIS = 60_000;

  /** The first wait after an unrealized preemption plan (see {@link #PREEMPTION_BACKOFF_MILLIS}). */
  static final long FIRST_PREEMPTION_BACKOFF_MILLIS = 1_000;

  /** The wait after one more unrealized plan, given the previous wait (0: none yet). */
  static long nextPreemptionBackoff(long previous) {
    return previous <= 0
        ? FIRST_PREEMPTION_BACKOFF_MILLIS
        : Math.min(PREEMPTION_BACKOFF_MILLIS, previous * 2);
  }

  /** How many jobs behind a lane head held back by the reservation are tried per pass. */
  static final int BACKFILL_DEPTH = 64;

  private final SchedulingPolicy policy;
  private final boolean backfill;
  private final Capacity capacity;
  private final PendingLanes lanes;
  private final QuotaPolicy quota;
  private final Reservations reservations;
  private final JobStarter starter;
  private final Preemption preemption;
  /** Shapes no known node could ever host beyond what the engine refuses. */
  private final NeverFits neverFits = new NeverFits();

  /** Dispatch passes run so far; written by the dispatcher, read by handles. */
  private volatile long passes;

  DispatchPass(
      SchedulingPolicy policy,
      boolean backfill,
      Capacity capacity,
      PendingLanes lanes,
      QuotaPolicy quota,
      Reservations reservations,
      JobStarter starter,
      Preemption preemption) {
    this.policy = policy;
    this.backfill = backfill;
    this.capacity = capacity;
    this.lanes = lanes;
    this.quota = quota;
    this.reservations = reservations;
    this.starter = starter;
    this.preemption = preemption;
  }

  /** The number of the latest pass (any thread). */
  long passes() {
    return passes;
  }

  /** Runs one pass (dispatcher). */
  void run(long now) {
    Pass ps = new Pass(now, ++passes);
    for (Job p : new ArrayList<>(lanes.preemptors)) {
      if (p.rawState() != JobState.PENDING) {
        lanes.leavePending(p);
        continue;
      }
      lanes.refreshDemand(p);
      if (quota.allows(p) && starter.tryStart(p, ps)) {
        continue;
      }
      p.waiting(PendingReason.PREEMPTION, ps.number);
      if (p.victims.isEmpty()) {
        lanes.preemptors.remove(p);
        p.preemptionBackoffMillis = nextPreemptionBackoff(p.preemptionBackoffMillis);
        p.noPreemptionBeforeMillis = now + p.preemptionBackoffMillis;
        log.info(
            "gpusched: {} did not fit in the capacity its preemption freed; it will not preempt"
                + " again for {} ms",
            p,
            p.preemptionBackoffMillis);
      }
    }
    for (Job p : lanes.preemptors) {
      for (int pool : p.compatPools) {
        ps.held.add(pool);
      }
    }
    if (policy == SchedulingPolicy.FAIR_SHARE) {
      fairLoop(ps);
    } else {
      globalLoop(ps);
    }
  }

  private void fairLoop(Pass ps) {
    Set<QueueState> exhausted = new HashSet<>();
    for (; ; ) {
      var order = new ArrayList<QueueState>();
      for (QueueState q : lanes.queueList) {
        if (!q.heads.isEmpty() && !exhausted.contains(q)) {
          order.add(q);
        }
      }
      if (order.isEmpty()) {
        return;
      }
      order.sort(
          Comparator.<QueueState>comparingInt(q -> quota.belowAGuarantee(q) ? 0 : 1)
              .thenComparingDouble(q -> q.dominantShare)
              .thenComparingLong(q -> q.lastStart)
              .thenComparingInt(q -> q.index));
      boolean started = false;
      for (QueueState q : order) {
        Outcome o = startFirst(q.heads, ps);
        if (o == Outcome.STOP) {
          return;
        }
        if (o == Outcome.STARTED) {
          started = true;
          break;
        }
        exhausted.add(q);
      }
      if (!started) {
        return;
      }
    }
  }

  private void globalLoop(Pass ps) {
    while (startFirst(lanes.globalHeads, ps) == Outcome.STARTED) {
      // heads changed: walk them again from the first not yet tried
    }
  }

  /**
   * Walks lane heads in order and starts the first job that can start: STARTED (the heads changed,
   * the caller walks again), STOP (strict order blocked), or SKIPPED (none could start).
   */
  private Outcome startFirst(NavigableSet<Job> heads, Pass ps) {
    for (Job j : heads) {
      if (ps.tried.contains(j)) {
        continue;
      }
      Outcome o = attemptLane(j, ps);
      if (o == Outcome.STARTED || o == Outcome.STOP) {
        return o;
      }
      ps.tried.add(j);
    }
    return Outcome.SKIPPED;
  }

  private Outcome attempt(Job j, Pass ps) {
    if (j.rawState() != JobState.PENDING || lanes.preemptors.contains(j)) {
      return Outcome.SKIPPED;
    }
    lanes.refreshDemand(j);
    if (!quota.allows(j)) {
      return ps.waits(j, PendingReason.QUOTA, Outcome.SKIPPED);
    }
    if (heldForPreemptor(j, ps)) {
      return ps.waits(j, PendingReason.RESERVED, Outcome.SKIPPED);
    }
    Job h = ps.holder;
    // Guaranteed capacity outranks a reservation held for a queue beyond its guarantee.
    boolean outranks = h != null && quota.guaranteed(j) && !quota.guaranteed(h);
    if (h != null && !outranks && !reservations.backfillAllows(j, ps)) {
      return ps.waits(j, PendingReason.RESERVED, Outcome.BACKFILL_SKIPPED);
    }
    if (ps.impossible.contains(j.shape)) {
      return ps.waits(j, PendingReason.UNSCHEDULABLE, Outcome.SKIPPED);
    }
    boolean restricted = j.allowedModels != null; // a failure then says nothing about the shape
    j.strandingHeld = starter.strandingHeld(j, ps.now); // also when the shape's miss skips the try
    boolean skip =
        !restricted
            && (ps.failed.contains(j.shape) || (j.strandingHeld && ps.failedHeld.contains(j.shape)));
    if (!skip && starter.tryStart(j, ps)) {
      ps.reservationKnown = false;
      return Outcome.STARTED;
    }
    if (j.rawState() != JobState.PENDING) {
      return Outcome.SKIPPED; // cancelled while it was being placed
    }
    if (!restricted
        && !ps.impossible.contains(j.shape)
        && neverFits.test(j.shape, capacity.nodes.values(), capacity.nodeSetVersion)) {
      ps.impossible.add(j.shape); // labels, capacity class, host or gang size no node meets
    }
    if (ps.impossible.contains(j.shape)) {
      // no node could ever host it: no reservation, no preemption
      return ps.waits(j, PendingReason.UNSCHEDULABLE, Outcome.SKIPPED);
    }
    if (restricted && ps.narrowedNever) {
      // Only models its quotas keep it from could host it: freed capacity would not help, so it
      // waits on its quota holding no reservation and preempting nobody.
      return ps.waits(j, PendingReason.QUOTA, Outcome.SKIPPED);
    }
    if (j.strandingHeld) {
      // Inside the MIG stranding hold it refused places it could have taken: it holds nothing
      // (no reservation, no preemption) and stops no one, whatever the policy; its miss says
      // nothing about the shape's jobs past their hold.
      if (!restricted) {
        ps.failedHeld.add(j.shape);
      }
      return ps.waits(
          j, restricted && j.quotaKeptItFromRoom ? PendingReason.QUOTA : PendingReason.STRANDING,
          Outcome.SKIPPED);
    }
    if (!restricted) {
      ps.failed.add(j.shape);
    }
    if (preemption.consider(j, ps)) {
      for (int pool : j.compatPools) {
        ps.held.add(pool); // what its victims free is the preemptor's, within this pass too
      }
      return ps.waits(j, PendingReason.PREEMPTION, Outcome.SKIPPED);
    }
    // capacity it could not use for quota reasons had room: say so
    PendingReason why = restricted && j.quotaKeptItFromRoom ? PendingReason.QUOTA : PendingReason.CAPACITY;
    if (!backfill) {
      return ps.waits(j, why, Outcome.STOP);
    }
    if (h == null || outranks) {
      ps.holder = j;
      ps.reservationKnown = false;
    }
    return ps.waits(j, why, Outcome.SKIPPED);
  }

  /**
   * Tries a lane head; if the reservation held it back, walks up to {@link #BACKFILL_DEPTH} later
   * jobs of its lane, which may end sooner.
   */
  private Outcome attemptLane(Job head, Pass ps) {
    Outcome r = attempt(head, ps);
    if (r != Outcome.BACKFILL_SKIPPED) {
      return r;
    }
    Job k = head;
    for (int depth = 0; depth < BACKFILL_DEPTH && (k = k.queue.after(k)) != null; depth++) {
      Outcome r2 = attempt(k, ps);
      if (r2 == Outcome.STARTED || r2 == Outcome.STOP) {
        return r2;
      }
      if (ps.failed.contains(k.shape)) {
        break;
      }
    }
    return Outcome.SKIPPED;
  }

  /**
   * Whether {@code j} could use capacity that victims are freeing for a preemptor: victims leave
   * one by one (at their deadlines or acknowledgements), and what the first ones free must still
   * be there when the last one leaves.
   */
  private static boolean heldForPreemptor(Job j, Pass ps) {
    if (ps.held.isEmpty()) {
      return false;
    }
    for (int pool : j.compatPools) {
      if (ps.held.contains(pool)) {
        return true;
      }
    }
    return false;
  }
}
