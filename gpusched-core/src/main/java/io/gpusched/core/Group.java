package io.gpusched.core;

import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.PlacementStrategy;
import io.gpusched.PlacementStrategy.Candidate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * All GPUs of one kind (model, mode and, for static MIG, layout) with their placement index and
 * decision tables.
 *
 * <p><b>Index.</b> {@code byState[s]} holds the GPUs whose word is in state {@code s}; for kinds that
 * can be taken whole (WHOLE, SHARED), {@code nodesByFree[f]} holds the nodes with {@code f} empty
 * GPUs of this kind. After every successful CAS the changer sets the new state's bit, then opens a
 * <em>window</em> ({@link #open}: the GPU is announced in {@link #windows}, and {@link #moves}
 * counts it), clears the old bit, <em>repairs</em> (re-reads the word and sets the bit of the state
 * it finds, until the word is unchanged across the repair) and closes the window. A release keeps
 * its window open from before its subtract until after its repair ({@link #release}). Readers that
 * find a bit whose GPU is no longer in that state clear it and repair inside a window the same way.
 * Bits are cleared only inside windows, so a GPU outside every window is always indexed under a
 * state at most as occupied as its word, and a GPU inside one is announced: a search that also
 * tries the announced GPUs, and sees no window open or close while it runs, misses nothing, and
 * never waits for a window to close. Stale positives are cheap and get cleaned when hit.
 *
 * <p><b>Decisions.</b> {@link Tables} hold, per request shape, the candidate states (and node
 * buckets) in strategy order. A placement walks that order and takes the lowest-index GPU of the
 * first non-empty state; states with equal scores form a tie group searched together so that ties
 * go to the lowest index. Nothing here scans all GPUs.
 */
final class Group {
  private static final VarHandle TABLES;

  static {
    try {
      TABLES = MethodHandles.lookup().findVarHandle(Group.class, "tables", Tables.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final int ordinal;
  final String key;
  final Space space;
  final boolean wholeCapable;
  final int[] mixClasses;

  volatile GpuSlot[] gpus = new GpuSlot[0];
  volatile GroupNode[] nodes = new GroupNode[0];

  /**
   * The most GPUs of this group on one node that has not been removed (cordoned and draining
   * nodes count: they may come back); 0 when there is none. Written under the management monitor.
   */
  volatile int maxNodeGpus;

  /** GPUs of this group on nodes that have not been removed. Written under the monitor. */
  volatile int liveGpus;

  /** Nodes not removed, by their GPU count in this group; under the management monitor only. */
  private final int[] nodesBySize = new int[65];

  final Bits[] byState;
  final Bits[] nodesByFree;
  final Bits schedGpus;
  final Bits schedNodes;
  private final Bits[] schedFilter;
  /** Cached filters; an entry is published only once completely built (see {@link #filterFor}). */
  private final Map<Constraints, Bits[]> filters = new ConcurrentHashMap<>();

  /**
   * Bumped by management <em>before</em> it changes any node's schedulability in the filters: a
   * filter build that read a node's old state then sees the bump and builds again.
   */
  private volatile int filterVersion;

  /**
   * The decision tables; replaced only by {@link #ensureTables}, by CAS against the tables a build
   * started from, so that an older build never replaces a newer one. Null until the first node.
   */
  volatile Tables tables;

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

  /**
   * Counts window openings and closings (see {@link #open}): incremented when a thread opens an
   * index window and again when it closes it. A search that found nothing is trusted only if this
   * did not change while it ran (see {@code LockFreeCluster.placeOne}). Striped, so the increments
   * do not contend.
   */
  final LongAdder moves = new LongAdder();

  /**
   * The open index windows of this group: each cell holds the GPU or node whose index entry a
   * thread is changing (a release from before its word changes until its index is repaired, a
   * clear-then-repair from before the clear until after the repair). A searcher whose walk found
   * nothing tries every GPU and node listed here directly, by its real word, so a thread parked
   * inside a window never hides capacity from anyone.
   */
  final Windows windows = new Windows();

  /**
   * Opens an index window on {@code subject} (a {@link GpuSlot} or {@link GroupNode}): announces
   * it, then counts a move. Returns the cell to pass to {@link #close}.
   */
  int open(Object subject) {
    int cell = windows.claim(subject);
    moves.increment(); // after the announcement: a search that saw no move saw the announcement
    return cell;
  }

  /** Closes a window: counts a move, then withdraws the announcement. */
  void close(int cell) {
    moves.increment(); // before the withdrawal: a search that missed the cell sees the move
    windows.release(cell);
  }

  /**
   * A lock-free registry of objects in open windows: chunks of cells, a claim is a CAS of a free
   * cell from null (starting at a per-thread position, so claims rarely contend), a release a
   * volatile write of null. Chunks are appended by CAS when all cells are taken and never removed.
   */
  static final class Windows {
    static final int CHUNK = 32;

    static final class Chunk {
      final AtomicReferenceArray<Object> cells = new AtomicReferenceArray<>(CHUNK);
      final java.util.concurrent.atomic.AtomicReference<@Nullable Chunk> next =
          new java.util.concurrent.atomic.AtomicReference<>();
    }

    final Chunk head = new Chunk();

    int claim(Object subject) {
      int start = (int) Thread.currentThread().getId();
      int base = 0;
      for (Chunk c = head; ; base += CHUNK) {
        for (int k = 0; k < CHUNK; k++) {
          int i = (start + k) & (CHUNK - 1);
          if (c.cells.get(i) == null && c.cells.compareAndSet(i, null, subject)) {
            return base + i;
          }
        }
        Chunk n = c.next.get();
        if (n == null) {
          c.next.compareAndSet(null, new Chunk());
          n = c.next.get();
        }
        c = n;
      }
    }

    void release(int cell) {
      Chunk c = head;
      for (int i = cell / CHUNK; i > 0; i--) {
        c = c.next.get();
      }
      c.cells.set(cell % CHUNK, null);
    }
  }

  Group(int ordinal, String key, Space space, int[] mixClasses) {
    this.ordinal = ordinal;
    this.key = key;
    this.space = space;
    this.wholeCapable = space.wholeDelta() != 0;
    this.mixClasses = mixClasses;
    byState = new Bits[space.stateCount()];
    for (int i = 0; i < byState.length; i++) {
      byState[i] = new Bits(64);
    }
    nodesByFree = new Bits[wholeCapable ? 65 : 0];
    for (int i = 0; i < nodesByFree.length; i++) {
      nodesByFree[i] = new Bits(64);
    }
    schedGpus = new Bits(64);
    schedNodes = new Bits(64);
    schedFilter = new Bits[] {schedGpus, schedNodes};
  }

  // ---------------------------------------------------------------- membership (management lock)

  /** Adds a node's GPUs of this group. Called under the cluster's management lock. */
  GroupNode addNode(NodeEntry node, List<GpuSlot> slots) {
    int gpuBase = gpus.length;
    int nodeLocal = nodes.length;
    int newGpuCount = gpuBase + slots.size();
    for (Bits b : byState) {
      b.ensureCapacity(newGpuCount);
    }
    schedGpus.ensureCapacity(newGpuCount);
    schedNodes.ensureCapacity(nodeLocal + 1);
    for (Bits b : nodesByFree) {
      b.ensureCapacity(nodeLocal + 1);
    }
    for (Bits[] f : filters.values()) {
      f[0].ensureCapacity(newGpuCount);
      f[1].ensureCapacity(nodeLocal + 1);
    }
    GroupNode gn = new GroupNode(node, this, nodeLocal, slots.toArray(GpuSlot[]::new));
    GpuSlot[] g = Arrays.copyOf(gpus, newGpuCount);
    for (GpuSlot s : slots) {
      s.groupNode = gn;
      g[s.local] = s;
      byState[space.state(0)].set(s.local);
    }
    if (wholeCapable) {
      gn.indexedFree = slots.size();
      nodesByFree[slots.size()].set(nodeLocal);
    }
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
   * Its index slots stay behind, unschedulable. Called under the cluster's management lock; the
   * caller then calls {@link #ensureTables} (the largest node may have gone).
   */
  void removeNode(GroupNode gn) {
    int size = gn.gpus.length;
    nodesBySize[size]--;
    liveGpus -= size;
    int max = nodesBySize.length - 1;
    while (max > 0 && nodesBySize[max] == 0) {
      max--;
    }
    maxNodeGpus = max;
  }

  int nextGpuLocal() {
    return gpus.length;
  }

  /**
   * Sets or clears the schedulable bits of a node's GPUs (and cached constraint filters). Called
   * under the cluster's management lock, after the node's state was written.
   */
  void setSchedulable(GroupNode gn, boolean schedulable) {
    // Before applying: a concurrent filter build either read the node's new state, or reads this
    // bump when it validates and builds again. (Bumping after applying let a build that read the
    // old state validate in between and cache it for good.)
    filterVersion++;
    apply(schedGpus, schedNodes, gn, schedulable);
    for (var e : filters.entrySet()) {
      boolean allowed = e.getKey().allowsNode(gn.node.spec.labels(), gn.node.spec.capacityClass());
      apply(e.getValue()[0], e.getValue()[1], gn, schedulable && allowed);
    }
    probe.at(ProbePoint.FILTER_APPLIED, gn);
  }

  private static void apply(Bits gpuBits, Bits nodeBits, GroupNode gn, boolean on) {
    for (GpuSlot s : gn.gpus) {
      if (on) {
        gpuBits.set(s.local);
      } else {
        gpuBits.clear(s.local);
      }
    }
    if (on) {
      nodeBits.set(gn.local);
    } else {
      nodeBits.clear(gn.local);
    }
  }

  /**
   * The GPU-level and node-level filters for node constraints (labels, capacity classes), combined
   * with schedulability. Lock-free, without the management lock: on first use a filter is built
   * privately, sized for the nodes read, and published (put, or replacing the entry it started
   * from) only when complete, so no search ever uses a half-built filter and only management grows
   * a published one ({@link Bits#ensureCapacity} under the monitor). The build is returned once no
   * management change raced with it: {@link #setSchedulable} bumps the version before it applies a
   * change, so a change either is seen by the build, or is applied to the published filter, or
   * makes the build start again. A retry means that management or another builder made progress.
   */
  Bits[] filterFor(Constraints c) {
    if (!c.constrainsNodes()) {
      return schedFilter;
    }
    Bits[] f = filters.get(c);
    return f != null ? f : buildFilter(c);
  }

  private Bits[] buildFilter(Constraints c) {
    for (; ; ) {
      Bits[] prev = filters.get(c);
      int v = filterVersion;
      GroupNode[] ns = nodes;
      GpuSlot[] gs = gpus; // read after nodes (see addNode): covers every GPU of ns
      Bits[] built = new Bits[] {new Bits(gs.length), new Bits(ns.length)};
      for (GroupNode gn : ns) {
        boolean on =
            gn.node.schedulable()
                && c.allowsNode(gn.node.spec.labels(), gn.node.spec.capacityClass());
        probe.at(ProbePoint.FILTER_NODE_READ, gn);
        if (on) {
          apply(built[0], built[1], gn, true);
        }
      }
      if (v != filterVersion || ns != nodes) {
        continue; // stale already: do not publish it
      }
      boolean published =
          prev == null ? filters.putIfAbsent(c, built) == null : filters.replace(c, prev, built);
      if (published && v == filterVersion && ns == nodes) {
        return built;
      }
    }
  }

  /**
   * Adds to {@code bad} every node whose bits in the schedulability filter or a cached constraint
   * filter disagree with its current state. Meaningful at quiescence only (for tests).
   */
  void verifyFilters(List<String> bad) {
    for (GroupNode gn : nodes) {
      checkFilter(bad, "schedulable", schedFilter, gn, gn.node.schedulable());
      filters.forEach(
          (c, f) ->
              checkFilter(
                  bad,
                  c.toString(),
                  f,
                  gn,
                  gn.node.schedulable()
                      && c.allowsNode(gn.node.spec.labels(), gn.node.spec.capacityClass())));
    }
  }

  private void checkFilter(List<String> bad, String name, Bits[] f, GroupNode gn, boolean on) {
    boolean ok = f[1].get(gn.local) == on;
    for (GpuSlot s : gn.gpus) {
      ok &= f[0].get(s.local) == on;
    }
    if (!ok) {
      bad.add("filter " + name + " of " + key + (on ? " misses node " : " lists ineligible node ")
          + gn.node.spec.id());
    }
  }

  // ---------------------------------------------------------------- index maintenance (lock-free)

  /** Index update after this thread changed {@code g}'s word from {@code oldW} to {@code newW}. */
  void onChange(GpuSlot g, long oldW, long newW) {
    int so = space.state(oldW);
    int sn = space.state(newW);
    if (so != sn) {
      byState[sn].set(g.local);
      int cell = open(g);
      hook(ProbePoint.WINDOW_OPEN, g);
      byState[so].clear(g.local);
      hook(ProbePoint.WINDOW_CLEARED, g);
      repairGpu(g);
      close(cell);
    }
    if (wholeCapable && (oldW == 0) != (newW == 0)) {
      updateNode(g.groupNode);
    }
  }

  /**
   * Subtracts a delta from a GPU's word (a release or a rollback) inside a window that stays open
   * until the index shows the new word, so the freed capacity is never hidden from a search: it
   * is either indexed or announced. Returns the word before.
   */
  long release(GpuSlot g, long delta) {
    int cell = open(g);
    long before = g.subtract(delta);
    onChange(g, before, before - delta);
    close(cell);
    return before;
  }

  void repairGpu(GpuSlot g) {
    for (; ; ) {
      long w = g.word();
      byState[space.state(w)].set(g.local);
      if (g.word() == w) {
        return;
      }
    }
  }

  void updateNode(GroupNode n) {
    int f = n.countFree();
    nodesByFree[f].set(n.local);
    int prev = n.indexedFree;
    n.indexedFree = f;
    if (prev != f) {
      int cell = open(n);
      hook(ProbePoint.WINDOW_OPEN, n);
      nodesByFree[prev].clear(n.local);
      hook(ProbePoint.WINDOW_CLEARED, n);
      repairNode(n);
      close(cell);
    } else {
      repairNode(n);
    }
  }

  void repairNode(GroupNode n) {
    for (; ; ) {
      int f = n.countFree();
      nodesByFree[f].set(n.local);
      n.indexedFree = f;
      if (n.countFree() == f) {
        return;
      }
    }
  }

  /** A reader found GPU {@code g} indexed under a state it is not in: clean up and repair. */
  void staleGpu(GpuSlot g, int state) {
    int cell = open(g);
    byState[state].clear(g.local);
    repairGpu(g);
    close(cell);
  }

  void staleNode(GroupNode n, int free) {
    int cell = open(n);
    nodesByFree[free].clear(n.local);
    repairNode(n);
    close(cell);
  }

  // ---------------------------------------------------------------- decision tables

  /** An ordered candidate list: entry {@code >= 0} is a GPU state, {@code < 0} a node bucket. */
  record Order(int[] entries, double[] scores, int[] tieEnd) {
    static final Order EMPTY = new Order(new int[0], new double[0], new int[0]);

    static Order of(List<double[]> rows) {
      // row: {entry, score, kind}; GPU states (kind 0) before node buckets (kind 1) on equal score
      rows.sort(Comparator.<double[]>comparingDouble(r -> r[1]).thenComparingDouble(r -> r[2]));
      int n = rows.size();
      int[] e = new int[n];
      double[] s = new double[n];
      int[] tie = new int[n];
      for (int i = 0; i < n; i++) {
        e[i] = (int) rows.get(i)[0];
        s[i] = rows.get(i)[1];
      }
      for (int i = n - 1; i >= 0; i--) {
        boolean sameAsNext =
            i + 1 < n && s[i] == s[i + 1] && rows.get(i)[2] == rows.get(i + 1)[2];
        tie[i] = sameAsNext ? tie[i + 1] : i + 1;
      }
      return new Order(e, s, tie);
    }
  }

  /** Strategy- and mix-dependent tables of a group; immutable once published (lazy parts aside). */
  final class Tables {
    final PlacementStrategy strategy;
    final double[] weights;
    final double[] gpuFrag;
    final double[] nodeFrag;
    final int maxF;
    final byte[][] choice;
    final Order[] migOrder;
    final Order[] wholeOrder;
    final double[] shareW;
    final double wholeWSum;
    final AtomicReferenceArray<Order> shareOrder;

    /** The global weights these tables were built from (compared by identity, then by value). */
    final double[] source;

    Tables(PlacementStrategy strategy, double[] globalWeights, int maxF) {
      this.strategy = strategy;
      this.maxF = maxF;
      this.source = globalWeights;
      this.weights = groupWeights(globalWeights);
      boolean frag = strategy.usesFragmentation();
      // node-level fragmentation: free GPUs that whole requests of the mix cannot use, in milli
      nodeFrag = new double[maxF + 1];
      double wsum = 0;
      shareW = new double[41];
      if (space.mode == GpuMode.SHARED || space.mode == GpuMode.WHOLE) {
        for (int k = 1; k <= 64; k++) {
          double w = weights[k - 1];
          wsum += w;
          for (int f = 0; f <= maxF; f++) {
            nodeFrag[f] += w * 1000.0 * (f % k);
          }
        }
        if (space.mode == GpuMode.SHARED) {
          System.arraycopy(weights, 64, shareW, 0, 41);
        }
      }
      wholeWSum = wsum;
      gpuFrag = new double[space.stateCount()];
      if (space instanceof MigSpace mig) {
        int slices = mig.geometry.memorySlices();
        for (int s = 0; s < gpuFrag.length; s++) {
          double f = 0;
          for (int p = 0; p < mig.profiles.length; p++) {
            f += weights[p] * mig.unusableSlots(s, p) * 1000.0 / slices;
          }
          gpuFrag[s] = f;
        }
        choice = new byte[mig.profiles.length][gpuFrag.length];
        migOrder = new Order[mig.profiles.length];
        for (int p = 0; p < mig.profiles.length; p++) {
          List<double[]> rows = new ArrayList<>();
          for (int s = 0; s < gpuFrag.length; s++) {
            int feasible = mig.feasible[p][s];
            choice[p][s] = -1;
            double best = Double.POSITIVE_INFINITY;
            while (feasible != 0) {
              int c = Integer.numberOfTrailingZeros(feasible);
              feasible &= feasible - 1;
              int next = mig.state(mig.words[s] + mig.delta(p, c));
              double score =
                  strategy.score(
                      new Candidate(
                          space.mode,
                          space.freeFraction(s),
                          space.freeFraction(next),
                          -1,
                          -1,
                          frag ? gpuFrag[next] - gpuFrag[s] : 0));
              if (score < best) {
                best = score;
                choice[p][s] = (byte) c;
              }
            }
            if (choice[p][s] >= 0) {
              rows.add(new double[] {s, best, 0});
            }
          }
          migOrder[p] = Order.of(rows);
        }
      } else {
        choice = new byte[0][];
        migOrder = new Order[0];
        if (space.mode == GpuMode.SHARED) {
          for (int s = 0; s < gpuFrag.length; s++) {
            gpuFrag[s] = space.isEmptyState(s) ? 0 : fragOfFree(Space.Shared.freeMilliOf(s));
          }
        }
      }
      wholeOrder = new Order[maxF + 1];
      wholeOrder[0] = Order.EMPTY;
      for (int k = 1; k <= maxF; k++) {
        List<double[]> rows = new ArrayList<>();
        for (int f = k; f <= maxF && wholeCapable; f++) {
          double delta = frag ? nodeFrag[f - k] - nodeFrag[f] : 0;
          double score = strategy.score(new Candidate(space.mode, 1, 0, f, f - k, delta));
          rows.add(new double[] {-1 - f, score, 1});
        }
        wholeOrder[k] = Order.of(rows);
      }
      shareOrder =
          new AtomicReferenceArray<>(
              space.mode == GpuMode.SHARED ? Space.Shared.MILLI_BUCKETS * Space.Shared.MEM_BUCKETS : 0);
    }

    /** Whether these tables are what a build from {@code maxF} and {@code global} would give. */
    boolean builtFrom(int maxF, double[] global) {
      return this.maxF == maxF
          && (source == global || Arrays.equals(weights, groupWeights(global)));
    }

    /** Fragmentation of a partly used SHARED GPU with {@code freeMilli} free, in milli. */
    double fragOfFree(double freeMilli) {
      double f = wholeWSum * freeMilli;
      for (int b = 1; b < 41; b++) {
        if (freeMilli < b * 25) {
          f += shareW[b] * freeMilli;
        }
      }
      return f;
    }

    /**
     * The candidate order for a share. Orders are cached per <em>shape class</em>: milli rounded
     * down to 25 and memory rounded down to 1/16 of the GPU, at most 41 × 17 classes. The
     * candidate states of a class are those that may fit its lower bounds, a superset of those that
     * fit any share of the class, so no capacity is missed; the exact fit is checked on the word.
     * Scores use the class's representative amounts.
     */
    Order shareOrder(int milli, long memMiB) {
      Space.Shared sh = (Space.Shared) space;
      int milliClass = milli / Space.Shared.MILLI_STEP;
      int memClass = (int) Math.min(16, memMiB * 16 / sh.memoryMiB);
      int key = milliClass * Space.Shared.MEM_BUCKETS + memClass;
      Order o = shareOrder.get(key);
      if (o == null) {
        o = buildShareOrder(milliClass, memClass);
        shareOrder.lazySet(key, o); // idempotent: racing builders compute the same order
      }
      return o;
    }

    private Order buildShareOrder(int milliClass, int memClass) {
      Space.Shared sh = (Space.Shared) space;
      int milliLow = milliClass * Space.Shared.MILLI_STEP;
      long memLow = (memClass * sh.memoryMiB + 15) / 16;
      int milli = Math.min(1000, milliLow + Space.Shared.MILLI_STEP / 2);
      long memMiB = memLow;
      boolean frag = strategy.usesFragmentation();
      List<double[]> rows = new ArrayList<>();
      double memAfterEmpty = (double) (sh.memoryMiB - memMiB) / sh.memoryMiB;
      for (int s = 0; s < gpuFrag.length; s++) {
        if (space.isEmptyState(s)) {
          continue; // empty GPUs are found through the node buckets
        }
        int milliBucket = s / Space.Shared.MEM_BUCKETS;
        int memBucket = s % Space.Shared.MEM_BUCKETS;
        int maxFreeMilli = milliBucket == Space.Shared.MILLI_BUCKETS - 1 ? 1000 : milliBucket * 25 + 24;
        long maxFreeMem =
            memBucket == 16 ? sh.memoryMiB : ((memBucket + 1) * sh.memoryMiB + 15) / 16 - 1;
        if (maxFreeMilli < milliLow || maxFreeMem < memLow) {
          continue;
        }
        double freeMilli = Space.Shared.freeMilliOf(s);
        double afterMilli = Math.max(0, freeMilli - milli);
        double afterMem = Math.max(0, Space.Shared.freeMemFractionOf(s) - (double) memMiB / sh.memoryMiB);
        double delta = frag ? fragOfFree(afterMilli) - fragOfFree(freeMilli) : 0;
        double score =
            strategy.score(
                new Candidate(
                    space.mode,
                    space.freeFraction(s),
                    Math.min(afterMilli / 1000, afterMem),
                    -1,
                    -1,
                    delta));
        rows.add(new double[] {s, score, 0});
      }
      for (int f = 1; f <= maxF; f++) {
        double delta =
            frag ? fragOfFree(1000 - milli) + nodeFrag[f - 1] - nodeFrag[f] : 0;
        double score =
            strategy.score(
                new Candidate(
                    space.mode, 1, Math.min((1000 - milli) / 1000.0, memAfterEmpty), f, f - 1, delta));
        rows.add(new double[] {-1 - f, score, 1});
      }
      // Last of all, the empty state itself: a GPU that a placement has just taken part of is
      // still indexed as empty until that placement re-indexes it, while a stale-bucket cleanup
      // may already have moved its node to a bucket without empty GPUs. Sequentially this entry
      // finds nothing the node buckets did not (an empty GPU is reached through its node first).
      rows.add(new double[] {space.state(0L), Double.MAX_VALUE, 2});
      return Order.of(rows);
    }
  }

  /** This group's weights over the mix classes it can serve, normalized; a prior if none seen. */
  double[] groupWeights(double[] global) {
    double[] w;
    if (space instanceof MigSpace mig) {
      w = new double[mig.profiles.length];
      for (int p = 0; p < w.length; p++) {
        w[p] = global[mixClasses[p]];
      }
      if (sum(w) == 0) {
        Arrays.fill(w, 1);
      }
    } else {
      w = new double[64 + 41];
      for (int k = 0; k < 64; k++) {
        w[k] = global[Mix.WHOLE_BASE + k];
      }
      if (space.mode == GpuMode.SHARED) {
        for (int b = 0; b < 41; b++) {
          w[64 + b] = global[Mix.SHARE_BASE + b];
        }
      }
      if (sum(w) == 0) {
        if (space.mode == GpuMode.SHARED) {
          w[0] = 1;
          w[64 + 4] = 1; // 100 milli
          w[64 + 10] = 1; // 250 milli
          w[64 + 20] = 1; // 500 milli
        } else {
          w[0] = 1;
          w[1] = 1;
          w[3] = 1;
          w[7] = 1;
        }
      }
    }
    double s = sum(w);
    for (int i = 0; i < w.length; i++) {
      w[i] /= s;
    }
    return w;
  }

  private static double sum(double[] a) {
    double s = 0;
    for (double v : a) {
      s += v;
    }
    return s;
  }

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
      Tables cur = tables;
      int maxF = Math.max(1, maxNodeGpus);
      double[] w = weights.get();
      if (cur != null && cur.builtFrom(maxF, w)) {
        return;
      }
      Tables t = new Tables(strategy, w, maxF);
      probe.at(ProbePoint.TABLES_BUILT, this);
      TABLES.compareAndSet(this, cur, t); // on failure another build won: check it on the next turn
    }
  }

  /** Fragmented milli of one GPU given its word and, for empty GPUs, its node's free count. */
  double fragmentedMilli(Tables t, long word, int nodeFree) {
    if (word == 0 && wholeCapable) {
      return nodeFree <= 0 || nodeFree > t.maxF ? 0 : t.nodeFrag[nodeFree] / nodeFree;
    }
    if (space instanceof MigSpace) {
      return t.gpuFrag[space.state(word)];
    }
    if (space.mode == GpuMode.SHARED) {
      double free = 1000 - Space.Shared.milliUsed(word);
      return Math.min(free, t.fragOfFree(free));
    }
    return 0;
  }

  // ---------------------------------------------------------------- search

  /** Walks an {@link Order} over this group's index, yielding candidates in strategy order. */
  static final class Cursor {
    final Group group;
    final Order order;
    final Bits gpuFilter;
    final Bits nodeFilter;
    /** The request shape within the group: the MIG profile index, else -1. */
    final int shape;
    private int tie;
    private int from;
    int entry = -1;
    int index;

    Cursor(Group group, Order order, Bits[] filter, int shape) {
      this.group = group;
      this.order = order;
      this.shape = shape;
      this.gpuFilter = filter[0];
      this.nodeFilter = filter[1];
    }

    /**
     * Next set bit of each entry of the current tie group (when it has more than one entry), so
     * that moving on after a failed candidate searches only the entry that produced it.
     */
    private int @Nullable [] pos;

    /** Moves to the next candidate (lowest index of the best non-empty tie group). */
    boolean next() {
      int[] entries = order.entries;
      while (tie < entries.length) {
        int end = order.tieEnd[tie];
        if (end - tie == 1) {
          int i = search(entries[tie], from);
          if (i >= 0) {
            entry = tie;
            index = i;
            from = i + 1;
            return true;
          }
        } else {
          int[] p = pos;
          // Node buckets are read from the most free down: a placement moves a node one bucket
          // down (setting the lower bit before clearing the higher), so a node moving meanwhile is
          // seen in one of the two. GPU states are read in id order, which is breadth-first from
          // the empty GPU: a placement moves a GPU to a higher id, set before the old is cleared.
          boolean down = entries[tie] < 0;
          if (p == null && (entry < tie || entry >= end)) {
            // entering this tie group: the lowest index over its entries, nothing stored (most
            // placements succeed on their first candidate)
            int best = Integer.MAX_VALUE;
            int bestEntry = -1;
            for (int k = 0; k < end - tie; k++) {
              int e = down ? end - 1 - k : tie + k;
              int i = search(entries[e], 0);
              if (i >= 0 && i < best) {
                best = i;
                bestEntry = e;
              }
            }
            if (bestEntry >= 0) {
              entry = bestEntry;
              index = best;
              return true;
            }
          } else {
            if (p == null) { // the first candidate failed: remember every entry's position
              p = new int[end - tie];
              for (int k = 0; k < end - tie; k++) {
                int e = down ? end - 1 - k : tie + k;
                p[e - tie] = e == entry ? search(entries[e], index + 1) : search(entries[e], index);
              }
              pos = p;
            } else { // only the consumed entry moves on
              p[entry - tie] = search(entries[entry], index + 1);
            }
            int best = Integer.MAX_VALUE;
            int bestEntry = -1;
            for (int k = 0; k < p.length; k++) {
              if (p[k] >= 0 && p[k] < best) {
                best = p[k];
                bestEntry = tie + k;
              }
            }
            if (bestEntry >= 0) {
              entry = bestEntry;
              index = best;
              return true;
            }
            pos = null;
          }
        }
        tie = end;
        from = 0;
        entry = -1;
      }
      return false;
    }

    private int search(int ent, int fromIndex) {
      Bits bits = ent >= 0 ? group.byState[ent] : group.nodesByFree[-1 - ent];
      if (!bits.maybeNonEmpty()) {
        return -1;
      }
      return bits.nextSetBit(fromIndex, ent >= 0 ? gpuFilter : nodeFilter);
    }

    double score() {
      return order.scores[entry];
    }

    int entryValue() {
      return order.entries[entry];
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
