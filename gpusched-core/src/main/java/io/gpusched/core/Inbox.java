package io.gpusched.core;

import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.store.StoreException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The inbox table {@code gpusched_inbox}: submits and cancels that followers accepted, in the order
 * of their ids, until the leader applies them. A follower's row is committed before its call
 * returns; the leader {@linkplain #poll polls} the rows not yet applied and deletes each
 * in the same transaction as the job change that applies it (see {@link LeaderFence}), or marks a
 * submit it cannot accept as rejected, fenced by its epoch ({@link #reject}, {@link #discard}).
 *
 * <p>Thread-safe: each call takes its own connection.
 */
final class Inbox {

  static final String SUBMIT = "SUBMIT";
  static final String CANCEL = "CANCEL";

  /** One inbox row. */
  record Row(long id, String kind, String jobId, @Nullable String spec) {}

  private final DataSource dataSource;

  Inbox(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /**
   * Writes a submission (follower). Refuses, writing nothing, a job whose id is pending or running
   * in the store or already waiting in the inbox, and a queue that neither {@code queues} nor the
   * store knows.
   *
   * @throws IllegalArgumentException naming the job and what is wrong
   * @throws StoreException if the database failed; nothing written
   */
  void offerSubmit(JobSpec spec, Set<String> queues, String replica) {
    String text = SpecCodec.job(spec);
    tx("submit job " + spec.id() + " to the inbox", c -> {
      JobState s = jobState(c, spec.id());
      if (s != null && !s.isFinal()) {
        throw new IllegalArgumentException("job " + spec.id() + " is already " + s);
      }
      if (waitingSubmit(c, spec.id())) {
        throw new IllegalArgumentException("job " + spec.id() + " is already submitted (in the inbox)");
      }
      if (!queues.contains(spec.queue()) && !storedQueue(c, spec.queue())) {
        throw new IllegalArgumentException(
            "unknown queue " + spec.queue() + " of job " + spec.id() + "; queues: " + queues);
      }
      insert(c, SUBMIT, spec.id(), text, replica);
      return Boolean.TRUE; // no result: tx needs a value
    });
  }

  /**
   * Writes a cancel request (follower) if the job is pending or running in the store, or waits in
   * the inbox as a submission.
   *
   * @return whether the request was written
   * @throws StoreException if the database failed; nothing written
   */
  boolean offerCancel(String jobId, String replica) {
    return tx("cancel job " + jobId + " through the inbox", c -> {
      JobState s = jobState(c, jobId);
      if ((s == null || s.isFinal()) && !waitingSubmit(c, jobId)) {
        return false;
      }
      insert(c, CANCEL, jobId, null, replica);
      return true;
    });
  }

  /**
   * A job's state as the store shows it, PENDING for a submission waiting in the inbox, or empty.
   *
   * @throws StoreException if the database failed
   */
  Optional<JobState> state(String jobId) {
    return tx("read job " + jobId, c -> {
      // the inbox first: a row applied between the two reads is then seen in both, not in
      // neither (its deletion commits with the job's record; see ReplicaReads)
      boolean waiting = waitingSubmit(c, jobId);
      JobState s = jobState(c, jobId);
      if (waiting && (s == null || s.isFinal())) {
        s = JobState.PENDING; // a resubmission of an ended id is newer than its record
      }
      return Optional.ofNullable(s);
    });
  }

  /** The rows after {@code afterId} that are not rejected, in id order, at most {@code limit}. */
  List<Row> poll(long afterId, int limit) {
    return tx("poll the inbox", c -> {
      var rows = new ArrayList<Row>();
      try (PreparedStatement s =
          c.prepareStatement(
              "SELECT id, kind, job_id, spec FROM gpusched_inbox WHERE id > ? AND rejected IS NULL"
                  + " ORDER BY id")) {
        s.setLong(1, afterId);
        s.setMaxRows(limit);
        try (ResultSet rs = s.executeQuery()) {
          while (rs.next()) {
            rows.add(new Row(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4)));
          }
        }
      }
      return rows;
    });
  }

  /** Marks a submission the leader cannot accept, fenced by the leader's epoch. */
  void reject(LeaderFence fence, long rowId, String reason) {
    tx("reject inbox row " + rowId, c -> {
      JdbcStore.checkEpoch(c, fence);
      try (PreparedStatement s = c.prepareStatement("UPDATE gpusched_inbox SET rejected = ? WHERE id = ?")) {
        s.setString(1, reason.length() > 2000 ? reason.substring(0, 2000) : reason);
        s.setLong(2, rowId);
        s.executeUpdate();
      }
      return Boolean.TRUE; // no result: tx needs a value
    });
  }

  /** Deletes a row that has nothing (more) to do, fenced by the leader's epoch. */
  void discard(LeaderFence fence, long rowId) {
    tx("discard inbox row " + rowId, c -> {
      JdbcStore.checkEpoch(c, fence);
      JdbcStore.deleteInboxRows(c, List.of(rowId));
      return Boolean.TRUE; // no result: tx needs a value
    });
  }

  private static @Nullable JobState jobState(Connection c, String jobId) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("SELECT state FROM gpusched_job WHERE id = ?")) {
      s.setString(1, jobId);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() ? JobState.valueOf(rs.getString(1)) : null;
      }
    }
  }

  private static boolean waitingSubmit(Connection c, String jobId) throws SQLException {
    try (PreparedStatement s =
        c.prepareStatement(
            "SELECT 1 FROM gpusched_inbox WHERE job_id = ? AND kind = 'SUBMIT' AND rejected IS NULL")) {
      s.setString(1, jobId);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next();
      }
    }
  }

  private static boolean storedQueue(Connection c, String queue) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM gpusched_queue WHERE name = ?")) {
      s.setString(1, queue);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next();
      }
    }
  }

  private static void insert(Connection c, String kind, String jobId, @Nullable String spec, String replica)
      throws SQLException {
    try (PreparedStatement s =
        c.prepareStatement("INSERT INTO gpusched_inbox (kind, job_id, spec, replica) VALUES (?, ?, ?, ?)")) {
      s.setString(1, kind);
      s.setString(2, jobId);
      s.setString(3, spec);
      s.setString(4, replica);
      s.executeUpdate();
    }
  }

  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  private <T> T tx(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        T t = work.run(c);
        c.commit();
        return t;
      } catch (SQLException | RuntimeException e) {
        try {
          c.rollback();
        } catch (SQLException | RuntimeException r) {
          e.addSuppressed(r);
        }
        if (e instanceof StoreException || e instanceof IllegalArgumentException) {
          throw (RuntimeException) e;
        }
        throw new StoreException("cannot " + what + ": " + e, e);
      }
    } catch (SQLException e) {
      throw new StoreException("cannot " + what + ": " + e, e);
    }
  }
}
