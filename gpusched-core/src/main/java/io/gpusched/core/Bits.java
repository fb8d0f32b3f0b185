package io.gpusched.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * A growable, lock-free, three-level bitset used as a placement index: bit {@code i} set means
 * "item {@code i} may belong to this index's class". Bits are <em>hints</em>: a reader verifies
 * every hit against the item's occupancy word and cleans up stale bits it finds.
 *
 * <p><b>Layout.</b> Bits live in fixed segments of {@value #SEGMENT_WORDS} 64-bit words; word
 * {@value #SEGMENT_WORDS} of a segment is its <em>summary</em> (bit {@code j}: word {@code j} may be
 * non-zero), and the field {@code top} summarizes the first 64 segments (bit {@code k}: segment
 * {@code k} may be non-empty; segments past 64 are always visited). A search therefore skips 4,096
 * empty bits with one read and 64 with another. An optional fourth level, one bit of a word array
 * that several bitsets share ({@link #parent}), says whether the whole bitset may be non-empty. Segments never move: growing (only under the
 * cluster's management lock) copies the array of segment references, so concurrent setters and
 * clearers never write into an abandoned array.
 *
 * <p><b>Protocol.</b> {@code set} ORs the bit, its summary bit and its top bit in, each unless a
 * read shows it already set, so that when {@code set} returns the bit is reachable from the top.
 * {@code clear} ANDs the bit out and, when
 * it emptied the word, clears the summary bit and <em>re-reads</em> the word, restoring the summary
 * bit if a concurrent {@code set} refilled it; the same clear-then-recheck is done from the summary
 * to {@code top}. Every clear is thus followed by a recheck, so once updates stop a non-zero word is
 * always reachable from {@code top}: the index has no false negatives at quiescence, only stale
 * positives that readers skip.
 *
 * <p>All operations are lock-free; each is a bounded number of atomic read-modify-writes.
 */
@EnginePart
final class Bits {
  static final int SEGMENT_WORDS = 64;
  static final int SEGMENT_BITS = SEGMENT_WORDS * 64;
  private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
  private static final VarHandle TOP;

  static {
    try {
      TOP = MethodHandles.lookup().findVarHandle(Bits.class, "top", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private volatile long[][] segments;

  /**
   * The optional fourth level: a bit in a word array that several bitsets share (a group's {@link
   * GroupIndex#stateSummary}), set while this bitset may be non-empty. Kept with the same protocol
   * as the levels below: ORed in by every {@code set}, cleared by the {@code clear} that emptied
   * {@code top} and then restored if {@code top} is non-zero again (or there are more than 64
   * segments, which {@code top} does not cover). So a reader can skip this bitset on one bit of a
   * shared, cache-resident word instead of reading its {@code top}.
   */
  private final long @Nullable [] parent;

  private final int parentWord;
  private final long parentBit;

  @SuppressWarnings("unused") // accessed through TOP
  private volatile long top;

  Bits(int capacityBits) {
    this(capacityBits, null, 0);
  }

  /**
   * A bitset whose non-emptiness is also kept as bit {@code parentIndex} of {@code parent} (see
   * {@link #parent}); {@code parent} may be null (no fourth level).
   */
  Bits(int capacityBits, long @Nullable [] parent, int parentIndex) {
    int n = Math.max(1, (capacityBits + SEGMENT_BITS - 1) / SEGMENT_BITS);
    long[][] s = new long[n][];
    for (int i = 0; i < n; i++) {
      s[i] = new long[SEGMENT_WORDS + 1];
    }
    this.parent = parent;
    this.parentWord = parentIndex >>> 6;
    this.parentBit = 1L << parentIndex;
    segments = s;
    if (n > 64) {
      markParent();
    }
  }

  /** Sets this bitset's parent bit unless a read shows it set. */
  private void markParent() {
    long[] p = parent;
    if (p != null && ((long) LONGS.getVolatile(p, parentWord) & parentBit) == 0) {
      LONGS.getAndBitwiseOr(p, parentWord, parentBit);
    }
  }

  /**
   * Grows to hold at least {@code bits} bits. Not safe against a concurrent grow (two growers
   * could each install a copy, and bits set in the losing copy's new segment would be lost): only
   * the cluster's management monitor calls it, on published bitsets ({@link Group#addNode}).
   */
  void ensureCapacity(int bits) {
    long[][] s = segments;
    int need = (bits + SEGMENT_BITS - 1) / SEGMENT_BITS;
    if (need > s.length) {
      long[][] grown = Arrays.copyOf(s, need);
      for (int i = s.length; i < need; i++) {
        grown[i] = new long[SEGMENT_WORDS + 1];
      }
      segments = grown;
      if (need > 64) {
        markParent(); // top no longer covers every segment: the parent bit stays set
      }
    }
  }

  boolean get(int i) {
    long[] seg = segments[i / SEGMENT_BITS];
    int w = (i % SEGMENT_BITS) >>> 6;
    return ((long) LONGS.getVolatile(seg, w) & (1L << i)) != 0;
  }

  void set(int i) {
    int segIndex = i / SEGMENT_BITS;
    long[] seg = segments[segIndex];
    int w = (i % SEGMENT_BITS) >>> 6;
    long bit = 1L << i;
    long wordBit = 1L << w;
    // Each level is ORed in unless already set, and every level is checked even when the bit
    // was already there: a concurrent setter of the same bit may not have reached the upper levels
    // yet, and a set() that returns must leave the bit reachable from the top.
    if (((long) LONGS.getVolatile(seg, w) & bit) == 0) {
      LONGS.getAndBitwiseOr(seg, w, bit);
    }
    if (((long) LONGS.getVolatile(seg, SEGMENT_WORDS) & wordBit) == 0) {
      LONGS.getAndBitwiseOr(seg, SEGMENT_WORDS, wordBit);
    }
    if (segIndex < 64 && ((long) TOP.getVolatile(this) & (1L << segIndex)) == 0) {
      TOP.getAndBitwiseOr(this, 1L << segIndex);
    }
    markParent();
  }

  void clear(int i) {
    int segIndex = i / SEGMENT_BITS;
    long[] seg = segments[segIndex];
    int w = (i % SEGMENT_BITS) >>> 6;
    long bit = 1L << i;
    if (((long) LONGS.getVolatile(seg, w) & bit) == 0) {
      return;
    }
    long prev = (long) LONGS.getAndBitwiseAnd(seg, w, ~bit);
    if (prev != bit) {
      return; // the word is still non-zero
    }
    long wordBit = 1L << w;
    long prevSummary = (long) LONGS.getAndBitwiseAnd(seg, SEGMENT_WORDS, ~wordBit);
    if ((long) LONGS.getVolatile(seg, w) != 0) { // recheck: refilled by a concurrent set
      LONGS.getAndBitwiseOr(seg, SEGMENT_WORDS, wordBit);
    }
    if (prevSummary == wordBit && segIndex < 64) {
      long segBit = 1L << segIndex;
      long prevTop = (long) TOP.getAndBitwiseAnd(this, ~segBit);
      if ((long) LONGS.getVolatile(seg, SEGMENT_WORDS) != 0) { // recheck the summary
        TOP.getAndBitwiseOr(this, segBit);
      }
      long[] p = parent;
      if (p != null && prevTop == segBit && segments.length <= 64) {
        LONGS.getAndBitwiseAnd(p, parentWord, ~parentBit);
        if ((long) TOP.getVolatile(this) != 0 || segments.length > 64) { // recheck top
          LONGS.getAndBitwiseOr(p, parentWord, parentBit);
        }
      }
    }
  }

  /**
   * Returns the first set bit at or after {@code from} that is also set in {@code filter} (when
   * not null), or -1 if there is none.
   */
  int nextSetBit(int from, @Nullable Bits filter) {
    long[][] segs = segments;
    long[][] fsegs = filter == null ? null : filter.segments;
    long topBits = (long) TOP.getVolatile(this);
    int segIndex = from / SEGMENT_BITS;
    int word = (from % SEGMENT_BITS) >>> 6;
    long firstMask = -1L << (from & 63);
    for (; segIndex < segs.length; segIndex++, word = 0, firstMask = -1L) {
      if (segIndex < 64 && (topBits & (1L << segIndex)) == 0) {
        continue;
      }
      long[] fseg = null;
      if (fsegs != null) {
        if (segIndex >= fsegs.length) {
          return -1;
        }
        fseg = fsegs[segIndex];
      }
      long[] seg = segs[segIndex];
      long summary = (long) LONGS.getVolatile(seg, SEGMENT_WORDS) & (-1L << word);
      while (summary != 0) {
        int w = Long.numberOfTrailingZeros(summary);
        summary &= summary - 1;
        long bits = (long) LONGS.getVolatile(seg, w);
        if (fseg != null) {
          bits &= (long) LONGS.getVolatile(fseg, w);
        }
        if (w == word) {
          bits &= firstMask;
        }
        if (bits != 0) {
          return segIndex * SEGMENT_BITS + (w << 6) + Long.numberOfTrailingZeros(bits);
        }
      }
    }
    return -1;
  }

  /**
   * Bit {@code index} of a parent word array (see {@link #parent}), read volatile: false only if
   * the bitset of that parent bit may be skipped (empty, up to the same races as {@link
   * #maybeNonEmpty}).
   */
  static boolean parentSet(long[] parent, int index) {
    return (parentWord(parent, index >>> 6) & (1L << index)) != 0;
  }

  /** Word {@code w} of a parent word array (see {@link #parent}), read volatile. */
  static long parentWord(long[] parent, int w) {
    return (long) LONGS.getVolatile(parent, w);
  }

  /** One read: false only if no bit is set in the first 64 segments and there are no others. */
  boolean maybeNonEmpty() {
    return (long) TOP.getVolatile(this) != 0 || segments.length > 64;
  }
}
