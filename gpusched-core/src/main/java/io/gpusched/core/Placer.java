package io.gpusched.core;

import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.PlacementRequest;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The placement path of the engine: pick the eligible groups, search their index, take the chosen
 * capacity by CAS, reserve host resources, publish the allocation. Lock-free: no lock of any kind;
 * every loop here repeats only because another thread changed a word, opened or closed an index
 * window, or removed a node (each of which is progress). Stateless apart from the cluster's
 * directory; called concurrently by any number of threads.
 *
 * <p><b>Linearization points.</b>
 * <ul>
 *   <li>A single-GPU placement (MIG instance, share, one whole GPU): the successful CAS of the GPU
 *       word, provided the host reservation that follows succeeds (the host word's CAS belongs to
 *       the same placement: it is reserved only for GPUs already held, so it never makes another
 *       request fail; if it fails the GPU is given back inside a window and the search goes on).
 *   <li>A placement that finds nothing: the end of its last search, which is trusted only if no
 *       index window of the searched groups opened or closed during it and every window still open
 *       was tried by its real word ({@link #placeOne}).
 *   <li>A gang (whole GPUs with {@code count > 1}): the status CAS of its {@link GangClaims.Op}
 *       to SUCCEEDED, when every planned GPU holds its claim; no other thread ever reads a GPU in
 *       between (readers finish the gang first).
 *   <li>Publication: the allocation's state CAS from PENDING to ACTIVE, after it is registered on
 *       its GPUs and no node was seen removed (Dekker-style against node removal, which writes the
 *       {@code removed} flag before it reads the registrations).
 * </ul>
 */
@EnginePart
final class Placer {
  private final GroupDirectory directory;
  private final @Nullable ModelPressure pressure;

  /**
   * @param pressure the learned constrained-demand pressure and host ratios, for strategies with
   *     fragmentation (enables {@link HostPeek}); null for the others
   */
  Placer(GroupDirectory directory, @Nullable ModelPressure pressure) {
    this.directory = directory;
    this.pressure = pressure;
  }

  /** The groups that may host the demand; throws if no node of the cluster ever could. */
  Group[] eligibleGroups(GpuDemand demand, Constraints c) {
    Group[] candidates = directory.candidates(demand);
    Group[] out = candidates;
    int n = 0;
    for (int i = 0; i < candidates.length; i++) {
      Group g = candidates[i];
      if (c.allowsModel(g.space.model) && canEverHost(g, demand)) {
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
      long total = 0; // of one model (the largest), unless models may be mixed
      for (int i = 0; i < n; i++) {
        long model = 0;
        for (int j = 0; j < n; j++) {
          if (w.mixedModels() || out[j].space.model.name().equals(out[i].space.model.name())) {
            model += out[j].liveGpus; // removed nodes do not count
          }
        }
        total = Math.max(total, model);
      }
      if (w.count() > total) {
        throw new IllegalArgumentException(
            "request for " + w.count() + " whole GPUs exceeds the " + total + " eligible GPUs of "
                + (w.mixedModels() ? "the cluster" : "any one model of the cluster (see withMixedModels)"));
      }
    }
    return n == out.length ? out : Arrays.copyOf(out, n);
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
    String models = (c.gpuModels().isEmpty() ? "any model" : "models " + c.gpuModels())
        + (c.minGpuMemoryMiB() == 0 ? "" : " with at least " + c.minGpuMemoryMiB() + " MiB of GPU memory");
    if (demand instanceof GpuDemand.Mig m) {
      var known = new java.util.TreeSet<String>();
      for (Group g : directory.all) {
        if (g.space instanceof MigSpace mig
            && g.liveGpus > 0
            && c.allowsModel(g.space.model)) {
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

  /**
   * Places a single-node demand: a MIG instance, a share, or whole GPUs on one node.
   *
   * <p>A walk of the index that finds nothing is followed by a direct try of every GPU and node
   * announced in an open index window (see {@link GroupIndex#windows}), and is trusted only if no window
   * opened or closed meanwhile. Then every window that overlapped the search was open all along and
   * was tried by its real word, and every other GPU was indexed under a class at most as occupied
   * as its word (a clear happens only inside a window; a release stays inside one until its index
   * is repaired), so the miss holds at the instant the search ended up to operations that
   * overlapped it entirely. Nothing here waits for another thread: a repeated walk means another
   * thread opened or closed a window, that is, made progress (lock-free).
   */
  @Nullable Reservation placeOne(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c) {
    return placeOne(groups, demand, cpu, mem, c, 0);
  }

  /**
   * {@link #placeOne(Group[], GpuDemand, long, long, Constraints)} from a start offset inside
   * every tie group: {@code lane} is the calling thread's {@link #laneOf} (0: the lowest index).
   */
  @Nullable Reservation placeOne(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c, int lane) {
    return placeOne(groups, demand, cpu, mem, c, lane, false);
  }

  /**
   * {@link #placeOne(Group[], GpuDemand, long, long, Constraints, int)}, told whether a miss is
   * likely ({@code expectMiss}: the calling thread's previous placement on this cluster missed).
   *
   * <p>A success needs no stamp: only a miss must be checked against concurrent moves. So the
   * first search normally reads no counter (most placements succeed on it), and a miss then walks
   * the index a second time under a stamp. When a miss is expected (a cluster under overload, or a
   * queue retrying requests that do not fit) the stamp is read before the first search instead,
   * and a miss costs one walk; a success then costs one read of the groups' move counters. The
   * decision is the same either way: only the number of walks differs.
   */
  @Nullable Reservation placeOne(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c, int lane,
      boolean expectMiss) {
    ModelPressure mp = pressure;
    if (mp != null && !(demand instanceof GpuDemand.Mig) && mp.hostLearned()) {
      Reservation peeked = peek(groups, demand, cpu, mem, c, mp, lane);
      if (peeked != null) {
        return peeked;
      }
    }
    if (!expectMiss) {
      Reservation first = searchOnce(groups, demand, cpu, mem, c, lane);
      if (first != null) {
        return first;
      }
    }
    for (; ; ) {
      long stamp = moves(groups);
      Reservation r = searchOnce(groups, demand, cpu, mem, c, lane);
      if (r == null) {
        r = searchWindows(groups, demand, cpu, mem, c);
      }
      if (r != null || moves(groups) == stamp) {
        return r;
      }
    }
  }

  /**
   * The host-aware first tries ({@link HostPeek}): the first candidates in table order, ranked
   * again by their host-stranded change, tried in that order. Null if none succeeded (the caller
   * then searches as usual).
   */
  private @Nullable Reservation peek(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c, ModelPressure mp,
      int lane) {
    double perCpu = mp.gpuPerCpu;
    double perMem = mp.gpuPerMem;
    double[][] unfit = mp.gangUnfit;
    int wholeGpus = demand instanceof GpuDemand.Whole w ? w.count() : 0;
    long milli = ModelPressure.milliOf(demand);
    HostPeek pk = HostPeek.get();
    try {
      GroupCursor.Set set = GroupCursor.Set.reusable(groups.length);
      try {
        GroupCursor[] cursors = set.cursors;
        boolean[] live = set.live;
        int n = groups.length;
        for (int i = 0; i < n; i++) {
          cursors[i] = cursor(groups[i], demand, c, set.slot(i), false).lane(lane);
          cursors[i].bias = n == 1 ? 0 : ModelPressure.bias(groups[i], milli);
          live[i] = cursors[i].next();
        }
        double first = Double.NaN;
        double price = 0;
        int tier = 0;
        int best = -1;
        double lowest = Double.POSITIVE_INFINITY; // the lowest host-stranded change seen
        boolean cut = true; // the peek stopped at its size or window, not at the end of its tier
        while (pk.n < HostPeek.MAX) {
          if (best < 0) {
            best = firstOf(cursors, live, n);
            if (best < 0) {
              cut = false;
              break;
            }
          }
          GroupCursor cur = cursors[best];
          double rank = cur.score() + cur.bias;
          if (pk.n == 0) {
            if (cur.tier > 0) {
              // the better tier looks full: checked as a miss is before a worse one is peeked at
              Reservation better = betterTierMiss(groups, cur, demand, cpu, mem, c, lane);
              if (better != null) {
                return better;
              }
            }
            first = rank;
            tier = cur.tier;
            price = cur.group.price;
          } else if (cur.group.price != price || cur.tier != tier) {
            cut = false;
            break;
          } else if (rank > first + HostPeek.WINDOW) {
            break;
          }
          NodeEntry node = nodeOf(cur);
          if (node != null && node.schedulable() && node.hostMayFit(cpu, mem)) {
            int empties = wholeGpus > 0 ? wholeGpus : takesEmpty(cur) ? 1 : 0;
            double delta =
                HostPeek.strandedDelta(node, milli, cpu, mem, perCpu, perMem, empties, unfit, pk);
            lowest = Math.min(lowest, delta);
            pk.add(cur.group, cur.entryValue(), cur.index, cur.shape, rank + delta, pk.lastAfter);
          }
          best = advance(cursors, live, best);
        }
        if (wholeGpus > 0 && cut && pk.n > 0 && lowest >= -HostPeek.TOLERANCE) {
          // none of the first candidates lowers its node's stranded capacity: look at the nodes
          // noted for stranding capacity, however far down the table order they rank
          peekStarved(pk, cursors, n, first, tier, price, wholeGpus, cpu, mem, perCpu, perMem, unfit);
        }
      } finally {
        set.done();
      }
      for (int k = pk.nextBest(); k >= 0; k = pk.nextBest()) {
        Reservation r = attempt(pk.group[k], pk.ent[k], pk.index[k], pk.shape[k], demand, cpu, mem);
        if (r != null) {
          noteStarved(r, pk.after[k]);
          return r;
        }
      }
      return null;
    } finally {
      pk.done();
    }
  }

  /**
   * Adds to the peek the nodes noted in the same-tier, same-price groups' {@link StarvedNodes} that
   * can take {@code k} whole GPUs, pass the request's node filter and rank within {@link
   * HostPeek#STARVED_WINDOW} of {@code first} (each at its node bucket's score, plus the group's
   * bias, plus its host-stranded change). A node also among the first candidates is added again at
   * the same rank, which changes nothing (ties go to the earlier entry).
   */
  private static void peekStarved(
      HostPeek pk, GroupCursor[] cursors, int n, double first, int tier, double price, int k,
      long cpu, long mem, double perCpu, double perMem, double @Nullable [][] unfit) {
    for (int i = 0; i < n; i++) {
      GroupCursor cur = cursors[i];
      if (cur.tier != tier || cur.group.price != price) {
        continue;
      }
      StarvedNodes notes = cur.group.starved;
      Bits filter = cur.nodeFilter;
      for (int j = 0; j < StarvedNodes.SIZE && !pk.full(); j++) {
        GroupNode gn = notes.get(j);
        // the group's published node list (a volatile read) first: a note is a plain read of
        // another thread's write, and the filters are sized for the nodes the list publishes
        if (gn == null
            || cur.group.node(gn.local) != gn
            || (filter != null && !filter.get(gn.local))) {
          continue;
        }
        // ranked in the bucket the index last put it in (a hint, like every index entry: the
        // attempt counts its free GPUs again and heals a stale bucket)
        int f = gn.lpIndexedFree();
        if (f < k) {
          continue;
        }
        int ent = CandidateOrder.nodeBucket(f);
        double rank = cur.order.scoreOf(ent) + cur.bias;
        NodeEntry node = gn.node;
        if (rank <= first + HostPeek.STARVED_WINDOW // false for a bucket the order lacks (NaN)
            && node.schedulable()
            && node.hostMayFit(cpu, mem)) {
          double delta =
              HostPeek.strandedDelta(
                  node, 1000L * k, cpu, mem, perCpu, perMem, k, unfit, pk);
          pk.add(cur.group, ent, gn.local, cur.shape, rank + delta, pk.lastAfter);
        }
      }
    }
  }

  /**
   * Notes the node a peek's placement landed on in its groups' {@link StarvedNodes} if it now
   * strands capacity ({@code after}, as the peek predicted it).
   */
  private static void noteStarved(Reservation r, double after) {
    if (r.n > 0 && after > HostPeek.TOLERANCE) {
      note(r.slots[0].node);
    }
  }

  /**
   * The sweep of {@link StarvedNodes}: looks at the next {@link StarvedNodes#SWEEP_EVERY} nodes of
   * a WHOLE or SHARED group and notes those that strand capacity now. Called by the cluster after
   * every {@link StarvedNodes#SWEEP_EVERY}th placement in the group (by allocation id), once the
   * host ratios are learned.
   */
  static void sweep(Group g, ModelPressure mp) {
    GroupNode[] nodes = g.nodes;
    if (!g.wholeCapable || nodes.length == 0) {
      return;
    }
    int from = g.starved.nextSweep(nodes.length, StarvedNodes.SWEEP_EVERY);
    for (int i = 0; i < StarvedNodes.SWEEP_EVERY && i < nodes.length; i++) {
      GroupNode next = nodes[(from + i) % nodes.length];
      if (next != null && next.node.schedulable()) {
        noteIfStarved(next.node, mp);
      }
    }
  }

  /** Notes the node in each of its groups' {@link StarvedNodes} if it strands capacity now. */
  private static void noteIfStarved(NodeEntry node, ModelPressure mp) {
    if (HostPeek.strandedNow(node, mp.gpuPerCpu, mp.gpuPerMem, mp.gangUnfit) > HostPeek.TOLERANCE) {
      note(node);
    }
  }

  /** Notes the node in each of its WHOLE and SHARED groups' {@link StarvedNodes}. */
  private static void note(NodeEntry node) {
    GroupNode last = null;
    for (GpuSlot gpu : node.gpus) {
      GroupNode gn = gpu == null ? null : gpu.groupNode;
      if (gn != null && gn != last && gn.group.wholeCapable) { // MIG groups never read notes
        gn.group.starved.note(gn);
        last = gn;
      }
    }
  }

  /** Whether a share on the cursor's candidate takes an empty GPU (a node bucket, or an empty GPU). */
  private static boolean takesEmpty(GroupCursor cur) {
    if (CandidateOrder.isNodeBucket(cur.entryValue())) {
      return true;
    }
    GpuSlot gpu = cur.group.gpu(cur.index);
    return gpu != null && gpu.lvWord() == 0;
  }

  /** The node of a cursor's candidate, or null if it is gone. */
  private static @Nullable NodeEntry nodeOf(GroupCursor cur) {
    if (CandidateOrder.isNodeBucket(cur.entryValue())) {
      GroupNode gn = cur.group.node(cur.index);
      return gn == null ? null : gn.node;
    }
    GpuSlot gpu = cur.group.gpu(cur.index);
    return gpu == null ? null : gpu.node;
  }

  /**
   * Tries, by their real words, the GPUs and nodes announced in the groups' open windows: those of
   * the better tier first ({@link #tierOf}: a whole GPU goes to an announced SHARED GPU only when
   * no announced WHOLE one fits).
   */
  private @Nullable Reservation searchWindows(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c) {
    Reservation r = searchWindows(groups, demand, cpu, mem, c, 0);
    return r != null || !(demand instanceof GpuDemand.Whole)
        ? r
        : searchWindows(groups, demand, cpu, mem, c, 1);
  }

  private @Nullable Reservation searchWindows(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c, int tier) {
    for (Group g : groups) {
      if (tierOf(g, demand) != tier) {
        continue;
      }
      Bits[] filter = null;
      for (IndexWindows.Chunk ch = g.index.windows.head; ch != null; ch = ch.next.get()) {
        for (int i = 0; i < IndexWindows.CHUNK; i++) {
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
    int shape = demand instanceof GpuDemand.Mig m ? migRow((MigSpace) g.space, m) : -1;
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

  static long moves(Group[] groups) {
    long sum = 0;
    for (Group g : groups) {
      sum += g.index.moves.sum();
    }
    return sum;
  }

  private @Nullable Reservation searchOnce(
      Group[] groups, GpuDemand demand, long cpu, long mem, Constraints c, int lane) {
    if (groups.length == 1) {
      GroupCursor cur = cursor(groups[0], demand, c, true).lane(lane);
      try {
        while (cur.next()) {
          Reservation r = attempt(cur, demand, cpu, mem);
          if (r != null) {
            return r;
          }
        }
        return null;
      } finally {
        cur.done();
      }
    }
    GroupCursor.Set set = GroupCursor.Set.reusable(groups.length);
    try {
      return searchMerged(groups, set, demand, cpu, mem, c, lane);
    } finally {
      set.done();
    }
  }

  /**
   * Walks several groups' cursors merged in strategy order (price when cost-first, tier, then
   * score).
   */
  private @Nullable Reservation searchMerged(
      Group[] groups, GroupCursor.Set set, GpuDemand demand, long cpu, long mem, Constraints c,
      int lane) {
    GroupCursor[] cursors = set.cursors;
    boolean[] live = set.live;
    int n = groups.length;
    long milli = ModelPressure.milliOf(demand);
    for (int i = 0; i < n; i++) {
      cursors[i] = cursor(groups[i], demand, c, set.slot(i), false).lane(lane);
      cursors[i].bias = ModelPressure.bias(groups[i], milli);
      live[i] = cursors[i].next();
    }
    double checked = Double.NaN; // the price level whose better tier's miss was checked
    int best = -1;
    for (; ; ) {
      if (best < 0) {
        best = firstOf(cursors, live, n);
        if (best < 0) {
          return null;
        }
      }
      GroupCursor cur = cursors[best];
      if (cur.tier > 0 && Double.compare(checked, cur.group.price) != 0) {
        // the walk of the better tier at this price found nothing: checked as a miss is, once
        checked = cur.group.price;
        Reservation better = betterTierMiss(groups, cur, demand, cpu, mem, c, lane);
        if (better != null) {
          return better;
        }
      }
      Reservation r = attempt(cursors[best], demand, cpu, mem);
      if (r != null) {
        return r;
      }
      best = advance(cursors, live, best);
    }
  }

  /**
   * Called when a search is about to try its first candidate of a worse tier (a whole GPU on a
   * SHARED GPU) at a price level ({@code next}'s group's price; the same for all groups unless
   * the strategy is cost-first, where price comes before tier): its walk of the better tier's
   * groups at that price found nothing that fits, or lost every race. A walk can pass over a candidate that moved between index classes
   * while it ran (a node whose free count dropped into a bucket the walk had already read), which
   * is harmless for the choice among equals but would put a whole GPU on a SHARED GPU while a
   * WHOLE one stayed free. So this partial miss is checked as a miss is ({@link #placeOne}, step
   * 3): the groups of that tier are searched again, with their open windows, under a stamp of
   * their moves, until one search finds nothing and saw no move. Returns a reservation there if a
   * search found one (the caller returns it), else null: nothing of that tier fitted at one
   * instant during the check, and the worse tier may be tried. Lock-free: a search repeats only
   * after another thread moved a GPU or node of those groups. Rare: only when the better tier
   * looks full.
   */
  private @Nullable Reservation betterTierMiss(
      Group[] groups, GroupCursor next, GpuDemand demand, long cpu, long mem, Constraints c,
      int lane) {
    int m = 0;
    for (Group g : groups) {
      if (isBetterTier(g, next, demand)) {
        m++;
      }
    }
    if (m == 0) {
      return null;
    }
    Group[] better = new Group[m];
    m = 0;
    for (Group g : groups) {
      if (isBetterTier(g, next, demand)) {
        better[m++] = g;
      }
    }
    for (; ; ) {
      long stamp = moves(better);
      Reservation r = searchOnce(better, demand, cpu, mem, c, lane);
      if (r == null) {
        r = searchWindows(better, demand, cpu, mem, c, 0);
      }
      if (r != null || moves(better) == stamp) {
        return r;
      }
    }
  }

  /** Whether group {@code g} comes before {@code next}'s group by tier at the same price. */
  private static boolean isBetterTier(Group g, GroupCursor next, GpuDemand demand) {
    return tierOf(g, demand) < next.tier && Double.compare(g.price, next.group.price) == 0;
  }

  /**
   * The live cursor whose candidate comes first ({@link GroupCursor#before}; among equals the
   * lowest index), or -1 if none is live.
   */
  private static int firstOf(GroupCursor[] cursors, boolean[] live, int n) {
    int best = -1;
    for (int i = 0; i < n; i++) {
      if (live[i] && (best < 0 || cursors[i].before(cursors[best]))) {
        best = i;
      }
    }
    return best;
  }

  /**
   * Moves cursor {@code best} (the one {@link #firstOf} chose) to its next candidate and returns
   * it again if that candidate is in the same tie group, so comes first again: its rank is
   * unchanged and no other cursor moved, so it is still the lowest index among the first. Else -1,
   * for the caller to compare the cursors anew. Within a tie group this saves a comparison with
   * every other group per step; the order of candidates is the same.
   */
  private static int advance(GroupCursor[] cursors, boolean[] live, int best) {
    GroupCursor cur = cursors[best];
    int tie = cur.tieGroup();
    live[best] = cur.next();
    return live[best] && cur.tieGroup() == tie ? best : -1;
  }

  /**
   * The start offset of the {@code n}-th thread (from 0) to place on a cluster, as a fraction of
   * 2^32 ({@link GroupCursor#lane}): the bits of {@code n} reversed, so thread 0 starts at the
   * lowest index, thread 1 halfway, threads 2 and 3 at a quarter and three quarters, and any
   * number of threads spread evenly (the van der Corput sequence).
   */
  static int laneOf(int n) {
    return Integer.reverse(n);
  }

  GroupCursor cursor(Group g, GpuDemand demand, Constraints c) {
    return cursor(g, demand, c, null, false);
  }

  private GroupCursor cursor(Group g, GpuDemand demand, Constraints c, boolean reuse) {
    return cursor(g, demand, c, null, reuse);
  }

  /**
   * A cursor for the demand on the group: {@code into} reset if given, else this thread's spare one
   * if {@code reuse}, else a new one.
   */
  private GroupCursor cursor(
      Group g, GpuDemand demand, Constraints c, @Nullable GroupCursor into, boolean reuse) {
    DecisionTables t = g.tables;
    CandidateOrder order;
    int shape = -1;
    if (demand instanceof GpuDemand.Mig m) {
      shape = migRow((MigSpace) g.space, m);
      order = t.migOrder[shape];
    } else if (demand instanceof GpuDemand.Share s) {
      order = t.shareOrder(s.milliGpu(), s.memoryMiB());
    } else {
      int k = ((GpuDemand.Whole) demand).count();
      order = k < t.wholeOrder.length ? t.wholeOrder[k] : CandidateOrder.EMPTY;
    }
    int tier = tierOf(g, demand);
    if (into != null) {
      return into.reset(g, order, g.filterFor(c), shape, tier);
    }
    return reuse
        ? GroupCursor.reusable(g, order, g.filterFor(c), shape, tier)
        : new GroupCursor(g, order, g.filterFor(c), shape, tier);
  }

  /**
   * The group's tier for the demand, before any score: 1 for whole GPUs on a SHARED group (taken
   * only when no WHOLE GPU fits), else 0.
   */
  static int tierOf(Group g, GpuDemand demand) {
    return demand instanceof GpuDemand.Whole && g.space.mode == GpuMode.SHARED ? 1 : 0;
  }

  /**
   * The row of {@link DecisionTables#choice} and {@link DecisionTables#migOrder} for a MIG demand:
   * its profile's index, plus the profile count when it must not strand compute.
   */
  private static int migRow(MigSpace mig, GpuDemand.Mig m) {
    int p = mig.profileIndex(m.profile());
    // -1 (a group without the profile: routing never offers one) stays -1, so that it fails loudly
    return m.noStranding() && p >= 0 ? p + mig.profiles.length : p;
  }

  /** Tries the cursor's current candidate. Returns the reservation, or null to move on. */
  private @Nullable Reservation attempt(GroupCursor cur, GpuDemand demand, long cpu, long mem) {
    return attempt(cur.group, cur.entryValue(), cur.index, cur.shape, demand, cpu, mem);
  }

  /**
   * Tries a candidate: GPU {@code index} of the group indexed in state {@code ent}, or node {@code
   * index} in the node bucket {@code ent}. Returns the reservation, or null to move on.
   */
  private @Nullable Reservation attempt(
      Group g, int ent, int index, int shape, GpuDemand demand, long cpu, long mem) {
    if (!CandidateOrder.isNodeBucket(ent)) {
      GpuSlot gpu = g.gpu(index);
      if (gpu == null) {
        return null;
      }
      if (!gpu.node.schedulable()) {
        return null;
      }
      g.hook(ProbePoint.CANDIDATE, gpu);
      if (g.space.state(gpu.lvWord()) != ent) {
        g.index.staleGpu(gpu, ent); // the index lagged behind a change: heal it, then try the GPU as it is
      }
      return tryGpu(g, gpu, shape, demand, cpu, mem);
    }
    GroupNode gn = g.node(index);
    if (gn == null || !gn.node.schedulable()) {
      return null;
    }
    int f = CandidateOrder.freeOf(ent);
    int actual = gn.countFree();
    if (actual != f) {
      g.index.staleNode(gn, f);
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
   * Tries one GPU for a MIG instance or a share, as its word is now. The take is retried for as
   * long as the GPU still fits: each failed CAS means another placement or release changed the
   * word (lock-free), so churn on the GPU cannot make a placement give up on capacity that stayed
   * free. Host resources are charged in the same step (see {@link Takes}).
   */
  private static @Nullable Reservation tryGpu(
      Group g, GpuSlot gpu, int shape, GpuDemand demand, long cpu, long mem) {
    if (!gpu.node.hostMayFit(cpu, mem)) {
      return null;
    }
    DecisionTables t = g.tables; // one table for both the delta and its position
    long w = gpu.lvWord();
    for (; ; ) {
      int s = g.space.state(w);
      long delta = deltaOnState(t, g, shape, demand, s, w);
      if (delta == 0) {
        return null;
      }
      g.hook(ProbePoint.BEFORE_CAS, gpu);
      int took = Takes.one(gpu, w, delta, cpu, mem);
      if (took == Takes.TAKEN) {
        g.index.onChange(gpu, w, w + delta);
        Reservation r = Reservation.one(gpu, delta, cpu, mem, shape >= 0 ? t.choice[shape][s] : -1);
        g.hook(ProbePoint.HOST_HELD, gpu);
        return r;
      }
      if (took == Takes.NO_HOST) {
        return null;
      }
      w = gpu.lvWord();
    }
  }

  /**
   * Takes {@code k} empty GPUs of a node, all or none, with the node's host resources in the same
   * step ({@link Takes}): the first {@code k} empty ones in index order, planned again while the
   * node has {@code k} empty GPUs (a failed take means another placement took a planned GPU:
   * progress).
   */
  private static @Nullable Reservation takeEmpty(
      GroupNode gn, int k, long delta, long cpu, long mem) {
    if (!gn.node.hostMayFit(cpu, mem)) {
      return null;
    }
    Group g = gn.group;
    int owner = g.space.mode == GpuMode.SHARED ? -1 : 0;
    if (k == 1) { // one GPU, one CAS (without host resources): no plan arrays
      for (; ; ) {
        GpuSlot free = null;
        for (GpuSlot gpu : gn.gpus) {
          if (gpu.lvWord() == 0) {
            free = gpu;
            break;
          }
        }
        if (free == null) {
          return null;
        }
        int took = Takes.one(free, 0, delta, cpu, mem);
        if (took == Takes.TAKEN) {
          free.group.index.onChange(free, 0, delta);
          Reservation r = Reservation.one(free, delta, cpu, mem, owner);
          g.hook(ProbePoint.GANG_TOOK, free);
          g.hook(ProbePoint.HOST_HELD, free);
          return r;
        }
        if (took == Takes.NO_HOST) {
          return null;
        }
      }
    }
    GpuSlot[] plan = new GpuSlot[k]; // refilled on every plan; GangClaims copies what it keeps
    long[] deltas = new long[k];
    java.util.Arrays.fill(deltas, delta);
    long[] cpus = new long[k]; // the gang's host resources are charged with its first GPU
    long[] mems = new long[k];
    cpus[0] = cpu;
    mems[0] = mem;
    for (; ; ) {
      int n = 0;
      for (GpuSlot gpu : gn.gpus) {
        if (gpu.lvWord() == 0) {
          plan[n++] = gpu;
          if (n == k) {
            break;
          }
        }
      }
      if (n < k) {
        return null;
      }
      int took = take(plan, deltas, cpus, mems);
      if (took == Takes.NO_HOST) {
        return null;
      }
      if (took == Takes.RACED) {
        continue; // another placement took a planned GPU first (progress): plan again
      }
      Reservation r = new Reservation(k);
      for (int i = 0; i < k; i++) {
        r.add(plan[i], delta, cpus[i], mems[i], owner);
        g.hook(ProbePoint.GANG_TOOK, plan[i]);
      }
      g.hook(ProbePoint.HOST_HELD, plan[0]);
      return r;
    }
  }

  /**
   * Takes the planned empty GPUs with the host resources charged to each ({@link Takes#empty}),
   * then updates the index for each. Returns {@link Takes#TAKEN}, {@link Takes#RACED} or {@link
   * Takes#NO_HOST}.
   */
  static int take(GpuSlot[] plan, long[] deltas, long[] cpu, long[] mem) {
    int took = Takes.empty(plan, deltas, cpu, mem);
    if (took == Takes.TAKEN) {
      for (int i = 0; i < plan.length; i++) {
        // every word change is followed by its changer's index update
        plan[i].group.index.onChange(plan[i], 0, deltas[i]);
      }
    }
    return took;
  }

  private static long deltaOnState(
      DecisionTables t, Group g, int p, GpuDemand demand, int state, long word) {
    if (p >= 0) {
      MigSpace mig = (MigSpace) g.space;
      int c = t.choice[p][state]; // row p: the profile, or the profile's no-stranding row
      if (c < 0) {
        return 0;
      }
      int n = mig.profiles.length;
      return mig.delta(p >= n ? p - n : p, c); // no division on the hot path
    }
    if (demand instanceof GpuDemand.Share s) {
      Space.Shared sh = (Space.Shared) g.space;
      return sh.fits(word, s.milliGpu(), s.memoryMiB())
          ? Space.Shared.delta(s.milliGpu(), s.memoryMiB())
          : 0;
    }
    return 0; // whole GPUs are taken through node buckets
  }

  /**
   * Publishes a reservation as an allocation: registers it on its GPUs (so a forced removal finds
   * it), then makes it ACTIVE. Its GPUs were taken before any removal of their nodes (a take after
   * one fails on the dead word: see {@link GangClaims#DEAD}), so a removal that came after the take
   * waits for this registration and reports the allocation lost; the state CAS then fails and the
   * allocation is returned lost (SEVERED or LOST), as the removal reported it. A cordon or drain is
   * not checked here: a placement that read the node as schedulable before the cordon returned may
   * still land there.
   */
  AllocationImpl publish(Reservation r, PlacementRequest request, long id) {
    AllocationImpl a = new AllocationImpl(id, request, r);
    for (int i = 0; i < r.n; i++) {
      r.slots[i].register(a, r.owner(i));
    }
    a.casState(AllocationImpl.PENDING, AllocationImpl.ACTIVE);
    return a;
  }
}
