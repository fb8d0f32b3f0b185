package io.gpusched.core;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * Atomic gangs: a multi-word compare-and-set with helping (after Harris, Fraser and Pratt, "A
 * practical multi-word compare-and-swap operation") that takes several empty GPUs at one instant,
 * so that no other operation sees a gang holding part of its GPUs.
 *
 * <p><b>Words.</b> A GPU word is never negative; a negative word is a <em>descriptor value</em>:
 * bit 63 set, bit 62 telling a gang claim from a conditional install, a registry cell and a
 * number unique to the descriptor (so a value is never reused).
 *
 * <p><b>Protocol.</b> A gang {@link Op} lists its GPUs in one global order ({@link
 * GpuSlot#ordinal}), each to go from 0 to its delta. The op's owner claims a GPU by CASing its
 * word from 0 to the op's claim value; a helper claims through a <em>conditional install</em>
 * (RDCSS): the word is CASed from 0 to an install value, then replaced by the claim value if the
 * op is still undecided, else back by 0. So a helper that wakes late can never re-claim a GPU that
 * the gang took and released since (the owner cannot be late: it is still running). When every GPU holds the claim value the op's status is CASed to
 * SUCCEEDED (the gang's linearization point); when one holds a real value, to FAILED. Then each
 * claim value is replaced by the delta (SUCCEEDED) or 0 (FAILED).
 *
 * <p><b>Helping.</b> {@link GpuSlot#lvWord} never returns a descriptor value: a reader that meets
 * one finishes the install or the op first, so every reader sees a GPU before or after a gang,
 * never in between, and nothing waits for the gang's owner. Claims are taken in the global GPU
 * order, so an op that meets another's claim helps that op without it ever needing a GPU the first
 * already claimed (no cycles).
 *
 * <p>Lock-free: a loop here repeats only after another thread's CAS succeeded on the same word.
 */
@EnginePart
final class GangClaims {
  private GangClaims() {}

  static final int UNDECIDED = 0;
  static final int SUCCEEDED = 1;
  static final int FAILED = 2;

  private static final long INSTALL_BIT = 1L << 62;
  private static final int CELL_BITS = 16;
  private static final int NUMBER_BITS = 62 - CELL_BITS;
  private static final long NUMBER_MASK = (1L << NUMBER_BITS) - 1;
  private static final int CELLS = 1 << CELL_BITS;

  private static final AtomicLong NUMBERS = new AtomicLong();

  /** A registered descriptor: a gang op or a conditional install. */
  private abstract static class Descriptor {
    final long number = NUMBERS.incrementAndGet() & NUMBER_MASK;
    int cell = -1;

    long value(boolean install) {
      return Long.MIN_VALUE | (install ? INSTALL_BIT : 0) | ((long) cell << NUMBER_BITS) | number;
    }
  }

  /**
   * One multi-word step: its GPUs (in global order), the word each must hold ({@code expected})
   * and the word each gets ({@code next}), its status.
   */
  static final class Op extends Descriptor {
    final GpuSlot[] slots;
    final long[] expected;
    final long[] next;
    final AtomicInteger status = new AtomicInteger(UNDECIDED);

    /** A take (from 0): its owner may claim by a plain CAS (see {@link #help}). */
    final boolean take;

    private Op(GpuSlot[] slots, long[] expected, long[] next, boolean take) {
      this.slots = slots;
      this.expected = expected;
      this.next = next;
      this.take = take;
    }

    /** Takes empty GPUs: each from 0 to its delta (in any order; claimed in global order). */
    static Op take(GpuSlot[] slots, long[] deltas) {
      GpuSlot[] s = slots.clone();
      long[] d = deltas.clone();
      sortByOrdinal(s, d);
      return new Op(s, new long[s.length], d, true);
    }

    /**
     * Frees a gang's whole GPUs: each from exactly its delta to 0 (in any order). The words are
     * the gang's alone, so this always succeeds.
     */
    static Op release(GpuSlot[] slots, long[] deltas) {
      GpuSlot[] s = slots.clone();
      long[] d = deltas.clone();
      sortByOrdinal(s, d);
      return new Op(s, d, new long[s.length], false);
    }

    /** Sorts the GPUs into the global claim order, keeping each delta with its GPU. */
    private static void sortByOrdinal(GpuSlot[] slots, long[] deltas) {
      for (int i = 1; i < slots.length; i++) { // insertion sort: gangs are small
        GpuSlot s = slots[i];
        long d = deltas[i];
        int j = i - 1;
        for (; j >= 0 && slots[j].ordinal > s.ordinal; j--) {
          slots[j + 1] = slots[j];
          deltas[j + 1] = deltas[j];
        }
        slots[j + 1] = s;
        deltas[j + 1] = d;
      }
    }
  }

  /** A conditional install of {@code op}'s claim on its GPU {@code index} (RDCSS). */
  private static final class Install extends Descriptor {
    final Op op;
    final int index;

    Install(Op op, int index) {
      this.op = op;
      this.index = index;
    }
  }

  // ---------------------------------------------------------------- registry

  private static final int CHUNK = 64;

  private static final class Chunk {
    final AtomicReferenceArray<@Nullable Descriptor> cells = new AtomicReferenceArray<>(CHUNK);
    final AtomicReference<@Nullable Chunk> next = new AtomicReference<>();
  }

  private static final Chunk HEAD = new Chunk();

  private static void register(Descriptor d) {
    int start = (int) Thread.currentThread().getId();
    int base = 0;
    for (Chunk c = HEAD; ; base += CHUNK) {
      if (base >= CELLS) {
        throw new IllegalStateException("more than " + CELLS + " gang steps at once");
      }
      for (int k = 0; k < CHUNK; k++) {
        int i = (start + k) & (CHUNK - 1);
        if (c.cells.get(i) == null && c.cells.compareAndSet(i, null, d)) {
          d.cell = base + i;
          return;
        }
      }
      Chunk n = c.next.get();
      if (n == null) {
        c.next.compareAndSet(null, new Chunk());
        n = c.next.get();
      }
      c = java.util.Objects.requireNonNull(n, "a chunk is never unlinked");
    }
  }

  private static @Nullable Descriptor lookup(long value) {
    int cell = (int) ((value >>> NUMBER_BITS) & (CELLS - 1));
    Chunk c = HEAD;
    for (int i = cell / CHUNK; i > 0 && c != null; i--) {
      c = c.next.get();
    }
    Descriptor d = c == null ? null : c.cells.get(cell % CHUNK);
    return d != null && d.number == (value & NUMBER_MASK) ? d : null;
  }

  private static void unregister(Descriptor d) {
    Chunk c = HEAD;
    for (int i = d.cell / CHUNK; i > 0; i--) {
      c = java.util.Objects.requireNonNull(c.next.get(), "the cell's chunk exists");
    }
    c.cells.compareAndSet(d.cell % CHUNK, d, null);
  }

  static boolean isDescriptor(long word) {
    return word < 0;
  }

  // ---------------------------------------------------------------- operations

  /**
   * Runs a step to its end: returns whether every GPU went from its expected word to its next one
   * (the caller updates the index). A failed step changed no word.
   */
  static boolean run(Op op) {
    register(op);
    try {
      help(op, true);
      return op.status.get() == SUCCEEDED;
    } finally {
      unregister(op);
    }
  }

  /**
   * Drives {@code op} to a decision, then replaces each of its claims by its final value. The
   * owner of a take claims a GPU with one plain CAS: it cannot be late (a GPU it took can only be
   * released after it returned), and a claim it makes after another thread failed the op is undone
   * by its own final pass. Everyone else, and the owner of a release (whose GPUs others may take
   * again as soon as a helper finished it), claims through a conditional install.
   */
  private static void help(Op op, boolean owner) {
    long claim = op.value(false);
    outer:
    for (int i = 0; i < op.slots.length; i++) {
      GpuSlot s = op.slots[i];
      for (; ; ) {
        if (op.status.get() != UNDECIDED) {
          break outer;
        }
        long w = s.rawWord();
        if (w == claim) {
          break;
        }
        if (w == op.expected[i]) {
          if (owner && op.take) {
            s.casRawWord(w, claim);
          } else {
            install(op, i);
          }
          continue;
        }
        if (isDescriptor(w)) {
          resolve(s, w);
          continue;
        }
        op.status.compareAndSet(UNDECIDED, FAILED); // it holds another real value
        break outer;
      }
    }
    op.status.compareAndSet(UNDECIDED, SUCCEEDED);
    boolean ok = op.status.get() == SUCCEEDED;
    for (int i = 0; i < op.slots.length; i++) {
      op.slots[i].casRawWord(claim, ok ? op.next[i] : op.expected[i]);
    }
  }

  /** Tries to put {@code op}'s claim on its GPU {@code i}, if {@code op} is still undecided. */
  private static void install(Op op, int i) {
    Install in = new Install(op, i);
    register(in);
    try {
      long v = in.value(true);
      if (op.slots[i].casRawWord(op.expected[i], v)) {
        finishInstall(in, v);
      }
    } finally {
      unregister(in);
    }
  }

  private static void finishInstall(Install in, long v) {
    boolean live = in.op.status.get() == UNDECIDED;
    in.op.slots[in.index].casRawWord(v, live ? in.op.value(false) : in.op.expected[in.index]);
  }

  /**
   * A reader found descriptor value {@code w} on {@code s}: finish what it stands for. On return
   * the word no longer holds {@code w}.
   */
  static void resolve(GpuSlot s, long w) {
    Descriptor d = lookup(w);
    if (d == null) {
      // Its descriptor is gone. An install is finished before its owner unregisters it, and an
      // op's owner replaces its claims before it unregisters; what can outlive an op is a claim a
      // helper installed after the op FAILED (it read "undecided" just before). Only a take can
      // fail (a release's words are its own), and a take's words were empty: back to 0.
      s.casRawWord(w, 0);
      return;
    }
    if (d instanceof Install in) {
      finishInstall(in, w);
    } else {
      help((Op) d, false);
    }
  }
}
