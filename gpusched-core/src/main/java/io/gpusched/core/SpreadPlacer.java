package io.gpusched.core;

import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.PlacementRequest;
import org.jspecify.annotations.Nullable;

/**
 * Spread gangs: whole GPUs on any nodes, of one GPU model unless the request allows mixing, all
 * taken at one instant or none. Plans read-only in strategy order with {@link Placer}'s cursors,
 * then takes the plan with one atomic gang ({@link GangClaims}). Lock-free like {@link Placer}: a
 * plan is made again only after another thread took a planned GPU or moved the index. Stateless
 * apart from the placer; called concurrently by any number of threads.
 */
@EnginePart
final class SpreadPlacer {
  private final Placer placer;

  SpreadPlacer(Placer placer) {
    this.placer = placer;
  }

  /**
   * Whole GPUs on any nodes, all at one instant or none: a read-only walk in strategy order plans
   * {@code count} empty GPUs (with room for their host share on each node), then one atomic gang
   * takes them ({@link GangClaims}); a failed gang plans again (another placement took a planned
   * GPU: progress). Unless the demand allows mixed models, a plan is made per GPU model and the
   * best full plan is taken: with a cost-first strategy the one with the lowest sum of prices
   * (each model's plan is made cheapest groups first), then one on WHOLE GPUs alone before one that
   * needs an empty SHARED GPU, then the one whose first candidate comes first in strategy order. A plan that comes up
   * short (for every model) is a miss, trusted like any other only if no index window opened or
   * closed while it was made (the announced GPUs and nodes are planned from too). Host resources
   * are taken in the same step as the GPUs ({@link Takes}).
   */
  @Nullable Reservation place(Group[] groups, GpuDemand.Whole w, PlacementRequest request) {
    int count = w.count();
    long cpu = ceilDiv(request.cpuMillis(), count);
    long mem = ceilDiv(request.memoryMiB(), count);
    Constraints c = request.constraints();
    GpuDemand one = new GpuDemand.Whole(1, true);
    Group[][] byModel = w.mixedModels() ? new Group[][] {groups} : byModel(groups);
    for (; ; ) {
      long stamp = Placer.moves(groups);
      java.util.List<GpuSlot> plan = null;
      Rank first = null;
      for (Group[] model : byModel) {
        java.util.List<GpuSlot> p = new java.util.ArrayList<>(count);
        Rank f = planSpread(model, one, c, count, cpu, mem, p);
        if (p.size() == count && (plan == null || (f != null && (first == null || f.before(first))))) {
          plan = p;
          first = f;
        }
      }
      if (plan == null) {
        if (Placer.moves(groups) == stamp) {
          return null;
        }
        continue;
      }
      GpuSlot[] gpus = plan.toArray(GpuSlot[]::new);
      long[] deltas = new long[count];
      for (int i = 0; i < count; i++) {
        deltas[i] = gpus[i].group.space.wholeDelta();
      }
      long[] cpus = new long[count];
      long[] mems = new long[count];
      java.util.Arrays.fill(cpus, cpu);
      java.util.Arrays.fill(mems, mem);
      int took = Placer.take(gpus, deltas, cpus, mems);
      if (took == Takes.RACED) {
        continue; // another placement took a planned GPU first (progress): plan again
      }
      if (took == Takes.NO_HOST) {
        // a node's host resources were taken since the plan read them (another placement's
        // progress): plan again, without that node if they still do not fit
        continue;
      }
      Reservation r = new Reservation(count);
      for (int i = 0; i < count; i++) {
        GpuSlot g = gpus[i];
        r.add(g, deltas[i], cpu, mem, g.group.space.mode == GpuMode.SHARED ? -1 : 0);
      }
      gpus[0].group.hook(ProbePoint.HOST_HELD, gpus[0]);
      return r;
    }
  }

  /** The groups split by GPU model, in the order each model first appears. */
  static Group[][] byModel(Group[] groups) {
    java.util.Map<String, java.util.List<Group>> m = new java.util.LinkedHashMap<>();
    for (Group g : groups) {
      m.computeIfAbsent(g.space.model.name(), k -> new java.util.ArrayList<>()).add(g);
    }
    Group[][] out = new Group[m.size()][];
    int i = 0;
    for (java.util.List<Group> l : m.values()) {
      out[i++] = l.toArray(Group[]::new);
    }
    return out;
  }

  /**
   * Plans up to {@code count} empty GPUs for a spread gang, in strategy order (WHOLE groups before
   * SHARED ones), then announced. Returns the plan's rank against another model's (its worst tier,
   * then its first candidate's score), or null if the walk planned nothing.
   */
  private @Nullable Rank planSpread(
      Group[] groups,
      GpuDemand one,
      Constraints c,
      int count,
      long cpu,
      long mem,
      java.util.List<GpuSlot> plan) {
    GroupCursor[] cursors = new GroupCursor[groups.length];
    boolean[] live = new boolean[groups.length];
    for (int i = 0; i < groups.length; i++) {
      cursors[i] = placer.cursor(groups[i], one, c);
      live[i] = cursors[i].next();
    }
    Rank first = null;
    while (plan.size() < count) {
      int best = -1;
      for (int i = 0; i < cursors.length; i++) {
        if (live[i] && (best < 0 || cursors[i].before(cursors[best]))) {
          best = i;
        }
      }
      if (best < 0) {
        break;
      }
      GroupCursor cur = cursors[best];
      if (CandidateOrder.isNodeBucket(cur.entryValue())) {
        GroupNode gn = cur.group.node(cur.index);
        if (gn != null) {
          int before = plan.size();
          planFrom(gn, count, cpu, mem, plan);
          if (first == null && plan.size() > before) {
            first = new Rank(0, 0, cur.score());
          }
        }
      }
      live[best] = cur.next();
    }
    for (int gi = 0; gi < groups.length && plan.size() < count; gi++) {
      Group g = groups[gi];
      Bits[] filter = null;
      for (IndexWindows.Chunk ch = g.index.windows.head; ch != null; ch = ch.next.get()) {
        for (int i = 0; i < IndexWindows.CHUNK && plan.size() < count; i++) {
          Object o = ch.cells.get(i);
          GroupNode gn = o instanceof GpuSlot s ? s.groupNode : o instanceof GroupNode n ? n : null;
          if (gn == null) {
            continue;
          }
          if (filter == null) {
            filter = g.filterFor(c);
          }
          if (filter[1].get(gn.local)) {
            planFrom(gn, count, cpu, mem, plan);
          }
        }
      }
    }
    if (first == null) {
      return null;
    }
    int tier = 0; // the plan's tier is its worst GPU's: a plan on WHOLE GPUs alone comes first
    double cost = 0; // the sum of its GPUs' group prices (0 unless the strategy is cost-first)
    for (GpuSlot gpu : plan) {
      tier = Math.max(tier, gpu.group.space.mode == GpuMode.SHARED ? 1 : 0);
      cost += gpu.group.price;
    }
    return new Rank(cost, tier, first.score());
  }

  /**
   * Where a plan comes in strategy order: its price per hour (the sum of its GPUs' prices with a
   * cost-first strategy, else 0), its tier, then its first candidate's score (lower first).
   */
  record Rank(double cost, int tier, double score) {
    boolean before(Rank o) {
      if (cost != o.cost) {
        return cost < o.cost;
      }
      return tier != o.tier ? tier < o.tier : score < o.score;
    }
  }

  /** Adds a node's empty GPUs to a spread plan, as many as its host resources allow. */
  private static void planFrom(
      GroupNode gn, int count, long cpu, long mem, java.util.List<GpuSlot> plan) {
    if (!gn.node.schedulable()) {
      return;
    }
    long onNode = 0;
    for (GpuSlot p : plan) {
      if (p.node == gn.node) {
        onNode++;
      }
    }
    for (GpuSlot gpu : gn.gpus) {
      if (plan.size() == count) {
        return;
      }
      if (gpu.lvWord() != 0 || plan.contains(gpu)) {
        continue;
      }
      if (!gn.node.hostMayFit(cpu * (onNode + 1), mem * (onNode + 1))) {
        return;
      }
      plan.add(gpu);
      onNode++;
    }
  }

  private static long ceilDiv(long x, int y) {
    return x / y + (x % y == 0 ? 0 : 1); // no overflow, unlike (x + y - 1) / y
  }

}
