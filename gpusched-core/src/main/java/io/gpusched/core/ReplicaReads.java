package io.gpusched.core;

import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.StopReason;
import io.gpusched.store.CommittedJob;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredAllocation;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The reads any replica serves from the database ({@link Replica#job}, {@link Replica#pending},
 * {@link Replica#jobCounts}, {@link Replica#queues}, {@link Replica#nodes}): queries of the job,
 * GPU, inbox, queue and node tables, read only. Kept apart from
 * {@link JdbcStore}, which owns the schema and the writes.
 *
 * <p>Each read looks at the inbox <em>before</em> the job table. The leader deletes an inbox row in
 * the same transaction that commits the job change applying it, and on PostgreSQL (read committed)
 * each statement sees the commits made before it started: read the other way round, a row applied
 * between the two statements would be seen in neither. Read this way it may be seen in both, and
 * the committed record wins.
 *
 * <p>Thread-safe: each call takes its own connection.
 */
final class ReplicaReads {

  private static final String JOB_COLUMNS =
      "id, state, attempts, stop_reason, end_reason, submitted_at, started_at, ended_at, spec, allocations";

  private final DataSource dataSource;

  ReplicaReads(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /** The job's committed record, or its waiting submission, or empty. */
  Optional<CommittedJob> job(String jobId) {
    return read("read job " + jobId, c -> {
      CommittedJob waiting = null;
      for (CommittedJob w : waiting(c, jobId, null)) {
        waiting = w;
      }
      List<CommittedJob> rows = jobs(c, "id = ?", jobId, 1);
      CommittedJob committed = rows.isEmpty() ? null : rows.get(0);
      if (committed != null && (waiting == null || !committed.state().isFinal())) {
        return Optional.of(committed); // a waiting resubmission of an ended id is newer
      }
      return Optional.ofNullable(waiting);
    });
  }

  /** The committed pending jobs of a queue in submission order, then its waiting submissions. */
  List<CommittedJob> pending(String queue, int limit) {
    if (limit <= 0) {
      throw new IllegalArgumentException("limit must be > 0, was " + limit);
    }
    return read("read the pending jobs of queue " + queue, c -> {
      List<CommittedJob> inbox = waiting(c, null, queue);
      List<CommittedJob> out =
          new ArrayList<>(jobs(c, "queue_name = ? AND state = 'PENDING' ORDER BY seq", queue, limit));
      Set<String> ids = new HashSet<>();
      out.forEach(j -> ids.add(j.id()));
      for (CommittedJob w : inbox) {
        if (out.size() >= limit) {
          break;
        }
        if (ids.add(w.id())) {
          out.add(w);
        }
      }
      return out;
    });
  }

  /** Jobs per state, waiting submissions as PENDING. */
  Map<JobState, Long> jobCounts() {
    return read("count the jobs", c -> {
      long waiting;
      try (PreparedStatement s =
              c.prepareStatement(
                  "SELECT COUNT(*) FROM gpusched_inbox WHERE kind = '" + Inbox.SUBMIT + "' AND rejected IS NULL");
          ResultSet rs = s.executeQuery()) {
        rs.next();
        waiting = rs.getLong(1);
      }
      Map<JobState, Long> out = new EnumMap<>(JobState.class);
      try (PreparedStatement s = c.prepareStatement("SELECT state, COUNT(*) FROM gpusched_job GROUP BY state");
          ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          out.put(JobState.valueOf(rs.getString(1)), rs.getLong(2));
        }
      }
      if (waiting > 0) {
        out.merge(JobState.PENDING, waiting, Long::sum);
      }
      return out;
    });
  }

  /** The committed queue records, with their usage. */
  List<io.gpusched.store.StoredQueue> queues() {
    return read("read the queues", c -> JdbcStore.readQueues(c, dataSource));
  }

  /** The committed node records, in the order they were added. */
  List<io.gpusched.store.StoredNode> nodes() {
    return read("read the nodes", c -> JdbcStore.readNodes(c, dataSource));
  }

  /** Waiting submissions of one job, or of one queue (decoding each spec), in inbox order. */
  private static List<CommittedJob> waiting(Connection c, @Nullable String jobId, @Nullable String queue)
      throws SQLException {
    String sql =
        "SELECT job_id, spec FROM gpusched_inbox WHERE kind = '" + Inbox.SUBMIT + "' AND rejected IS NULL"
            + (jobId != null ? " AND job_id = ?" : "") + " ORDER BY id";
    var out = new ArrayList<CommittedJob>();
    try (PreparedStatement s = c.prepareStatement(sql)) {
      if (jobId != null) {
        s.setString(1, jobId);
      }
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          JobSpec spec = spec(rs.getString(1), rs.getString(2), "inbox");
          if (queue == null || queue.equals(spec.queue())) {
            out.add(new CommittedJob(spec, JobState.PENDING, 0, null, null, -1, -1, -1, List.of(), true));
          }
        }
      }
    }
    return out;
  }

  /** Committed jobs matching {@code where} (one string parameter), with their GPUs. */
  private static List<CommittedJob> jobs(Connection c, String where, String arg, int limit) throws SQLException {
    var out = new ArrayList<CommittedJob>();
    try (PreparedStatement s = c.prepareStatement("SELECT " + JOB_COLUMNS + " FROM gpusched_job WHERE " + where)) {
      s.setString(1, arg);
      s.setMaxRows(limit);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          String id = rs.getString(1);
          JobState state;
          StopReason why;
          try {
            state = JobState.valueOf(rs.getString(2));
            String w = rs.getString(4);
            why = w == null ? null : StopReason.valueOf(w);
          } catch (IllegalArgumentException e) {
            throw new StoreException("the store holds job " + id + " that cannot be read: " + e, e);
          }
          JobSpec spec = spec(id, rs.getString(9), "job table");
          List<StoredAllocation> allocs;
          try {
            allocs = state.holdsGpus() ? SpecCodec.allocations(rs.getString(10)) : List.of();
          } catch (IllegalArgumentException e) {
            throw new StoreException("the store holds job " + id + " whose allocations cannot be read: " + e, e);
          }
          out.add(
              new CommittedJob(
                  spec, state, rs.getInt(3), why, rs.getString(5), rs.getLong(6), rs.getLong(7),
                  rs.getLong(8), allocs, false));
        }
      }
    }
    return out;
  }

  private static JobSpec spec(String id, @Nullable String text, String where) {
    try {
      return SpecCodec.job(java.util.Objects.requireNonNull(text, "spec"));
    } catch (RuntimeException e) {
      throw new StoreException("the store holds job " + id + " (" + where + ") whose spec cannot be read: " + e, e);
    }
  }

  private interface Work<T> {
    T run(Connection c) throws SQLException;
  }

  /** One read-only transaction, rolled back at the end (it wrote nothing). */
  private <T> T read(String what, Work<T> work) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        return work.run(c);
      } finally {
        c.rollback();
      }
    } catch (SQLException e) {
      throw new StoreException("cannot " + what + ": " + SqlStates.describe(e), e);
    }
  }
}
