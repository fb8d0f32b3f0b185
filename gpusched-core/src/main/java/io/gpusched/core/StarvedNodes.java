package io.gpusched.core;

import org.jspecify.annotations.Nullable;

/**
 * Hints for the host peek ({@link HostPeek}): a few nodes of one {@link Group} whose host
 * resources were last seen stranding GPU capacity (their free CPU or memory cannot feed their free
 * GPUs at the requests' typical ratio, or their CPU shuts out a typical whole-GPU request type that
 * their empty GPUs could take). A whole-GPU request none of whose first candidates in table order
 * lowers its node's stranded capacity also looks at these nodes: on them it may use GPUs the host
 * could not feed, however far down the table order they rank.
 *
 * <p><b>Fed by placements.</b> After a placement made through the host peek (a share or whole
 * GPUs, FRAGMENTATION_AWARE or another strategy that uses fragmentation, once the host ratios are
 * learned; see {@link Placer}), the node it landed on is noted if it now strands capacity. And a
 * round-robin sweep ({@link #nextSweep}) looks at {@value #SWEEP_EVERY} nodes of a group after
 * every {@value #SWEEP_EVERY}th placement in it (a share or whole GPUs, by allocation id) and notes
 * those that strand capacity: so the nodes that strand capacity before anything lands on them (few
 * cores per GPU) are found too, in the groups that receive placements. Placements by the plain
 * walk (after a peek that found nothing) and spread gangs are not noted, and releases neither note
 * nor sweep. A full ring overwrites its oldest entry. Only
 * WHOLE and SHARED groups keep notes (MIG requests do not peek).
 *
 * <p><b>Thread-safety: hints, by design racy.</b> The ring and its cursors are plain fields that
 * any placing thread reads and writes without synchronization. A lost or stale entry only changes
 * which extra candidates a peek looks at; every entry is checked again when used (free GPUs, host
 * fit, filters, its rank window), and the placement then takes the GPUs by their own words as
 * every placement does. Entries are {@link GroupNode}s, whose fields are final, so a thread that
 * reads a reference written by another sees a fully built node. A removed node is forgotten
 * ({@link #forget}) under the management monitor; until then a peek skips it as unschedulable.
 */
@EnginePart
final class StarvedNodes {
  /**
   * Nodes kept per group: 32, the smallest ring that reached the reference FGD on every workload
   * of the fill suite (16 left multigpu50 0.01 points below it and 8 further below; docs/fill-experiment.md).
   */
  static final int SIZE = 32;

  /**
   * After every placement whose allocation id is a multiple of this (a power of two), the cluster
   * looks at this many nodes of the group the placement landed in (one per placement on average):
   * in batches, so that the group's sweep cursor, a field every placing thread shares, is written
   * once per batch rather than once per placement; and paced by the ids, so that a given sequence
   * of placements sweeps the same nodes every time.
   */
  static final int SWEEP_EVERY = 16;

  private final @Nullable GroupNode[] ring = new GroupNode[SIZE];

  /** The slot the next note overwrites (plain; a racing note may overwrite the same slot). */
  private int next;

  /** The group's node the sweep looks at next (plain; see {@link #nextSweep}). */
  private int sweep;

  /** Notes a node that strands capacity (a node already in the ring is not added again). */
  void note(GroupNode gn) {
    for (GroupNode x : ring) {
      if (x == gn) {
        return;
      }
    }
    int i = next;
    if (i < 0 || i >= SIZE) {
      i = 0; // a racing writer's value: any slot will do
    }
    ring[i] = gn;
    next = i + 1 == SIZE ? 0 : i + 1;
  }

  /** Entry {@code i} ({@code 0 <= i < SIZE}), or null. */
  @Nullable GroupNode get(int i) {
    return ring[i];
  }

  /** Drops a removed node. Called under the cluster's management monitor. */
  void forget(GroupNode gn) {
    for (int i = 0; i < SIZE; i++) {
      if (ring[i] == gn) {
        ring[i] = null;
      }
    }
  }

  /**
   * The local index of the first of {@code count} consecutive nodes (wrapping around) the sweep
   * looks at now, in {@code 0 .. nodes - 1}, and moves the sweep past them; {@code nodes} and
   * {@code count} must be positive.
   */
  int nextSweep(int nodes, int count) {
    int s = sweep;
    if (s < 0 || s >= nodes) {
      s = 0;
    }
    int n = s + count;
    sweep = n >= nodes ? n - nodes : n;
    return s;
  }
}
