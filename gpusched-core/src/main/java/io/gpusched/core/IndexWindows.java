package io.gpusched.core;

import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * The open index windows of one group (see {@link GroupIndex}): a lock-free registry of the GPUs
 * and nodes whose index entries a thread is changing. Chunks of cells; a claim is a CAS of a free
 * cell from null (starting at a per-thread position, so claims rarely contend), a release a
 * volatile write of null. Chunks are appended by CAS when all cells are taken and never removed.
 * A searcher whose walk found nothing reads every cell (see {@code Placer#searchWindows}).
 */
@EnginePart
final class IndexWindows {
  /** Cells per chunk (a power of two). */
  static final int CHUNK = 32;

  static final class Chunk {
    final AtomicReferenceArray<Object> cells = new AtomicReferenceArray<>(CHUNK);
    final AtomicReference<@Nullable Chunk> next = new AtomicReference<>();
  }

  final Chunk head = new Chunk();

  /** Announces {@code subject} in a free cell and returns the cell. Lock-free. */
  int claim(Object subject) {
    int start = (int) Thread.currentThread().getId();
    int base = 0;
    for (Chunk c = head; ; base += CHUNK) {
      for (int k = 0; k < CHUNK; k++) {
        int i = (start + k) & (CHUNK - 1);
        if (c.cells.get(i) == null && c.cells.compareAndSet(i, null, subject)) {
          return base + i;
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

  /**
   * Withdraws the announcement in {@code cell}: a release store, enough because what must be
   * visible before it is the closing count of {@link GroupIndex#close}, which precedes it in
   * program order; a searcher that reads the null (a volatile load, so an acquire) then sees that
   * count in its next {@code moves} read. The claim is a CAS (volatile) since announcing must not
   * be reordered with the opening count that follows it.
   */
  void release(int cell) {
    Chunk c = head;
    for (int i = cell / CHUNK; i > 0; i--) {
      c = java.util.Objects.requireNonNull(c.next.get(), "the cell's chunk exists");
    }
    c.cells.setRelease(cell % CHUNK, null); // soCell: a release store (JCTools' "so")
  }
}
