package io.gpusched.bench;

import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.PlacementRequest;
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
 * Experiment names carry the count as a suffix: {@code FRAGMENTATION_AWARE@2}.
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

  /** The lane count of {@code NAME@N} (1 without a suffix). */
  public static int countOf(String name) {
    int at = name.indexOf('@');
    if (at < 0) {
      return 1;
    }
    int n = Integer.parseInt(name.substring(at + 1).trim());
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
