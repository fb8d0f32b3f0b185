package io.gpusched.bench.jmh;

import io.gpusched.PlacementRequest;
import io.gpusched.bench.peer.PeerScheduler;
import org.jspecify.annotations.Nullable;

/**
 * One thread's share of a steady-state cluster: the allocations it holds in a ring (oldest first)
 * and its precomputed random request sequence. {@link #step} releases the oldest allocation and
 * places the next request into its slot, so the load stays near the level the ring was filled to.
 * A placement that finds no capacity leaves an empty slot, whose release later is a no-op.
 */
final class SteadyRing {
  private static final int SEQUENCE = 1 << 16;

  private final PlacementRequest[] sequence;
  private final Object[] held;
  private int head;
  private int next;
  private final int placedAtFill;
  private final double gpusAtFill;

  /**
   * The ring of one benchmark thread: fills its share of 75 % of the cluster's {@code gpus} with
   * requests of the mix (seeded by {@code seedBase} and the thread index) and logs the fill.
   */
  static SteadyRing forThread(
      PeerScheduler s, String impl, String mix, long seedBase, int gpus, int threads, int thread) {
    double target = 0.75 * gpus / threads;
    long t0 = System.nanoTime();
    SteadyRing ring = new SteadyRing(s, mix, seedBase + 7919L * thread, target);
    System.out.printf(
        "%n[fill] %s thread %d: %d allocations, %.1f of %d GPUs (target %.1f) in %.1f s%n",
        impl, thread, ring.placedAtFill(), ring.gpusAtFill(), gpus, target,
        (System.nanoTime() - t0) / 1e9);
    return ring;
  }

  /**
   * Fills the scheduler with requests of the mix until this thread holds {@code targetGpus} GPU
   * equivalents, or 2,000 placements in a row failed.
   */
  SteadyRing(PeerScheduler s, String mix, long seed, double targetGpus) {
    BenchClusters.Weighted[] reqs = BenchClusters.requests(mix, SEQUENCE, seed);
    sequence = new PlacementRequest[SEQUENCE];
    for (int i = 0; i < SEQUENCE; i++) {
      sequence[i] = reqs[i].request();
    }
    Object[] fill = new Object[16];
    int n = 0;
    double gpus = 0;
    int failedInARow = 0;
    while (gpus < targetGpus && failedInARow < 2_000) {
      BenchClusters.Weighted w = reqs[next];
      next = (next + 1) & (SEQUENCE - 1);
      Object h = s.place(w.request());
      if (h == null) {
        failedInARow++;
        continue;
      }
      failedInARow = 0;
      if (n == fill.length) {
        fill = java.util.Arrays.copyOf(fill, n * 2);
      }
      fill[n++] = h;
      gpus += w.gpus();
    }
    held = java.util.Arrays.copyOf(fill, Math.max(1, n));
    placedAtFill = n;
    gpusAtFill = gpus;
  }

  /** Releases the oldest held allocation and places the next request; returns its handle. */
  @Nullable Object step(PeerScheduler s) {
    Object old = held[head];
    if (old != null) {
      s.release(old);
    }
    Object h = s.place(sequence[next]);
    next = (next + 1) & (SEQUENCE - 1);
    held[head] = h;
    if (++head == held.length) {
      head = 0;
    }
    return h;
  }

  /** Releases everything still held. */
  void drain(PeerScheduler s) {
    for (int i = 0; i < held.length; i++) {
      if (held[i] != null) {
        s.release(held[i]);
        held[i] = null;
      }
    }
  }

  /** Returns how many allocations are held now (empty slots are failed placements). */
  int heldNow() {
    int n = 0;
    for (Object o : held) {
      if (o != null) {
        n++;
      }
    }
    return n;
  }

  int placedAtFill() {
    return placedAtFill;
  }

  double gpusAtFill() {
    return gpusAtFill;
  }
}
