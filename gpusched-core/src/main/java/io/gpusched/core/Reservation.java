package io.gpusched.core;

/**
 * GPUs taken but not yet published, with what was added to each word, the host resources charged
 * (per GPU) and the holder position on the GPU (see {@link GpuSlot#register}). Built and read by
 * one placing thread.
 *
 * <p>A reservation of one GPU (the common case: a MIG instance, a share, one whole GPU) is this
 * thread's spare object ({@link #one}), lent until {@link #done}: its two arrays are new every time,
 * since the allocation takes them over, but the object itself is not allocated per placement
 * (escape analysis removed most of them under BEST_FIT, few under FRAGMENTATION_AWARE: about 30
 * bytes per MIG pair there). A reservation made while the spare is lent (a placement nested in
 * another on the same thread, as test hooks do) is a new object; one that is never handed back
 * only costs later placements on that thread the allocation the spare saves.
 */
@EnginePart
final class Reservation {
  /** Longs per GPU in {@link #words}: delta, host CPU, host memory, holder position. */
  static final int STRIDE = 4;

  private static final GpuSlot[] NO_SLOTS = new GpuSlot[0];
  private static final long[] NO_WORDS = new long[0];
  private static final ThreadLocal<Reservation> SPARE = ThreadLocal.withInitial(() -> new Reservation(0));

  GpuSlot[] slots;
  /**
   * Per GPU {@code i}, at {@code STRIDE * i}: the delta added to its word, the host CPU and memory
   * charged, the holder position. One array (handed to the allocation as it is), not four.
   */
  long[] words;
  int n;
  /** Whether this is a thread's spare, lent out by {@link #one} and not yet handed back. */
  private boolean lent;

  Reservation(int capacity) {
    slots = new GpuSlot[capacity];
    words = new long[STRIDE * capacity];
  }

  /**
   * A reservation of GPU {@code s} taken with {@code delta}, host {@code c}/{@code m} charged, at
   * holder {@code position}: this thread's spare, or a new reservation if the spare is lent. Its
   * arrays need not be new: the slots are the GPU's {@link GpuSlot#alone}, and without host
   * resources the words come from the group's {@link Group#sharedWords}; both are shared and
   * never written (the allocation that takes them over only reads them). Hand it back with
   * {@link #done} once its arrays are taken over.
   */
  static Reservation one(GpuSlot s, long delta, long c, long m, int position) {
    Reservation r = SPARE.get();
    if (r.lent) {
      r = new Reservation(0);
    } else {
      r.lent = true;
    }
    r.slots = s.alone;
    r.words = wordsOf(s.group, delta, c, m, position);
    r.n = 1;
    return r;
  }

  /** The words of one GPU: shared ones from the group's cells when no host resource is charged. */
  static long[] wordsOf(Group g, long delta, long c, long m, int position) {
    if (c != 0 || m != 0) {
      return new long[] {delta, c, m, position};
    }
    java.util.concurrent.atomic.AtomicReferenceArray<long[]> cells = g.sharedWords;
    long h = (delta ^ (delta >>> 29) ^ ((long) position * 0x9E3779B97F4A7C15L)) * 0xBF58476D1CE4E5B9L;
    int at = (int) (h >>> 57); // 0..127
    for (int probe = 0; probe < 4; probe++) {
      int i = (at + probe) & (Group.SHARED_WORDS - 1);
      long[] w = cells.get(i); // volatile: a published array's contents are visible
      if (w == null) {
        long[] fresh = {delta, 0, 0, position};
        cells.compareAndSet(i, null, fresh); // lost to another thread: this one is still good
        return fresh;
      }
      if (w[0] == delta && w[3] == position) {
        return w;
      }
    }
    return new long[] {delta, 0, 0, position};
  }

  /**
   * Hands a reservation back after its allocation took its arrays over (placing thread): a spare
   * can be lent again, and lets go of the arrays so that it keeps no GPU (and no discarded cluster)
   * reachable. Any other reservation is left as it is.
   */
  void done() {
    if (lent) {
      lent = false;
      slots = NO_SLOTS;
      words = NO_WORDS;
      n = 0;
    }
  }

  /** Records GPU {@code s} taken with {@code delta}, host {@code c}/{@code m} charged, at holder {@code position}. */
  void add(GpuSlot s, long delta, long c, long m, int position) {
    slots[n] = s;
    int k = STRIDE * n;
    words[k] = delta;
    words[k + 1] = c;
    words[k + 2] = m;
    words[k + 3] = position;
    n++;
  }

  long delta(int i) {
    return words[STRIDE * i];
  }

  long cpu(int i) {
    return words[STRIDE * i + 1];
  }

  long mem(int i) {
    return words[STRIDE * i + 2];
  }

  int owner(int i) {
    return (int) words[STRIDE * i + 3];
  }
}
