package io.gpusched.core;

import java.util.concurrent.atomic.LongAdder;

/**
 * The placement index of one {@link Group}: which GPUs are in which state, which nodes have how
 * many empty GPUs, and the windows in which a thread is changing either. Lock-free.
 *
 * <p>{@code byState[s]} holds the GPUs whose word is in state {@code s}; for kinds that can be
 * taken whole (WHOLE, SHARED), {@code nodesByFree[f]} holds the nodes with {@code f} empty GPUs of
 * the group. After every successful CAS the changer sets the new state's bit, then opens a
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
 * <p><b>Memory ordering.</b> Bits are set and cleared with volatile read-modify-writes (see {@link
 * Bits}); {@link #moves} is a {@link LongAdder} whose increments and {@code sum()} are volatile
 * accesses, and {@link IndexWindows} cells are volatile. The order that matters is program order
 * around the window: announce, then count (so a search that saw no count change saw the
 * announcement); count, then withdraw (so a search that missed the cell sees the count change).
 */
@EnginePart
final class GroupIndex {
  /** Most GPUs of one group on one node (and so the last node bucket). */
  static final int MAX_NODE_GPUS = 64;

  private final Group group;
  private final Space space;
  private final boolean wholeCapable;

  /** GPUs by the state of their word. */
  final Bits[] byState;

  /**
   * Bit {@code s} set while {@code byState[s]} may be non-empty (the bitsets' fourth level, see
   * {@link Bits}): a search skips an empty state class on one bit of these few words, which stay in
   * cache, instead of reading that class's own bitset.
   */
  final long[] stateSummary;

  /** Nodes by their count of empty GPUs of this group (WHOLE and SHARED groups only). */
  final Bits[] nodesByFree;

  /**
   * Counts window openings and closings (see {@link #open}): incremented when a thread opens an
   * index window and again when it closes it. A search that found nothing is trusted only if this
   * did not change while it ran (see {@code Placer#placeOne}). Striped, so the increments do not
   * contend.
   */
  final LongAdder moves = new LongAdder();

  /**
   * The open index windows: each cell holds the GPU or node whose index entry a thread is changing
   * (a release from before its word changes until its index is repaired, a clear-then-repair from
   * before the clear until after the repair). A searcher whose walk found nothing tries every GPU
   * and node listed here directly, by its real word, so a thread parked inside a window never
   * hides capacity from anyone.
   */
  final IndexWindows windows = new IndexWindows();

  GroupIndex(Group group) {
    this.group = group;
    this.space = group.space;
    this.wholeCapable = group.wholeCapable;
    byState = new Bits[space.stateCount()];
    stateSummary = new long[(byState.length + 63) >>> 6];
    for (int i = 0; i < byState.length; i++) {
      byState[i] = new Bits(64, stateSummary, i);
    }
    nodesByFree = new Bits[wholeCapable ? MAX_NODE_GPUS + 1 : 0];
    for (int i = 0; i < nodesByFree.length; i++) {
      nodesByFree[i] = new Bits(64);
    }
  }

  /** Makes room for {@code gpus} GPUs and {@code nodes} nodes. Under the management monitor. */
  void ensureCapacity(int gpus, int nodes) {
    for (Bits b : byState) {
      b.ensureCapacity(gpus);
    }
    for (Bits b : nodesByFree) {
      b.ensureCapacity(nodes);
    }
  }

  /** Indexes a new node's GPUs as empty. Under the management monitor, before it is published. */
  void addNode(GroupNode gn) {
    for (GpuSlot s : gn.gpus) {
      byState[space.state(0)].set(s.local);
    }
    if (wholeCapable) {
      gn.spIndexedFree(gn.gpus.length);
      nodesByFree[gn.gpus.length].set(gn.local);
    }
  }

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

  /** Index update after this thread changed {@code g}'s word from {@code oldW} to {@code newW}. */
  void onChange(GpuSlot g, long oldW, long newW) {
    int so = space.state(oldW);
    int sn = space.state(newW);
    if (so != sn) {
      byState[sn].set(g.local);
      int cell = open(g);
      group.hook(ProbePoint.WINDOW_OPEN, g);
      byState[so].clear(g.local);
      group.hook(ProbePoint.WINDOW_CLEARED, g);
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
   * is either indexed or announced. The subtract is the release's linearization point (a release
   * that gives host resources back subtracts in one step with them instead: {@link
   * GiveBack#giveBack}). Returns
   * the raw word before, which is dead if the GPU's node was removed first (the delta is
   * subtracted all the same: see {@link GangClaims#DEAD}).
   */
  long release(GpuSlot g, long delta) {
    int cell = open(g);
    long before = g.subtract(delta);
    if (!GangClaims.isDead(before)) { // a dead GPU leaves the index with its node
      onChange(g, before, before - delta);
    }
    close(cell);
    return before;
  }

  /** Sets the bit of the GPU's current state until its word is unchanged across the set. */
  void repairGpu(GpuSlot g) {
    for (; ; ) {
      long w = g.lvWord();
      byState[space.state(w)].set(g.local);
      if (g.lvWord() == w) {
        return;
      }
    }
  }

  /** Moves a node to the bucket of its current free count (set the new bucket, then clear). */
  void updateNode(GroupNode n) {
    int f = n.countFree();
    nodesByFree[f].set(n.local);
    int prev = n.lpIndexedFree();
    n.spIndexedFree(f);
    if (prev != f) {
      int cell = open(n);
      group.hook(ProbePoint.WINDOW_OPEN, n);
      nodesByFree[prev].clear(n.local);
      group.hook(ProbePoint.WINDOW_CLEARED, n);
      repairNode(n);
      close(cell);
    } else {
      repairNode(n);
    }
  }

  /** Sets the bucket bit of the node's current free count until the count is unchanged. */
  void repairNode(GroupNode n) {
    for (; ; ) {
      int f = n.countFree();
      nodesByFree[f].set(n.local);
      n.spIndexedFree(f);
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

  /** A reader found node {@code n} in bucket {@code free}, which is not its count: clean up. */
  void staleNode(GroupNode n, int free) {
    int cell = open(n);
    nodesByFree[free].clear(n.local);
    repairNode(n);
    close(cell);
  }
}
