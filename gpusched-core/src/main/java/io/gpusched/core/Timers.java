package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuSample;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobState;
import io.gpusched.SchedulerEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a tick checks: stop deadlines of jobs being preempted, lease expiry (missed heartbeats),
 * time limits, and idle detection and reclaim from GPU telemetry.
 *
 * <p>Owns the idle policy and the per-job idle tracking fields ({@link Job#idleRunStart} and the
 * like) and reports {@code IdleDetected}; every state change it decides goes through {@link
 * JobTransitions}. Threads: the
 * dispatcher only (a tick is a command; the timer thread, or {@code tick()} with manual ticks,
 * only enqueues it).
 */
final class Timers {

  private static final Logger log = LoggerFactory.getLogger(Timers.class);

  private final Ledger ledger;
  private final JobTransitions transitions;
  private final GpuTelemetry telemetry;
  private final @Nullable IdlePolicy idlePolicy;
  private final long idleGraceMillis;
  private final CommandLoop loop;
  private final EventBus events;

  Timers(
      Ledger ledger,
      JobTransitions transitions,
      GpuTelemetry telemetry,
      @Nullable IdlePolicy idlePolicy,
      long idleGraceMillis,
      CommandLoop loop,
      EventBus events) {
    this.events = events;
    this.ledger = ledger;
    this.transitions = transitions;
    this.telemetry = telemetry;
    this.idlePolicy = idlePolicy;
    this.idleGraceMillis = idleGraceMillis;
    this.loop = loop;
  }

  /** One tick at {@code now} (the command loop decayed fair-share usage before this command). */
  void onTick(long now) {
    ledger.timePassed(); // time passed: minimum run times may have elapsed, plan again
    transitions.retryStops(now); // stops the launcher threw on, when due
    for (Job v : new ArrayList<>(ledger.preempting)) {
      if (v.rawState() != JobState.PREEMPTING) {
        ledger.preempting.remove(v);
      } else if (now >= v.stopDeadlineMillis) {
        transitions.finishPreemption(v, Job.ANY_RUN);
      }
    }
    for (Job j : new ArrayList<>(ledger.running)) {
      Duration ttl = j.spec.leaseTtl();
      if (ttl != null && now - j.lastHeartbeatMillis > ttl.toMillis()) {
        long last = j.lastHeartbeatMillis;
        if (j.rawState() == JobState.PREEMPTING && transitions.finishPreemption(j, Job.ANY_RUN)) {
          continue; // already being stopped: finish that stop (requeue as its reason says)
        }
        transitions.leaseExpired(j, last, now);
        continue;
      }
      Duration limit = j.spec.timeLimit();
      if (limit != null
          && j.rawState() == JobState.RUNNING
          && now - j.startedAtMillis >= limit.toMillis()) {
        transitions.timeLimit(j, limit);
        continue;
      }
      if (idlePolicy != null) {
        checkIdle(j, idlePolicy, now);
      }
    }
  }

  private void checkIdle(Job j, IdlePolicy p, long now) {
    if (j.rawState() != JobState.RUNNING) {
      return;
    }
    long since = Long.MIN_VALUE;
    boolean all = true;
    // A telemetry source may keep no history (the SPI's default serves the latest sample only),
    // so the scheduler remembers the start of the idle-looking run across its checks. If every
    // device's history reaches back to that start ("covered"), the history alone decides and a
    // busy sample since then breaks the run; otherwise the run carries over from the previous
    // check, unless the checks were further apart than maxSampleAge.
    boolean covered = true;
    long from = now - p.window().toMillis() - p.maxSampleAge().toMillis();
    outer:
    for (Allocation a : j.heldAllocations()) {
      for (AllocatedGpu g : a.gpus()) {
        int slot = g.migProfile() != null ? g.migStartSlot() : GpuSample.WHOLE_GPU;
        OptionalLong s;
        try {
          List<GpuSample> history = telemetry.history(g.gpuUuid(), slot, from);
          if (history.isEmpty() || history.get(0).timestampMillis() > j.idleRunStart) {
            covered = false;
          }
          s = p.idleSince(history, now);
        } catch (Throwable e) {
          log.warn("gpusched telemetry failed for {}", g.gpuUuid(), e);
          loop.absorb(e);
          s = OptionalLong.empty();
        }
        if (s.isEmpty()) {
          all = false;
          break outer;
        }
        since = Math.max(since, s.getAsLong());
      }
    }
    if (all && since != Long.MIN_VALUE) {
      if (!covered
          && j.idleRunStart != Long.MIN_VALUE
          && now - j.lastIdleCheckMillis <= p.maxSampleAge().toMillis()) {
        since = Math.min(since, j.idleRunStart);
      }
      j.idleRunStart = since;
    } else {
      j.idleRunStart = Long.MIN_VALUE;
    }
    j.lastIdleCheckMillis = now;
    boolean idleNow = j.idleRunStart != Long.MIN_VALUE && now - j.idleRunStart >= p.window().toMillis();
    if (idleNow && !j.idle) {
      j.idle = true;
      j.idleReclaimAtMillis = j.spec.reclaimWhenIdle() ? now + idleGraceMillis : -1;
      events.publish(
          new SchedulerEvent.IdleDetected(
              Instant.ofEpochMilli(now), j.id(), j.queue.spec.name(), Instant.ofEpochMilli(j.idleRunStart),
              j.idleReclaimAtMillis < 0 ? null : Instant.ofEpochMilli(j.idleReclaimAtMillis)));
    } else if (!idleNow && j.idle) {
      j.idle = false;
      j.idleReclaimAtMillis = -1;
    }
    if (j.idle && j.idleReclaimAtMillis >= 0 && now >= j.idleReclaimAtMillis) {
      transitions.idleReclaim(j, now);
    }
  }
}
