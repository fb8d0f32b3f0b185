package io.gpusched.bench.peer;

import io.gpusched.PlacementRequest;
import org.jspecify.annotations.Nullable;

/**
 * The smallest common surface of the schedulers the benchmarks compare: place a request, release
 * what was placed. Implementations: {@link GpuschedPeer} (the library), {@link LockedBestFit} (a
 * plain one-lock baseline) and {@link FenzoPeer} (Netflix Fenzo).
 */
public interface PeerScheduler extends AutoCloseable {

  /** Returns a short name for reports: {@code gpusched}, {@code locked} or {@code fenzo}. */
  String name();

  /**
   * Places a request.
   *
   * @return an opaque handle to pass to {@link #release(Object)}, or {@code null} when there is no
   *     free capacity for it now
   */
  @Nullable Object place(PlacementRequest request);

  /**
   * Releases what {@link #place} returned.
   *
   * @return {@code true} if this call released it, {@code false} if it was released already
   */
  boolean release(Object handle);

  /** Frees resources (threads) the scheduler holds; the default does nothing. */
  @Override
  default void close() {}
}
