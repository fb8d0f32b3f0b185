package io.gpusched.bench;

import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.PlacementRequest;
import io.gpusched.ThreadOffsets;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.jspecify.annotations.Nullable;

/**
 * Places through {@code n} threads in strict turn (placement {@code i} on thread {@code i mod n},
 * each waiting for the one before): what {@code n} concurrent placers leave behind when the engine
 * gives each thread its own start offset inside tie groups ({@code
 * GpuClusters.Builder#threadOffsets}), without the nondeterminism of real concurrency. Thread
 * {@code k} makes the {@code k}-th first placement, so it gets lane {@code k}; the result is
 * deterministic for a request sequence. With {@code n == 1} it places on the caller's thread.
 *
 * <p>Experiment names carry the count as a suffix. {@code FRAGMENTATION_AWARE@16}: the cluster is
 * built with {@code ThreadOffsets.ALWAYS}, so every thread keeps its lane, which is what placers
 * that collide all the time pack like (the worst case for packing). {@code
 * FRAGMENTATION_AWARE@16c}: the default {@code ThreadOffsets.WHEN_CONTENDED}; threads that take
 * turns never lose a race, so they walk from one front, as one thread does.
 */
public final class Lanes implements AutoCloseable {
  private final ExecutorService[] threads;
  private long turn;

  /** {@code n} placing threads (1: the caller's own). */
  public Lanes(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("lanes must be >= 1, was " + n);
    }
    threads = new ExecutorService[n == 1 ? 0 : n];
    for (int i = 0; i < threads.length; i++) {
      threads[i] = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "lane");
        t.setDaemon(true);
        return t;
      });
    }
  }

  /** Places the request on the next thread in turn and waits for it. */
  public @Nullable Allocation place(GpuCluster cluster, PlacementRequest request) {
    if (threads.length == 0) {
      return cluster.tryPlace(request);
    }
    Future<@Nullable Allocation> f =
        threads[(int) (turn++ % threads.length)].submit(() -> cluster.tryPlace(request));
    try {
      return f.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  /** The strategy name of {@code NAME@N}. */
  public static String strategyOf(String name) {
    int at = name.indexOf('@');
    return at < 0 ? name : name.substring(0, at);
  }

  /**
   * The thread offsets of a run named {@code NAME@N} ({@code ALWAYS}) or {@code NAME@Nc} or
   * {@code NAME} (the default, {@code WHEN_CONTENDED}).
   */
  public static ThreadOffsets offsetsOf(String name) {
    int at = name.indexOf('@');
    return at < 0 || name.trim().endsWith("c")
        ? ThreadOffsets.WHEN_CONTENDED
        : ThreadOffsets.ALWAYS;
  }

  /** The suffix of {@code NAME@N} or {@code NAME@Nc} ({@code "@N"}, {@code "@Nc"}), else "". */
  public static String suffixOf(String name) {
    int count = countOf(name);
    if (count == 1 && name.indexOf('@') < 0) {
      return "";
    }
    return "@" + count + (offsetsOf(name) == ThreadOffsets.WHEN_CONTENDED ? "c" : "");
  }

  /** The lane count of {@code NAME@N} or {@code NAME@Nc} (1 without a suffix). */
  public static int countOf(String name) {
    int at = name.indexOf('@');
    if (at < 0) {
      return 1;
    }
    String n0 = name.substring(at + 1).trim();
    if (n0.endsWith("c")) {
      n0 = n0.substring(0, n0.length() - 1);
    }
    int n = Integer.parseInt(n0);
    if (n < 1) {
      throw new IllegalArgumentException("lanes must be >= 1 in " + name);
    }
    return n;
  }

  @Override
  public void close() {
    for (ExecutorService t : threads) {
      t.shutdownNow();
    }
  }
}
