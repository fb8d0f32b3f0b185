package io.gpusched.core;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * Atomic gangs: a multi-word compare-and-set with helping (after Harris, Fraser and Pratt, "A
 * practical multi-word compare-and-swap operation") that takes several empty GPUs at one instant,
 * so that no other operation sees a gang holding part of its GPUs.
 *
 * <p><b>Words.</b> A live GPU word is never negative. A negative word is either <em>dead</em> ({@link
 * #DEAD}: bits 63 and 61, the GPU's node was removed) or a <em>descriptor value</em>: bit 63 set,
 * bit 61 clear, bit 62 telling a gang claim from a conditional install, a registry cell and a
 * number unique to the descriptor (so a value is never reused).
 *
 * <p><b>Node removal.</b> A removal turns all of a node's words dead in one step of this protocol:
 * {@link Op#seal} (every word from 0, so it fails if the node holds anything) or {@link Op#kill}
 * (every word from whatever it holds; it never fails). So every take of a GPU of the node is
 * ordered before or after the removal: before it succeeded, after it the word is dead and the take
 * fails.
 *
 * <p><b>Protocol.</b> A gang {@link Op} lists its GPUs in one global order ({@link
 * GpuSlot#ordinal}), each to go from 0 to its delta (other steps move words between other values:
 * a release from the deltas to 0, and takes and releases that charge host resources also move
 * their nodes' host words; see {@link Op#general} and {@link Op#withHosts}). The op's owner claims a GPU by CASing its
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

  /**
   * Bit 61 with bit 63: a <em>dead</em> word, one of a node that a removal took out of the engine
   * ({@link Op#kill}, {@link Op#seal}). It keeps the GPU's last value in its low bits, so releases
   * that were under way still subtract their deltas from it; nothing can take capacity from it.
   */
  static final long DEAD = Long.MIN_VALUE | (1L << 61);

  private static final int CELL_BITS = 16;
  private static final int NUMBER_BITS = 61 - CELL_BITS;
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
    final ClaimWord[] slots;
    final long[] expected;
    final long[] next;
    final AtomicInteger status = new AtomicInteger(UNDECIDED);

    /**
     * The owner's reference plus one per install in progress: the op stays registered until the
     * last of them is done, so a claim on a word can always be looked up (a helper's install that
     * becomes a claim just as the op is decided is replaced by that helper: see {@link
     * #finishInstall}).
     */
    final AtomicInteger refs = new AtomicInteger(1);

    /**
     * A take: its owner may claim a word it expects at 0 by a plain CAS (see {@link #help}). False
     * for releases, whose owner claims only through conditional installs.
     */
    final boolean take;

    /**
     * A kill: each word is claimed from whatever live value it holds (recorded in {@link
     * #found}), and ends as {@link #DEAD} with that value. It never fails.
     */
    final @Nullable AtomicLongArray found;

    private Op(ClaimWord[] slots, long[] expected, long[] next, boolean take, boolean kill) {
      this.slots = slots;
      this.expected = expected;
      this.next = next;
      this.take = take;
      AtomicLongArray f = null;
      if (kill) {
        f = new AtomicLongArray(slots.length);
        for (int i = 0; i < slots.length; i++) {
          f.set(i, -1);
        }
      }
      this.found = f;
    }

    private Op(ClaimWord[] slots, long[] expected, long[] next, boolean take) {
      this(slots, expected, next, take, false);
    }

    /**
     * Turns every word of {@code slots} dead keeping its value, whatever it holds (a forced node
     * removal). Never fails: a word that changed is claimed from its new value.
     */
    static Op kill(GpuSlot[] slots) {
      ClaimWord[] s = slots.clone();
      long[] d = new long[s.length];
      sortByOrdinal(s, d, null);
      return new Op(s, new long[s.length], new long[s.length], false, true);
    }

    /**
     * Turns every word of {@code slots} from 0 to dead, or fails changing nothing if one holds
     * anything (a node removal without force). A take of {@link #DEAD} from 0.
     */
    static Op seal(GpuSlot[] slots) {
      long[] d = new long[slots.length];
      java.util.Arrays.fill(d, DEAD);
      return take(slots, d);
    }

    /** Takes empty GPUs: each from 0 to its delta (in any order; claimed in global order). */
    static Op take(GpuSlot[] slots, long[] deltas) {
      ClaimWord[] s = slots.clone();
      long[] d = deltas.clone();
      sortByOrdinal(s, d, null);
      return new Op(s, new long[s.length], d, true);
    }

    /**
     * Frees a gang's whole GPUs: each from exactly its delta to 0 (in any order). The words are
     * the gang's alone, so this always succeeds.
     */
    static Op release(GpuSlot[] slots, long[] deltas) {
      ClaimWord[] s = slots.clone();
      long[] d = deltas.clone();
      sortByOrdinal(s, d, null);
      return new Op(s, d, new long[s.length], false);
    }

    /**
     * Moves each of {@code words} from {@code expected[i]} to {@code next[i]}, all at one instant
     * or none (arrays taken over, in any order; claimed in global order): a take of GPUs together
     * with the host resources of their nodes.
     */
    static Op general(ClaimWord[] words, long[] expected, long[] next) {
      return general(words, expected, next, true);
    }

    /** {@link #general(ClaimWord[], long[], long[])}, a take or ({@code take == false}) a release. */
    private static Op general(ClaimWord[] words, long[] expected, long[] next, boolean take) {
      sortByOrdinal(words, expected, next);
      return new Op(words, expected, next, take);
    }

    /**
     * {@link #general} over GPU words ({@code gpus}, each from {@code gpuFrom[i]} to {@code
     * gpuTo[i]}) and the first {@code h} host words of {@code hosts} (each from {@code hostFrom[j]}
     * to {@code hostTo[j]}): a take ({@code take}) or a release of GPUs with the host resources
     * charged with them. The arrays are copied.
     */
    static Op withHosts(
        GpuSlot[] gpus, long[] gpuFrom, long[] gpuTo,
        ClaimWord[] hosts, long[] hostFrom, long[] hostTo, int h, boolean take) {
      int n = gpus.length;
      ClaimWord[] words = java.util.Arrays.copyOf(gpus, n + h, ClaimWord[].class);
      long[] expected = java.util.Arrays.copyOf(gpuFrom, n + h);
      long[] next = java.util.Arrays.copyOf(gpuTo, n + h);
      System.arraycopy(hosts, 0, words, n, h);
      System.arraycopy(hostFrom, 0, expected, n, h);
      System.arraycopy(hostTo, 0, next, n, h);
      return general(words, expected, next, take);
    }

    /** Sorts the words into the global claim order, keeping their values with them. */
    private static void sortByOrdinal(ClaimWord[] slots, long[] a, long @Nullable [] b) {
      for (int i = 1; i < slots.length; i++) { // insertion sort: steps are small
        ClaimWord s = slots[i];
        long x = a[i];
        long y = b == null ? 0 : b[i];
        int j = i - 1;
        for (; j >= 0 && slots[j].ordinal > s.ordinal; j--) {
          slots[j + 1] = slots[j];
          a[j + 1] = a[j];
          if (b != null) {
            b[j + 1] = b[j];
          }
        }
        slots[j + 1] = s;
        a[j + 1] = x;
        if (b != null) {
          b[j + 1] = y;
        }
      }
    }
  }

  /** A conditional install of {@code op}'s claim on its GPU {@code index} (RDCSS). */
  private static final class Install extends Descriptor {
    final Op op;
    final int index;

    /** The live word this install replaces (and puts back if the op is decided). */
    final long from;

    Install(Op op, int index, long from) {
      this.op = op;
      this.index = index;
      this.from = from;
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

  /** Whether a word is a descriptor value (negative, and not dead). */
  static boolean isDescriptor(long word) {
    return word < 0 && (word & DEAD) != DEAD;
  }

  /** Whether a word is dead (its node was removed; see {@link #DEAD}). */
  static boolean isDead(long word) {
    return (word & DEAD) == DEAD;
  }

  /** The value a dead word keeps (what the GPU held, less what was released since). */
  static long deadValue(long word) {
    return word & ~DEAD;
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
      unref(op);
    }
  }

  /** Takes a reference to a registered op; false if it is done (its last reference dropped). */
  private static boolean ref(Op op) {
    for (int r = op.refs.get(); r > 0; r = op.refs.get()) {
      if (op.refs.compareAndSet(r, r + 1)) {
        return true;
      }
    }
    return false;
  }

  private static void unref(Op op) {
    if (op.refs.decrementAndGet() == 0) {
      unregister(op);
    }
  }

  /**
   * Drives {@code op} to a decision, then replaces each of its claims by its final value. The
   * owner of a take claims a word at 0 with one plain CAS: it cannot be late (an empty GPU it took
   * can only be released after it returned), and a claim it makes after another thread failed the
   * op is undone by its own final pass. Everyone else, the owner of a release (whose GPUs others
   * may take again as soon as a helper finished it), and the owner of a take from a nonzero word
   * (a share, a MIG slice, host resources: the word may come back to the same value), claims
   * through a conditional install.
   */
  private static void help(Op op, boolean owner) {
    long claim = op.value(false);
    outer:
    for (int i = 0; i < op.slots.length; i++) {
      ClaimWord s = op.slots[i];
      for (; ; ) {
        if (op.status.get() != UNDECIDED) {
          break outer;
        }
        long w = s.rawWord();
        if (w == claim) {
          break;
        }
        if (isDescriptor(w)) {
          resolve(s, w);
          continue;
        }
        if (op.found != null) { // a kill claims any live value; a dead word is already killed
          if (isDead(w)) {
            break;
          }
          install(op, i, w);
          continue;
        }
        if (w == op.expected[i]) {
          if (owner && op.take && w == 0) {
            s.casRawWord(w, claim);
          } else {
            install(op, i, w);
          }
          continue;
        }
        op.status.compareAndSet(UNDECIDED, FAILED); // it holds another real value (or is dead)
        break outer;
      }
    }
    op.status.compareAndSet(UNDECIDED, SUCCEEDED);
    boolean ok = op.status.get() == SUCCEEDED;
    for (int i = 0; i < op.slots.length; i++) {
      long to;
      if (op.found != null) {
        to = DEAD | op.found.get(i); // a claimed word recorded what it held before the claim
      } else {
        to = ok ? op.next[i] : op.expected[i];
      }
      op.slots[i].casRawWord(claim, to);
    }
  }

  /** Tries to put {@code op}'s claim on its GPU {@code i}, if {@code op} is still undecided. */
  private static void install(Op op, int i, long from) {
    if (!ref(op)) {
      return; // the op is done (decided, its claims replaced): nothing to install
    }
    try {
      Install in = new Install(op, i, from);
      register(in);
      try {
        long v = in.value(true);
        if (op.slots[i].casRawWord(from, v)) {
          finishInstall(in, v);
        }
      } finally {
        unregister(in);
      }
    } finally {
      unref(op);
    }
  }

  /**
   * Replaces an install by the op's claim if the op is still undecided, else by the word it
   * replaced. A kill records the replaced word first: only the install that becomes the claim
   * does (a word holds one install at a time, and an undecided kill has no claim there yet), so
   * every thread that records it records the same value.
   */
  private static void finishInstall(Install in, long v) {
    Op op = in.op;
    boolean live = op.status.get() == UNDECIDED;
    if (live && op.found != null) {
      op.found.compareAndSet(in.index, -1, in.from);
    }
    long claim = op.value(false);
    if (op.slots[in.index].casRawWord(v, live ? claim : in.from) && live) {
      // The op may have been decided since "live" was read, and its owner's final pass may have
      // gone past this word while it held the install: replace the claim here then, so that no
      // claim ever outlives its op.
      int st = op.status.get();
      if (st != UNDECIDED) {
        long to =
            op.found != null
                ? DEAD | op.found.get(in.index)
                : st == SUCCEEDED ? op.next[in.index] : op.expected[in.index];
        op.slots[in.index].casRawWord(claim, to);
      }
    }
  }

  /**
   * A reader found descriptor value {@code w} on {@code s}: finish what it stands for. On return
   * the word no longer holds {@code w}.
   */
  static void resolve(ClaimWord s, long w) {
    Descriptor d = lookup(w);
    if (d == null) {
      // Its descriptor is gone, so the word no longer holds it: an install is finished before
      // its owner unregisters it, and an op stays registered until its owner and every install
      // in progress are done, each of which replaces a claim it leaves (see finishInstall).
      if (s.rawWord() == w) {
        throw new IllegalStateException("a word holds the claim of a finished step: " + w);
      }
      return;
    }
    if (d instanceof Install in) {
      finishInstall(in, w);
    } else {
      help((Op) d, false);
    }
  }
}
