package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.MigGeometry;
import io.gpusched.MigInstance;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Chooses preemption victims by simulating, GPU by GPU, what would be free once they release.
 *
 * <p>For a single-GPU request (one whole GPU, a MIG profile, a share) it looks at every GPU that
 * holds a candidate victim and finds the victims that make the request fit there (for MIG, per
 * valid start slot: the jobs overlapping the block, then more while compute slices or the one
 * {@code +me} are short, checked exactly against the model's geometry; for shares, milli and
 * memory, removing in preference order), and keeps the GPU that needs the fewest victims and the
 * least lost work. Gangs of such requests are planned member by member on the simulated GPUs
 * (each member counted as placed where the planner put it, so two members never count the same
 * room). For whole-GPU requests of several GPUs (and gangs of them) it picks GPUs that are free or
 * become free, cheapest first, on one node per member when the request says so. Host CPU and
 * memory are checked, not planned for: a GPU or node is used only if its host resources, once the
 * chosen victims have left, cover the members planned there; no victim is chosen just to free
 * host resources. So a plan never frees a GPU the job then cannot take for lack of CPU or memory.
 * Choices never depend on hash order (ties go to the lowest node id). Dispatcher thread only.
 */
final class VictimPlanner {

  private final GpuCluster cluster;
  private final Capacity capacity;
  private final Map<Long, Job> owners;
  private final Map<String, @Nullable List<Allocation>> allocationsByNode = new HashMap<>();
  /** Stranding for requests that must not strand compute, memoized for this plan. */
  private final MigReach reach = new MigReach();

  VictimPlanner(GpuCluster cluster, Capacity capacity, Map<Long, Job> owners) {
    this.cluster = cluster;
    this.capacity = capacity;
    this.owners = owners;
  }

  /** One occupant of a GPU: its owning job (or null if not the scheduler's) and what it holds. */
  private record Occupant(@Nullable Job owner, AllocatedGpu gpu) {}

  /**
   * Returns the victims to preempt so that {@code request} × {@code gang} fits, or {@code null}.
   *
   * @param candidates jobs that may be preempted, most preferred victim first
   * @param now current time, for lost-work accounting
   */
  @Nullable List<Job> plan(PlacementRequest request, int gang, List<Job> candidates, long now) {
    // a candidate's rank is its preference as a victim; jobs without one may not be preempted
    Map<Job, Integer> rank = new HashMap<>();
    for (int i = 0; i < candidates.size(); i++) {
      rank.put(candidates.get(i), i);
    }
    GpuDemand d = request.gpus();
    if (d instanceof GpuDemand.Whole w && (gang > 1 || w.count() > 1)) {
      return whole(request, w, gang, rank, candidates, now);
    }
    return singles(request, gang, rank, candidates, now);
  }

  /** A node's allocations; null if it already left the engine (a node loss not yet booked). */
  private @Nullable List<Allocation> allocations(String nodeId) {
    if (!allocationsByNode.containsKey(nodeId)) {
      List<Allocation> held;
      try {
        held = cluster.allocations(nodeId);
      } catch (IllegalArgumentException gone) {
        held = null; // remembered, so a gone node costs one exception per plan
      }
      allocationsByNode.put(nodeId, held);
    }
    return allocationsByNode.get(nodeId);
  }

  private List<Occupant> occupants(String nodeId, int gpuIndex) {
    var out = new ArrayList<Occupant>();
    List<Allocation> held = allocations(nodeId);
    if (held == null) {
      return out;
    }
    for (Allocation a : held) {
      for (AllocatedGpu g : a.gpus()) {
        if (g.nodeId().equals(nodeId) && g.gpuIndex() == gpuIndex) {
          out.add(new Occupant(owners.get(a.id()), g));
        }
      }
    }
    return out;
  }

  private boolean usable(PlacementRequest r, NodeSpec node, GpuSpec gpu) {
    return capacity.states.get(node.id()) == NodeState.READY
        && allocations(node.id()) != null
        && r.constraints().allowsModel(gpu.model())
        && r.constraints().allowsNode(node.labels(), node.capacityClass())
        && Capacity.modeFits(r.gpus(), gpu.mode(), gpu.model());
  }

  /**
   * Requests of one GPU or part of one (a whole GPU, a MIG instance, a share), {@code gang} times:
   * member by member, the GPU that needs the fewest further victims (then the least lost work),
   * simulating the GPUs as earlier members and victims left them. A single member only looks at
   * the GPUs of candidate victims (a free fit would have been placed); a gang also counts GPUs with
   * room to spare, so that members fitting in free capacity cost nothing.
   */
  private @Nullable List<Job> singles(
      PlacementRequest r, int gang, Map<Job, Integer> rank, List<Job> ranked, long now) {
    var gpus = new LinkedHashMap<String, GpuAt>();
    for (Job v : ranked) {
      for (Allocation a : v.heldAllocations()) {
        for (AllocatedGpu g : a.gpus()) {
          NodeSpec node = capacity.nodes.get(g.nodeId());
          GpuSpec gpu = node == null ? null : gpuSpec(node, g.gpuIndex());
          if (node != null && gpu != null) {
            gpus.putIfAbsent(g.nodeId() + "#" + g.gpuIndex(), new GpuAt(node, gpu));
          }
        }
      }
    }
    if (gang > 1) {
      for (NodeSpec node : new TreeMap<>(capacity.nodes).values()) { // node id order: deterministic
        for (GpuSpec gpu : node.gpus()) {
          gpus.putIfAbsent(node.id() + "#" + gpu.index(), new GpuAt(node, gpu));
        }
      }
    }
    Map<String, List<Occupant>> sim = new HashMap<>();
    Map<String, Integer> membersOn = new HashMap<>(); // members planned per node, for host resources
    var gone = new LinkedHashSet<Job>();
    for (int member = 0; member < gang; member++) {
      List<Job> best = null;
      long bestLost = Long.MAX_VALUE;
      String bestKey = null;
      for (var e : gpus.entrySet()) {
        GpuAt at = e.getValue();
        if (!usable(r, at.node(), at.gpu())) {
          continue;
        }
        List<Occupant> occ =
            sim.computeIfAbsent(e.getKey(), k -> occupants(at.node().id(), at.gpu().index()));
        List<Job> more = freeUntilFits(r, at.gpu(), occ, gone, rank);
        if (more == null) {
          continue;
        }
        int here = membersOn.getOrDefault(at.node().id(), 0) + 1;
        if (!hostFits(at.node(), union(gone, more), times(r.cpuMillis(), here), times(r.memoryMiB(), here))) {
          continue; // the node's host CPU or memory would still be short
        }
        long lost = 0;
        for (Job c : more) {
          lost += c.lostWorkMillis(now);
        }
        if (best == null || more.size() < best.size() || (more.size() == best.size() && lost < bestLost)) {
          best = more;
          bestLost = lost;
          bestKey = e.getKey();
        }
      }
      if (best == null) {
        return null;
      }
      gone.addAll(best);
      GpuAt at = Objects.requireNonNull(gpus.get(bestKey), "the best GPU is known");
      membersOn.merge(at.node().id(), 1, Integer::sum);
      List<Occupant> occ = Objects.requireNonNull(sim.get(bestKey), "the best GPU is simulated");
      AllocatedGpu placed = placeOn(r.gpus(), at.node().id(), at.gpu(), remaining(occ, gone));
      occ.add(new Occupant(null, java.util.Objects.requireNonNull(placed, "it fit a moment ago")));
    }
    return gone.isEmpty() ? null : new ArrayList<>(gone);
  }

  private record GpuAt(NodeSpec node, GpuSpec gpu) {}

  private static List<AllocatedGpu> remaining(List<Occupant> occ, Set<Job> gone) {
    var left = new ArrayList<AllocatedGpu>();
    for (Occupant o : occ) {
      if (o.owner() == null || !gone.contains(o.owner())) {
        left.add(o.gpu());
      }
    }
    return left;
  }

  private static @Nullable GpuSpec gpuSpec(NodeSpec node, int index) {
    for (GpuSpec g : node.gpus()) {
      if (g.index() == index) {
        return g;
      }
    }
    return null;
  }

  /**
   * The further victims (beyond {@code gone}) after whose release {@code r} fits on {@code gpu}:
   * empty if it fits already, {@code null} if no choice of candidates makes it fit. On a {@link
   * GpuMode#MIG_DYNAMIC} GPU each valid start slot is tried: the jobs overlapping that block must
   * go, then more in preference order while compute slices (or the one {@code +me}) are short; the
   * start needing the fewest, then the most preferred, wins. Otherwise candidates go in preference
   * order until it fits.
   */
  private @Nullable List<Job> freeUntilFits(
      PlacementRequest r, GpuSpec gpu, List<Occupant> occ, Set<Job> gone, Map<Job, Integer> rank) {
    var removable = new ArrayList<Job>();
    for (Occupant o : occ) {
      Job owner = o.owner();
      if (owner != null && rank.containsKey(owner) && !gone.contains(owner) && !removable.contains(owner)) {
        removable.add(owner);
      }
    }
    removable.sort(Comparator.comparingInt(rank::get));
    MigGeometry geo = gpu.model().mig();
    if (!(r.gpus() instanceof GpuDemand.Mig m) || gpu.mode() != GpuMode.MIG_DYNAMIC || geo == null) {
      return thenInOrder(r, gpu, occ, gone, new ArrayList<>(), removable);
    }
    MigProfile p = geo.profile(m.profile()).orElse(null);
    if (p == null) {
      return null;
    }
    List<Job> best = null;
    int bestRanks = Integer.MAX_VALUE;
    for (int start : p.placementStarts()) {
      int block = ((1 << p.memorySlices()) - 1) << start;
      var forced = new ArrayList<Job>();
      boolean blocked = false;
      for (Occupant o : occ) {
        Job owner = o.owner();
        if (owner != null && gone.contains(owner)) {
          continue;
        }
        MigProfile q = o.gpu().migProfile() == null ? null : geo.profile(o.gpu().migProfile()).orElse(null);
        int held = q == null ? -1 : ((1 << q.memorySlices()) - 1) << o.gpu().migStartSlot();
        if ((held & block) != 0) {
          if (owner == null || !rank.containsKey(owner)) {
            blocked = true; // not ours to preempt
            break;
          }
          if (!forced.contains(owner)) {
            forced.add(owner);
          }
        }
      }
      if (blocked) {
        continue;
      }
      List<Job> chosen = thenInOrder(r, gpu, occ, gone, forced, removable);
      if (chosen == null) {
        continue;
      }
      int ranks = 0;
      for (Job c : chosen) {
        ranks += Objects.requireNonNull(rank.get(c), "every candidate is ranked");
      }
      if (best == null || chosen.size() < best.size() || (chosen.size() == best.size() && ranks < bestRanks)) {
        best = chosen;
        bestRanks = ranks;
      }
    }
    return best;
  }

  /** {@code first}, then candidates from {@code ranked} in order, until {@code r} fits; or null. */
  private @Nullable List<Job> thenInOrder(
      PlacementRequest r, GpuSpec gpu, List<Occupant> occ, Set<Job> gone, List<Job> first, List<Job> ranked) {
    var chosen = new ArrayList<>(first);
    var also = new LinkedHashSet<>(gone);
    also.addAll(first);
    int next = 0;
    for (; ; ) {
      if (placeOn(r.gpus(), "", gpu, remaining(occ, also)) != null) {
        return chosen;
      }
      while (next < ranked.size() && also.contains(ranked.get(next))) {
        next++;
      }
      if (next == ranked.size()) {
        return null;
      }
      Job v = ranked.get(next++);
      also.add(v);
      chosen.add(v);
    }
  }

  /**
   * Where {@code d} would go on {@code gpu} if only {@code left} stays on it (the first free MIG
   * placement or static instance), or {@code null} if it does not fit.
   */
  @Nullable AllocatedGpu placeOn(GpuDemand d, String nodeId, GpuSpec gpu, List<AllocatedGpu> left) {
    String model = gpu.model().name();
    if (d instanceof GpuDemand.Whole) {
      return left.isEmpty()
          ? new AllocatedGpu(nodeId, gpu.index(), gpu.uuid(), model, gpu.mode(), null, -1, (int) Capacity.GPU,
              gpu.model().memoryMiB())
          : null;
    }
    if (d instanceof GpuDemand.Share s) {
      long milli = s.milliGpu();
      long mem = s.memoryMiB();
      for (AllocatedGpu g : left) {
        milli += g.milliGpu();
        mem += g.memoryMiB();
      }
      return milli <= Capacity.GPU && mem <= gpu.model().memoryMiB()
          ? new AllocatedGpu(nodeId, gpu.index(), gpu.uuid(), model, gpu.mode(), null, -1, s.milliGpu(), s.memoryMiB())
          : null;
    }
    MigGeometry geo = gpu.model().mig();
    if (geo == null) {
      return null;
    }
    MigProfile p = geo.profile(((GpuDemand.Mig) d).profile()).orElse(null);
    if (p == null) {
      return null;
    }
    if (gpu.mode() == GpuMode.MIG_STATIC) {
      for (MigInstance inst : gpu.staticInstances()) {
        if (inst.profile().equals(p.name()) && !startTaken(left, inst.startSlot())) {
          return mig(nodeId, gpu, p, inst.startSlot());
        }
      }
      return null;
    }
    if (((GpuDemand.Mig) d).noStranding()) { // only a place that strands no compute will do
      int start = reach.firstLosslessStart(geo, left, p.name());
      return start < 0 ? null : mig(nodeId, gpu, p, start);
    }
    int mask = 0;
    int compute = 0;
    boolean me = false;
    for (AllocatedGpu g : left) {
      MigProfile q = g.migProfile() == null ? null : geo.profile(g.migProfile()).orElse(null);
      if (q == null) {
        return null;
      }
      mask |= ((1 << q.memorySlices()) - 1) << g.migStartSlot();
      compute += q.computeSlices();
      me |= q.isMediaExtension();
    }
    if (compute + p.computeSlices() > geo.computeSlices() || (me && p.isMediaExtension())) {
      return null;
    }
    int need = (1 << p.memorySlices()) - 1;
    for (int start : p.placementStarts()) {
      if ((mask & (need << start)) == 0) {
        return mig(nodeId, gpu, p, start);
      }
    }
    return null;
  }

  private static AllocatedGpu mig(String nodeId, GpuSpec gpu, MigProfile p, int start) {
    return new AllocatedGpu(
        nodeId, gpu.index(), gpu.uuid(), gpu.model().name(), gpu.mode(), p.name(), start, 0, p.memoryMiB());
  }

  private static boolean startTaken(List<AllocatedGpu> left, int start) {
    for (AllocatedGpu g : left) {
      if (g.migStartSlot() == start) {
        return true;
      }
    }
    return false;
  }

  /** The preference rank of a GPU's first occupant (0 for a free GPU). */
  private static int firstRank(List<Job> cost, Map<Job, Integer> rank) {
    return cost.isEmpty() ? 0 : Objects.requireNonNull(rank.get(cost.get(0)), "ranked");
  }

  /**
   * Whole GPUs: count × gang, per member on one node when asked. GPUs go cheapest first (free,
   * then fewest occupants, then the most preferred victim); a same-node member goes to the node
   * needing the fewest further victims, then the least lost work, then the lowest node id, so the
   * plan never depends on hash order.
   */
  private @Nullable List<Job> whole(
      PlacementRequest r, GpuDemand.Whole w, int gang, Map<Job, Integer> rank, List<Job> ranked, long now) {
    // Per node, by node id: GPUs that are free (cost empty) or freeable (cost = their occupants).
    Map<String, List<List<Job>>> options = new TreeMap<>();
    Set<String> nodes = new LinkedHashSet<>();
    for (Job v : ranked) {
      for (Allocation a : v.heldAllocations()) {
        nodes.add(a.nodeId());
      }
    }
    nodes.addAll(capacity.nodes.keySet()); // free GPUs count toward a member wherever they are
    for (String id : nodes) {
      NodeSpec node = capacity.nodes.get(id);
      if (node == null) {
        continue;
      }
      var list = new ArrayList<List<Job>>();
      for (GpuSpec gpu : node.gpus()) {
        if (!usable(r, node, gpu)) {
          continue;
        }
        var occ = occupants(id, gpu.index());
        var cost = new ArrayList<Job>();
        boolean ok = true;
        for (Occupant o : occ) {
          if (o.owner() == null || !rank.containsKey(o.owner())) {
            ok = false;
            break;
          }
          if (!cost.contains(o.owner())) {
            cost.add(o.owner());
          }
        }
        if (ok) {
          list.add(cost);
        }
      }
      list.sort(Comparator.<List<Job>>comparingInt(List::size).thenComparingInt(c -> firstRank(c, rank)));
      options.put(id, list);
    }
    var chosen = new LinkedHashSet<Job>();
    if (!w.sameNode()) {
      record Gpu(String node, List<Job> cost) {}
      var all = new ArrayList<Gpu>();
      options.forEach((id, list) -> list.forEach(c -> all.add(new Gpu(id, c))));
      all.sort(Comparator.<Gpu>comparingInt(g -> g.cost().size()).thenComparingInt(g -> firstRank(g.cost(), rank)));
      long need = (long) w.count() * gang;
      if (all.size() < need) {
        return null;
      }
      Map<String, Integer> gpusOn = new TreeMap<>();
      for (int i = 0; i < need; i++) {
        chosen.addAll(all.get(i).cost());
        gpusOn.merge(all.get(i).node(), 1, Integer::sum);
      }
      // Spread GPUs are charged the request's host resources / count each, rounded up.
      long cpuPer = ceilDiv(r.cpuMillis(), w.count());
      long memPer = ceilDiv(r.memoryMiB(), w.count());
      for (var e : gpusOn.entrySet()) {
        NodeSpec node = capacity.nodes.get(e.getKey());
        if (node == null || !hostFits(node, chosen, times(cpuPer, e.getValue()), times(memPer, e.getValue()))) {
          return null; // greedy: no search for other GPUs; better no preemption than a futile one
        }
      }
    } else {
      Map<String, Integer> used = new HashMap<>();
      for (int member = 0; member < gang; member++) {
        String bestNode = null;
        int bestCost = Integer.MAX_VALUE;
        long bestLost = Long.MAX_VALUE;
        for (var e : options.entrySet()) { // node id order: ties go to the lowest id
          int from = used.getOrDefault(e.getKey(), 0);
          if (e.getValue().size() - from < w.count()) {
            continue;
          }
          var set = new LinkedHashSet<Job>();
          for (int i = from; i < from + w.count(); i++) {
            set.addAll(e.getValue().get(i));
          }
          set.removeAll(chosen);
          int members = from / w.count() + 1;
          NodeSpec node = capacity.nodes.get(e.getKey());
          if (node == null
              || !hostFits(node, union(chosen, set), times(r.cpuMillis(), members), times(r.memoryMiB(), members))) {
            continue; // the node's host CPU or memory would still be short
          }
          long lost = 0;
          for (Job v : set) {
            lost += v.lostWorkMillis(now);
          }
          if (set.size() < bestCost || (set.size() == bestCost && lost < bestLost)) {
            bestCost = set.size();
            bestLost = lost;
            bestNode = e.getKey();
          }
        }
        if (bestNode == null) {
          return null;
        }
        int from = used.getOrDefault(bestNode, 0);
        for (int i = from; i < from + w.count(); i++) {
          chosen.addAll(Objects.requireNonNull(options.get(bestNode), "best node").get(i));
        }
        used.put(bestNode, from + w.count());
      }
    }
    return chosen.isEmpty() ? null : new ArrayList<>(chosen);
  }

  /**
   * Whether {@code node}'s host CPU and memory, once the jobs in {@code gone} have left, leave
   * {@code cpu} and {@code mem} free (each only if the node tracks it). Charges as the engine
   * does: a request's full amounts on its node, or for whole GPUs spread over nodes the amounts
   * divided by the GPU count, rounded up, per GPU on the node.
   */
  private boolean hostFits(NodeSpec node, Set<Job> gone, long cpu, long mem) {
    if (!node.tracksHostResources() || (cpu == 0 && mem == 0)) {
      return true;
    }
    List<Allocation> held = allocations(node.id());
    if (held == null) {
      return false;
    }
    long usedCpu = 0;
    long usedMem = 0;
    for (Allocation a : held) {
      Job owner = owners.get(a.id());
      if (owner != null && gone.contains(owner)) {
        continue;
      }
      int here = 0;
      for (AllocatedGpu g : a.gpus()) {
        if (g.nodeId().equals(node.id())) {
          here++;
        }
      }
      if (here == 0) {
        continue;
      }
      PlacementRequest q = a.request();
      if (q.gpus() instanceof GpuDemand.Whole qw && !qw.sameNode()) {
        usedCpu += times(ceilDiv(q.cpuMillis(), qw.count()), here);
        usedMem += times(ceilDiv(q.memoryMiB(), qw.count()), here);
      } else {
        usedCpu += q.cpuMillis();
        usedMem += q.memoryMiB();
      }
    }
    return (node.cpuMillis() == NodeSpec.UNTRACKED || node.cpuMillis() - usedCpu >= cpu)
        && (node.memoryMiB() == NodeSpec.UNTRACKED || node.memoryMiB() - usedMem >= mem);
  }

  private static Set<Job> union(Set<Job> a, Iterable<Job> b) {
    var out = new java.util.HashSet<>(a);
    for (Job j : b) {
      out.add(j);
    }
    return out;
  }

  /** {@code x * n} for non-negative amounts, saturating at {@code Long.MAX_VALUE}. */
  private static long times(long x, long n) {
    return n != 0 && x > Long.MAX_VALUE / n ? Long.MAX_VALUE : x * n;
  }

  private static long ceilDiv(long x, int y) {
    return x / y + (x % y == 0 ? 0 : 1);
  }
}
