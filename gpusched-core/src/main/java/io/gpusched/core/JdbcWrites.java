package io.gpusched.core;

import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredNode;
import io.gpusched.store.StoredQueue;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The writes of a {@link JdbcStore} commit.
 *
 * <p>On PostgreSQL the whole commit is one statement ({@link #commitPostgres}): its rows are passed
 * as one array per column ({@code INSERT ... SELECT * FROM unnest(?, ?, ...)}; arrays through
 * {@link Connection#createArrayOf}, plain {@code java.sql}), so PostgreSQL parses, binds and starts
 * the executor once per commit, and the commit costs one round trip. Each key occurs once in a
 * batch ({@link JdbcStore#commit} deduplicates), as {@code ON CONFLICT DO UPDATE} requires.
 *
 * <p>Elsewhere (H2), in the caller's transaction ({@link #writeJobs}, {@link #writeQueues}, {@link
 * #writeNodes}): each row is one statement of a JDBC batch, a job's row upserted with {@code
 * MERGE ... KEY} (its allocations in it), a queue with its usage rows and a node deleted and
 * inserted again.
 */
final class JdbcWrites {
  private JdbcWrites() {}

  private static final String JOB_COLUMNS =
      "id, seq, queue_name, state, attempts, stop_reason, end_reason, submitted_at, queued_at,"
          + " started_at, ended_at, stop_deadline, start_order, accrued_cost, checkpoint_ref, spec, allocations";

  /** PostgreSQL: an existing job's row is rewritten in place (an update keeps its index entry). */
  private static final String JOB_ON_CONFLICT =
      " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, queue_name = EXCLUDED.queue_name,"
          + " state = EXCLUDED.state, attempts = EXCLUDED.attempts, stop_reason = EXCLUDED.stop_reason,"
          + " end_reason = EXCLUDED.end_reason, submitted_at = EXCLUDED.submitted_at,"
          + " queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,"
          + " stop_deadline = EXCLUDED.stop_deadline, start_order = EXCLUDED.start_order,"
          + " accrued_cost = EXCLUDED.accrued_cost, checkpoint_ref = EXCLUDED.checkpoint_ref,"
          + " spec = EXCLUDED.spec, allocations = EXCLUDED.allocations";

  /** Other databases (H2): {@code MERGE ... KEY}, one statement per job in a JDBC batch. */
  private static final String UPSERT_JOB_MERGE =
      "MERGE INTO gpusched_job (" + JOB_COLUMNS + ") KEY (id)"
          + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  /**
   * H2: writes each job's record, one upsert of its row (the GPUs it holds now in its allocations),
   * in the caller's transaction.
   */
  static void writeJobs(
      Connection c,
      Iterable<StoredJob> jobs,
      java.util.function.Function<io.gpusched.JobSpec, String> specText)
      throws SQLException {
    try (PreparedStatement insJob = c.prepareStatement(UPSERT_JOB_MERGE)) {
      for (StoredJob j : jobs) {
        insJob.setString(1, j.id());
        insJob.setLong(2, j.sequence());
        insJob.setString(3, j.spec().queue());
        insJob.setString(4, j.state().name());
        insJob.setInt(5, j.attempts());
        setNullable(insJob, 6, j.stopReason() == null ? null : j.stopReason().name());
        setNullable(insJob, 7, j.endReason());
        insJob.setLong(8, j.submittedAtMillis());
        insJob.setLong(9, j.queuedAtMillis());
        insJob.setLong(10, j.startedAtMillis());
        insJob.setLong(11, j.endedAtMillis());
        insJob.setLong(12, j.stopDeadlineMillis());
        insJob.setLong(13, j.startOrder());
        insJob.setDouble(14, j.accruedCost());
        setNullable(insJob, 15, j.checkpointRef());
        insJob.setString(16, specText.apply(j.spec()));
        setNullable(insJob, 17, SpecCodec.allocations(j.allocations()));
        insJob.addBatch();
      }
      insJob.executeBatch();
    }
  }

  /**
   * PostgreSQL: a whole commit as one statement, sent in autocommit mode, so that the batch costs
   * one round trip to the server (its implicit transaction commits when the statement ends)
   * instead of one per statement plus the {@code COMMIT}. Data-modifying {@code WITH} queries:
   * {@code f} is the fence (for a leader the conditional update of the leader row, which holds the
   * row until the end of the transaction; otherwise a constant row), and every write is gated on
   * it ({@code WHERE EXISTS (SELECT 1 FROM f)}), so a deposed leader's statement writes nothing;
   * the statement's result is the number of fence rows (0: deposed). Queue, usage and node rows
   * are upserted; usage rows of a written queue that its record no longer names are deleted. All
   * the sub-statements see one snapshot and touch disjoint rows (each key once per batch), so
   * their order does not matter. Parameters: the epoch (ignored unfenced), the inbox row ids, the
   * job columns, the queue columns, the written queue names, the usage columns, the node columns.
   */
  private static String commitStatement(boolean fenced) {
    return "WITH f AS ("
        + (fenced
            ? "UPDATE gpusched_leader SET epoch = epoch WHERE id = 1 AND epoch = ? RETURNING epoch"
            : "SELECT ?::bigint AS epoch")
        + "), ib AS (DELETE FROM gpusched_inbox WHERE id = ANY(?::bigint[]) AND EXISTS (SELECT 1 FROM f)),"
        + " j AS (INSERT INTO gpusched_job (" + JOB_COLUMNS + ") SELECT * FROM unnest(?::varchar[],"
        + " ?::bigint[], ?::varchar[], ?::varchar[], ?::integer[], ?::varchar[], ?::varchar[], ?::bigint[],"
        + " ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::float8[], ?::varchar[],"
        + " ?::varchar[], ?::varchar[]) WHERE EXISTS (SELECT 1 FROM f)" + JOB_ON_CONFLICT + "),"
        + " q AS (INSERT INTO gpusched_queue (name, spec, decayed_at, last_start, ended_cost, dominant_share)"
        + " SELECT * FROM unnest(?::varchar[], ?::varchar[], ?::bigint[], ?::bigint[], ?::float8[], ?::float8[])"
        + " WHERE EXISTS (SELECT 1 FROM f) ON CONFLICT (name) DO UPDATE SET spec = EXCLUDED.spec,"
        + " decayed_at = EXCLUDED.decayed_at, last_start = EXCLUDED.last_start,"
        + " ended_cost = EXCLUDED.ended_cost, dominant_share = EXCLUDED.dominant_share),"
        + " qn AS (SELECT * FROM unnest(?::varchar[]) AS qn(name)),"
        + " nu AS (SELECT * FROM unnest(?::varchar[], ?::varchar[], ?::float8[]) AS nu(q, m, s)),"
        + " ud AS (DELETE FROM gpusched_queue_usage d WHERE d.queue_name IN (SELECT name FROM qn)"
        + " AND NOT EXISTS (SELECT 1 FROM nu WHERE nu.q = d.queue_name AND nu.m = d.gpu_model)"
        + " AND EXISTS (SELECT 1 FROM f)),"
        + " u AS (INSERT INTO gpusched_queue_usage (queue_name, gpu_model, decayed_share) SELECT q, m, s"
        + " FROM nu WHERE EXISTS (SELECT 1 FROM f) ON CONFLICT (queue_name, gpu_model) DO UPDATE SET"
        + " decayed_share = EXCLUDED.decayed_share),"
        + " n AS (INSERT INTO gpusched_node (id, seq, state, added_at_run_time, spec) SELECT * FROM"
        + " unnest(?::varchar[], ?::bigint[], ?::varchar[], ?::boolean[], ?::varchar[])"
        + " WHERE EXISTS (SELECT 1 FROM f) ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq,"
        + " state = EXCLUDED.state, added_at_run_time = EXCLUDED.added_at_run_time, spec = EXCLUDED.spec)"
        + " SELECT count(*) FROM f";
  }

  private static final String COMMIT_FENCED = commitStatement(true);
  private static final String COMMIT_UNFENCED = commitStatement(false);

  /**
   * PostgreSQL: writes and commits a batch in one statement ({@link #commitStatement}); the
   * connection must be in autocommit mode. Returns false, having written nothing, if the fence
   * found another epoch ({@code epoch} null: unfenced, always true).
   */
  static boolean commitPostgres(
      Connection c,
      @Nullable Long epoch,
      List<Long> inboxRows,
      Iterable<StoredJob> jobs,
      Iterable<StoredQueue> queues,
      Iterable<StoredNode> nodes,
      java.util.function.Function<io.gpusched.JobSpec, String> specText)
      throws SQLException {
    Columns job = new Columns(17);
    for (StoredJob j : jobs) {
      job.row(
          j.id(), j.sequence(), j.spec().queue(), j.state().name(), j.attempts(),
          j.stopReason() == null ? null : j.stopReason().name(), j.endReason(), j.submittedAtMillis(),
          j.queuedAtMillis(), j.startedAtMillis(), j.endedAtMillis(), j.stopDeadlineMillis(), j.startOrder(),
          j.accruedCost(), j.checkpointRef(), specText.apply(j.spec()), SpecCodec.allocations(j.allocations()));
    }
    Columns queue = new Columns(6);
    var names = new ArrayList<@Nullable Object>();
    Columns usage = new Columns(3);
    for (StoredQueue q : queues) {
      String name = q.spec().name();
      names.add(name);
      queue.row(name, SpecCodec.queue(q.spec()), q.decayedAtMillis(), q.lastStart(), q.endedCost(), q.dominantShare());
      for (var e : q.decayedShare().entrySet()) {
        usage.row(name, e.getKey(), e.getValue());
      }
    }
    Columns node = new Columns(5);
    for (StoredNode n : nodes) {
      node.row(n.spec().id(), n.sequence(), n.state().name(), n.addedAtRunTime(), SpecCodec.node(n.spec()));
    }
    var columns = new ArrayList<List<@Nullable Object>>(33);
    columns.add(new ArrayList<>(inboxRows));
    columns.addAll(job.columns);
    columns.addAll(queue.columns);
    columns.add(names);
    columns.addAll(usage.columns);
    columns.addAll(node.columns);
    var arrays = new java.sql.Array[columns.size()];
    try (PreparedStatement s = c.prepareStatement(epoch == null ? COMMIT_UNFENCED : COMMIT_FENCED)) {
      s.setLong(1, epoch == null ? 0L : epoch);
      for (int i = 0; i < arrays.length; i++) {
        arrays[i] = c.createArrayOf(COMMIT_TYPES[i], columns.get(i).toArray());
        s.setArray(i + 2, arrays[i]);
      }
      try (java.sql.ResultSet rs = s.executeQuery()) {
        return rs.next() && rs.getLong(1) > 0;
      }
    } finally {
      for (java.sql.Array a : arrays) {
        if (a != null) {
          a.free();
        }
      }
    }
  }

  private static final String[] JOB_TYPES = {
    "varchar", "int8", "varchar", "varchar", "int4", "varchar", "varchar", "int8", "int8", "int8", "int8", "int8",
    "int8", "float8", "varchar", "varchar", "varchar"
  };
  private static final String[] NAME_TYPES = {"varchar"};
  private static final String[] QUEUE_TYPES = {"varchar", "varchar", "int8", "int8", "float8", "float8"};
  private static final String[] USAGE_TYPES = {"varchar", "varchar", "float8"};
  private static final String[] NODE_TYPES = {"varchar", "int8", "varchar", "bool", "varchar"};

  /** The element types of {@link #commitPostgres}'s arrays, in parameter order. */
  private static final String[] COMMIT_TYPES = concat(
      new String[] {"int8"}, JOB_TYPES, QUEUE_TYPES, NAME_TYPES, USAGE_TYPES, NODE_TYPES);

  private static String[] concat(String[]... parts) {
    var out = new ArrayList<String>();
    for (String[] p : parts) {
      out.addAll(List.of(p));
    }
    return out.toArray(String[]::new);
  }

  /** Rows gathered as columns, for {@link #commitPostgres}. */
  private static final class Columns {
    final List<List<@Nullable Object>> columns;

    Columns(int n) {
      columns = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        columns.add(new ArrayList<>());
      }
    }

    void row(@Nullable Object... values) {
      for (int i = 0; i < values.length; i++) {
        columns.get(i).add(values[i]);
      }
    }
  }

  /** H2: writes each queue's row and usage rows (deleted and inserted again), in the caller's transaction. */
  static void writeQueues(Connection c, Iterable<StoredQueue> queues) throws SQLException {
    try (PreparedStatement delUsage = c.prepareStatement("DELETE FROM gpusched_queue_usage WHERE queue_name = ?");
        PreparedStatement delQueue = c.prepareStatement("DELETE FROM gpusched_queue WHERE name = ?");
        PreparedStatement insQueue =
            c.prepareStatement(
                "INSERT INTO gpusched_queue (name, spec, decayed_at, last_start, ended_cost, dominant_share)"
                    + " VALUES (?, ?, ?, ?, ?, ?)");
        PreparedStatement insUsage =
            c.prepareStatement(
                "INSERT INTO gpusched_queue_usage (queue_name, gpu_model, decayed_share) VALUES (?, ?, ?)")) {
      boolean anyUsage = false;
      for (StoredQueue q : queues) {
        String name = q.spec().name();
        delUsage.setString(1, name);
        delUsage.addBatch();
        delQueue.setString(1, name);
        delQueue.addBatch();
        insQueue.setString(1, name);
        insQueue.setString(2, SpecCodec.queue(q.spec()));
        insQueue.setLong(3, q.decayedAtMillis());
        insQueue.setLong(4, q.lastStart());
        insQueue.setDouble(5, q.endedCost());
        insQueue.setDouble(6, q.dominantShare());
        insQueue.addBatch();
        for (var e : q.decayedShare().entrySet()) {
          insUsage.setString(1, name);
          insUsage.setString(2, e.getKey());
          insUsage.setDouble(3, e.getValue());
          insUsage.addBatch();
          anyUsage = true;
        }
      }
      delUsage.executeBatch();
      delQueue.executeBatch();
      insQueue.executeBatch();
      if (anyUsage) {
        insUsage.executeBatch();
      }
    }
  }

  /** H2: writes each node's row (deleted and inserted again), in the caller's transaction. */
  static void writeNodes(Connection c, Iterable<StoredNode> nodes) throws SQLException {
    try (PreparedStatement del = c.prepareStatement("DELETE FROM gpusched_node WHERE id = ?");
        PreparedStatement ins =
            c.prepareStatement(
                "INSERT INTO gpusched_node (id, seq, state, added_at_run_time, spec) VALUES (?, ?, ?, ?, ?)")) {
      for (StoredNode n : nodes) {
        del.setString(1, n.spec().id());
        del.addBatch();
        ins.setString(1, n.spec().id());
        ins.setLong(2, n.sequence());
        ins.setString(3, n.state().name());
        ins.setBoolean(4, n.addedAtRunTime());
        ins.setString(5, SpecCodec.node(n.spec()));
        ins.addBatch();
      }
      del.executeBatch();
      ins.executeBatch();
    }
  }

  private static void setNullable(PreparedStatement s, int i, @Nullable String v) throws SQLException {
    if (v == null) {
      s.setNull(i, Types.VARCHAR);
    } else {
      s.setString(i, v);
    }
  }
}
