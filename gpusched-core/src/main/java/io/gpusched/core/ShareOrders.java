package io.gpusched.core;

import io.gpusched.PlacementStrategy;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The share-order caches of a cluster's SHARED groups, one per set of inputs a share order is
 * built from, so that groups whose orders would be equal build each order once.
 *
 * <p>A share order ({@link DecisionTables#shareOrder}) is a pure function of the strategy, the
 * group weights (for a SHARED group they are read from the global mix weights alone, so every
 * SHARED group built from the same weights has the same), the largest node's GPU count ({@code
 * maxF}), the model's GPU memory and the share's class. The tables of groups that agree on all of
 * these (in a typical fleet several GPU models with 8-GPU nodes) take one cache here instead of a
 * cache each; each order is then built on the first placement of its class in any of them.
 * Weights are matched by identity (the array a relearn publishes), so sharing never needs to
 * compare them.
 *
 * <p>Lock-free: a lookup reads one array; adding a cache is a copy-on-write CAS, done only when
 * tables are built (after a relearn or a node change), never on the placement path. Entries of
 * other weights are dropped when one for new weights is added, so the array holds about one entry
 * per distinct {@code (maxF, memory)} of the current weights.
 */
@EnginePart
final class ShareOrders {
  /** One cache and the inputs it is for; the weights are matched by identity. */
  private static final class Entry {
    final double[] source;
    final PlacementStrategy strategy;
    final int maxF;
    final long memoryMiB;
    final AtomicReferenceArray<CandidateOrder> orders =
        new AtomicReferenceArray<>(Space.Shared.MILLI_BUCKETS * Space.Shared.MEM_BUCKETS);

    Entry(double[] source, PlacementStrategy strategy, int maxF, long memoryMiB) {
      this.source = source;
      this.strategy = strategy;
      this.maxF = maxF;
      this.memoryMiB = memoryMiB;
    }

    boolean matches(double[] w, PlacementStrategy s, int f, long mem) {
      return source == w && maxF == f && memoryMiB == mem && strategy.equals(s);
    }
  }

  private static final VarHandle ENTRIES;

  static {
    try {
      ENTRIES = MethodHandles.lookup().findVarHandle(ShareOrders.class, "entries", Entry[].class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The caches; replaced by CAS ({@link #ENTRIES}), never written in place. */
  private volatile Entry[] entries = new Entry[0];

  /**
   * The share-order cache for tables built from these inputs: the same array for every caller
   * with the same inputs (the same {@code source} array), a new one otherwise.
   */
  AtomicReferenceArray<CandidateOrder> forTables(
      double[] source, PlacementStrategy strategy, int maxF, long memoryMiB) {
    for (; ; ) {
      Entry[] cur = entries;
      for (Entry e : cur) {
        if (e.matches(source, strategy, maxF, memoryMiB)) {
          return e.orders;
        }
      }
      Entry[] next = new Entry[cur.length + 1];
      int n = 0;
      for (Entry e : cur) {
        if (e.source == source) { // older weights' caches are no longer built from
          next[n++] = e;
        }
      }
      Entry added = new Entry(source, strategy, maxF, memoryMiB);
      next[n++] = added;
      if (ENTRIES.compareAndSet(this, cur, Arrays.copyOf(next, n))) {
        return added.orders;
      }
    }
  }

  /** Caches held now (for tests). */
  int size() {
    return entries.length;
  }
}
