package io.gpusched.core;

/**
 * Gives capacity back: a released or aborted allocation, a reservation that was never published,
 * the other nodes' GPUs of a severed gang (one a forced removal took a node from) when it is
 * released. Each GPU's delta is subtracted inside an
 * index window (see {@link GroupIndex#release}), then host resources are returned. Lock-free; called
 * by whichever thread won the allocation's state CAS, so each allocation is given back once.
 *
 * <p><b>Linearization of {@code Allocation.release()}.</b> The state CAS from ACTIVE to RELEASED
 * decides the result ({@code true} once, {@code false} after); the capacity of each GPU becomes
 * available at its subtract. A single-GPU allocation's release is linearizable at that subtract
 * (its host resources follow, and a search refused for host resources meanwhile re-runs because
 * the give-back counts a move). A gang's release announces every GPU in an index window before it
 * frees the first and withdraws them after the last is indexed: a search that overlaps any part
 * of it tries the announced GPUs by their words and sees a move, so it is ordered before or after
 * the whole release.
 */
@EnginePart
final class GiveBack {
  private GiveBack() {}

  /** Gives an allocation's capacity back (after its state left ACTIVE or PENDING). */
  static void undo(AllocationImpl a) {
    int n = a.slots.length;
    if (n == 1) { // the common case, without the index array
      giveBack(a.slots[0], a.delta(0), a.hostCpu(0), a.hostMem(0));
      a.slots[0].unregister(a, a.owner(0));
      return;
    }
    int[] which = new int[n];
    for (int i = 0; i < n; i++) {
      which[i] = i;
    }
    undo(a, which, n);
  }

  /**
   * Gives back what a severed gang still holds (after its state left SEVERED): its GPUs on nodes
   * that were not removed, as one step like any gang release. A node removed since holds nothing
   * any search can see, so its GPUs are left with it.
   */
  static void undoSevered(AllocationImpl a) {
    int n = 0;
    int[] which = new int[a.slots.length];
    for (int i = 0; i < a.slots.length; i++) {
      if (!a.slots[i].node.removed) {
        which[n++] = i;
      }
    }
    undo(a, which, n);
  }

  /** Gives back the GPUs {@code which[0..n)} of {@code a}, then unregisters it from all of them. */
  private static void undo(AllocationImpl a, int[] which, int n) {
    if (n == 1) {
      int i = which[0];
      giveBack(a.slots[i], a.delta(i), a.hostCpu(i), a.hostMem(i));
    } else if (n > 1) {
      // a gang: every GPU is announced before the first is freed and until the last is indexed,
      // so a search that overlaps any part of the release sees it as one step (see GroupIndex)
      GpuSlot[] slots = new GpuSlot[n];
      long[] deltas = new long[n];
      int[] cells = new int[n];
      for (int k = 0; k < n; k++) {
        slots[k] = a.slots[which[k]];
        deltas[k] = a.delta(which[k]);
        cells[k] = slots[k].group.index.open(slots[k]);
      }
      // all words freed at one instant: a gang's whole GPUs hold exactly their deltas
      if (!GangClaims.run(GangClaims.Op.release(slots, deltas))) {
        throw new IllegalStateException("a gang's GPUs did not hold its deltas: " + a);
      }
      for (int k = 0; k < n; k++) {
        slots[k].group.index.onChange(slots[k], deltas[k], 0);
      }
      for (int k = 0; k < n; k++) {
        int i = which[k];
        if (a.slots[i].node.releaseHost(a.hostCpu(i), a.hostMem(i))) {
          bumpGroups(a.slots[i].node);
        }
      }
      for (int k = 0; k < n; k++) {
        slots[k].group.index.close(cells[k]);
      }
    }
    for (int i = 0; i < a.slots.length; i++) {
      a.slots[i].unregister(a, a.owner(i));
    }
  }

  /** Gives a reservation's capacity back (it was never published). */
  static void undo(Reservation r) {
    for (int i = 0; i < r.n; i++) {
      giveBack(r.slots[i], r.delta(i), r.cpu(i), r.mem(i));
    }
  }

  /**
   * Subtracts a delta from a GPU word inside an index window (see {@link GroupIndex#release}) and gives
   * the host resources back; a host give-back counts a move in every group of the node, so that a
   * search refused for host resources while they were given back re-runs.
   */
  static void giveBack(GpuSlot s, long delta, long cpu, long mem) {
    s.group.index.release(s, delta);
    if (s.node.releaseHost(cpu, mem)) {
      bumpGroups(s.node);
    }
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
