package io.gpusched.core;

import org.jspecify.annotations.Nullable;

/**
 * Walks a {@link CandidateOrder} over a group's index, yielding candidates in strategy order: the
 * lowest index of the best non-empty tie group, then the next. One cursor per search, used by one
 * thread (a single-group search reuses its thread's spare cursor, {@link #reusable}, so it allocates
 * none); it reads the index without locks and may yield stale candidates (the caller checks each
 * by its word).
 */
@EnginePart
@SuppressWarnings("NullAway") // pooled: the fields are null only between done() and reset()
final class GroupCursor {
  Group group;
  CandidateOrder order;
  private Bits[] byState; // the group's index arrays, read once per cursor
  private Bits[] nodesByFree;
  Bits gpuFilter;
  Bits nodeFilter;
  /** The request shape within the group: the MIG profile index, else -1. */
  int shape;
  /**
   * The group's tier for this request, before any score: 1 for whole GPUs taken from a SHARED
   * group (an empty shared GPU is taken whole only when no WHOLE GPU fits), else 0.
   */
  int tier;
  /**
   * Added to this cursor's scores when it is compared with another group's ({@link #before}): the
   * group's {@link ModelPressure#bias} for the request; 0 unless set after a reset.
   */
  double bias;

  private int tie;
  private int from;
  int entry = -1;
  int index;

  /** Whether a search of this thread holds this (reused) cursor; see {@link #reusable}. */
  private boolean inUse;

  private static final ThreadLocal<GroupCursor> SPARE =
      ThreadLocal.withInitial(GroupCursor::new);

  private GroupCursor() {}

  GroupCursor(Group group, CandidateOrder order, Bits[] filter, int shape, int tier) {
    reset(group, order, filter, shape, tier);
  }

  /**
   * This thread's spare cursor, reset, so that a single-group search allocates nothing; a new one
   * if the spare is taken (a search nested in another on this thread, as test hooks do). Hand it
   * back with {@link #done}.
   */
  static GroupCursor reusable(Group group, CandidateOrder order, Bits[] filter, int shape, int tier) {
    GroupCursor c = SPARE.get();
    if (c.inUse) {
      return new GroupCursor(group, order, filter, shape, tier);
    }
    c.inUse = true;
    return c.reset(group, order, filter, shape, tier);
  }

  /**
   * The cursors of a search over several groups and whether each has a candidate left: this
   * thread's spare set, reused like {@link #reusable}'s cursor (a nested search gets a new set).
   */
  static final class Set {
    private static final ThreadLocal<Set> SPARE = ThreadLocal.withInitial(() -> new Set(4));

    GroupCursor[] cursors;
    boolean[] live;
    private GroupCursor[] slots;
    private boolean inUse;

    private Set(int n) {
      cursors = new GroupCursor[n];
      live = new boolean[n];
      slots = new GroupCursor[n];
    }

    /** This thread's spare set with room for {@code n} groups, or a new one if it is taken. */
    static Set reusable(int n) {
      Set s = SPARE.get();
      if (s.inUse) {
        return new Set(n);
      }
      if (s.slots.length < n) {
        s.cursors = new GroupCursor[n];
        s.live = new boolean[n];
        s.slots = java.util.Arrays.copyOf(s.slots, n);
      }
      s.inUse = true;
      return s;
    }

    /** The reusable cursor object for group {@code i} (reset by the caller). */
    GroupCursor slot(int i) {
      GroupCursor c = slots[i];
      if (c == null) {
        c = new GroupCursor();
        slots[i] = c;
      }
      return c;
    }

    /** Hands the set back; its cursors let go of their groups. */
    void done() {
      for (int i = 0; i < slots.length && slots[i] != null; i++) {
        slots[i].done();
      }
      java.util.Arrays.fill(cursors, null);
      inUse = false;
    }
  }

  /**
   * Hands a cursor from {@link #reusable} back; it lets go of the group, so that a thread's spare
   * cursor never keeps a discarded cluster reachable.
   */
  void done() {
    group = null;
    order = null;
    byState = null;
    nodesByFree = null;
    gpuFilter = null;
    nodeFilter = null;
    pos = null;
    inUse = false;
  }

  /** Makes this cursor a new one for the group (a reused cursor; see {@link #reusable}, {@link Set}). */
  GroupCursor reset(Group group, CandidateOrder order, Bits[] filter, int shape, int tier) {
    this.group = group;
    this.order = order;
    this.byState = group.index.byState;
    this.nodesByFree = group.index.nodesByFree;
    this.shape = shape;
    this.tier = tier;
    this.bias = 0;
    this.gpuFilter = filter[0];
    this.nodeFilter = filter[1];
    this.tie = 0;
    this.from = 0;
    this.entry = -1;
    this.index = 0;
    this.pos = null;
    return this;
  }

  /**
   * Next set bit of each entry of the current tie group (when it has more than one entry), so
   * that moving on after a failed candidate searches only the entry that produced it.
   */
  private int @Nullable [] pos;

  /** Moves to the next candidate (lowest index of the best non-empty tie group). */
  boolean next() {
    int[] entries = order.entries();
    while (tie < entries.length) {
      int end = order.tieEnd()[tie];
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
        boolean down = CandidateOrder.isNodeBucket(entries[tie]);
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
    boolean node = CandidateOrder.isNodeBucket(ent);
    Bits bits = node ? nodesByFree[CandidateOrder.freeOf(ent)] : byState[ent];
    if (!bits.maybeNonEmpty()) {
      return -1;
    }
    return bits.nextSetBit(fromIndex, node ? nodeFilter : gpuFilter);
  }

  double score() {
    return order.scores()[entry];
  }

  /**
   * Whether this cursor's candidate comes before {@code o}'s: a cheaper group ({@link Group#price},
   * 0 for all groups unless the strategy is cost-first), then a lower tier, then a lower score plus
   * {@link #bias}.
   */
  boolean before(GroupCursor o) {
    if (group.price != o.group.price) {
      return group.price < o.group.price;
    }
    return tier != o.tier ? tier < o.tier : score() + bias < o.score() + o.bias;
  }

  int entryValue() {
    return order.entries()[entry];
  }
}
