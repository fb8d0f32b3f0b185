package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuSpec;
import io.gpusched.GpuUsage;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.NodeUsage;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.UsageSummary;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lock-free {@link GpuCluster}. See {@link Group} for the index protocol, {@link Space} for the
 * word layouts and {@code docs/placement.md} for the whole algorithm.
 *
 * <p><b>Placement</b> (lock-free): pick the eligible groups (model, mode, constraints), walk each
 * group's candidate order with a {@link Group.Cursor}, merging groups by score; for the best
 * candidate CAS the GPU word from the value read to value + delta (retried while the GPU still
 * fits), then reserve host resources (CAS on the node's host word; on failure the GPU is given
 * back). The CAS is the linearization point of a single-GPU placement. A gang CASes GPU by GPU (a
 * node's GPUs in index order) and rolls back on failure; it becomes visible as one allocation only
 * after all CASes succeeded, and a failed gang leaves no word changed. A walk that finds nothing
 * tries the GPUs and nodes announced in open index windows and is trusted only if no window
 * opened or closed meanwhile; it never waits for another thread (see {@link #placeOne}).
 *
 * <p><b>Publication.</b> The allocation is registered on its GPUs (see {@link GpuSlot}), then the
 * nodes' {@code removed} flags are read (Dekker-style against {@link #removeNode}, which writes the
 * flag before reading the registrations), and finally its state is CASed from PENDING to ACTIVE. Either the remover sees
 * the allocation (and reports it lost, or aborts it while PENDING) or the placer sees the flag and
 * backs out; nothing is dropped silently.
 *
 * <p><b>Release</b> (lock-free): CAS the allocation's state ACTIVE to RELEASED (idempotence), then
 * per GPU open an index window, subtract the delta with one atomic add, re-index, close the
 * window (see {@link Group#release}), and give host resources back.
 *
 * <p><b>Management</b> ({@code addNode}, {@code setNodeState}, {@code removeNode}) is serialized by
 * a monitor that placements never take.
 */
final class LockFreeCluster implements GpuCluster {
  private static final Logger log = LoggerFactory.getLogger(LockFreeCluster.class);
  private static final int MAX_PUBLISH_RETRIES = 16;

  private final PlacementStrategy strategy;
  private final Mix mix;
  private final Object mgmt = new Object();
  private final AtomicLong ids = new AtomicLong();
  private final boolean mixLearning;

  /** Allocation ids come in blocks per thread, so that no placement contends on one counter. */
  private static final int ID_BLOCK = 1024;

  private final ThreadLocal<long[]> idBlock = ThreadLocal.withInitial(() -> new long[] {0, 0});

  private final Map<String, Group> groupByKey = new HashMap<>();
  private final Map<String, GpuModel> models = new HashMap<>();
  private final Map<String, NodeEntry> nodes = new ConcurrentHashMap<>();
  private volatile List<NodeEntry> nodeOrder = List.of();
  private volatile Group[] allGroups = new Group[0];
  private volatile Group[] wholeGroups = new Group[0];
  private volatile Group[] shareGroups = new Group[0];
  private volatile Map<String, Group[]> migGroups = Map.of();
  /**
   * The mix weights the tables are built from; written by one relearn at a time (learned mix) or
   * by management (fixed mix).
   */
  private volatile double[] tableWeights;

  private final Supplier<double[]> currentWeights = () -> tableWeights;
  private int nodeOrdinals;
  private volatile Probe probe = Probe.NONE;

  LockFreeCluster(PlacementStrategy strategy, Mix mix) {
    this.strategy = strategy;
    this.mix = mix;
    this.mixLearning = strategy.usesFragmentation() && !mix.isFixed();
    this.tableWeights = mix.weights();
  }

  PlacementStrategy strategy() {
    return strategy;
  }

  /** The mix weights the decision tables were last built from (for tests). */
  double[] tableWeights() {
    return tableWeights;
  }

  /** The request mix (for tests). */
  Mix mix() {
    return mix;
  }

  /** All groups, in creation order (for tests). */
  Group[] groups() {
    return allGroups;
  }

  /** Test seam: installs a probe on the cluster and its groups (see {@link Probe}). */
  void probe(Probe p) {
    synchronized (mgmt) {
      probe = p;
      for (Group g : allGroups) {
        g.probe = p;
      }
    }
  }

  // ================================================================= placement

  @Override
  public Optional<Allocation> place(PlacementRequest request) {
    Objects.requireNonNull(request, "request");
    GpuDemand demand = request.gpus();
    Constraints c = request.constraints();
    Group[] groups = eligibleGroups(demand, c);
    for (int attempt = 0; attempt < MAX_PUBLISH_RETRIES; attempt++) {
      Reservation r;
      if (demand instanceof GpuDemand.Whole w && !w.sameNode() && w.count() > 1) {
        r = placeSpread(groups, w.count(), request);
      } else {
        r = placeOne(groups, demand, request.cpuMillis(), request.memoryMiB(), c);
      }
      if (mixLearning) {
        mix.record(mixClass(demand, r == null ? groups[0] : r.slots[0].group));
      }
      if (r == null) {
        return Optional.empty();
      }
      long id = nextId();
      AllocationImpl a = publish(r, request, id);
      // learning the mix is paced by this thread's placements (deterministic for a given
      // sequence), and runs only after the reservation is published or backed out
      if (mixLearning && (id & (Mix.RELEARN_EVERY - 1)) == 0) {
        relearnAfter(a);
      }
      if (a != null) {
        return Optional.of(a);
      }
    }
    log.debug("placement of {} gave up after racing node removals", request);
    return Optional.empty();
  }

  private static int mixClass(GpuDemand demand, Group g) {
    if (demand instanceof GpuDemand.Mig m) {
      return g.mixClasses[((MigSpace) g.space).profileIndex(m.profile())];
    }
    if (demand instanceof GpuDemand.Share s) {
      return Mix.shareClass(s.milliGpu());
    }
    return Mix.wholeClass(((GpuDemand.Whole) demand).count());
  }

  /** The groups that may host the demand; throws if no node of the cluster ever could. */
  private Group[] eligibleGroups(GpuDemand demand, Constraints c) {
    Group[] candidates;
    if (demand instanceof GpuDemand.Mig m) {
      candidates = migRoute(m.profile());
    } else if (demand instanceof GpuDemand.Share) {
      candidates = shareGroups;
    } else {
      candidates = wholeGroups;
    }
    Group[] out = candidates;
    int n = 0;
    for (int i = 0; i < candidates.length; i++) {
      Group g = candidates[i];
      if (c.allowsModel(g.space.model.name()) && canEverHost(g, demand)) {
        if (out != candidates) {
          out[n] = g;
        }
        n++;
      } else if (out == candidates) {
        out = Arrays.copyOf(candidates, candidates.length);
        n = i;
      }
    }
    if (n == 0) {
      throw new IllegalArgumentException(whyNot(demand, c));
    }
    if (demand instanceof GpuDemand.Whole w && !w.sameNode() && w.count() > 1) {
      long total = 0;
      for (int i = 0; i < n; i++) {
        total += out[i].liveGpus; // removed nodes do not count
      }
      if (w.count() > total) {
        throw new IllegalArgumentException(
            "request for " + w.count() + " whole GPUs exceeds the " + total
                + " eligible GPUs of the cluster");
      }
    }
    return n == out.length ? out : Arrays.copyOf(out, n);
  }

  /** A remembered route; final fields make it safe to share through a racy array. */
  private static final class Route {
    final String profile;
    final Group[] groups;

    Route(String profile, Group[] groups) {
      this.profile = profile;
      this.groups = groups;
    }
  }

  /** Identity-keyed cache in front of {@link #migGroups}; replaced whenever the groups change. */
  private volatile Route[] routes = new Route[16];

  private Group[] migRoute(String profile) {
    Route[] cache = routes;
    int slot = System.identityHashCode(profile) & (cache.length - 1);
    Route r = cache[slot];
    if (r != null && r.profile == profile) {
      return r.groups;
    }
    Group[] groups = migGroups.get(profile);
    if (groups == null) {
      groups = new Group[0];
    }
    cache[slot] = new Route(profile, groups); // racy but benign
    return groups;
  }

  /** Whether some node not removed could host the demand if it were empty (cordoned ones count). */
  private static boolean canEverHost(Group g, GpuDemand demand) {
    if (g.liveGpus == 0) {
      return false; // every node of the group was removed
    }
    if (demand instanceof GpuDemand.Share s) {
      return s.memoryMiB() <= g.space.model.memoryMiB();
    }
    if (demand instanceof GpuDemand.Whole w && (w.sameNode() || w.count() == 1)) {
      return w.count() <= g.maxNodeGpus;
    }
    return true;
  }

  private String whyNot(GpuDemand demand, Constraints c) {
    String models = c.gpuModels().isEmpty() ? "any model" : "models " + c.gpuModels();
    if (demand instanceof GpuDemand.Mig m) {
      var known = new java.util.TreeSet<String>();
      for (Group g : allGroups) {
        if (g.space instanceof MigSpace mig
            && g.liveGpus > 0
            && c.allowsModel(g.space.model.name())) {
          for (int p = 0; p < mig.profiles.length; p++) {
            if (mig.feasible[p][0] != 0) {
              known.add(mig.profiles[p].name());
            }
          }
        }
      }
      return "unknown MIG profile " + m.profile() + " for " + models
          + " among the cluster's MIG GPUs; known profiles: " + known;
    }
    if (demand instanceof GpuDemand.Share s) {
      return "no SHARED GPU of " + models + " has " + s.memoryMiB() + " MiB of memory for a share";
    }
    GpuDemand.Whole w = (GpuDemand.Whole) demand;
    return "no node has " + w.count() + " WHOLE or SHARED GPUs of " + models
        + (w.sameNode() ? " on one node" : "");
  }

  private long nextId() {
    long[] b = idBlock.get();
    if (b[0] == b[1]) {
      b[0] = ids.getAndAdd(ID_BLOCK) + 1;
      b[1] = b[0] + ID_BLOCK;
    }
    return b[0]++;
  }

  /**
   * Places a single-node demand: a MIG instance, a share, or whole GPUs on one node.
   *
   * <p>A walk of the index that finds nothing is followed by a direct try of every GPU and node
   * announced in an open index window (see {@link Group#windows}), and is trusted only if no window
   * opened or closed meanwhile. Then every window that overlapped the search was open all along and
   * was tried by its real word, and every other GPU was indexed under a class at most as occupied
   * as its word (a clear happens only inside a window; a release stays inside one until its index
   * is repaired), so the miss holds at the instant the search ended up to operations that
   * overlapped it entirely. Nothing here waits for another thread: a repeated walk means another
   * thread opened or closed a window, that is, made progress (lock-free).
   */
  private @Nullable Reservation placeOne(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c) {
    for (; ; ) {
      long stamp = moves(groups);
      Reservation r = searchOnce(groups, demand, cpu, mem, c);
      if (r == null) {
        r = searchWindows(groups, demand, cpu, mem, c);
      }
      if (r != null || moves(groups) == stamp) {
        return r;
      }
    }
  }

  /** Tries, by their real words, the GPUs and nodes announced in the groups' open windows. */
  private @Nullable Reservation searchWindows(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c) {
    for (Group g : groups) {
      Bits[] filter = null;
      for (Group.Windows.Chunk ch = g.windows.head; ch != null; ch = ch.next.get()) {
        for (int i = 0; i < Group.Windows.CHUNK; i++) {
          Object o = ch.cells.get(i);
          if (o == null) {
            continue;
          }
          if (filter == null) {
            filter = g.filterFor(c);
          }
          Reservation r = tryAnnounced(g, o, filter, demand, cpu, mem);
          if (r != null) {
            return r;
          }
        }
      }
    }
    return null;
  }

  private @Nullable Reservation tryAnnounced(
      Group g, Object o, Bits[] filter, GpuDemand demand, long cpu, long mem) {
    GroupNode gn = o instanceof GpuSlot s ? s.groupNode : (GroupNode) o;
    if (gn == null || !gn.node.schedulable() || !filter[1].get(gn.local)) {
      return null;
    }
    if (demand instanceof GpuDemand.Whole w) {
      return gn.countFree() >= w.count()
          ? takeEmpty(gn, w.count(), g.space.wholeDelta(), cpu, mem)
          : null;
    }
    int shape = demand instanceof GpuDemand.Mig m ? ((MigSpace) g.space).profileIndex(m.profile()) : -1;
    if (o instanceof GpuSlot s) {
      return filter[0].get(s.local) ? tryGpu(g, s, shape, demand, cpu, mem) : null;
    }
    for (GpuSlot s : gn.gpus) { // a node's free count moved: its empty GPUs may host a share
      Reservation r = filter[0].get(s.local) ? tryGpu(g, s, shape, demand, cpu, mem) : null;
      if (r != null) {
        return r;
      }
    }
    return null;
  }

  private static long moves(Group[] groups) {
    long sum = 0;
    for (Group g : groups) {
      sum += g.moves.sum();
    }
    return sum;
  }

  private @Nullable Reservation searchOnce(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c) {
    if (groups.length == 1) {
      Group.Cursor cur = cursor(groups[0], demand, c);
      while (cur.next()) {
        Reservation r = attempt(cur, demand, cpu, mem);
        if (r != null) {
          return r;
        }
      }
      return null;
    }
    Group.Cursor[] cursors = new Group.Cursor[groups.length];
    boolean[] live = new boolean[groups.length];
    for (int i = 0; i < groups.length; i++) {
      cursors[i] = cursor(groups[i], demand, c);
      live[i] = cursors[i].next();
    }
    for (; ; ) {
      int best = -1;
      for (int i = 0; i < cursors.length; i++) {
        if (live[i] && (best < 0 || cursors[i].score() < cursors[best].score())) {
          best = i;
        }
      }
      if (best < 0) {
        return null;
      }
      Reservation r = attempt(cursors[best], demand, cpu, mem);
      if (r != null) {
        return r;
      }
      live[best] = cursors[best].next();
    }
  }

  private Group.Cursor cursor(Group g, GpuDemand demand, Constraints c) {
    Group.Tables t = g.tables;
    Group.Order order;
    int shape = -1;
    if (demand instanceof GpuDemand.Mig m) {
      shape = ((MigSpace) g.space).profileIndex(m.profile());
      order = t.migOrder[shape];
    } else if (demand instanceof GpuDemand.Share s) {
      order = t.shareOrder(s.milliGpu(), s.memoryMiB());
    } else {
      int k = ((GpuDemand.Whole) demand).count();
      order = k < t.wholeOrder.length ? t.wholeOrder[k] : Group.Order.EMPTY;
    }
    return new Group.Cursor(g, order, g.filterFor(c), shape);
  }

  /** Tries the cursor's current candidate. Returns the reservation, or null to move on. */
  private @Nullable Reservation attempt(Group.Cursor cur, GpuDemand demand, long cpu, long mem) {
    Group g = cur.group;
    int ent = cur.entryValue();
    if (ent >= 0) {
      GpuSlot gpu = g.gpu(cur.index);
      if (gpu == null) {
        return null;
      }
      if (!gpu.node.schedulable()) {
        return null;
      }
      g.hook(ProbePoint.CANDIDATE, gpu);
      if (g.space.state(gpu.word()) != ent) {
        g.staleGpu(gpu, ent); // the index lagged behind a change: heal it, then try the GPU as it is
      }
      return tryGpu(g, gpu, cur.shape, demand, cpu, mem);
    }
    GroupNode gn = g.node(cur.index);
    if (gn == null || !gn.node.schedulable()) {
      return null;
    }
    int f = -1 - ent;
    int actual = gn.countFree();
    if (actual != f) {
      g.staleNode(gn, f);
    }
    if (demand instanceof GpuDemand.Share) {
      // The node was indexed with an empty GPU; a placement may have taken part of it since and
      // not yet re-indexed it (its old class is the only witness meanwhile), so try each GPU as it
      // is now. Sequentially the first that fits is the first empty one.
      for (GpuSlot gpu : gn.gpus) {
        Reservation r = tryGpu(g, gpu, -1, demand, cpu, mem);
        if (r != null) {
          return r;
        }
      }
      return null;
    }
    int k = ((GpuDemand.Whole) demand).count();
    if (actual < k) {
      return null;
    }
    return takeEmpty(gn, k, g.space.wholeDelta(), cpu, mem);
  }

  /**
   * Tries one GPU for a MIG instance or a share, as its word is now. The CAS is retried for as
   * long as the GPU still fits: each failed CAS means another placement or release changed the
   * word (lock-free), so churn on the GPU cannot make a placement give up on capacity that stayed
   * free. Host resources are reserved only after the GPU is taken (see {@link #reserveHostFor}).
   */
  private static @Nullable Reservation tryGpu(
      Group g, GpuSlot gpu, int shape, GpuDemand demand, long cpu, long mem) {
    if (!gpu.node.hostMayFit(cpu, mem)) {
      return null;
    }
    Group.Tables t = g.tables; // one table for both the delta and its position
    long w = gpu.word();
    for (; ; ) {
      int s = g.space.state(w);
      long delta = deltaOnState(t, g, shape, demand, s, w);
      if (delta == 0) {
        return null;
      }
      g.hook(ProbePoint.BEFORE_CAS, gpu);
      if (gpu.cas(w, w + delta)) {
        g.onChange(gpu, w, w + delta);
        Reservation r = new Reservation(1);
        r.add(gpu, delta, cpu, mem, shape >= 0 ? t.choice[shape][s] : -1);
        return reserveHostFor(r, gpu.node, cpu, mem);
      }
      w = gpu.word();
    }
  }

  /**
   * Reserves host resources for GPUs already taken, or gives the GPUs back. Taking the GPUs first
   * means that host resources are only ever held by placements that hold their GPUs, so a host
   * reservation never makes another request fail: it belongs to a placement that will be published
   * (a request refused for host resources was refused by real allocations).
   */
  private static @Nullable Reservation reserveHostFor(
      Reservation r, NodeEntry node, long cpu, long mem) {
    if (node.reserveHost(cpu, mem)) {
      r.slots[0].group.hook(ProbePoint.HOST_HELD, r.slots[0]);
      return r;
    }
    for (int i = 0; i < r.n; i++) {
      r.slots[i].group.release(r.slots[i], r.deltas[i]);
    }
    return null;
  }

  /**
   * Takes {@code k} empty GPUs of a node, all or none: the first {@code k} empty ones in index
   * order, CASed in that order; a CAS that fails rolls back all taken and plans again, until the
   * node has fewer than {@code k} empty GPUs (each new plan follows another placement's CAS, so
   * this is lock-free, and a placement stays on the node it chose while it fits). Because
   * every gang takes a node's GPUs in the same order, of two gangs racing for the same GPUs the one
   * that takes the lowest contested GPU first cannot be made to fail by the other: two 8-GPU gangs
   * on an empty 8-GPU node never both fail. Host resources are reserved after the GPUs are taken.
   */
  private static @Nullable Reservation takeEmpty(
      GroupNode gn, int k, long delta, long cpu, long mem) {
    if (!gn.node.hostMayFit(cpu, mem)) {
      return null;
    }
    Group g = gn.group;
    int owner = g.space.mode == GpuMode.SHARED ? -1 : 0;
    GpuSlot[] plan = new GpuSlot[k];
    for (; ; ) {
      int n = 0;
      for (GpuSlot gpu : gn.gpus) {
        if (gpu.word() == 0) {
          plan[n++] = gpu;
          if (n == k) {
            break;
          }
        }
      }
      if (n < k) {
        return null;
      }
      Reservation r = new Reservation(k);
      for (GpuSlot gpu : plan) {
        if (!gpu.cas(0, delta)) {
          break;
        }
        // every word change is followed by its changer's index update, rollbacks included: a
        // reader may have re-indexed the node from the transient word (see Group)
        g.onChange(gpu, 0, delta);
        r.add(gpu, delta, r.n == 0 ? cpu : 0, r.n == 0 ? mem : 0, owner);
        g.hook(ProbePoint.GANG_TOOK, gpu);
      }
      if (r.n == k) {
        return reserveHostFor(r, gn.node, cpu, mem);
      }
      for (int i = 0; i < r.n; i++) {
        g.release(r.slots[i], r.deltas[i]);
      }
      // another placement took a planned GPU first (progress): plan again on this node
    }
  }

  /** Counts a move in every group of a node (host resources of the node were given back). */
  private static void bumpGroups(NodeEntry node) {
    Group last = null;
    for (GpuSlot s : node.gpus) {
      if (s.group != last) {
        last = s.group;
        last.moves.increment();
      }
    }
  }

  private static long deltaOnState(
      Group.Tables t, Group g, int p, GpuDemand demand, int state, long word) {
    if (p >= 0) {
      MigSpace mig = (MigSpace) g.space;
      int c = t.choice[p][state];
      return c < 0 ? 0 : mig.delta(p, c);
    }
    if (demand instanceof GpuDemand.Share s) {
      Space.Shared sh = (Space.Shared) g.space;
      return sh.fits(word, s.milliGpu(), s.memoryMiB())
          ? Space.Shared.delta(s.milliGpu(), s.memoryMiB())
          : 0;
    }
    return 0; // whole GPUs are taken through node buckets
  }

  /** Whole GPUs on any nodes: one at a time, rolled back unless all {@code count} are taken. */
  private @Nullable Reservation placeSpread(Group[] groups, int count, PlacementRequest request) {
    long cpu = ceilDiv(request.cpuMillis(), count);
    long mem = ceilDiv(request.memoryMiB(), count);
    GpuDemand one = new GpuDemand.Whole(1, true);
    Reservation all = new Reservation(count);
    for (int i = 0; i < count; i++) {
      Reservation r = placeOne(groups, one, cpu, mem, request.constraints());
      if (r == null) {
        undo(all);
        return null;
      }
      all.add(r.slots[0], r.deltas[0], r.cpu[0], r.mem[0], r.owner[0]);
    }
    return all;
  }

  private static long ceilDiv(long x, int y) {
    return x / y + (x % y == 0 ? 0 : 1); // no overflow, unlike (x + y - 1) / y
  }

  private @Nullable AllocationImpl publish(Reservation r, PlacementRequest request, long id) {
    r = r.trimmed();
    AllocationImpl a =
        new AllocationImpl(this, id, request, r.slots, r.deltas, r.cpu, r.mem, r.owner);
    boolean removed = false;
    for (int i = 0; i < r.n; i++) {
      r.slots[i].register(a, r.owner[i]);
    }
    for (int i = 0; i < r.n; i++) {
      removed |= r.slots[i].node.removed;
    }
    if (!removed && a.state.compareAndSet(AllocationImpl.PENDING, AllocationImpl.ACTIVE)) {
      return a;
    }
    a.state.compareAndSet(AllocationImpl.PENDING, AllocationImpl.ABORTED);
    undo(a);
    return null;
  }

  /** Describes one GPU of an allocation for {@link Allocation#gpus()} (built on first call). */
  static List<AllocatedGpu> describe(GpuSlot[] slots, long[] deltas) {
    List<AllocatedGpu> out = new ArrayList<>(slots.length);
    for (int i = 0; i < slots.length; i++) {
      out.add(describe(slots[i], deltas[i]));
    }
    return List.copyOf(out);
  }

  private static AllocatedGpu describe(GpuSlot slot, long delta) {
    GpuSpec spec = slot.spec;
    Space space = slot.group.space;
    String profile = null;
    int start = -1;
    int milli;
    long memory;
    if (space instanceof MigSpace mig) {
      int[] pc = mig.decode(delta);
      int p = pc[0];
      int choice = pc[1];
      profile = mig.profiles[p].name();
      start = mig.startSlot(p, choice);
      milli = 0;
      memory = mig.profiles[p].memoryMiB();
    } else if (space.mode == GpuMode.SHARED) {
      milli = Space.Shared.milliUsed(delta);
      memory = Space.Shared.memUsed(delta);
    } else {
      milli = 1000;
      memory = space.model.memoryMiB();
    }
    return new AllocatedGpu(
        slot.node.spec.id(),
        spec.index(),
        spec.uuid(),
        space.model.name(),
        space.mode,
        profile,
        start,
        milli,
        memory);
  }

  /** Gives an allocation's capacity back (after its state left ACTIVE or PENDING). */
  void undo(AllocationImpl a) {
    for (int i = 0; i < a.slots.length; i++) {
      giveBack(a.slots[i], a.deltas[i], a.hostCpu[i], a.hostMem[i]);
    }
    for (int i = 0; i < a.slots.length; i++) {
      a.slots[i].unregister(a, a.owners[i]);
    }
  }

  private static void undo(Reservation r) {
    for (int i = 0; i < r.n; i++) {
      giveBack(r.slots[i], r.deltas[i], r.cpu[i], r.mem[i]);
    }
  }

  /**
   * Subtracts a delta from a GPU word inside an index window (see {@link Group#release}) and gives
   * the host resources back; a host give-back counts a move in every group of the node, so that a
   * search refused for host resources while they were given back re-runs.
   */
  private static void giveBack(GpuSlot s, long delta, long cpu, long mem) {
    s.group.release(s, delta);
    if (s.node.releaseHost(cpu, mem)) {
      bumpGroups(s.node);
    }
  }

  /** GPUs taken but not yet published, with what was added to each and the host charged. */
  static final class Reservation {
    final GpuSlot[] slots;
    final long[] deltas;
    final long[] cpu;
    final long[] mem;
    final int[] owner;
    int n;

    Reservation(int capacity) {
      slots = new GpuSlot[capacity];
      deltas = new long[capacity];
      cpu = new long[capacity];
      mem = new long[capacity];
      owner = new int[capacity];
    }

    Reservation trimmed() {
      if (n == slots.length) {
        return this;
      }
      Reservation t = new Reservation(n);
      for (int i = 0; i < n; i++) {
        t.add(slots[i], deltas[i], cpu[i], mem[i], owner[i]);
      }
      return t;
    }

    void add(GpuSlot s, long delta, long c, long m, int position) {
      slots[n] = s;
      deltas[n] = delta;
      cpu[n] = c;
      mem[n] = m;
      owner[n] = position;
      n++;
    }
  }

  /**
   * Relearns the mix after a placement was published ({@code a}) or backed out (null). A failure
   * while rebuilding leaves the old tables; an {@link Error} also gives {@code a} back, as its
   * caller will never see it.
   */
  private void relearnAfter(@Nullable AllocationImpl a) {
    try {
      relearn();
    } catch (RuntimeException e) {
      log.warn("gpusched: relearning the request mix failed; decision tables unchanged", e);
    } catch (Error e) {
      if (a != null) {
        a.release();
      }
      throw e;
    }
  }

  /**
   * Folds the recent requests into the mix and, if it shifted, rebuilds every group's tables. One
   * relearn at a time (the mix's guard is held until the rebuild is done; a thread that finds it
   * taken skips); lock-free, and on a placing thread only after its placement was published.
   * Tables are published by CAS (see {@link Group#ensureTables}), so a concurrent {@code addNode}
   * and a relearn never overwrite each other's newer tables.
   */
  private void relearn() {
    probe.at(ProbePoint.RELEARN, null);
    mix.relearn(
        currentWeights,
        next -> {
          probe.at(ProbePoint.WEIGHTS_FOLDED, next);
          // written before the groups are read: a group that addNode creates after this read
          // builds its tables from these weights (both fields are volatile)
          tableWeights = next;
          Group[] groups = allGroups;
          for (Group g : groups) {
            g.ensureTables(strategy, currentWeights);
          }
          log.debug("request mix shifted; rebuilt decision tables of {} groups", groups.length);
        });
  }

  // ================================================================= management

  @Override
  public void addNode(NodeSpec spec) {
    Objects.requireNonNull(spec, "node");
    synchronized (mgmt) {
      if (nodes.containsKey(spec.id())) {
        throw new IllegalArgumentException("node " + spec.id() + " already exists");
      }
      for (GpuSpec g : spec.gpus()) {
        GpuModel known = models.get(g.model().name());
        if (known != null && !known.equals(g.model())) {
          throw new IllegalArgumentException(
              "GPU model name " + g.model().name() + " is already used with a different definition");
        }
      }
      NodeEntry node = new NodeEntry(spec, nodeOrdinals++);
      Map<String, List<Integer>> byGroup = new LinkedHashMap<>();
      for (int i = 0; i < spec.gpus().size(); i++) {
        byGroup.computeIfAbsent(groupKey(spec.gpus().get(i)), k -> new ArrayList<>()).add(i);
      }
      List<Group> touched = new ArrayList<>();
      List<GroupNode> groupNodes = new ArrayList<>();
      for (var e : byGroup.entrySet()) {
        GpuSpec first = spec.gpus().get(e.getValue().get(0));
        Group g = groupByKey.get(e.getKey());
        if (g == null) {
          g = newGroup(e.getKey(), first);
        }
        List<GpuSlot> slots = new ArrayList<>();
        int local = g.nextGpuLocal();
        for (int idx : e.getValue()) {
          GpuSlot s = new GpuSlot(node, spec.gpus().get(idx), g, local++);
          node.gpus[idx] = s;
          slots.add(s);
        }
        groupNodes.add(g.addNode(node, slots));
        g.ensureTables(strategy, currentWeights); // a no-op unless a new group or a larger node
        touched.add(g);
      }
      for (GpuSpec g : spec.gpus()) {
        models.putIfAbsent(g.model().name(), g.model());
      }
      publishGroups();
      nodes.put(spec.id(), node);
      var order = new ArrayList<>(nodeOrder);
      order.add(node);
      nodeOrder = List.copyOf(order);
      for (GroupNode gn : groupNodes) {
        gn.group.setSchedulable(gn, true);
      }
      log.debug("added node {} with {} GPUs in {} groups", spec.id(), spec.gpus().size(), touched.size());
    }
  }

  private static String groupKey(GpuSpec g) {
    String key = g.model().name() + "|" + g.mode();
    return g.mode() == GpuMode.MIG_STATIC ? key + "|" + g.staticInstances() : key;
  }

  private Group newGroup(String key, GpuSpec first) {
    GpuModel model = first.model();
    Space space =
        switch (first.mode()) {
          case WHOLE -> new Space.Whole(model);
          case SHARED -> new Space.Shared(model);
          case MIG_DYNAMIC -> new MigSpace.Dynamic(model);
          case MIG_STATIC -> new MigSpace.Static(model, first.staticInstances());
        };
    int[] classes = new int[0];
    if (space instanceof MigSpace mig) {
      classes = new int[mig.profiles.length];
      for (int p = 0; p < classes.length; p++) {
        classes[p] = mix.migClass(model.name(), mig.profiles[p].name());
      }
      if (mix.isFixed()) {
        // (a learned mix's weights belong to the relearn: a read-and-write-back here could
        // overwrite newer weights with older ones)
        tableWeights = mix.weights();
      }
    }
    Group g = new Group(allGroups.length, key, space, classes);
    g.probe = probe;
    groupByKey.put(key, g);
    Group[] all = Arrays.copyOf(allGroups, allGroups.length + 1);
    all[all.length - 1] = g;
    allGroups = all;
    return g;
  }

  private void publishGroups() {
    List<Group> whole = new ArrayList<>();
    List<Group> share = new ArrayList<>();
    Map<String, List<Group>> mig = new TreeMap<>();
    for (Group g : allGroups) {
      if (g.wholeCapable) {
        whole.add(g);
      }
      if (g.space.mode == GpuMode.SHARED) {
        share.add(g);
      }
      if (g.space instanceof MigSpace m) {
        for (int p = 0; p < m.profiles.length; p++) {
          if (m.feasible[p][0] != 0) { // static MIG: only profiles that have a pre-made instance
            mig.computeIfAbsent(m.profiles[p].name(), k -> new ArrayList<>()).add(g);
          }
        }
      }
    }
    HashMap<String, Group[]> migArrays = new HashMap<>(); // read-only once published
    mig.forEach((k, v) -> migArrays.put(k, v.toArray(Group[]::new)));
    wholeGroups = whole.toArray(Group[]::new);
    shareGroups = share.toArray(Group[]::new);
    migGroups = migArrays;
    routes = new Route[16];
  }

  @Override
  public void setNodeState(String nodeId, NodeState state) {
    Objects.requireNonNull(state, "state");
    synchronized (mgmt) {
      NodeEntry node = require(nodeId);
      node.state = state;
      for (GroupNode gn : groupNodes(node)) {
        gn.group.setSchedulable(gn, node.schedulable());
      }
    }
  }

  @Override
  public NodeRemoval removeNode(String nodeId, boolean force) {
    synchronized (mgmt) {
      NodeEntry node = require(nodeId);
      node.removed = true; // placements publishing from now on back out (see publish)
      List<GroupNode> gns = groupNodes(node);
      for (GroupNode gn : gns) {
        gn.group.setSchedulable(gn, false);
      }
      List<Allocation> lost = new ArrayList<>();
      if (!force) {
        for (AllocationImpl a : node.holders()) {
          if (a.state.get() == AllocationImpl.ACTIVE || a.state.get() == AllocationImpl.PENDING) {
            node.removed = false;
            for (GroupNode gn : gns) {
              gn.group.setSchedulable(gn, node.schedulable());
            }
            throw new IllegalStateException(
                "node " + nodeId + " has active allocations; drain it or remove it with force");
          }
        }
      } else {
        for (AllocationImpl a : node.holders()) {
          for (; ; ) {
            int st = a.state.get();
            if (st == AllocationImpl.ACTIVE) {
              if (a.state.compareAndSet(st, AllocationImpl.LOST)) {
                lost.add(a);
                releaseElsewhere(a, node);
                break;
              }
            } else if (st == AllocationImpl.PENDING) {
              if (a.state.compareAndSet(st, AllocationImpl.ABORTED)) {
                break;
              }
            } else {
              break;
            }
          }
        }
      }
      nodes.remove(nodeId);
      var order = new ArrayList<>(nodeOrder);
      order.remove(node);
      nodeOrder = List.copyOf(order);
      // After nodeOrder: a placement that no longer counts the node (and so may throw "could
      // never fit") is followed by a nodes() call that no longer lists it either.
      for (GroupNode gn : gns) {
        gn.group.removeNode(gn); // no longer counted by the "could ever host" checks
        gn.group.ensureTables(strategy, currentWeights);
      }
      if (!lost.isEmpty()) {
        log.warn("node {} removed with {} active allocations; reported as lost", nodeId, lost.size());
      }
      return new NodeRemoval(nodeId, lost);
    }
  }

  /** A lost multi-node gang still holds GPUs on other nodes: give those back. */
  private static void releaseElsewhere(AllocationImpl a, NodeEntry removed) {
    for (int i = 0; i < a.slots.length; i++) {
      GpuSlot s = a.slots[i];
      if (s.node != removed) {
        giveBack(s, a.deltas[i], a.hostCpu[i], a.hostMem[i]);
        s.unregister(a, a.owners[i]);
      }
    }
  }

  private NodeEntry require(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    NodeEntry n = nodes.get(nodeId);
    if (n == null) {
      throw new IllegalArgumentException("unknown node " + nodeId);
    }
    return n;
  }

  private static List<GroupNode> groupNodes(NodeEntry node) {
    List<GroupNode> out = new ArrayList<>();
    for (GpuSlot s : node.gpus) {
      if (!out.contains(s.groupNode)) {
        out.add(s.groupNode);
      }
    }
    return out;
  }

  @Override
  public List<NodeSpec> nodes() {
    return nodeOrder.stream().map(n -> n.spec).toList();
  }

  @Override
  public List<Allocation> allocations(String nodeId) {
    NodeEntry node = require(nodeId);
    List<Allocation> out = new ArrayList<>();
    for (AllocationImpl a : node.holders()) {
      if (a.isActive()) {
        out.add(a);
      }
    }
    out.sort((x, y) -> Long.compare(x.id(), y.id()));
    return out;
  }

  // ================================================================= snapshot

  @Override
  public ClusterSnapshot snapshot() {
    long t0 = System.nanoTime();
    List<NodeUsage> nodeUsages = new ArrayList<>();
    Map<String, Summer> byModel = new TreeMap<>();
    Map<String, Summer> byLabel = new TreeMap<>();
    Summer total = new Summer();
    for (NodeEntry node : nodeOrder) {
      long[] words = new long[node.gpus.length];
      Map<Group, Integer> free = new HashMap<>();
      for (int i = 0; i < words.length; i++) {
        words[i] = node.gpus[i].word();
        if (words[i] == 0) {
          free.merge(node.gpus[i].group, 1, Integer::sum);
        }
      }
      Summer ns = new Summer();
      List<GpuUsage> gpus = new ArrayList<>();
      for (int i = 0; i < words.length; i++) {
        GpuSlot s = node.gpus[i];
        GpuUsage u = usage(s, words[i], free.getOrDefault(s.group, 0));
        gpus.add(u);
        int slices = s.group.space instanceof MigSpace mig ? mig.geometry.memorySlices() : 0;
        ns.add(u, slices);
        total.add(u, slices);
        byModel.computeIfAbsent(u.model(), k -> new Summer()).add(u, slices);
        for (var l : node.spec.labels().entrySet()) {
          byLabel.computeIfAbsent(l.getKey() + "=" + l.getValue(), k -> new Summer()).add(u, slices);
        }
      }
      int allocs = 0;
      for (AllocationImpl a : node.holders()) {
        if (a.isActive()) {
          allocs++;
        }
      }
      nodeUsages.add(
          new NodeUsage(
              node.spec.id(),
              node.state,
              node.spec.capacityClass(),
              node.spec.labels(),
              List.copyOf(gpus),
              ns.summary(),
              allocs));
    }
    Map<String, UsageSummary> models = new LinkedHashMap<>();
    byModel.forEach((k, v) -> models.put(k, v.summary()));
    Map<String, UsageSummary> labels = new LinkedHashMap<>();
    byLabel.forEach((k, v) -> labels.put(k, v.summary()));
    return new ClusterSnapshot(t0, List.copyOf(nodeUsages), models, labels, total.summary());
  }

  private static GpuUsage usage(GpuSlot s, long word, int nodeFree) {
    Group g = s.group;
    Space space = g.space;
    int mask = 0;
    int compute = 0;
    int milliUsed;
    long memUsed = 0;
    if (space instanceof MigSpace mig) {
      mask = mig.slotMask(word);
      compute = mig.computeUsed(word);
      milliUsed = 0;
    } else if (space.mode == GpuMode.SHARED) {
      milliUsed = Space.Shared.milliUsed(word);
      memUsed = Space.Shared.memUsed(word);
    } else {
      milliUsed = word == 0 ? 0 : 1000;
    }
    int allocated = space.allocatedMilli(word);
    double frag = Math.max(0, Math.min(1000 - allocated, g.fragmentedMilli(g.tables, word, nodeFree)));
    return new GpuUsage(
        s.spec.index(), space.model.name(), space.mode, word == 0, mask, compute, milliUsed, memUsed,
        allocated, frag);
  }

  private static final class Summer {
    int gpus;
    int free;
    int migSlices;
    int migUsed;
    long sharedMilli;
    long sharedUsed;
    long allocated;
    double frag;

    void add(GpuUsage u, int slices) {
      gpus++;
      if (u.free()) {
        free++;
      }
      if (u.mode() == GpuMode.MIG_DYNAMIC || u.mode() == GpuMode.MIG_STATIC) {
        migSlices += slices;
        migUsed += Integer.bitCount(u.migSlotMask());
      }
      if (u.mode() == GpuMode.SHARED) {
        sharedMilli += 1000;
        sharedUsed += u.milliUsed();
      }
      allocated += u.allocatedMilli();
      frag += u.fragmentedMilli();
    }

    UsageSummary summary() {
      return new UsageSummary(
          gpus, free, gpus - free, migSlices, migUsed, sharedMilli, sharedUsed, gpus * 1000L,
          allocated, frag);
    }
  }

  // ================================================================= test support

  /** The engine's slot of a node's GPU (by its index in the node spec), for tests. */
  GpuSlot slot(String nodeId, int gpuIndex) {
    return require(nodeId).gpus[gpuIndex];
  }

  /**
   * Checks the engine's invariants at quiescence (no placement or release in flight) and returns a
   * description of every violation, empty when all hold: each GPU word equals the sum of the deltas
   * of the active allocations on it and decodes to a reachable state; each node's host word equals
   * what its allocations charged; the index lists every GPU and node under its current state; each
   * group's live-GPU counts match its nodes, its tables were built from its current largest node
   * and the current mix weights, and its filters list exactly the eligible nodes.
   */
  List<String> verifyInvariants() {
    List<String> bad = new ArrayList<>();
    Map<Group, int[]> live = new HashMap<>(); // group -> {GPUs on live nodes, largest node}
    for (NodeEntry node : nodeOrder) {
      for (GroupNode gn : groupNodes(node)) {
        int[] l = live.computeIfAbsent(gn.group, k -> new int[2]);
        l[0] += gn.gpus.length;
        l[1] = Math.max(l[1], gn.gpus.length);
      }
    }
    for (Group g : allGroups) {
      int[] l = live.getOrDefault(g, new int[2]);
      if (g.liveGpus != l[0] || g.maxNodeGpus != l[1]) {
        bad.add("group " + g + " counts " + g.liveGpus + " live GPUs, largest node " + g.maxNodeGpus
            + "; the nodes say " + l[0] + ", " + l[1]);
      }
      if (!g.tables.builtFrom(Math.max(1, g.maxNodeGpus), tableWeights)) {
        bad.add("group " + g + " has stale tables (built for " + g.tables.maxF + " GPUs per node)");
      }
      g.verifyFilters(bad);
    }
    for (NodeEntry node : nodeOrder) {
      Map<GpuSlot, Long> expected = new HashMap<>();
      long cpu = 0;
      long mem = 0;
      for (AllocationImpl a : node.holders()) {
        if (a.state.get() != AllocationImpl.ACTIVE) {
          bad.add("non-active allocation " + a.id + " still registered on " + node.spec.id());
          continue;
        }
        for (int i = 0; i < a.slots.length; i++) {
          if (a.slots[i].node == node) {
            expected.merge(a.slots[i], a.deltas[i], Long::sum);
            cpu += a.hostCpu[i];
            mem += a.hostMem[i];
          }
        }
      }
      for (GpuSlot s : node.gpus) {
        long w = s.word();
        long e = expected.getOrDefault(s, 0L);
        if (w != e) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " word " + w + " != " + e);
        }
        int st = s.group.space.state(w);
        if (st < 0) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " in unreachable state " + w);
          continue;
        }
        if (!s.group.byState[st].get(s.local)) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " not indexed in state " + st);
        }
        if (s.group.space instanceof Space.Shared sh
            && (Space.Shared.milliUsed(w) > 1000 || Space.Shared.memUsed(w) > sh.memoryMiB)) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " over-committed share " + w);
        }
      }
      if (node.spec.cpuMillis() != NodeSpec.UNTRACKED && node.cpuUsed() != cpu) {
        bad.add("node " + node.spec.id() + " cpu used " + node.cpuUsed() + " != " + cpu);
      }
      if (node.spec.memoryMiB() != NodeSpec.UNTRACKED && node.memUsed() != mem) {
        bad.add("node " + node.spec.id() + " mem used " + node.memUsed() + " != " + mem);
      }
      for (GroupNode gn : groupNodes(node)) {
        if (gn.group.wholeCapable && !gn.group.nodesByFree[gn.countFree()].get(gn.local)) {
          bad.add("node " + node.spec.id() + " not indexed with " + gn.countFree() + " free GPUs");
        }
      }
    }
    return bad;
  }
}
