package io.gpusched.core;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * The deletes of {@link JdbcStore#pruneFinishedJobs}, in the caller's transaction (after its fence
 * check): final jobs that ended before a time, oldest first, and rejected inbox rows beyond the
 * newest {@link JdbcStore#KEEP_REJECTED}. A job's GPU rows need no delete: a final job has none.
 */
final class JdbcPruning {
  private JdbcPruning() {}

  /** Deletes up to {@code limit} final jobs that ended before {@code endedBeforeMillis}. */
  static int deleteFinished(Connection c, long endedBeforeMillis, int limit) throws SQLException {
    // the predicate is repeated outside the subquery: a row replaced meanwhile (its id reused
    // by a new submission) no longer matches it when the delete reaches it
    try (PreparedStatement del =
        c.prepareStatement(
            "DELETE FROM gpusched_job WHERE state IN ('COMPLETED', 'FAILED', 'CANCELLED')"
                + " AND ended_at < ? AND id IN (SELECT id FROM gpusched_job WHERE state IN"
                + " ('COMPLETED', 'FAILED', 'CANCELLED') AND ended_at < ? ORDER BY ended_at, id LIMIT ?)")) {
      del.setLong(1, endedBeforeMillis);
      del.setLong(2, endedBeforeMillis);
      del.setInt(3, limit);
      return del.executeUpdate();
    }
  }

  /** Deletes up to {@code limit} rejected inbox rows older than the newest {@link JdbcStore#KEEP_REJECTED}. */
  static void deleteRejected(Connection c, int limit) throws SQLException {
    long below = -1;
    try (PreparedStatement q =
        c.prepareStatement(
            "SELECT id FROM gpusched_inbox WHERE rejected IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET ?")) {
      q.setInt(1, JdbcStore.KEEP_REJECTED - 1);
      try (ResultSet rs = q.executeQuery()) {
        if (rs.next()) {
          below = rs.getLong(1); // the oldest of the newest KEEP_REJECTED
        }
      }
    }
    if (below < 0) {
      return;
    }
    try (PreparedStatement del =
        c.prepareStatement(
            "DELETE FROM gpusched_inbox WHERE rejected IS NOT NULL AND id < ? AND id IN (SELECT id FROM"
                + " gpusched_inbox WHERE rejected IS NOT NULL AND id < ? ORDER BY id LIMIT ?)")) {
      del.setLong(1, below);
      del.setLong(2, below);
      del.setInt(3, limit);
      del.executeUpdate();
    }
  }
}
