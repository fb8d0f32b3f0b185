package io.gpusched.core;

import org.jspecify.annotations.Nullable;

/**
 * Walks a {@link CandidateOrder} over a group's index, yielding candidates in strategy order: the
 * lowest index of the best non-empty tie group (from the cursor's start offset, see {@link #lane}),
 * then the next. One cursor per search, used by one
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
  private long[] stateSummary;
  private Bits[] nodesByFree;
  Bits gpuFilter;
  Bits nodeFilter;
  /**
   * The request shape within the group: the MIG row of {@link DecisionTables#choice} (the profile
   * index, plus the profile count for a request that must not strand compute), else -1.
   */
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
  /** The next key to search from in a single-entry tie group (see {@link #seek}). */
  private long from;
  int entry = -1;
  /** The candidate's GPU or node index (local to the group). */
  int index;
  /** The candidate's key: its index rotated by the start offset (see {@link #seek}). */
  private long key;

  /**
   * Where this search starts inside every tie group, in GPU and in node indices ({@link #lane});
   * 0, the lowest index, unless set after a reset.
   */
  private int offGpu;

  private int offNode;

  /** Keys at or above this are the wrapped part of a rotated walk ({@link #seek}). */
  private static final long WRAP = 1L << 32;

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
    stateSummary = null;
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
    this.stateSummary = group.index.stateSummary;
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
    this.key = 0;
    this.offGpu = 0;
    this.offNode = 0;
    this.pos = null;
    return this;
  }

  /**
   * Starts this search at the fraction {@code lane / 2^32} of the group (of its GPUs, and of its
   * nodes for node buckets) inside every tie group, wrapping around to the lowest index: concurrent
   * placers with different lanes take different GPUs among equally good ones instead of meeting on
   * the lowest-index one (see {@link Placer#laneOf}). Lane 0 is the plain lowest-index walk. Call
   * after a reset, before {@link #next}. The walk still visits every indexed candidate once, so a
   * miss means what it means without an offset.
   */
  GroupCursor lane(int lane) {
    if (lane != 0) {
      long f = lane & 0xFFFF_FFFFL;
      offGpu = (int) ((f * group.gpus.length) >>> 32);
      offNode = (int) ((f * group.nodes.length) >>> 32);
    }
    return this;
  }

  /**
   * Next key of each entry of the current tie group (when it has more than one entry; -1: none
   * left), so that moving on after a candidate searches only the entry that produced it; null
   * outside such a group. Its first {@code end - tie} cells of {@link #posBuffer}.
   */
  private long @Nullable [] pos;

  /** Kept across resets so that a reused cursor allocates no positions (grown as needed). */
  private long[] posBuffer = new long[0];

  private long[] positions(int n) {
    if (posBuffer.length < n) {
      posBuffer = new long[Math.max(n, 2 * posBuffer.length)];
    }
    return posBuffer;
  }

  /**
   * Moves to the next candidate: the lowest key (the lowest index at or after the start offset,
   * then the lowest below it; see {@link #lane}) of the best non-empty tie group.
   */
  boolean next() {
    int[] entries = order.entries();
    while (tie < entries.length) {
      int end = order.tieEnd()[tie];
      if (end - tie == 1) {
        long k = seek(entries[tie], from);
        if (k >= 0) {
          entry = tie;
          key = k;
          index = indexOf(entries[tie], k);
          from = k + 1;
          return true;
        }
      } else {
        long[] p = pos;
        if (p == null) {
          // entering this tie group: every entry's lowest key, kept in this cursor's buffer, so
          // that moving on after a candidate searches only the entry that produced it.
          // Node buckets are read from the most free down: a placement moves a node one bucket
          // down (setting the lower bit before clearing the higher), so a node moving meanwhile
          // is seen in one of the two. GPU states are read in id order, which is breadth-first
          // from the empty GPU: a placement moves a GPU to a higher id, set before the old is
          // cleared.
          p = positions(end - tie);
          boolean down = CandidateOrder.isNodeBucket(entries[tie]);
          int maskOff = order.maskOff()[tie];
          long best = Long.MAX_VALUE;
          int bestEntry = -1;
          if (maskOff >= 0) { // only the states the summary says may be non-empty; ties: first entry
            int[] positionOf = order.positionOf();
            long[] words = order.maskWords();
            int w0 = order.maskFrom()[tie];
            int wEnd = w0 + order.maskLen()[tie];
            boolean cleared = false; // -1 for the entries not visited, written once one is
            for (int w = w0; w < wEnd; w++) {
              for (long m = words[maskOff + w - w0] & Bits.parentWord(stateSummary, w);
                  m != 0;
                  m &= m - 1) {
                if (!cleared) {
                  java.util.Arrays.fill(p, 0, end - tie, -1);
                  cleared = true;
                }
                int state = (w << 6) + Long.numberOfTrailingZeros(m);
                long i = seek(state, 0);
                int e = positionOf[state];
                p[e - tie] = i;
                if (i >= 0 && (i < best || (i == best && e < bestEntry))) {
                  best = i;
                  bestEntry = e;
                }
              }
            }
          } else {
            for (int k = 0; k < end - tie; k++) {
              int e = down ? end - 1 - k : tie + k;
              long i = seek(entries[e], 0);
              p[e - tie] = i;
              if (i >= 0 && i < best) {
                best = i;
                bestEntry = e;
              }
            }
          }
          if (bestEntry >= 0) {
            pos = p;
            entry = bestEntry;
            key = best;
            index = indexOf(entries[bestEntry], best);
            return true;
          }
        } else {
          p[entry - tie] = seek(entries[entry], key + 1); // only the consumed entry moves on
          long best = Long.MAX_VALUE;
          int bestEntry = -1;
          for (int k = 0; k < end - tie; k++) {
            if (p[k] >= 0 && p[k] < best) {
              best = p[k];
              bestEntry = tie + k;
            }
          }
          if (bestEntry >= 0) {
            entry = bestEntry;
            key = best;
            index = indexOf(entries[bestEntry], best);
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

  /**
   * The smallest key at or after {@code fromKey} of a candidate in the entry's class, or -1. A
   * candidate's key is its index rotated by the start offset {@code off}: indices {@code off,
   * off+1, ...} have keys {@code 0, 1, ...}, then indices {@code 0 .. off-1} have keys {@code WRAP
   * .. WRAP+off-1}. So keys visit every index once, starting at the offset; with offset 0 the key
   * is the index.
   */
  private long seek(int ent, long fromKey) {
    int off = CandidateOrder.isNodeBucket(ent) ? offNode : offGpu;
    long k = fromKey;
    if (k < WRAP) {
      int i = search(ent, (int) Math.min(k + off, Integer.MAX_VALUE));
      if (i >= 0) {
        return i - (long) off;
      }
      k = WRAP;
    }
    long below = k - WRAP; // the wrapped part: indices below the offset
    if (below >= off) {
      return -1;
    }
    int i = search(ent, (int) below);
    return i >= 0 && i < off ? WRAP + i : -1;
  }

  private int indexOf(int ent, long k) {
    return k >= WRAP ? (int) (k - WRAP) : (int) (k + (CandidateOrder.isNodeBucket(ent) ? offNode : offGpu));
  }

  private int search(int ent, int fromIndex) {
    if (CandidateOrder.isNodeBucket(ent)) {
      Bits bits = nodesByFree[CandidateOrder.freeOf(ent)];
      return bits.maybeNonEmpty() ? bits.nextSetBit(fromIndex, nodeFilter) : -1;
    }
    // an empty state class is skipped on its bit in the group's summary words (in cache), without
    // touching its bitset
    return Bits.parentSet(stateSummary, ent) ? byState[ent].nextSetBit(fromIndex, gpuFilter) : -1;
  }

  /**
   * The tie group of the current candidate (the start of its run of equal scores in the order): two
   * candidates of one cursor with the same tie group have the same score.
   */
  int tieGroup() {
    return tie;
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
