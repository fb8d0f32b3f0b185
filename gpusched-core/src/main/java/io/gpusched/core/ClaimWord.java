package io.gpusched.core;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A word that {@link GangClaims} can take part in a multi-word step: a GPU's occupancy ({@link
 * GpuSlot}) or a node's host resources ({@link NodeEntry#host}). A live value is never negative; a
 * negative value is a step's descriptor (or, for a GPU, a dead word), which readers resolve first
 * ({@link #lvResolved}), so nobody ever waits for a step's owner.
 */
@EnginePart
abstract class ClaimWord {
  private static final VarHandle WORD;

  static {
    try {
      WORD = MethodHandles.lookup().findVarHandle(ClaimWord.class, "word", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final AtomicLong ORDINALS = new AtomicLong();

  /** A number unique to this word among all clusters: the order in which steps claim words. */
  final long ordinal = ORDINALS.incrementAndGet();

  @SuppressWarnings("unused") // accessed through WORD
  private volatile long word;

  /** The word as it is, possibly a step's descriptor value. */
  final long rawWord() {
    return (long) WORD.getVolatile(this);
  }

  /** Compare-and-set of the raw word (volatile semantics). */
  final boolean casRawWord(long expect, long update) {
    return WORD.compareAndSet(this, expect, update);
  }

  /** The word with any step in progress finished first (it may be dead: see GangClaims#DEAD). */
  final long lvResolved() {
    long w = (long) WORD.getVolatile(this);
    while (GangClaims.isDescriptor(w)) {
      GangClaims.resolve(this, w);
      w = (long) WORD.getVolatile(this);
    }
    return w;
  }

  /**
   * Subtracts {@code delta}, a step in progress finished first: lock-free (a CAS loop that repeats
   * only after another thread changed the word). Returns the word before (possibly dead).
   */
  final long subtractResolved(long delta) {
    for (; ; ) {
      long w = lvResolved();
      if (WORD.compareAndSet(this, w, w - delta)) {
        return w;
      }
    }
  }
}
