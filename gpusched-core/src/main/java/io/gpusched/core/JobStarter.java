package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.CapacityClass;
import io.gpusched.GpuCluster;
import io.gpusched.JobSpec;
import io.gpusched.PlacementObserver;
import io.gpusched.PlacementRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starting a job: places every gang member or none on the engine (through {@link GpuCluster}
 * only), then hands the placed job to {@link JobTransitions#start}. When the scheduler prefers the
 * cheapest nodes, the engine's cost-first strategy orders candidates by price ({@link
 * io.gpusched.PlacementStrategy#withCheapestFirst()}), and a preemptible job tries spot capacity first
 * (a job that is not preemptible was kept off spot at submit unless its queue allows spot, {@link
 * io.gpusched.QueueSpec#allowSpot()}).
 *
 * <p>A MIG job inside the scheduler's stranding hold ({@code GpuSchedulers.Builder#migStrandingHold})
 * asks every tier for a place that strands no compute only ({@link
 * PlacementRequest#withoutStranding()}).
 *
 * <p>Owns the placement of a gang and its spot tiers. Threads: the dispatcher only (the engine
 * calls it makes are lock-free and thread-safe).
 */
final class JobStarter {

  private static final Logger log = LoggerFactory.getLogger(JobStarter.class);

  private final GpuCluster cluster;
  private final PlacementObserver placementObserver;
  private final boolean preferCheapest;
  private final long strandingHoldMillis;
  private final Ledger ledger;
  private final JobTransitions transitions;
  private final Predicate<String> learnNode;
  private final CommandLoop loop;

  JobStarter(
      GpuCluster cluster,
      PlacementObserver placementObserver,
      boolean preferCheapest,
      long strandingHoldMillis,
      Ledger ledger,
      JobTransitions transitions,
      Predicate<String> learnNode,
      CommandLoop loop) {
    this.cluster = cluster;
    this.placementObserver = placementObserver;
    this.preferCheapest = preferCheapest;
    this.strandingHoldMillis = strandingHoldMillis;
    this.ledger = ledger;
    this.transitions = transitions;
    this.learnNode = learnNode;
    this.loop = loop;
  }

  /** Places every gang member or none, then starts the job. */
  boolean tryStart(Job j, Pass ps) {
    long now = ps.now;
    ps.narrowedNever = false;
    List<Allocation> allocs;
    try {
      allocs = place(j, now);
    } catch (IllegalArgumentException e) {
      // The engine says no node could ever host this request: leave it pending (a node may be
      // added), but it must not hold a reservation or abort the pass. A request narrowed to the
      // models the job's quotas allow says nothing about the shape (other queues' jobs of the same
      // shape may fit elsewhere), so only the job's own request marks the shape impossible.
      if (j.allowedModels == null) {
        ps.impossible.add(j.shape);
      } else {
        ps.narrowedNever = true;
      }
      log.debug("gpusched: {} cannot be placed on the current nodes: {}", j, e.getMessage());
      return false;
    }
    if (allocs == null) {
      return false;
    }
    Ledger.@Nullable Accounting acct;
    try {
      acct = ledger.prepare(allocs, learnNode);
    } catch (Throwable e) {
      allocs.forEach(Allocation::release);
      throw e;
    }
    if (acct == null) { // placed on a node removed before it was booked: try again next pass
      allocs.forEach(Allocation::release);
      return false;
    }
    if (!transitions.start(j, allocs, acct, now)) {
      return false;
    }
    j.preemptionBackoffMillis = 0; // the next unrealized preemption plan starts short again
    if (ps.holder == j) {
      ps.holder = null;
    }
    return true;
  }

  /**
   * Whether the job is inside the MIG stranding hold at {@code now}: a MIG request that does not
   * say {@code withoutStranding()} itself, in the queue for less than the hold.
   */
  boolean strandingHeld(Job j, long now) {
    return strandingHoldMillis > 0
        && j.spec.request().gpus() instanceof io.gpusched.GpuDemand.Mig m
        && !m.noStranding()
        && now - j.queuedAtMillis < strandingHoldMillis;
  }

  private @Nullable List<Allocation> place(Job j, long now) {
    List<PlacementRequest> tiers = tiers(j.spec);
    j.strandingHeld = strandingHeld(j, now);
    if (j.strandingHeld) { // only places that strand no compute, in every tier
      var lossless = new ArrayList<PlacementRequest>(tiers.size());
      for (PlacementRequest r : tiers) {
        lossless.add(r.withoutStranding());
      }
      tiers = lossless;
    }
    Set<String> allowed = j.allowedModels;
    if (allowed != null) {
      var restricted = new ArrayList<PlacementRequest>();
      for (PlacementRequest r : tiers) {
        restricted.add(r.withConstraints(r.constraints().withGpuModels(allowed)));
      }
      tiers = restricted;
    }
    var got = new ArrayList<Allocation>(j.spec.gangSize());
    try {
      for (int m = 0; m < j.spec.gangSize(); m++) {
        Allocation a = null;
        for (int t = 0; t < tiers.size(); t++) {
          try {
            a = placeTimed(tiers.get(t));
          } catch (IllegalArgumentException never) {
            if (t == tiers.size() - 1) {
              throw never; // the job's own request (as quotas narrow it): no node could host it
            }
            continue; // a cheaper tier no node could host: try the next one
          }
          if (a != null) {
            break;
          }
        }
        if (a == null) {
          got.forEach(Allocation::release);
          return null;
        }
        got.add(a);
      }
    } catch (Throwable e) { // the members placed so far are given back, whatever the engine threw
      got.forEach(Allocation::release);
      throw e;
    }
    return List.copyOf(got);
  }

  /** One engine placement, timed for the observer when there is one. */
  private @Nullable Allocation placeTimed(PlacementRequest r) {
    if (placementObserver == PlacementObserver.NONE) {
      return placeLive(r);
    }
    long t0 = System.nanoTime();
    Allocation a = placeLive(r);
    long elapsed = System.nanoTime() - t0;
    try {
      placementObserver.placed(r.gpus(), a != null, Math.max(0, elapsed));
    } catch (Throwable e) { // logged and ignored, as PlacementObserver says: the placement stands
      log.warn("gpusched placement observer failed", e);
      loop.absorb(e);
    }
    return a;
  }

  /**
   * One engine placement that is still active: an allocation that a concurrent forced node removal
   * made lost right after its GPUs were taken (see {@code GpuCluster.place}) is released (its
   * GPUs on other nodes are freed) and the request placed again. Nothing was started on it yet.
   * Repeats only after a removal took a node away.
   */
  private @Nullable Allocation placeLive(PlacementRequest r) {
    for (; ; ) {
      Allocation a = cluster.tryPlace(r);
      if (a == null || a.isActive()) {
        return a;
      }
      a.release();
    }
  }

  /**
   * The requests to try in order, the last one the job's own: with {@code preferCheapest}, a
   * preemptible job whose request allows spot and on-demand first tries spot capacity alone (the
   * engine's cost-first order applies within each try). A job that is not preemptible was kept off
   * spot at submit ({@code DefaultScheduler.keptOffSpot}).
   */
  private List<PlacementRequest> tiers(JobSpec spec) {
    PlacementRequest r = spec.request();
    var cc = r.constraints().capacityClasses();
    if (preferCheapest && spec.preemptible() && (cc.isEmpty() || (cc.contains(CapacityClass.SPOT) && cc.size() > 1))) {
      return List.of(r.withConstraints(r.constraints().withCapacityClasses(CapacityClass.SPOT)), r);
    }
    return List.of(r);
  }
}
