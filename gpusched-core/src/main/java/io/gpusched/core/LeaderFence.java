package io.gpusched.core;

import io.gpusched.store.StoredJob;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a leader's {@link JdbcStore} adds to each commit: the epoch check (the fence) and the
 * inbox rows to delete in the same transaction as the job changes that consume them.
 *
 * <p>An inbox row is consumed <em>atomically</em> with its effect: the leader registers the row
 * for its job ({@link #consumeWith}) before it submits or cancels the job, and the first commit
 * that writes the job's record with that effect (any record for a submit, a final one for a
 * cancel) deletes the row in its transaction. So after a crash a row is either still in the inbox
 * (and applied again by the next leader) or its effect is committed, never neither, never both.
 * Thread-safe (its own monitor, held only to move entries).
 */
final class LeaderFence {

  /** An inbox row waiting for its job's commit. */
  record Consume(long rowId, boolean needsFinal) {}

  final long epoch;
  private final Runnable onDeposed;
  private final Map<String, List<Consume>> byJob = new HashMap<>();
  private volatile boolean deposed;

  /**
   * @param epoch the epoch the leader won
   * @param onDeposed called (once, on the committing thread; must not block) when a commit finds
   *     a newer epoch in the database
   */
  LeaderFence(long epoch, Runnable onDeposed) {
    this.epoch = epoch;
    this.onDeposed = onDeposed;
  }

  /** Registers inbox row {@code rowId} to be deleted with job {@code jobId}'s next matching put. */
  synchronized void consumeWith(String jobId, long rowId, boolean needsFinal) {
    byJob.computeIfAbsent(jobId, k -> new ArrayList<>()).add(new Consume(rowId, needsFinal));
  }

  /** Drops a registration whose job change did not happen (the call failed). */
  synchronized void forget(String jobId, long rowId) {
    List<Consume> l = byJob.get(jobId);
    if (l != null) {
      l.removeIf(c -> c.rowId == rowId);
      if (l.isEmpty()) {
        byJob.remove(jobId);
      }
    }
  }

  /** Whether row {@code rowId} of job {@code jobId} still waits for a commit. */
  synchronized boolean waiting(String jobId, long rowId) {
    List<Consume> l = byJob.get(jobId);
    return l != null && l.stream().anyMatch(c -> c.rowId == rowId);
  }

  /** The inbox rows a commit of these job records consumes. */
  synchronized List<Long> rowsFor(Map<String, StoredJob> jobs) {
    if (byJob.isEmpty()) {
      return List.of();
    }
    var rows = new ArrayList<Long>();
    for (StoredJob j : jobs.values()) {
      List<Consume> l = byJob.get(j.id());
      if (l != null) {
        for (Consume c : l) {
          if (!c.needsFinal || j.state().isFinal()) {
            rows.add(c.rowId);
          }
        }
      }
    }
    return rows;
  }

  /** The commit that deleted {@code rows} succeeded: they are no longer waiting. */
  synchronized void consumed(List<Long> rows) {
    if (rows.isEmpty()) {
      return;
    }
    var done = new java.util.HashSet<>(rows);
    byJob.values().forEach(l -> l.removeIf(c -> done.contains(c.rowId)));
    byJob.values().removeIf(List::isEmpty);
  }

  /** A commit found a newer epoch: this leader is deposed. */
  void deposed() {
    if (!deposed) {
      deposed = true;
      onDeposed.run();
    }
  }

  boolean isDeposed() {
    return deposed;
  }
}
