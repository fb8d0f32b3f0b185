package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.Constraints;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.ThreadOffsets;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The lock-free {@link GpuCluster}: a facade over the engine's parts. {@link Placer} is the
 * placement path (search, reserve, publish), {@link NodeManagement} adds, cordons and removes nodes
 * under a monitor that placements never take, {@link ClusterSnapshotBuilder} reads usage, {@link
 * GiveBack} returns capacity, {@link GroupDirectory} says which {@link Group}s may host a demand.
 * See {@link Group} for the index, {@link Space} for the word layouts and {@code
 * docs/placement.md} for the whole algorithm and what is linearizable.
 *
 * <p>This class adds what spans the parts: learning the request mix (the tables are rebuilt after a shift, on the placing thread, after its
 * placement was published).
 */
@EnginePart
final class LockFreeCluster implements GpuCluster {
  private static final Logger log = LoggerFactory.getLogger(LockFreeCluster.class);

  /**
   * Allocation ids come one at a time from the shared counter while the thread meets no
   * contention, and in blocks of this many per thread while it does (after a lost race, for
   * {@link #LANE_HOLD} placements, see {@link #contended}; always under {@link
   * ThreadOffsets#ALWAYS}), so that concurrent placers rarely touch the counter (one atomic add per
   * {@value} placements of a thread); a cluster's first {@link ModelPressure#EARLY_UNTIL} ids
   * always come one at a time ({@link #nextId(long[], boolean)}). The learning that is
   * paced by ids (the mix every {@link Mix#RELEARN_EVERY}th id, the model pressures, the sweep of
   * {@link StarvedNodes}) fires when an id that is a multiple of its period is handed out. Ids one
   * at a time make threads that take turns hand out the same ids in the same order as one thread,
   * and so decide exactly as it does. Blocks delay the learning: with blocks of 1,024, 16 threads
   * relearned first at their 4,096th placement, which cost the default strategy 16 points of
   * allocation at 100 % arrived on the real trace's multigpu50; blocks of 16 still moved its
   * allocation by up to 0.2 points against one thread (docs/fill-experiment.md, "Concurrent
   * placers").
   */
  private static final int ID_BLOCK = 16;

  private final PlacementStrategy strategy;
  private final Mix mix;
  private final boolean mixLearning;
  private final @Nullable ModelPressure pressure;
  private final GroupDirectory directory;
  private final Placer placer;
  private final SpreadPlacer spread;
  private final NodeManagement management;
  private final AtomicLong ids = new AtomicLong();

  /**
   * Per thread: the next and end of its block of allocation ids, its lane plus one (0 until
   * it first needs one; see {@link #laneOf}), 1 if its last single-node placement missed (the
   * next one then reads the miss stamp up front, see {@link Placer#placeOne(Group[],
   * io.gpusched.GpuDemand, long, long, io.gpusched.Constraints, int, boolean)}), the count of
   * {@link #races} it last saw (-1 before its first placement) and how many more of its placements
   * count as contended ({@link #contended}).
   */
  private final ThreadLocal<long[]> idBlock =
      ThreadLocal.withInitial(() -> new long[] {0, 0, 0, 0, -1, 0});

  /** When each placing thread starts its walks at its own offset ({@link Placer#laneOf}). */
  private final ThreadOffsets offsets;

  /**
   * Lost races on this cluster's GPU words ({@link Takes#RACED}), counted by the loser (rare: only
   * a failed CAS writes it). A thread that sees it move walks from its lane for its next {@link
   * #LANE_HOLD} placements ({@link ThreadOffsets#WHEN_CONTENDED}).
   */
  private final AtomicLong races;

  /**
   * How many of its own placements a thread keeps its lane after it last saw a lost race
   * ({@link ThreadOffsets#WHEN_CONTENDED}): long enough that placers which keep
   * meeting do not fall back to one front between two races, short enough that a pool which
   * stopped colliding packs from one front again soon (a millisecond of placing at full speed).
   */
  static final int LANE_HOLD = 1024;

  /** Lanes handed out, in the order threads first place here. */
  private final AtomicLong lanes = new AtomicLong();

  /**
   * How many distinct lanes there are: the processors (at least 2). More threads than that cannot
   * all place at once, so the n-th thread gets lane {@code n mod LANES}: a pool of many threads
   * that place now and then packs from at most this many places, not one per thread.
   */
  static final int LANES = Math.max(2, Runtime.getRuntime().availableProcessors());

  private volatile Probe probe = Probe.NONE;

  LockFreeCluster(PlacementStrategy strategy, Mix mix) {
    this(strategy, mix, ThreadOffsets.OFF);
  }

  /**
   * @param offsets when concurrent placing threads start their search inside each tie group at
   *     offsets of their own ({@link GpuClusters.Builder#threadOffsets(ThreadOffsets)})
   */
  LockFreeCluster(PlacementStrategy strategy, Mix mix, ThreadOffsets offsets) {
    this.offsets = Objects.requireNonNull(offsets, "offsets");
    this.strategy = strategy;
    this.mix = mix;
    this.mixLearning = strategy.usesFragmentation() && !mix.isFixed();
    this.pressure = strategy.usesFragmentation() ? new ModelPressure() : null;
    this.directory = new GroupDirectory(mix.weights());
    this.races = directory.races;
    this.placer = new Placer(directory, pressure);
    this.spread = new SpreadPlacer(placer);
    this.management = new NodeManagement(directory, strategy, mix);
  }

  // ================================================================= placement

  @Override
  public Optional<Allocation> place(PlacementRequest request) {
    return Optional.ofNullable(tryPlace(request));
  }

  @Override
  public @Nullable Allocation tryPlace(PlacementRequest request) {
    Objects.requireNonNull(request, "request");
    GpuDemand demand = request.gpus();
    Constraints c = request.constraints();
    Group[] groups = placer.eligibleGroups(demand, c);
    ModelPressure mp = pressure;
    if (mp != null) {
      mp.record(groups, demand, c, request.cpuMillis(), request.memoryMiB());
    }
    long[] block = idBlock.get(); // this thread's ids and lane: one thread-local read
    boolean contended = offsets == ThreadOffsets.ALWAYS || contended(block);
    Reservation r;
    if (demand instanceof GpuDemand.Whole w && !w.sameNode() && w.count() > 1) {
      r = spread.place(groups, w, request);
    } else {
      int lane = contended && offsets != ThreadOffsets.OFF ? laneOf(block) : 0;
      r = placer.placeOne(
          groups, demand, request.cpuMillis(), request.memoryMiB(), c, lane, block[3] != 0);
      block[3] = r == null ? 1 : 0;
    }
    // a miss of a request that must not strand compute is a refusal its owner repeats by design
    // (a held scheduler job, every pass): counted, it would inflate its profile in the mix
    if (mixLearning && (r != null || !(demand instanceof GpuDemand.Mig m && m.noStranding()))) {
      mix.record(mixClass(demand, r == null ? groups[0] : r.slots[0].group));
    }
    if (r == null) {
      return null;
    }
    long id = nextId(block, contended);
    Group placedIn = r.slots[0].group;
    AllocationImpl a = placer.publish(r, request, id);
    r.done(); // its arrays are the allocation's now
    if (mp != null
        && (id & (StarvedNodes.SWEEP_EVERY - 1)) == 0
        && !(demand instanceof GpuDemand.Mig)
        && mp.hostLearned()) {
      Placer.sweep(placedIn, mp); // paced by the ids, like the updates below: deterministic
    }
    // learning the mix is paced by this thread's placements (deterministic for a given sequence),
    // and runs only after the allocation is published
    if (mp != null && ModelPressure.updateDue(id)) {
      mp.update(directory.all);
    }
    if (mixLearning && (id & (Mix.RELEARN_EVERY - 1)) == 0) {
      relearnAfter(a);
    }
    return a;
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

  /**
   * Whether this thread's placements meet contention now: {@link #races} moved since its previous
   * placement, or did within its last {@link #LANE_HOLD} placements (counted here). A thread's
   * first placement only notes the count (races before it were not with this thread). One
   * volatile read of a counter that only lost races write. It decides the thread's lane under
   * {@link ThreadOffsets#WHEN_CONTENDED} and whether its ids come in blocks ({@link #ID_BLOCK}).
   */
  private boolean contended(long[] block) {
    long seen = races.get();
    if (seen != block[4]) {
      boolean first = block[4] < 0;
      block[4] = seen;
      if (first) {
        return false;
      }
      block[5] = LANE_HOLD;
    } else if (block[5] == 0) {
      return false;
    }
    block[5]--;
    return true;
  }

  /**
   * This thread's lane ({@link Placer#laneOf}): the n-th thread (from 0) to place on this cluster
   * gets lane {@code n mod} {@link #LANES}, so a cluster used by one thread always walks from the
   * lowest index.
   */
  private int laneOf(long[] block) {
    if (block[2] == 0) {
      block[2] = (lanes.getAndIncrement() % LANES) + 1;
    }
    return Placer.laneOf((int) (block[2] - 1));
  }

  private long nextId() {
    return nextId(idBlock.get(), false);
  }

  /**
   * The next allocation id for this thread: from its block if one is left, else the next id of
   * the shared counter, or a new block of {@link #ID_BLOCK} if the thread is {@code contended}
   * ({@link ThreadOffsets#ALWAYS}: always) and the cluster is past its first {@link
   * ModelPressure#EARLY_UNTIL} ids. Early on, the model pressures learn every {@link
   * ModelPressure#EARLY_EVERY} ids; in blocks, 16 threads would hand out the first multiple of 32
   * only after about 256 placements, all of the early updates at once then, and the host-aware
   * ranking would start that late.
   */
  private long nextId(long[] b, boolean contended) {
    if (b[0] == b[1]) {
      if (!contended || ids.get() < ModelPressure.EARLY_UNTIL) {
        return ids.incrementAndGet();
      }
      b[0] = ids.getAndAdd(ID_BLOCK) + 1;
      b[1] = b[0] + ID_BLOCK;
    }
    return b[0]++;
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
        directory.currentWeights,
        next -> {
          probe.at(ProbePoint.WEIGHTS_FOLDED, next);
          // written before the groups are read: a group that addNode creates after this read
          // builds its tables from these weights (both fields are volatile)
          directory.tableWeights = next;
          Group[] groups = directory.all;
          for (Group g : groups) {
            g.ensureTables(strategy, directory.currentWeights);
          }
          log.debug("request mix shifted; rebuilt decision tables of {} groups", groups.length);
        });
  }

  @Override
  public Allocation restore(PlacementRequest request, List<AllocatedGpu> gpus) {
    Reservation r = Restorer.take(management, request, gpus);
    AllocationImpl a = placer.publish(r, request, nextId());
    if (!a.isActive()) { // a forced removal of one of its nodes came after the take
      a.release();
      throw new IllegalStateException(
          "cannot restore " + request + ": a node of it was removed meanwhile");
    }
    return a;
  }

  // ================================================================= management and reads

  @Override
  public void addNode(NodeSpec spec) {
    management.addNode(spec);
  }

  @Override
  public void setNodeState(String nodeId, NodeState state) {
    management.setNodeState(nodeId, state);
  }

  @Override
  public NodeRemoval removeNode(String nodeId, boolean force) {
    return management.removeNode(nodeId, force);
  }

  @Override
  public List<NodeSpec> nodes() {
    return management.nodes();
  }

  @Override
  public List<Allocation> allocations(String nodeId) {
    return management.allocations(nodeId);
  }

  @Override
  public ClusterSnapshot snapshot() {
    return ClusterSnapshotBuilder.snapshot(management.order);
  }

  // ================================================================= test support

  PlacementStrategy strategy() {
    return strategy;
  }

  /** The mix weights the decision tables were last built from (for tests). */
  double[] tableWeights() {
    return directory.tableWeights;
  }

  /** Whether the model pressures have learned a host ratio for the host-aware peek (for tests). */
  boolean hostLearned() {
    ModelPressure mp = pressure;
    return mp != null && mp.hostLearned();
  }

  /** The request mix (for tests). */
  Mix mix() {
    return mix;
  }

  /** All groups, in creation order (for tests). */
  Group[] groups() {
    return directory.all;
  }

  /** The nodes in the order they were added (for tests). */
  List<NodeEntry> nodeEntries() {
    return management.order;
  }

  /** Test seam: installs a probe on the cluster and its groups (see {@link Probe}). */
  void probe(Probe p) {
    probe = p;
    management.probe(p);
  }

  /** The engine's slot of a node's GPU (by its index in the node spec), for tests. */
  GpuSlot slot(String nodeId, int gpuIndex) {
    return management.require(nodeId).gpus[gpuIndex];
  }
}
