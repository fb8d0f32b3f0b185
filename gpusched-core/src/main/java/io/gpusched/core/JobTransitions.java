package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.JobLauncher;
import io.gpusched.JobState;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one seam for changes of a job's state and allocations: applies the change, books it in the
 * {@link Ledger}, tells the host ({@link JobLauncher}) and emits the event.
 */
final class JobTransitions {

  private static final Logger log = LoggerFactory.getLogger(JobTransitions.class);

  private final InstantSource clock;
  private final CommandLoop loop;
  private final Ledger ledger;
  private final PendingLanes lanes;
  private final JobBook book;
  private final EventBus events;
  private final JobLauncher launcher;
  private final LongSupplier passes;
  /** Starts so far: each queue's last start orders fair-share ties round-robin (dispatcher). */
  private long starts;

  JobTransitions(
      InstantSource clock,
      CommandLoop loop,
      Ledger ledger,
      PendingLanes lanes,
      JobBook book,
      EventBus events,
      JobLauncher launcher,
      LongSupplier passes) {
    this.clock = clock;
    this.loop = loop;
    this.ledger = ledger;
    this.lanes = lanes;
    this.book = book;
    this.events = events;
    this.launcher = launcher;
    this.passes = passes;
  }

  long nowMillis() {
    return clock.millis();
  }

  /** The latest dispatch pass's number (for {@link Job#pendingReason}). */
  long passes() {
    return passes.getAsLong();
  }

  private static Instant at(long millis) {
    return Instant.ofEpochMilli(millis);
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
    j.allocations = allocs;
    long prevStart = j.startedAtMillis;
    j.startedAtMillis = now;
    int run = j.startRun();
    if (run < 0) {
      for (Allocation a : allocs) {
        a.release();
      }
      j.allocations = List.of();
      j.startedAtMillis = prevStart;
      return false;
    }
    lanes.started(j);
    j.attempts = run;
    j.queue.lastStart = ++starts;
    j.lastHeartbeatMillis = now;
    j.idle = false;
    j.idleReclaimAtMillis = -1;
    j.idleRunStart = Long.MIN_VALUE;
    ledger.account(j, allocs, acct, now);
    var gpus = new ArrayList<AllocatedGpu>();
    allocs.forEach(a -> gpus.addAll(a.gpus()));
    events.publish(
        new SchedulerEvent.JobStarted(
            at(now), j.id(), j.queue.spec.name(), j.attempts, gpus,
            Duration.ofMillis(Math.max(0, now - j.queuedAtMillis))));
    events.run(j::markStarted);
    try {
      launcher.start(j.view(run));
    } catch (Throwable e) { // an Error, or a checked exception thrown sneakily, too
      log.warn("gpusched launcher failed to start {}", j, e);
      j.end(JobState.FAILED, "launcher failed: " + e);
      loop.absorb(e);
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

  // ---- stops the scheduler requests ----

  /**
   * RUNNING → PREEMPTING with a deadline {@code graceMillis} from now, for {@code forJob} (a
   * preemptor) or for nobody (a drain); tells the host (dispatcher).
   *
   * @return false if the job was not RUNNING
   */
  boolean requestStop(Job v, StopReason why, long graceMillis, @Nullable Job forJob, long now) {
    if (!v.beginPreemption(why)) {
      return false;
    }
    v.stopDeadlineMillis = now + graceMillis;
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
      loop.offer(v::finishPreemption);
    }
    return true;
  }

  /**
   * Gives a stop in progress the drain's reason (so the job is requeued), in the caller's program
   * order (any thread); false if the job is not PREEMPTING.
   */
  boolean escalate(Job j, StopReason why) {
    return j.escalate(why);
  }

  /**
   * A drain's stop of one job on the draining node, with a deadline at most {@code deadlineMillis}
   * from now (dispatcher): a stop in progress takes the drain's reason and, if earlier, its
   * deadline; a running job is asked to stop.
   */
  void drainStop(Job j, StopReason why, long deadlineMillis, long now) {
    long grace = Math.min(j.spec.gracePeriod().toMillis(), deadlineMillis);
    if (j.escalate(why)) { // a drain always requeues, whatever began the stop
      if (now + grace < j.stopDeadlineMillis) {
        j.stopDeadlineMillis = now + grace;
        safeStop(j, why, j.stopDeadlineMillis); // the host learns the earlier deadline
        if (grace == 0) {
          loop.offer(j::finishPreemption);
        }
      }
    } else {
      requestStop(j, why, grace, null, now);
    }
  }

  /**
   * Its node is lost: RUNNING or PREEMPTING → PENDING at once, GPUs released (any thread; the
   * caller then has {@link #nodeLostBooked} run on the dispatcher).
   *
   * @return false if the job held no GPUs
   */
  boolean nodeLost(Job j) {
    return j.stopNow(StopReason.NODE_LOST, true) != null;
  }

  /** Books and reports a job its node's loss requeued ({@link #nodeLost}; dispatcher). */
  void nodeLostBooked(Job j, long now) {
    safeStop(j, StopReason.NODE_LOST, now);
    onPreempted(j, StopReason.NODE_LOST, true);
  }

  /** Idle reclaim: RUNNING → PREEMPTED at once, booked and reported (dispatcher). */
  void idleReclaim(Job j, long now) {
    if (j.stopNow(StopReason.IDLE_RECLAIM, false) != null) {
      safeStop(j, StopReason.IDLE_RECLAIM, now);
      events.publish(new SchedulerEvent.IdleReclaimed(at(now), j.id(), j.queue.spec.name()));
      onPreempted(j, StopReason.IDLE_RECLAIM, false);
    }
  }

  /** The lease ran out (no heartbeat since {@code lastHeartbeat}): FAILED (dispatcher). */
  void leaseExpired(Job j, long lastHeartbeat, long now) {
    if (j.end(JobState.FAILED, "lease expired", StopReason.LEASE_EXPIRED)) {
      events.publish(
          new SchedulerEvent.LeaseExpired(at(now), j.id(), j.queue.spec.name(), at(lastHeartbeat)));
    }
  }

  // ---- bookkeeping after a job's own transition ----

  /** Called by a job after a CAS out of PENDING or a GPU-holding state to a final state. */
  void ended(Job j, JobState from, JobState to, @Nullable StopReason why) {
    loop.command(() -> onEnded(j, from, to, why));
  }

  /** Called by a job on the cancelling thread, after its CAS and before it releases its GPUs. */
  void stopBeforeRelease(Job j, StopReason why) {
    safeStop(j, why, nowMillis());
  }

  /** Called by a job after PREEMPTING → PENDING/PREEMPTED and release. */
  void preempted(Job j, @Nullable StopReason why, boolean requeued) {
    loop.command(() -> onPreempted(j, why, requeued));
  }

  private void onEnded(Job j, JobState from, JobState to, @Nullable StopReason why) {
    long now = nowMillis();
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
  }

  /** Tells the host to stop the job's current run by {@code deadlineMillis}; never throws. */
  void safeStop(Job j, StopReason why, long deadlineMillis) {
    try {
      launcher.stop(j.view(j.run()), why, at(deadlineMillis));
    } catch (Throwable e) {
      log.warn("gpusched launcher failed to stop {} ({})", j, why, e);
      loop.absorb(e);
    }
  }
}
