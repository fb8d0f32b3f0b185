package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.GpuUsage;
import io.gpusched.MigInstance;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.NodeUsage;
import io.gpusched.PlacementRequest;
import io.gpusched.UsageSummary;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A deliberately simple, obviously correct model of a cluster for tests: nodes with their states,
 * and the live allocations. Everything else (per-GPU occupancy, host usage, what fits) is derived
 * from those by brute force, with NVML's rules written out directly: a MIG instance occupies
 * {@code memorySlices} consecutive slices from one of the profile's starts, instances never overlap,
 * compute slices add up to at most the GPU's, at most {@code maxInstances} of a profile; shares add
 * up to at most 1000 milli and the GPU's memory; a whole GPU excludes everything else.
 */
final class ReferenceModel {

  /** Occupancy of one GPU, derived from the live allocations. */
  static final class Use {
    final GpuSpec spec;
    int slotMask;
    int compute;
    final Map<String, Integer> profileCount = new HashMap<>();
    final Set<Integer> staticUsed = new HashSet<>();
    long milli;
    long mem;
    int allocations;
    boolean whole;

    Use(GpuSpec spec) {
      this.spec = spec;
    }

    boolean free() {
      return allocations == 0;
    }
  }

  final Map<String, NodeSpec> nodes = new LinkedHashMap<>();
  final Map<String, NodeState> states = new HashMap<>();
  final Map<Long, Allocation> live = new LinkedHashMap<>();

  /**
   * Severed spread gangs (a forced removal took one of their nodes while they held GPUs on
   * others): the nodes they lost, by allocation id. They stay in {@link #live}, holding only their
   * GPUs on other nodes, until released.
   */
  final Map<Long, Set<String>> severed = new HashMap<>();

  /**
   * For history checks: when the cordon (or drain) that made a node non-READY returned, in the
   * checker's clock ticks. A placement that started before then may still land on the node.
   */
  final Map<String, Long> cordonReturned = new HashMap<>();

  /** An independent copy (allocations are shared: the model reads only their fixed fields). */
  ReferenceModel copy() {
    ReferenceModel m = new ReferenceModel();
    m.nodes.putAll(nodes);
    m.states.putAll(states);
    m.live.putAll(live);
    m.severed.putAll(severed); // the sets are never changed in place
    m.cordonReturned.putAll(cordonReturned);
    return m;
  }

  void addNode(NodeSpec n) {
    nodes.put(n.id(), n);
    states.put(n.id(), NodeState.READY);
  }

  /**
   * Removes a node (forced): the active allocations on it are lost; a spread gang that also holds
   * GPUs on other nodes is severed and keeps those until released.
   */
  void removeNode(String id) {
    List<Allocation> on = liveOn(id);
    nodes.remove(id);
    states.remove(id);
    for (Allocation a : on) {
      if (held(a).stream().anyMatch(g -> !g.nodeId().equals(id))) {
        Set<String> lost = new HashSet<>(severed.getOrDefault(a.id(), Set.of()));
        lost.add(id);
        severed.put(a.id(), Set.copyOf(lost));
      } else {
        live.remove(a.id());
        severed.remove(a.id());
      }
    }
  }

  /** Releases a live (or severed) allocation; returns whether it was live. */
  boolean release(long id) {
    severed.remove(id);
    return live.remove(id) != null;
  }

  /** Whether a live allocation was severed (lost, holding GPUs elsewhere until released). */
  boolean isSevered(Allocation a) {
    return severed.containsKey(a.id());
  }

  /** The GPUs an allocation still holds: all, less those on nodes a severed gang lost. */
  List<AllocatedGpu> held(Allocation a) {
    Set<String> lost = severed.get(a.id());
    if (lost == null) {
      return a.gpus();
    }
    return a.gpus().stream().filter(g -> !lost.contains(g.nodeId())).toList();
  }

  /** The active (not severed) allocations holding GPUs on a node: a forced removal loses these. */
  List<Allocation> liveOn(String nodeId) {
    List<Allocation> out = new ArrayList<>();
    for (Allocation a : live.values()) {
      if (!isSevered(a) && a.gpus().stream().anyMatch(g -> g.nodeId().equals(nodeId))) {
        out.add(a);
      }
    }
    return out;
  }

  static boolean isSpread(PlacementRequest r) {
    return r.gpus() instanceof GpuDemand.Whole w && !w.sameNode() && w.count() > 1;
  }

  /** Host CPU and memory an allocation charges to a node: {cpu, mem}. */
  /** Host CPU and memory an allocation holding {@code held} of its GPUs charges to a node. */
  static long[] hostCharge(Allocation a, List<AllocatedGpu> held, NodeSpec node) {
    PlacementRequest r = a.request();
    long onNode = held.stream().filter(g -> g.nodeId().equals(node.id())).count();
    if (onNode == 0) {
      return new long[] {0, 0};
    }
    long cpu;
    long mem;
    if (isSpread(r)) {
      int k = ((GpuDemand.Whole) r.gpus()).count();
      cpu = ceilDiv(r.cpuMillis(), k) * onNode;
      mem = ceilDiv(r.memoryMiB(), k) * onNode;
    } else {
      cpu = r.cpuMillis();
      mem = r.memoryMiB();
    }
    return new long[] {
      node.cpuMillis() == NodeSpec.UNTRACKED ? 0 : cpu, node.memoryMiB() == NodeSpec.UNTRACKED ? 0 : mem
    };
  }

  static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }

  long[] hostUsed(String nodeId) {
    NodeSpec n = nodes.get(nodeId);
    long cpu = 0;
    long mem = 0;
    for (Allocation a : live.values()) {
      long[] c = hostCharge(a, held(a), n);
      cpu += c[0];
      mem += c[1];
    }
    return new long[] {cpu, mem};
  }

  /** Whether a node has room for a host charge of {cpu, mem} per unit, {@code units} times. */
  long hostUnits(String nodeId, long cpu, long mem) {
    NodeSpec n = nodes.get(nodeId);
    long[] used = hostUsed(nodeId);
    long units = Long.MAX_VALUE;
    if (n.cpuMillis() != NodeSpec.UNTRACKED && cpu > 0) {
      units = Math.min(units, Math.max(0, n.cpuMillis() - used[0]) / cpu);
    }
    if (n.memoryMiB() != NodeSpec.UNTRACKED && mem > 0) {
      units = Math.min(units, Math.max(0, n.memoryMiB() - used[1]) / mem);
    }
    return units;
  }

  /** Per-GPU occupancy of every present node, keyed "node/index". */
  Map<String, Use> usage() {
    Map<String, Use> out = new LinkedHashMap<>();
    for (NodeSpec n : nodes.values()) {
      for (GpuSpec g : n.gpus()) {
        out.put(n.id() + "/" + g.index(), new Use(g));
      }
    }
    for (Allocation a : live.values()) {
      for (AllocatedGpu g : held(a)) {
        Use u = out.get(g.nodeId() + "/" + g.gpuIndex());
        assertThat(u).as("allocation %s on unknown GPU %s", a, g).isNotNull();
        u.allocations++;
        switch (u.spec.mode()) {
          case WHOLE -> {
            u.whole = true;
            u.milli += 1000;
          }
          case SHARED -> {
            if (a.request().gpus() instanceof GpuDemand.Whole) {
              u.whole = true;
            }
            u.milli += g.milliGpu();
            u.mem += g.memoryMiB();
          }
          case MIG_DYNAMIC, MIG_STATIC -> {
            MigProfile p = u.spec.model().migProfile(g.migProfile());
            int mask = ((1 << p.memorySlices()) - 1) << g.migStartSlot();
            assertThat(u.slotMask & mask)
                .as("MIG instances overlap on %s: %s", g.nodeId() + "/" + g.gpuIndex(), a)
                .isZero();
            u.slotMask |= mask;
            u.compute += p.computeSlices();
            u.profileCount.merge(p.name(), 1, Integer::sum);
            if (u.spec.mode() == GpuMode.MIG_STATIC) {
              int idx = u.spec.staticInstances().indexOf(new MigInstance(p.name(), g.migStartSlot()));
              assertThat(idx).as("not a pre-made instance: %s", g).isGreaterThanOrEqualTo(0);
              assertThat(u.staticUsed.add(idx)).as("static instance granted twice: %s", g).isTrue();
            }
          }
        }
      }
    }
    return out;
  }

  /** Asserts that no GPU or node is over-committed. */
  void assertNoOvercommit() {
    for (var e : usage().entrySet()) {
      Use u = e.getValue();
      String gpu = e.getKey();
      switch (u.spec.mode()) {
        case WHOLE -> assertThat(u.allocations).as("WHOLE GPU %s granted twice", gpu).isLessThanOrEqualTo(1);
        case SHARED -> {
          assertThat(u.milli).as("milli on %s", gpu).isLessThanOrEqualTo(1000);
          assertThat(u.mem).as("memory on %s", gpu).isLessThanOrEqualTo(u.spec.model().memoryMiB());
          if (u.whole) {
            assertThat(u.allocations).as("SHARED GPU %s taken whole and shared", gpu).isEqualTo(1);
          }
        }
        case MIG_DYNAMIC, MIG_STATIC -> {
          assertThat(u.compute)
              .as("compute slices on %s", gpu)
              .isLessThanOrEqualTo(u.spec.model().mig().computeSlices());
          for (var pc : u.profileCount.entrySet()) {
            assertThat(pc.getValue())
                .as("instances of %s on %s", pc.getKey(), gpu)
                .isLessThanOrEqualTo(u.spec.model().migProfile(pc.getKey()).maxInstances());
          }
        }
      }
    }
    for (NodeSpec n : nodes.values()) {
      long[] used = hostUsed(n.id());
      if (n.cpuMillis() != NodeSpec.UNTRACKED) {
        assertThat(used[0]).as("host cpu of %s", n.id()).isLessThanOrEqualTo(n.cpuMillis());
      }
      if (n.memoryMiB() != NodeSpec.UNTRACKED) {
        assertThat(used[1]).as("host memory of %s", n.id()).isLessThanOrEqualTo(n.memoryMiB());
      }
    }
  }

  private boolean eligible(NodeSpec n, Constraints c) {
    return states.get(n.id()) == NodeState.READY
        && c.allowsNode(n.labels(), n.capacityClass());
  }

  private static boolean migFits(Use u, MigProfile p, boolean noStranding) {
    if (u.spec.mode() == GpuMode.MIG_STATIC) {
      List<MigInstance> inst = u.spec.staticInstances();
      for (int i = 0; i < inst.size(); i++) {
        if (inst.get(i).profile().equals(p.name()) && !u.staticUsed.contains(i)) {
          return true;
        }
      }
      return false;
    }
    if (u.compute + p.computeSlices() > u.spec.model().mig().computeSlices()) {
      return false;
    }
    if (u.profileCount.getOrDefault(p.name(), 0) >= p.maxInstances()) {
      return false;
    }
    for (int s : p.placementStarts()) {
      int mask = ((1 << p.memorySlices()) - 1) << s;
      if ((u.slotMask & mask) == 0
          && (!noStranding || strandsNothing(u.spec, u.slotMask, u.compute, u.profileCount, p, s))) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether {@code p} at {@code start} on a MIG_DYNAMIC GPU in this state leaves it able to reach
   * as many compute slices as before, by adding instances of any profile of its model (the rule of
   * {@code GpuDemand.Mig#noStranding}), by brute force over every completion.
   */
  static boolean strandsNothing(
      GpuSpec spec, int mask, int compute, Map<String, Integer> counts, MigProfile p, int start) {
    Map<String, Integer> after = new HashMap<>(counts);
    after.merge(p.name(), 1, Integer::sum);
    int block = ((1 << p.memorySlices()) - 1) << start;
    return mostCompute(spec, mask | block, compute + p.computeSlices(), after, REACH)
        == mostCompute(spec, mask, compute, counts, REACH);
  }

  /** {@link #mostCompute} by model and state, for every model of every test (a pure function). */
  private static final Map<String, Integer> REACH = new java.util.concurrent.ConcurrentHashMap<>();

  /** The most compute slices any completion of the state reaches (memoized). */
  private static int mostCompute(
      GpuSpec spec, int mask, int compute, Map<String, Integer> counts, Map<String, Integer> memo) {
    String key =
        spec.model().name() + "/" + spec.model().mig().hashCode() + "/" + mask + "/" + compute + "/"
            + new java.util.TreeMap<>(counts);
    Integer known = memo.get(key);
    if (known != null) {
      return known;
    }
    int best = compute;
    for (MigProfile q : spec.model().mig().profiles()) {
      if (compute + q.computeSlices() > spec.model().mig().computeSlices()
          || counts.getOrDefault(q.name(), 0) >= q.maxInstances()) {
        continue;
      }
      for (int s : q.placementStarts()) {
        int block = ((1 << q.memorySlices()) - 1) << s;
        if ((mask & block) == 0) {
          Map<String, Integer> next = new HashMap<>(counts);
          next.merge(q.name(), 1, Integer::sum);
          best = Math.max(best, mostCompute(spec, mask | block, compute + q.computeSlices(), next, memo));
        }
      }
    }
    memo.put(key, best);
    return best;
  }

  /** Whether the request fits now on some eligible READY GPU (what a single-threaded place must find). */
  boolean fits(PlacementRequest r) {
    Map<String, Use> use = usage();
    Constraints c = r.constraints();
    GpuDemand d = r.gpus();
    if (isSpread(r)) {
      GpuDemand.Whole w = (GpuDemand.Whole) d;
      int k = w.count();
      long cpu = ceilDiv(r.cpuMillis(), k);
      long mem = ceilDiv(r.memoryMiB(), k);
      Map<String, Long> total = new HashMap<>(); // by model, or all under "" when mixed
      for (NodeSpec n : nodes.values()) {
        if (!eligible(n, c)) {
          continue;
        }
        Map<String, Long> free = new HashMap<>();
        for (GpuSpec g : n.gpus()) {
          Use u = use.get(n.id() + "/" + g.index());
          if (takesWhole(g) && c.allowsModel(g.model()) && u.free()) {
            free.merge(w.mixedModels() ? "" : g.model().name(), 1L, Long::sum);
          }
        }
        long units = hostUnits(n.id(), cpu, mem);
        free.forEach((model, f) -> total.merge(model, Math.min(f, units), Long::sum));
      }
      return total.values().stream().anyMatch(t -> t >= k);
    }
    for (NodeSpec n : nodes.values()) {
      if (!eligible(n, c) || hostUnits(n.id(), r.cpuMillis(), r.memoryMiB()) < 1) {
        continue;
      }
      if (d instanceof GpuDemand.Whole w) {
        Map<String, Integer> freeByGroup = new HashMap<>();
        for (GpuSpec g : n.gpus()) {
          if (takesWhole(g) && c.allowsModel(g.model()) && use.get(n.id() + "/" + g.index()).free()) {
            freeByGroup.merge(g.model().name() + "|" + g.mode(), 1, Integer::sum);
          }
        }
        if (freeByGroup.values().stream().anyMatch(f -> f >= w.count())) {
          return true;
        }
        continue;
      }
      for (GpuSpec g : n.gpus()) {
        if (!c.allowsModel(g.model())) {
          continue;
        }
        Use u = use.get(n.id() + "/" + g.index());
        if (d instanceof GpuDemand.Mig m) {
          if (g.model().mig() != null
              && (g.mode() == GpuMode.MIG_DYNAMIC || g.mode() == GpuMode.MIG_STATIC)
              && g.model().mig().profile(m.profile()).isPresent()
              && migFits(u, g.model().migProfile(m.profile()), m.noStranding())) {
            return true;
          }
        } else if (d instanceof GpuDemand.Share s) {
          if (g.mode() == GpuMode.SHARED
              && u.milli + s.milliGpu() <= 1000
              && u.mem + s.memoryMiB() <= g.model().memoryMiB()) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** Whether some present GPU could host the demand if it were empty (else IAE is legitimate). */
  boolean everHostable(PlacementRequest r) {
    Constraints c = r.constraints();
    GpuDemand d = r.gpus();
    Map<String, Integer> spreadTotal = new HashMap<>(); // by model, or all under "" when mixed
    for (NodeSpec n : nodes.values()) {
      Map<String, Integer> byGroup = new HashMap<>();
      for (GpuSpec g : n.gpus()) {
        if (!c.allowsModel(g.model())) {
          continue;
        }
        if (d instanceof GpuDemand.Mig m) {
          if (g.mode() == GpuMode.MIG_DYNAMIC && g.model().mig().profile(m.profile()).isPresent()) {
            return true;
          }
          if (g.mode() == GpuMode.MIG_STATIC
              && g.staticInstances().stream().anyMatch(i -> i.profile().equals(m.profile()))) {
            return true;
          }
        } else if (d instanceof GpuDemand.Share s) {
          if (g.mode() == GpuMode.SHARED && s.memoryMiB() <= g.model().memoryMiB()) {
            return true;
          }
        } else if (wholeCapable(g)) {
          byGroup.merge(g.model().name() + "|" + g.mode(), 1, Integer::sum);
          boolean mixed = d instanceof GpuDemand.Whole w && w.mixedModels();
          spreadTotal.merge(mixed ? "" : g.model().name(), 1, Integer::sum);
        }
      }
      if (d instanceof GpuDemand.Whole w
          && !isSpread(r)
          && byGroup.values().stream().anyMatch(f -> f >= w.count())) {
        return true;
      }
    }
    return isSpread(r)
        && spreadTotal.values().stream().anyMatch(t -> t >= ((GpuDemand.Whole) d).count());
  }

  static boolean wholeCapable(GpuSpec g) {
    return g.mode() == GpuMode.WHOLE || g.mode() == GpuMode.SHARED;
  }

  /** For {@link #fitsOnWholeGpus}: SHARED GPUs do not take whole-GPU requests. */
  private boolean wholeModeOnly;

  /** Whether this model lets a whole-GPU request take this GPU. */
  private boolean takesWhole(GpuSpec g) {
    return g.mode() == GpuMode.WHOLE || (!wholeModeOnly && g.mode() == GpuMode.SHARED);
  }

  /**
   * Whether a whole-GPU request fits on {@link GpuMode#WHOLE} GPUs alone (then the engine must not
   * take an empty SHARED GPU for it).
   */
  boolean fitsOnWholeGpus(PlacementRequest r) {
    ReferenceModel m = copy();
    m.wholeModeOnly = true;
    return m.fits(r);
  }

  /** Asserts a fresh allocation is what was asked, where it was allowed to go. */
  void assertShape(Allocation a, PlacementRequest r) {
    assertThat(a.isActive()).isTrue();
    assertPlaced(a, r);
  }

  /**
   * Asserts that an allocation (active or not by now) is what was asked, where this model allows
   * it to go: on present READY nodes that the constraints allow, in the requested shape.
   */
  void assertPlaced(Allocation a, PlacementRequest r) {
    assertThat(a.request()).isEqualTo(r);
    assertThat(a.gpus()).isNotEmpty();
    assertThat(a.nodeId()).isEqualTo(a.gpus().get(0).nodeId());
    Set<String> distinct = new HashSet<>();
    for (AllocatedGpu g : a.gpus()) {
      assertThat(distinct.add(g.nodeId() + "/" + g.gpuIndex())).as("GPU twice in %s", a).isTrue();
      NodeSpec n = nodes.get(g.nodeId());
      assertThat(n).as("allocation on unknown node: %s", a).isNotNull();
      assertThat(states.get(n.id())).as("placed on a non-READY node: %s", a).isEqualTo(NodeState.READY);
      assertThat(r.constraints().allowsNode(n.labels(), n.capacityClass())).as("node constraint: %s", a).isTrue();
      assertThat(r.constraints().allowsModel(g.model())).as("model constraint: %s", a).isTrue();
      GpuSpec spec =
          n.gpus().stream().filter(s -> s.index() == g.gpuIndex()).findFirst().orElseThrow();
      assertThat(g.gpuUuid()).isEqualTo(spec.uuid());
      assertThat(g.model()).isEqualTo(spec.model().name());
      assertThat(r.constraints().allowsModel(spec.model())).as("GPU memory floor: %s", a).isTrue();
      assertThat(g.mode()).isEqualTo(spec.mode());
      GpuDemand d = r.gpus();
      if (d instanceof GpuDemand.Mig m) {
        assertThat(g.mode()).isIn(GpuMode.MIG_DYNAMIC, GpuMode.MIG_STATIC);
        assertThat(g.migProfile()).isEqualTo(m.profile());
        MigProfile p = spec.model().migProfile(m.profile());
        assertThat(p.placementStarts()).as("NVML placement of %s", a).contains(g.migStartSlot());
        assertThat(g.memoryMiB()).isEqualTo(p.memoryMiB());
        assertThat(g.milliGpu()).isZero();
        if (spec.mode() == GpuMode.MIG_STATIC) {
          assertThat(spec.staticInstances()).contains(new MigInstance(p.name(), g.migStartSlot()));
        } else if (m.noStranding()) { // on the GPU as it was without this allocation
          Use u = new Use(spec);
          for (Allocation o : live.values()) {
            if (o.id() == a.id()) {
              continue;
            }
            for (AllocatedGpu h : held(o)) {
              if (h.nodeId().equals(g.nodeId()) && h.gpuIndex() == g.gpuIndex() && h.migProfile() != null) {
                MigProfile q = spec.model().migProfile(h.migProfile());
                u.slotMask |= ((1 << q.memorySlices()) - 1) << h.migStartSlot();
                u.compute += q.computeSlices();
                u.profileCount.merge(q.name(), 1, Integer::sum);
              }
            }
          }
          assertThat(strandsNothing(spec, u.slotMask, u.compute, u.profileCount, p, g.migStartSlot()))
              .as("a no-stranding request stranded compute: %s", a)
              .isTrue();
        }
      } else if (d instanceof GpuDemand.Share s) {
        assertThat(g.mode()).isEqualTo(GpuMode.SHARED);
        assertThat(g.milliGpu()).isEqualTo(s.milliGpu());
        assertThat(g.memoryMiB()).isEqualTo(s.memoryMiB());
        assertThat(g.migProfile()).isNull();
        assertThat(g.migStartSlot()).isEqualTo(-1);
      } else {
        assertThat(g.mode()).isIn(GpuMode.WHOLE, GpuMode.SHARED);
        assertThat(g.milliGpu()).isEqualTo(1000);
        assertThat(g.memoryMiB()).isEqualTo(spec.model().memoryMiB());
        assertThat(g.migProfile()).isNull();
      }
    }
    if (d(r) instanceof GpuDemand.Whole w) {
      assertThat(a.gpus()).hasSize(w.count());
      if (w.sameNode()) {
        assertThat(a.gpus()).extracting(AllocatedGpu::nodeId).containsOnly(a.nodeId());
      }
      if (!w.mixedModels()) {
        assertThat(a.gpus().stream().map(AllocatedGpu::model).distinct())
            .as("whole GPUs of one model: %s", a)
            .hasSize(1);
      }
    } else {
      assertThat(a.gpus()).hasSize(1);
    }
  }

  private static GpuDemand d(PlacementRequest r) {
    return r.gpus();
  }

  /** Snapshot without its timestamp, for equality. */
  static List<Object> comparable(ClusterSnapshot s) {
    return List.of(s.nodes(), s.byModel(), s.byLabel(), s.total());
  }

  /** Asserts everything the cluster reports against this model. */
  void assertMatches(GpuCluster cluster) {
    assertNoOvercommit();
    assertThat(cluster.nodes()).extracting(NodeSpec::id).containsExactlyElementsOf(nodes.keySet());
    Map<String, Use> use = usage();
    ClusterSnapshot snap = cluster.snapshot();
    assertSnapshotAddsUp(snap);
    assertThat(snap.nodes()).extracting(NodeUsage::nodeId).containsExactlyElementsOf(nodes.keySet());
    for (NodeUsage nu : snap.nodes()) {
      NodeSpec n = nodes.get(nu.nodeId());
      assertThat(nu.state()).isEqualTo(states.get(n.id()));
      assertThat(nu.labels()).isEqualTo(n.labels());
      assertThat(nu.capacityClass()).isEqualTo(n.capacityClass());
      List<Allocation> on = liveOn(n.id());
      assertThat(nu.allocations()).as("allocations on %s", n.id()).isEqualTo(on.size());
      assertThat(cluster.allocations(n.id()))
          .extracting(Allocation::id)
          .as("allocations(%s)", n.id())
          .containsExactlyInAnyOrderElementsOf(on.stream().map(Allocation::id).toList());
      assertThat(nu.gpus()).hasSize(n.gpus().size());
      for (int i = 0; i < n.gpus().size(); i++) {
        GpuSpec spec = n.gpus().get(i);
        GpuUsage gu = nu.gpus().get(i);
        Use u = use.get(n.id() + "/" + spec.index());
        assertGpu(n.id(), spec, gu, u);
      }
    }
  }

  static void assertGpu(String nodeId, GpuSpec spec, GpuUsage gu, Use u) {
    String gpu = nodeId + "/" + spec.index();
    assertThat(gu.index()).isEqualTo(spec.index());
    assertThat(gu.model()).isEqualTo(spec.model().name());
    assertThat(gu.mode()).isEqualTo(spec.mode());
    assertThat(gu.free()).as("free of %s", gpu).isEqualTo(u.free());
    int expectedAllocated;
    switch (spec.mode()) {
      case WHOLE -> {
        assertThat(gu.milliUsed()).as("milli of %s", gpu).isEqualTo(u.whole ? 1000 : 0);
        assertThat(gu.migSlotMask()).isZero();
        assertThat(gu.memoryUsedMiB()).isZero();
        expectedAllocated = u.whole ? 1000 : 0;
      }
      case SHARED -> {
        assertThat(gu.milliUsed()).as("milli of %s", gpu).isEqualTo(u.milli);
        assertThat(gu.memoryUsedMiB()).as("memory of %s", gpu).isEqualTo(u.mem);
        assertThat(gu.migSlotMask()).isZero();
        expectedAllocated = (int) u.milli;
      }
      default -> {
        assertThat(gu.migSlotMask()).as("slots of %s", gpu).isEqualTo(u.slotMask);
        assertThat(gu.migComputeUsed()).as("compute of %s", gpu).isEqualTo(u.compute);
        assertThat(gu.milliUsed()).isZero();
        assertThat(gu.memoryUsedMiB()).isZero();
        var g = spec.model().mig();
        if (spec.mode() == GpuMode.MIG_DYNAMIC) {
          expectedAllocated =
              Math.max(
                  Integer.bitCount(u.slotMask) * 1000 / g.memorySlices(),
                  u.compute * 1000 / g.computeSlices());
        } else {
          int all = 0;
          for (MigInstance i : spec.staticInstances()) {
            all |= ((1 << spec.model().migProfile(i.profile()).memorySlices()) - 1) << i.startSlot();
          }
          expectedAllocated = Integer.bitCount(u.slotMask) * 1000 / Integer.bitCount(all);
        }
      }
    }
    assertThat(gu.allocatedMilli()).as("allocatedMilli of %s", gpu).isEqualTo(expectedAllocated);
    assertThat(gu.fragmentedMilli())
        .as("fragmentedMilli of %s", gpu)
        .isBetween(0.0, 1000.0 - gu.allocatedMilli() + 1e-9);
  }

  /** Sums over nodes, models and labels equal the total; percentages are within 0..100. */
  static void assertSnapshotAddsUp(ClusterSnapshot snap) {
    List<UsageSummary> perNode = new ArrayList<>();
    Map<String, List<UsageSummary>> perLabel = new HashMap<>();
    for (NodeUsage nu : snap.nodes()) {
      assertSummaryOfGpus(nu.summary(), nu.gpus(), nu.nodeId());
      perNode.add(nu.summary());
      for (var l : nu.labels().entrySet()) {
        perLabel.computeIfAbsent(l.getKey() + "=" + l.getValue(), k -> new ArrayList<>()).add(nu.summary());
      }
    }
    assertSum(perNode, snap.total(), "nodes vs total");
    assertSum(snap.byModel().values(), snap.total(), "models vs total");
    assertThat(snap.byLabel().keySet()).isEqualTo(perLabel.keySet());
    perLabel.forEach((k, v) -> assertSum(v, snap.byLabel().get(k), "label " + k));
    List<UsageSummary> all = new ArrayList<>(perNode);
    all.addAll(snap.byModel().values());
    all.addAll(snap.byLabel().values());
    all.add(snap.total());
    for (UsageSummary s : all) {
      assertSane(s);
    }
  }

  static void assertSane(UsageSummary s) {
    assertThat(s.allocatedPercent()).isBetween(0.0, 100.0);
    assertThat(s.fragmentationPercent()).isBetween(0.0, 100.0);
    assertThat(s.allocatedGpus()).isEqualTo(s.gpus() - s.freeGpus());
    assertThat(s.freeGpus()).isBetween(0, s.gpus());
    assertThat(s.capacityMilli()).isEqualTo(s.gpus() * 1000L);
    assertThat(s.allocatedMilli()).isBetween(0L, s.capacityMilli());
    assertThat(s.migSlicesUsed()).isBetween(0, s.migSlices());
    assertThat(s.sharedMilliUsed()).isBetween(0L, s.sharedMilli());
    assertThat(s.fragmentedMilli())
        .isBetween(0.0, s.capacityMilli() - s.allocatedMilli() + 1e-6 * Math.max(1, s.gpus()));
  }

  private static void assertSummaryOfGpus(UsageSummary s, List<GpuUsage> gpus, String what) {
    int free = 0;
    int migUsed = 0;
    long shared = 0;
    long sharedUsed = 0;
    long allocated = 0;
    double frag = 0;
    for (GpuUsage g : gpus) {
      free += g.free() ? 1 : 0;
      if (g.mode() == GpuMode.MIG_DYNAMIC || g.mode() == GpuMode.MIG_STATIC) {
        migUsed += Integer.bitCount(g.migSlotMask());
      }
      if (g.mode() == GpuMode.SHARED) {
        shared += 1000;
        sharedUsed += g.milliUsed();
      }
      allocated += g.allocatedMilli();
      frag += g.fragmentedMilli();
    }
    assertThat(s.gpus()).as(what).isEqualTo(gpus.size());
    assertThat(s.freeGpus()).as(what).isEqualTo(free);
    assertThat(s.migSlicesUsed()).as(what).isEqualTo(migUsed);
    assertThat(s.sharedMilli()).as(what).isEqualTo(shared);
    assertThat(s.sharedMilliUsed()).as(what).isEqualTo(sharedUsed);
    assertThat(s.allocatedMilli()).as(what).isEqualTo(allocated);
    assertThat(s.fragmentedMilli()).as(what).isCloseTo(frag, within(1e-6 * Math.max(1, gpus.size())));
  }

  private static void assertSum(Collection<UsageSummary> parts, UsageSummary total, String what) {
    long gpus = 0;
    long free = 0;
    long alloc = 0;
    long migSlices = 0;
    long migUsed = 0;
    long shared = 0;
    long sharedUsed = 0;
    long cap = 0;
    long allocated = 0;
    double frag = 0;
    for (UsageSummary p : parts) {
      gpus += p.gpus();
      free += p.freeGpus();
      alloc += p.allocatedGpus();
      migSlices += p.migSlices();
      migUsed += p.migSlicesUsed();
      shared += p.sharedMilli();
      sharedUsed += p.sharedMilliUsed();
      cap += p.capacityMilli();
      allocated += p.allocatedMilli();
      frag += p.fragmentedMilli();
    }
    assertThat(gpus).as(what + ": gpus").isEqualTo(total.gpus());
    assertThat(free).as(what + ": free").isEqualTo(total.freeGpus());
    assertThat(alloc).as(what + ": allocated GPUs").isEqualTo(total.allocatedGpus());
    assertThat(migSlices).as(what + ": MIG slices").isEqualTo(total.migSlices());
    assertThat(migUsed).as(what + ": MIG slices used").isEqualTo(total.migSlicesUsed());
    assertThat(shared).as(what + ": shared milli").isEqualTo(total.sharedMilli());
    assertThat(sharedUsed).as(what + ": shared milli used").isEqualTo(total.sharedMilliUsed());
    assertThat(cap).as(what + ": capacity").isEqualTo(total.capacityMilli());
    assertThat(allocated).as(what + ": allocated milli").isEqualTo(total.allocatedMilli());
    assertThat(frag).as(what + ": fragmented").isCloseTo(total.fragmentedMilli(), within(1e-6 * Math.max(1, gpus)));
  }
}
