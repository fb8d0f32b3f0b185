package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.JobState;
import io.gpusched.PlacementRequest;
import io.gpusched.StopReason;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Preemption planning for a blocked job: which running jobs to stop so that it fits, chosen by
 * {@link VictimPlanner} among the candidates that priority and quota reclaim allow, then asked to
 * stop through {@link JobTransitions#requestStop}.
 *
 * <p>Owns the choice of candidates and the replanning when a plan would take a victim queue below
 * its guarantee; the preemptor set itself is in {@link PendingLanes}. Threads: the dispatcher
 * only.
 */
final class Preemption {

  private static final Logger log = LoggerFactory.getLogger(Preemption.class);

  /**
   * How many times one preemption plan is made again without a victim that would have taken its
   * queue below its guarantee; bounds the dispatcher's work per blocked job and pass.
   */
  static final int MAX_REPLANS = 16;

  private final boolean enabled;
  private final long minRunMillis;
  private final GpuCluster cluster;
  private final Capacity capacity;
  private final Ledger ledger;
  private final QuotaPolicy quota;
  private final PendingLanes lanes;
  private final JobTransitions transitions;

  Preemption(
      boolean enabled,
      long minRunMillis,
      GpuCluster cluster,
      Capacity capacity,
      Ledger ledger,
      QuotaPolicy quota,
      PendingLanes lanes,
      JobTransitions transitions) {
    this.enabled = enabled;
    this.minRunMillis = minRunMillis;
    this.cluster = cluster;
    this.capacity = capacity;
    this.ledger = ledger;
    this.quota = quota;
    this.lanes = lanes;
    this.transitions = transitions;
  }

  /**
   * Plans and starts preemption for a blocked job if policy allows: (1) lower-priority preemptible
   * jobs of its own queue; (2) if the job keeps its queue within its guarantee, preemptible jobs
   * of queues above theirs. Victims must have run {@code minRunTime}; they are chosen by {@link
   * VictimPlanner} so that the job then fits under every constraint it will start under (its
   * request, and the models its queue's quotas allow now: {@link QuotaPolicy#models}). A plan that
   * would take a victim queue below its guarantee is made again without the victim that broke it
   * (up to {@link #MAX_REPLANS} times). At most one plan per queue per pass, and a job is not
   * re-planned until the set of running jobs changes (or a tick passes).
   */
  boolean consider(Job j, Pass ps) {
    if (!enabled || lanes.preemptors.contains(j) || ps.planned.contains(j.queue)) {
      return false;
    }
    if (j.lastPlanVersion == ledger.runningVersion() || ps.now < j.noPreemptionBeforeMillis) {
      return false;
    }
    j.lastPlanVersion = ledger.runningVersion();
    long now = ps.now;
    var candidates = new ArrayList<Job>();
    Map<Job, StopReason> reason = new HashMap<>();
    for (Job v : j.queue.running) {
      if (victimEligible(v, now) && v.spec.priority() < j.spec.priority()) {
        candidates.add(v);
        reason.put(v, StopReason.PRIORITY);
      }
    }
    QueueState q = j.queue;
    // Plan under every constraint the job will start under: the models its queue's quotas (and
    // other queues' model lend limits) let it use now. Victims leaving can only widen that set
    // (usage falls), so a plan on it never frees capacity the job may not take.
    Set<String> models = quota.models(j);
    if (models != null && models.isEmpty()) {
      return false;
    }
    int reclaimModel = -1;
    if (QuotaPolicy.withinGuarantee(j)) {
      for (QueueState o : lanes.queueList) {
        if (o != q && o.usedMilli > o.guaranteeMilli) {
          for (Job v : o.running) {
            // Only borrowed capacity is reclaimed: the victim's queue stays at or above its
            // guarantee, so it is never entitled to reclaim straight back (no ping-pong).
            if (victimEligible(v, now) && o.usedMilli - v.usedMilli >= o.guaranteeMilli) {
              candidates.add(v);
              reason.put(v, StopReason.QUOTA_RECLAIM);
            }
          }
        }
      }
    } else {
      reclaimModel = quota.modelWithinGuarantee(j);
      if (reclaimModel >= 0) {
        // Reclaim of a per-model guarantee: victims on that model whose queues borrowed it.
        for (QueueState o : lanes.queueList) {
          if (o == q) {
            continue;
          }
          for (Job v : o.running) {
            if (victimEligible(v, now) && quota.borrowedOn(o, v, reclaimModel)) {
              candidates.add(v);
              reason.put(v, StopReason.QUOTA_RECLAIM);
            }
          }
        }
        String on = capacity.models.get(reclaimModel).name();
        if (models != null && !models.contains(on)) {
          return false; // another queue's model lend limit keeps it from that model
        }
        models = Set.of(on);
      }
    }
    if (candidates.isEmpty()) {
      return false;
    }
    PlacementRequest planFor = j.spec.request();
    if (models != null) {
      planFor = planFor.withConstraints(planFor.constraints().withGpuModels(models));
    }
    candidates.sort(
        Comparator.<Job>comparingInt(v -> v.spec.priority())
            .thenComparingLong(v -> v.lostWorkMillis(now))
            .thenComparingLong(v -> -v.seq));
    var planner = new VictimPlanner(cluster, capacity, ledger.owners);
    List<Job> victims = null;
    // Each candidate alone keeps its queue at or above its guarantee, but several of one queue
    // together may not: then the victim that broke it leaves the candidates and the plan is made
    // again (the plan is never dropped while other victims would do).
    for (int tries = 0; tries <= MAX_REPLANS; tries++) {
      List<Job> plan = planner.plan(planFor, j.spec.gangSize(), candidates, now);
      if (plan == null) {
        return false;
      }
      Job breaking = quota.breaksAGuarantee(plan, reason, reclaimModel);
      if (breaking == null) {
        victims = plan;
        break;
      }
      candidates.remove(breaking);
    }
    if (victims == null) {
      return false;
    }
    ps.planned.add(j.queue);
    lanes.preemptors.add(j);
    for (Job v : victims) {
      j.victims.add(v);
      if (!transitions.requestStop(v, java.util.Objects.requireNonNull(reason.get(v)), v.spec.gracePeriod().toMillis(), j, now)) {
        j.victims.remove(v);
      }
    }
    log.debug("gpusched: preempting {} for {}", victims, j);
    return true;
  }

  private boolean victimEligible(Job v, long now) {
    return v.spec.preemptible()
        && v.rawState() == JobState.RUNNING
        && v.stopFor == null
        && now - v.startedAtMillis >= minRunMillis;
  }
}
