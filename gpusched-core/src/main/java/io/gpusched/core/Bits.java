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
 * empty bits with one read and 64 with another. Segments never move: growing (only under the
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

  @SuppressWarnings("unused") // accessed through TOP
  private volatile long top;

  Bits(int capacityBits) {
    int n = Math.max(1, (capacityBits + SEGMENT_BITS - 1) / SEGMENT_BITS);
    long[][] s = new long[n][];
    for (int i = 0; i < n; i++) {
      s[i] = new long[SEGMENT_WORDS + 1];
    }
    segments = s;
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
      TOP.getAndBitwiseAnd(this, ~segBit);
      if ((long) LONGS.getVolatile(seg, SEGMENT_WORDS) != 0) { // recheck the summary
        TOP.getAndBitwiseOr(this, segBit);
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

  /** One read: false only if no bit is set in the first 64 segments and there are no others. */
  boolean maybeNonEmpty() {
    return (long) TOP.getVolatile(this) != 0 || segments.length > 64;
  }
}
