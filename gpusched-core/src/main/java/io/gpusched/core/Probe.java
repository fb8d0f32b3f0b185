package io.gpusched.core;

import org.jspecify.annotations.Nullable;

/**
 * Test seam: named points on the engine's slow paths (table rebuilds, constraint filters, mix
 * relearning), so that a test can run code inside a race window deterministically. {@link #NONE}
 * in production; never called on the placement hot path (only when a filter is first built or a
 * table is rebuilt).
 */
@EnginePart
interface Probe {
  /** No-op probe. */
  Probe NONE = (point, subject) -> {};

  /** Called at {@code point}; runs on the thread that reached it. */
  void at(ProbePoint point, @Nullable Object subject);
}
