package io.gpusched.core;

/**
 * Gives capacity back: a released or aborted allocation, a reservation that was never published,
 * the other nodes' GPUs of a gang lost with a removed node. Each GPU's delta is subtracted inside an
 * index window (see {@link GroupIndex#release}), then host resources are returned. Lock-free; called
 * by whichever thread won the allocation's state CAS, so each allocation is given back once.
 *
 * <p><b>Linearization of {@code Allocation.release()}.</b> The state CAS from ACTIVE to RELEASED
 * decides the result ({@code true} once, {@code false} after); the capacity of each GPU becomes
 * available at its subtract. A single-GPU allocation's release is linearizable at that subtract
 * (its host resources follow, and a search refused for host resources meanwhile re-runs because
 * the give-back counts a move). A gang's release frees GPU by GPU, so a concurrent request may see
 * part of it freed: like gangs themselves, not linearizable as one step.
 */
@EnginePart
final class GiveBack {
  private GiveBack() {}

  /** Gives an allocation's capacity back (after its state left ACTIVE or PENDING). */
  static void undo(AllocationImpl a) {
    for (int i = 0; i < a.slots.length; i++) {
      giveBack(a.slots[i], a.deltas[i], a.hostCpu[i], a.hostMem[i]);
    }
    for (int i = 0; i < a.slots.length; i++) {
      a.slots[i].unregister(a, a.owners[i]);
    }
  }

  /** Gives a reservation's capacity back (it was never published). */
  static void undo(Reservation r) {
    for (int i = 0; i < r.n; i++) {
      giveBack(r.slots[i], r.deltas[i], r.cpu[i], r.mem[i]);
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

  /** A lost multi-node gang still holds GPUs on other nodes: give those back. */
  static void releaseElsewhere(AllocationImpl a, NodeEntry removed) {
    for (int i = 0; i < a.slots.length; i++) {
      GpuSlot s = a.slots[i];
      if (s.node != removed) {
        giveBack(s, a.deltas[i], a.hostCpu[i], a.hostMem[i]);
        s.unregister(a, a.owners[i]);
      }
    }
  }
}
