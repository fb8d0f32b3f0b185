package io.gpusched.core;

/**
 * Gives capacity back: a released allocation (a severed gang's GPUs on the nodes that were not
 * removed included). Each GPU's delta is subtracted inside an index window (see {@link
 * GroupIndex#release}), in the same step as the host resources charged with it.
 * Lock-free; called by whichever thread won the allocation's state CAS, so each allocation is
 * given back once.
 *
 * <p><b>Linearization of {@code Allocation.release()}.</b> The state CAS from ACTIVE (or SEVERED)
 * to RELEASING makes this thread the only releaser; the word step then decides the result and is
 * the linearization point: a single GPU's subtract, or a gang's one multi-word step over its GPUs
 * on live nodes. Each is ordered against a node removal's step that kills the node's words (see
 * {@link GangClaims#DEAD}), so a release racing a removal is either before it (the GPUs are
 * freed, the removal does not report the allocation) or after it (the removal reports the
 * allocation lost, and only its GPUs on other nodes are freed). The host resources charged with
 * the GPUs are given back in the same step (their nodes' host words are words of it), so a search
 * that runs after the step sees the GPUs and the CPU and memory free together, as one that runs
 * before sees them all taken; the give-back also counts a move in the nodes' groups.
 * A gang's release announces every GPU in an index window before it frees the first and withdraws
 * them after the last is indexed: a search that overlaps any part of it tries the announced GPUs
 * by their words and sees a move, so it is ordered before or after the whole release.
 */
@EnginePart
final class GiveBack {
  private GiveBack() {}

  /**
   * Releases an allocation whose state this thread moved from ACTIVE ({@code wasActive}) or
   * SEVERED to RELEASING: frees its GPUs on live nodes at one instant (one subtract for one GPU,
   * one gang step for several), then subtracts its deltas from the dead words of removed nodes too
   * (so a removal waiting for its node's words to be accounted for sees them go), gives the host
   * resources back, and leaves RELEASING.
   *
   * <p>The word step decides the order against node removals (see {@link GangClaims#DEAD}): a
   * GPU found dead was removed first. If the allocation was ACTIVE then, that removal reports it
   * lost ({@link AllocationImpl#lostTo}); it ends LOST and this returns false if nothing was live
   * to free, else (a spread gang the removal severed) RELEASED and true, as a severed gang's
   * release is. A gang that was SEVERED already ends RELEASED and returns true, even if every
   * node it had left was removed since.
   *
   * @return whether the release freed anything (the result of {@code Allocation.release()})
   */
  static boolean release(AllocationImpl a, boolean wasActive) {
    int n = a.slots.length;
    boolean anyLive;
    NodeEntry firstDead;
    if (n == 1) { // the common case, without the index arrays
      long before = giveBack(a.slots[0], a.delta(0), a.hostCpu(0), a.hostMem(0));
      anyLive = !GangClaims.isDead(before);
      firstDead = anyLive ? null : a.slots[0].node;
      if (anyLive) {
        a.slots[0].unregister(a, a.owner(0));
      }
    } else {
      int[] which = new int[n];
      int live;
      for (; ; ) { // repeats only if a removal killed one of the GPUs meanwhile
        live = 0;
        for (int i = 0; i < n; i++) {
          if (!a.slots[i].isDead()) {
            which[live++] = i;
          }
        }
        if (live == 0 || freeAtOnce(a, which, live)) {
          break;
        }
      }
      anyLive = live > 0;
      firstDead = null;
      int k = 0;
      for (int i = 0; i < n; i++) {
        if (k < live && which[k] == i) {
          k++;
          continue;
        }
        // dead at the release's instant: its node was removed before; subtract all the same
        GpuSlot s = a.slots[i];
        giveBack(s, a.delta(i), a.hostCpu(i), a.hostMem(i));
        if (firstDead == null || s.node.removalSeq < firstDead.removalSeq) {
          firstDead = s.node;
        }
      }
      for (int j = 0; j < live; j++) {
        a.slots[which[j]].unregister(a, a.owner(which[j]));
      }
    }
    if (wasActive && firstDead != null) {
      a.lostTo = firstDead; // read by that removal once this leaves RELEASING
    }
    // a severed gang's release returns true once, even with nothing left to free
    boolean released = anyLive || !wasActive;
    a.setState(released ? AllocationImpl.RELEASED : AllocationImpl.LOST);
    return released;
  }

  /**
   * Frees the GPUs {@code which[0..n)} of {@code a} at one instant; false, changing nothing, if
   * one of them turned dead (a removal came first). The GPUs are announced in index windows before
   * the first is freed and until the last is indexed, so a search that overlaps any part of the
   * release sees it as one step (see {@link GroupIndex}).
   */
  private static boolean freeAtOnce(AllocationImpl a, int[] which, int n) {
    if (n == 1) {
      int i = which[0];
      GpuSlot s = a.slots[i];
      long charge = s.node.hostCharge(a.hostCpu(i), a.hostMem(i));
      int cell = s.group.index.open(s);
      try {
        long before =
            charge == 0 ? s.subtractIfLive(a.delta(i)) : subtractWithHost(s, a.delta(i), charge);
        if (before < 0) {
          return false;
        }
        s.group.hook(ProbePoint.RELEASED_WORDS, s);
        s.group.index.onChange(s, before, before - a.delta(i));
      } finally {
        s.group.index.close(cell);
      }
      if (charge != 0) {
        bumpGroups(s.node);
      }
      return true;
    }
    GpuSlot[] slots = new GpuSlot[n];
    long[] deltas = new long[n];
    int[] cells = new int[n];
    for (int k = 0; k < n; k++) {
      slots[k] = a.slots[which[k]];
      deltas[k] = a.delta(which[k]);
      cells[k] = slots[k].group.index.open(slots[k]);
    }
    try {
      // all words freed at one instant, with the host resources charged on their nodes: a gang's
      // whole GPUs hold exactly their deltas; a host word may change meanwhile (other placements
      // on the node), and the step is then tried again with its new value
      NodeEntry[] hosts = new NodeEntry[n];
      long[] charges = new long[n];
      int h = 0;
      for (int k = 0; k < n; k++) {
        long charge = a.slots[which[k]].node.hostCharge(a.hostCpu(which[k]), a.hostMem(which[k]));
        if (charge == 0) {
          continue;
        }
        NodeEntry node = slots[k].node;
        int j = 0;
        while (j < h && hosts[j] != node) {
          j++;
        }
        if (j == h) {
          hosts[h++] = node;
        }
        charges[j] += charge;
      }
      while (!GangClaims.run(releaseStep(slots, deltas, hosts, charges, h))) {
        for (int k = 0; k < n; k++) {
          long w = slots[k].lvResolved(); // raw: lvWord reads a dead word as the full word
          if (GangClaims.isDead(w)) {
            return false;
          }
          if (w != deltas[k]) {
            throw new IllegalStateException("a gang's GPUs did not hold its deltas: " + a);
          }
        }
        // only a host word changed: another placement or release on the node made progress
      }
      slots[0].group.hook(ProbePoint.RELEASED_WORDS, slots[0]);
      for (int k = 0; k < n; k++) {
        slots[k].group.index.onChange(slots[k], deltas[k], 0);
      }
      for (int j = 0; j < h; j++) {
        bumpGroups(hosts[j]);
      }
    } finally {
      for (int k = 0; k < n; k++) {
        slots[k].group.index.close(cells[k]);
      }
    }
    return true;
  }

  /**
   * The gang step of a release: each GPU from its delta to 0 and, for the first {@code h} of
   * {@code hosts}, the node's host word from its current value to that less {@code charges[j]}.
   */
  private static GangClaims.Op releaseStep(
      GpuSlot[] slots, long[] deltas, NodeEntry[] hosts, long[] charges, int h) {
    if (h == 0) {
      return GangClaims.Op.release(slots, deltas);
    }
    ClaimWord[] hostWords = new ClaimWord[h];
    long[] from = new long[h];
    long[] to = new long[h];
    for (int j = 0; j < h; j++) {
      hostWords[j] = hosts[j].host;
      from[j] = hosts[j].host.lvResolved();
      to[j] = from[j] - charges[j];
    }
    return GangClaims.Op.withHosts(
        slots, deltas, new long[slots.length], hostWords, from, to, h, false);
  }

  /**
   * Subtracts {@code delta} from a live GPU word and {@code charge} from its node's host word at
   * one instant (one {@link GangClaims} step), so that no search sees the GPU free while the host
   * resources charged with it still look taken; -1, changing nothing, if the GPU is dead (its node
   * was removed first). Lock-free: the step is tried again only after another thread changed one
   * of the two words. Returns the GPU word before.
   */
  private static long subtractWithHost(GpuSlot s, long delta, long charge) {
    ClaimWord host = s.node.host;
    for (; ; ) {
      long w = s.lvResolved();
      if (GangClaims.isDead(w)) {
        return -1;
      }
      long h = host.lvResolved();
      if (GangClaims.run(
          GangClaims.Op.withHosts(
              new GpuSlot[] {s}, new long[] {w}, new long[] {w - delta},
              new ClaimWord[] {host}, new long[] {h}, new long[] {h - charge}, 1, false))) {
        return w;
      }
    }
  }

  /**
   * Subtracts a delta from a GPU word inside an index window (see {@link GroupIndex#release}) and
   * gives back the host resources charged with it, at the same instant ({@link #subtractWithHost}:
   * a placement after the word step sees the GPU and its node's CPU and memory free together; the
   * history checker found a placement refused for CPU between two separate steps). A host
   * give-back also counts a move in every group of the node. A GPU whose node was removed first
   * is subtracted alone, its host resources after it (nothing is placed on a removed node).
   * Returns the raw word before (dead if the node was removed first).
   */
  static long giveBack(GpuSlot s, long delta, long cpu, long mem) {
    long charge = s.node.hostCharge(cpu, mem);
    if (charge == 0) {
      long before = s.group.index.release(s, delta);
      s.group.hook(ProbePoint.RELEASED_WORDS, s);
      return before;
    }
    GroupIndex index = s.group.index;
    int cell = index.open(s);
    long before;
    try {
      before = subtractWithHost(s, delta, charge);
      if (before < 0) {
        before = s.subtract(delta); // dead: "releases that were under way still subtract"
        s.node.host.subtractResolved(charge);
      } else {
        s.group.hook(ProbePoint.RELEASED_WORDS, s);
        index.onChange(s, before, before - delta);
      }
    } finally {
      index.close(cell);
    }
    bumpGroups(s.node);
    return before;
  }

  /** Counts a move in every group of a node (host resources of the node were given back). */
  static void bumpGroups(NodeEntry node) {
    Group last = null;
    for (GpuSlot s : node.gpus) {
      if (s.group != last) {
        last = s.group;
        last.index.moves.increment();
      }
    }
  }
}
