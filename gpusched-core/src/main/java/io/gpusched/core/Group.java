package io.gpusched.core;

import io.gpusched.Constraints;
import io.gpusched.PlacementStrategy;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * All GPUs of one kind (model, mode and, for static MIG, layout): its members (nodes and GPUs, by
 * local index), and the three structures a search reads, each in its own class: the {@link
 * GroupIndex} (GPUs by state, nodes by free count, open windows), the {@link NodeFilters}
 * (schedulable and constraint-allowed members) and the {@link DecisionTables} (candidate orders).
 *
 * <p>Membership changes ({@link #addNode}, {@link #removeNode}, {@link #setSchedulable}) run
 * under the cluster's management monitor; everything a placement touches is lock-free. A placement
 * walks a {@link CandidateOrder} with a {@link GroupCursor} and takes the lowest-index GPU of the
 * first non-empty state; states with equal scores form a tie group searched together so that
 * ties go to the lowest index (for a thread with a lane other than 0, the lowest at or after its
 * start offset, then wrapping around: see {@link GroupCursor#lane}). Nothing here scans all GPUs.
 */
@EnginePart
@SuppressWarnings("NonAtomicVolatileUpdate") // written under the management monitor only
final class Group {
  private static final VarHandle TABLES;

  static {
    try {
      TABLES = MethodHandles.lookup().findVarHandle(Group.class, "tables", DecisionTables.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final String key;
  final Space space;
  final boolean wholeCapable;
  final int[] mixClasses;

  /**
   * The price per GPU-hour of every node in this group with a cost-first strategy ({@link
   * PlacementStrategy#withCheapestFirst()}; the engine then keeps one group per price), else 0: a
   * search ranks groups by it before the strategy's score ({@link GroupCursor#before}).
   */
  final double price;

  /** Members by local index; replaced (copy on write) under the management monitor. */
  volatile GpuSlot[] gpus = new GpuSlot[0];

  volatile GroupNode[] nodes = new GroupNode[0];

  /** Nodes of this group last seen stranding GPU capacity: hints for the host peek. */
  final StarvedNodes starved = new StarvedNodes();

  /**
   * The most GPUs of this group on one node that has not been removed (cordoned and draining
   * nodes count: they may come back); 0 when there is none. Written under the management monitor.
   */
  volatile int maxNodeGpus;

  /** GPUs of this group on nodes that have not been removed. Written under the monitor. */
  volatile int liveGpus;

  /** Nodes not removed, by their GPU count in this group; under the management monitor only. */
  private final int[] nodesBySize = new int[GroupIndex.MAX_NODE_GPUS + 1];

  final GroupIndex index;
  final NodeFilters filters;

  /** Milli of model-constrained requests counted for this group ({@link ModelPressure}). */
  final java.util.concurrent.atomic.LongAdder constrainedMilli =
      new java.util.concurrent.atomic.LongAdder();

  /** {@link #constrainedMilli} at the last pressure update; under {@link ModelPressure}'s guard. */
  long seenConstrained;

  /** {@link #constrainedMilli} counts with decay; under {@link ModelPressure}'s guard. */
  double decayedConstrained;

  /** Whether the prior was added to {@link #decayedConstrained}; under the same guard. */
  boolean pressurePrior;

  /**
   * Constrained demand for this group over its share of capacity ({@link ModelPressure}); 0 until
   * learned, and always 0 for strategies without fragmentation.
   */
  volatile double pressure;

  /**
   * The decision tables; replaced only by {@link #ensureTables}, by CAS against the tables a build
   * started from, so that an older build never replaces a newer one. Null until the first node.
   */
  @SuppressWarnings("NullAway.Init") // null until the first node; placement reads it only after
  volatile DecisionTables tables;

  /**
   * Shared, never-written {@link Reservation#STRIDE} words of one-GPU allocations that charge no
   * host resources, by (delta, holder position): a MIG instance of a profile at a slot adds the
   * same delta every time, so such placements allocate no words array ({@link
   * Reservation#one}). Up to {@value #SHARED_WORDS} cells, filled by CAS, probed a few cells
   * from a hash; a lookup that finds none free allocates as before.
   */
  final java.util.concurrent.atomic.AtomicReferenceArray<long[]> sharedWords =
      new java.util.concurrent.atomic.AtomicReferenceArray<>(SHARED_WORDS);

  static final int SHARED_WORDS = 128;

  /**
   * Where this group's tables keep their share orders: the cluster's (set by management before the
   * group is published), so that groups with the same inputs share them; a cache of its own until
   * then.
   */
  ShareOrders shareOrders = new ShareOrders();

  /**
   * Where a placement that lost a race for one of this group's GPU words counts it ({@link
   * Takes}): the cluster's counter (set by management before the group is published), one of its
   * own until then.
   */
  java.util.concurrent.atomic.AtomicLong races = new java.util.concurrent.atomic.AtomicLong();

  /** Test seam on slow paths (see {@link Probe}); set by the cluster. */
  volatile Probe probe = Probe.NONE;

  /**
   * Test seam on the placement path (the hot-path points of {@link ProbePoint}), null in
   * production: set by a test before the threads it affects start (a plain field: one read of a
   * field of an object the caller already touches, so it costs nothing).
   */
  @Nullable Probe hook;

  void hook(ProbePoint point, Object subject) {
    Probe h = hook;
    if (h != null) {
      h.at(point, subject);
    }
  }

  Group(String key, Space space, int[] mixClasses, double price) {
    this.key = key;
    this.price = price;
    this.space = space;
    this.wholeCapable = space.wholeDelta() != 0;
    this.mixClasses = mixClasses;
    this.index = new GroupIndex(this);
    this.filters = new NodeFilters(this);
  }

  // ---------------------------------------------------------------- membership (management monitor)

  /** Adds a node's GPUs of this group. Called under the cluster's management monitor. */
  GroupNode addNode(NodeEntry node, List<GpuSlot> slots) {
    int gpuBase = gpus.length;
    int nodeLocal = nodes.length;
    int newGpuCount = gpuBase + slots.size();
    index.ensureCapacity(newGpuCount, nodeLocal + 1);
    filters.ensureCapacity(newGpuCount, nodeLocal + 1);
    GroupNode gn = new GroupNode(node, this, nodeLocal, slots.toArray(GpuSlot[]::new));
    GpuSlot[] g = Arrays.copyOf(gpus, newGpuCount);
    for (GpuSlot s : slots) {
      s.groupNode = gn;
      g[s.local] = s;
    }
    index.addNode(gn);
    GroupNode[] n = Arrays.copyOf(nodes, nodeLocal + 1);
    n[nodeLocal] = gn;
    gpus = g; // before nodes: a reader that sees the new nodes also sees their GPUs
    nodes = n;
    nodesBySize[slots.size()]++;
    liveGpus += slots.size();
    if (slots.size() > maxNodeGpus) {
      maxNodeGpus = slots.size();
    }
    return gn;
  }

  /**
   * A node left the cluster: its GPUs no longer count towards what this group could ever host.
   * Its index slots stay behind, unschedulable. Called under the cluster's management monitor; the
   * caller then calls {@link #ensureTables} (the largest node may have gone).
   */
  void removeNode(GroupNode gn) {
    starved.forget(gn);
    int size = gn.gpus.length;
    nodesBySize[size]--;
    liveGpus -= size;
    int max = nodesBySize.length - 1;
    while (max > 0 && nodesBySize[max] == 0) {
      max--;
    }
    maxNodeGpus = max;
  }

  /** The local index the next added GPU gets. */
  int nextGpuLocal() {
    return gpus.length;
  }

  /**
   * Sets or clears a node's bits in the filters. Called under the cluster's management monitor,
   * after the node's state was written.
   */
  void setSchedulable(GroupNode gn, boolean schedulable) {
    filters.apply(gn, schedulable);
  }

  /** The filters for a request's node constraints (see {@link NodeFilters#filterFor}). */
  Bits[] filterFor(Constraints c) {
    return filters.filterFor(c);
  }

  // ---------------------------------------------------------------- decision tables

  /**
   * Makes the decision tables current: built from this group's current largest node and the
   * weights {@code weights} supplies now. Lock-free, called by management (after a node joins or
   * leaves) and by the mix relearn (on a placing thread): it builds from the inputs it reads,
   * publishes by CAS against the tables it started from, and checks again; it builds anew only
   * when another thread published tables meanwhile or an input changed, so an older build never
   * replaces a newer one and every caller returns only once the tables match the inputs as of a
   * moment after its call began.
   */
  void ensureTables(PlacementStrategy strategy, Supplier<double[]> weights) {
    for (; ; ) {
      DecisionTables cur = tables;
      int maxF = Math.max(1, maxNodeGpus);
      double[] w = weights.get();
      if (cur != null && cur.builtFrom(maxF, w)) {
        return;
      }
      DecisionTables t = new DecisionTables(this, strategy, w, maxF);
      probe.at(ProbePoint.TABLES_BUILT, this);
      TABLES.compareAndSet(this, cur, t); // on failure another build won: check it on the next turn
    }
  }

  @Override
  public String toString() {
    return "Group[" + key + ", " + gpus.length + " GPUs]";
  }

  @Nullable GpuSlot gpu(int local) {
    GpuSlot[] g = gpus;
    return local < g.length ? g[local] : null;
  }

  @Nullable GroupNode node(int local) {
    GroupNode[] n = nodes;
    return local < n.length ? n[local] : null;
  }
}
