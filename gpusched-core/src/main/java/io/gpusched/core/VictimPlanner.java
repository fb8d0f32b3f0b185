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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Chooses preemption victims by simulating, GPU by GPU, what would be free once they release.
 *
 * <p>For a single-GPU request (one whole GPU, a MIG profile, a share) it looks at every GPU that
 * holds a candidate victim, removes candidates from it in preference order until the request would
 * fit there (exact for MIG: slot placements, compute slices and {@code +me} uniqueness from the
 * model's geometry; shares: milli and memory), and keeps the GPU that needs the fewest victims and
 * the least lost work. For whole-GPU requests of several GPUs (and gangs of them) it picks GPUs that
 * are free or become free, cheapest first, on one node per member when the request says so. Gangs
 * of MIG or share requests are not planned (no preemption for them). Host CPU and memory are not
 * simulated. Dispatcher thread only.
 */
final class VictimPlanner {

  private final GpuCluster cluster;
  private final Capacity capacity;
  private final Map<Long, Job> owners;
  private final Map<String, List<Allocation>> allocationsByNode = new HashMap<>();

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
    if (d instanceof GpuDemand.Whole w) {
      if (gang == 1 && w.count() == 1) {
        return single(request, rank, candidates, now);
      }
      return whole(request, w, gang, rank, candidates);
    }
    return gang == 1 ? single(request, rank, candidates, now) : null;
  }

  private List<Allocation> allocations(String nodeId) {
    return allocationsByNode.computeIfAbsent(nodeId, cluster::allocations);
  }

  private List<Occupant> occupants(String nodeId, int gpuIndex) {
    var out = new ArrayList<Occupant>();
    for (Allocation a : allocations(nodeId)) {
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
        && r.constraints().allowsModel(gpu.model().name())
        && r.constraints().allowsNode(node.labels(), node.capacityClass())
        && Capacity.modeFits(r.gpus(), gpu.mode(), gpu.model());
  }

  private @Nullable List<Job> single(
      PlacementRequest r, Map<Job, Integer> rank, List<Job> ranked, long now) {
    Set<String> seen = new java.util.HashSet<>();
    List<Job> best = null;
    long bestLost = Long.MAX_VALUE;
    for (Job v : ranked) {
      for (Allocation a : v.allocations) {
        for (AllocatedGpu g : a.gpus()) {
          if (!seen.add(g.nodeId() + "#" + g.gpuIndex())) {
            continue;
          }
          NodeSpec node = capacity.nodes.get(g.nodeId());
          GpuSpec gpu = node == null ? null : gpuSpec(node, g.gpuIndex());
          if (gpu == null || !usable(r, node, gpu)) {
            continue;
          }
          List<Job> chosen = freeUntilFits(r, gpu, occupants(g.nodeId(), g.gpuIndex()), rank);
          if (chosen == null) {
            continue;
          }
          long lost = 0;
          for (Job c : chosen) {
            lost += c.lostWorkMillis(now);
          }
          if (best == null
              || chosen.size() < best.size()
              || (chosen.size() == best.size() && lost < bestLost)) {
            best = chosen;
            bestLost = lost;
          }
        }
      }
    }
    return best;
  }

  private static @Nullable GpuSpec gpuSpec(NodeSpec node, int index) {
    for (GpuSpec g : node.gpus()) {
      if (g.index() == index) {
        return g;
      }
    }
    return null;
  }

  private @Nullable List<Job> freeUntilFits(
      PlacementRequest r, GpuSpec gpu, List<Occupant> occ, Map<Job, Integer> rank) {
    var removable = new ArrayList<Job>();
    for (Occupant o : occ) {
      if (o.owner() != null && rank.containsKey(o.owner()) && !removable.contains(o.owner())) {
        removable.add(o.owner());
      }
    }
    removable.sort(Comparator.comparingInt(rank::get));
    var gone = new LinkedHashSet<Job>();
    for (int i = 0; i <= removable.size(); i++) {
      if (i > 0) {
        gone.add(removable.get(i - 1));
      }
      var left = new ArrayList<AllocatedGpu>();
      for (Occupant o : occ) {
        if (o.owner() == null || !gone.contains(o.owner())) {
          left.add(o.gpu());
        }
      }
      if (fits(r.gpus(), gpu, left)) {
        return i == 0 ? null : new ArrayList<>(gone);
      }
    }
    return null;
  }

  /** Whether {@code d} fits on {@code gpu} if only {@code left} stays on it. */
  static boolean fits(GpuDemand d, GpuSpec gpu, List<AllocatedGpu> left) {
    if (d instanceof GpuDemand.Whole) {
      return left.isEmpty();
    }
    if (d instanceof GpuDemand.Share s) {
      long milli = s.milliGpu();
      long mem = s.memoryMiB();
      for (AllocatedGpu g : left) {
        milli += g.milliGpu();
        mem += g.memoryMiB();
      }
      return milli <= Capacity.GPU && mem <= gpu.model().memoryMiB();
    }
    MigGeometry geo = gpu.model().mig();
    if (geo == null) {
      return false;
    }
    MigProfile p = geo.profile(((GpuDemand.Mig) d).profile()).orElse(null);
    if (p == null) {
      return false;
    }
    if (gpu.mode() == GpuMode.MIG_STATIC) {
      for (MigInstance inst : gpu.staticInstances()) {
        if (inst.profile().equals(p.name()) && !startTaken(left, inst.startSlot())) {
          return true;
        }
      }
      return false;
    }
    int mask = 0;
    int compute = 0;
    boolean me = false;
    for (AllocatedGpu g : left) {
      MigProfile q = g.migProfile() == null ? null : geo.profile(g.migProfile()).orElse(null);
      if (q == null) {
        return false;
      }
      mask |= ((1 << q.memorySlices()) - 1) << g.migStartSlot();
      compute += q.computeSlices();
      me |= q.isMediaExtension();
    }
    if (compute + p.computeSlices() > geo.computeSlices() || (me && p.isMediaExtension())) {
      return false;
    }
    int need = (1 << p.memorySlices()) - 1;
    for (int start : p.placementStarts()) {
      if ((mask & (need << start)) == 0) {
        return true;
      }
    }
    return false;
  }

  private static boolean startTaken(List<AllocatedGpu> left, int start) {
    for (AllocatedGpu g : left) {
      if (g.migStartSlot() == start) {
        return true;
      }
    }
    return false;
  }

  /** Whole GPUs: count × gang, per member on one node when asked. */
  private @Nullable List<Job> whole(
      PlacementRequest r, GpuDemand.Whole w, int gang, Map<Job, Integer> rank, List<Job> ranked) {
    // Per node: GPUs that are free (cost empty) or freeable (cost = their occupants).
    Map<String, List<List<Job>>> options = new HashMap<>();
    Set<String> nodes = new LinkedHashSet<>();
    for (Job v : ranked) {
      for (Allocation a : v.allocations) {
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
      list.sort(Comparator.comparingInt(List::size));
      options.put(id, list);
    }
    var chosen = new LinkedHashSet<Job>();
    if (!w.sameNode()) {
      var all = new ArrayList<List<Job>>();
      options.values().forEach(all::addAll);
      all.sort(Comparator.<List<Job>>comparingInt(List::size)
          .thenComparingInt(c -> c.isEmpty() ? 0 : rank.get(c.get(0))));
      int need = w.count() * gang;
      if (all.size() < need) {
        return null;
      }
      for (int i = 0; i < need; i++) {
        chosen.addAll(all.get(i));
      }
    } else {
      Map<String, Integer> used = new HashMap<>();
      for (int member = 0; member < gang; member++) {
        String bestNode = null;
        int bestCost = Integer.MAX_VALUE;
        for (var e : options.entrySet()) {
          int from = used.getOrDefault(e.getKey(), 0);
          if (e.getValue().size() - from < w.count()) {
            continue;
          }
          var set = new LinkedHashSet<Job>();
          for (int i = from; i < from + w.count(); i++) {
            set.addAll(e.getValue().get(i));
          }
          set.removeAll(chosen);
          if (set.size() < bestCost) {
            bestCost = set.size();
            bestNode = e.getKey();
          }
        }
        if (bestNode == null) {
          return null;
        }
        int from = used.getOrDefault(bestNode, 0);
        for (int i = from; i < from + w.count(); i++) {
          chosen.addAll(options.get(bestNode).get(i));
        }
        used.put(bestNode, from + w.count());
      }
    }
    return chosen.isEmpty() ? null : new ArrayList<>(chosen);
  }
}
