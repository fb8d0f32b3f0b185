package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Reservation and backfill (EASY style): the pass's first job blocked for capacity holds a
 * reservation, and a later job may start only if it cannot delay it.
 *
 * <p>Computes the holder's shadow time (when enough capacity will be free for it, from the running
 * jobs' expected ends) and the spare capacity beyond its need, into the {@link Pass}; owns no
 * state of its own. Threads: the dispatcher only.
 */
final class Reservations {

  private final Capacity capacity;
  private final Ledger ledger;
  private final PendingLanes lanes;

  Reservations(Capacity capacity, Ledger ledger, PendingLanes lanes) {
    this.capacity = capacity;
    this.ledger = ledger;
    this.lanes = lanes;
  }

  /**
   * EASY-style backfill test against the reservation holder, on pool capacity: a job whose pools
   * do not overlap the holder's always passes; otherwise it must end (by its time limit or
   * estimate) before the holder's shadow time, or fit in the capacity the holder will not need.
   */
  boolean backfillAllows(Job j, Pass ps) {
    Job h = ps.holder;
    if (h == null) {
      return true;
    }
    lanes.refreshDemand(h);
    // Spare GPUs and other models say nothing about host CPU and memory, which a node's GPUs of
    // every model share: when both jobs need host resources that some node they could share
    // tracks, only "ends before the shadow time" lets this one go first.
    boolean hostClash = hostClash(j, h);
    if (!hostClash && !overlaps(j.compatPools, h.compatPools)) {
      return true;
    }
    if (!ps.reservationKnown) {
      reserve(h, ps);
    }
    Duration bound = j.spec.runTimeBound();
    if (ps.shadow != Long.MAX_VALUE && bound != null && ps.now + bound.toMillis() <= ps.shadow) {
      return true;
    }
    if (hostClash) {
      return false;
    }
    if (j.demandMilli <= ps.extra) {
      if (ps.extra != Long.MAX_VALUE) {
        ps.extra -= j.demandMilli;
      }
      return true;
    }
    return restrictAwayFrom(j, h);
  }

  /**
   * Whether {@code j} could take host resources the holder {@code h} needs: both request CPU (or
   * both memory), and some READY node that tracks it has GPUs of a model each of them may use.
   */
  private boolean hostClash(Job j, Job h) {
    PlacementRequest rj = j.spec.request();
    PlacementRequest rh = h.spec.request();
    boolean cpu = rj.cpuMillis() > 0 && rh.cpuMillis() > 0;
    boolean mem = rj.memoryMiB() > 0 && rh.memoryMiB() > 0;
    if (!cpu && !mem) {
      return false;
    }
    Set<String> jModels = models(j.compatPools);
    Set<String> hModels = models(h.compatPools);
    for (NodeSpec n : capacity.nodes.values()) {
      boolean tracked =
          (cpu && n.cpuMillis() != NodeSpec.UNTRACKED)
              || (mem && n.memoryMiB() != NodeSpec.UNTRACKED);
      if (!tracked || capacity.states.get(n.id()) != NodeState.READY) {
        continue;
      }
      boolean forJ = false;
      boolean forH = false;
      for (GpuSpec g : n.gpus()) {
        forJ |= jModels.contains(g.model().name());
        forH |= hModels.contains(g.model().name());
      }
      if (forJ && forH) {
        return true;
      }
    }
    return false;
  }

  private Set<String> models(int[] pools) {
    Set<String> out = new HashSet<>();
    for (int p : pools) {
      out.add(capacity.models.get(capacity.poolModel[p]).name());
    }
    return out;
  }

  /**
   * A job held back by the reservation may still start on models the holder cannot use: its
   * placement is then restricted to them ({@link Job#allowedModels}), so it cannot delay the
   * holder.
   */
  private boolean restrictAwayFrom(Job j, Job h) {
    Set<String> away = new LinkedHashSet<>();
    Set<String> shared = new HashSet<>();
    for (int p : j.compatPools) {
      String model = capacity.models.get(capacity.poolModel[p]).name();
      (contains(h.compatPools, p) ? shared : away).add(model);
    }
    away.removeAll(shared);
    if (j.allowedModels != null) {
      away.retainAll(j.allowedModels);
    }
    if (away.isEmpty()) {
      return false;
    }
    j.allowedModels = Set.copyOf(away);
    return true;
  }

  private void reserve(Job h, Pass ps) {
    ps.reservationKnown = true;
    if (h.spec.request().gpus() instanceof GpuDemand.Whole w && w.sameNode() && w.count() > 1) {
      reserveOnNodes(h, w, ps);
      return;
    }
    long need = h.demandMilli;
    long all = 0;
    for (int p : h.compatPools) {
      all += capacity.poolCap[p];
    }
    if (all < need) {
      reserveNothing(ps); // it cannot fit even on an empty cluster: it must not block others
      return;
    }
    long acc = capacity.free(h.compatPools);
    if (acc >= need) {
      ps.shadow = ps.now;
      ps.extra = acc - need;
      return;
    }
    for (Job r : ledger.runningByEnd) {
      long c = 0;
      for (int p : h.compatPools) {
        if (p < r.poolMilli.length) {
          c += r.poolMilli[p];
        }
      }
      if (c == 0) {
        continue;
      }
      if (r.endBoundMillis == Long.MAX_VALUE) {
        break;
      }
      acc += c;
      if (acc >= need) {
        ps.shadow = r.endBoundMillis;
        ps.extra = acc - need;
        return;
      }
    }
    ps.shadow = Long.MAX_VALUE;
    ps.extra = 0;
  }

  /**
   * Shadow time for a holder whose members each need {@code w.count()} whole GPUs on one node:
   * replays the running jobs' expected ends node by node until enough nodes have room for every
   * member. Capacity counted in aggregate would be met by scattered free GPUs and let small jobs
   * starve the gang, so here only jobs that end before the shadow time may backfill.
   */
  private void reserveOnNodes(Job h, GpuDemand.Whole w, Pass ps) {
    PlacementRequest r = h.spec.request();
    Map<String, Integer> free = new HashMap<>();
    Map<String, Integer> empty = new HashMap<>();
    for (NodeSpec n : capacity.nodes.values()) {
      if (capacity.states.get(n.id()) != NodeState.READY
          || !r.constraints().allowsNode(n.labels(), n.capacityClass())) {
        continue;
      }
      int usable = 0;
      for (GpuSpec g : n.gpus()) {
        if (g.mode() == GpuMode.WHOLE && r.constraints().allowsModel(g.model())) {
          usable++;
        }
      }
      if (usable >= w.count()) {
        free.put(n.id(), usable - ledger.wholeUsed.getOrDefault(n.id(), 0));
        empty.put(n.id(), usable);
      }
    }
    if (members(empty, w.count()) < h.spec.gangSize()) {
      reserveNothing(ps); // no set of nodes could ever host it
      return;
    }
    ps.extra = 0;
    if (members(free, w.count()) >= h.spec.gangSize()) {
      ps.shadow = ps.now;
      return;
    }
    for (Job run : ledger.runningByEnd) {
      if (run.endBoundMillis == Long.MAX_VALUE) {
        break;
      }
      boolean touched = false;
      for (Allocation a : run.heldAllocations()) {
        for (AllocatedGpu g : a.gpus()) {
          if (g.mode() == GpuMode.WHOLE && free.containsKey(g.nodeId())) {
            free.merge(g.nodeId(), 1, Integer::sum);
            touched = true;
          }
        }
      }
      if (touched && members(free, w.count()) >= h.spec.gangSize()) {
        ps.shadow = run.endBoundMillis;
        return;
      }
    }
    ps.shadow = Long.MAX_VALUE;
  }

  private static void reserveNothing(Pass ps) {
    ps.shadow = ps.now;
    ps.extra = Long.MAX_VALUE;
  }

  private static int members(Map<String, Integer> free, int perMember) {
    int m = 0;
    for (int f : free.values()) {
      m += Math.max(0, f) / perMember;
    }
    return m;
  }

  private static boolean overlaps(int[] a, int[] b) {
    for (int x : a) {
      if (contains(b, x)) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(int[] a, int x) {
    for (int y : a) {
      if (y == x) {
        return true;
      }
    }
    return false;
  }
}
