package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.store.StoredAllocation;
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
 * The writes of a {@link JdbcStore} commit, in the caller's transaction: a job's row upserted, its
 * GPU rows deleted (only where they may exist) and inserted again; a queue with its usage rows, and
 * a node, deleted and inserted again.
 *
 * <p>On PostgreSQL each kind of write is one statement for the whole batch, its rows passed as one
 * array per column ({@code INSERT ... SELECT * FROM unnest(?, ?, ...)}, {@code DELETE ... WHERE id
 * = ANY(?)}; arrays through {@link Connection#createArrayOf}, plain {@code java.sql}): PostgreSQL
 * then parses, binds and starts the executor once per kind instead of once per row, which was
 * most of a commit's time. The one exception is the delete of GPU rows, one statement per job in
 * a JDBC batch (see {@link #writeJobs}). Each key occurs once in a batch ({@link JdbcStore#commit}
 * deduplicates), as {@code ON CONFLICT DO UPDATE} requires. Elsewhere (H2) each row is one
 * statement of a JDBC batch ({@code MERGE ... KEY} for a job).
 */
final class JdbcWrites {
  private JdbcWrites() {}

  private static final String JOB_COLUMNS =
      "id, seq, queue_name, state, attempts, stop_reason, end_reason, submitted_at, queued_at,"
          + " started_at, ended_at, stop_deadline, start_order, accrued_cost, checkpoint_ref, spec";

  /** PostgreSQL: an existing job's row is rewritten in place (an update keeps its index entry). */
  private static final String JOB_ON_CONFLICT =
      " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, queue_name = EXCLUDED.queue_name,"
          + " state = EXCLUDED.state, attempts = EXCLUDED.attempts, stop_reason = EXCLUDED.stop_reason,"
          + " end_reason = EXCLUDED.end_reason, submitted_at = EXCLUDED.submitted_at,"
          + " queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,"
          + " stop_deadline = EXCLUDED.stop_deadline, start_order = EXCLUDED.start_order,"
          + " accrued_cost = EXCLUDED.accrued_cost, checkpoint_ref = EXCLUDED.checkpoint_ref,"
          + " spec = EXCLUDED.spec";

  /**
   * PostgreSQL, the whole batch in one statement: the same upsert, its rows from one array per
   * column.
   */
  private static final String UPSERT_JOBS_POSTGRES =
      "INSERT INTO gpusched_job (" + JOB_COLUMNS + ") SELECT * FROM unnest(?::varchar[], ?::bigint[],"
          + " ?::varchar[], ?::varchar[], ?::integer[], ?::varchar[], ?::varchar[], ?::bigint[], ?::bigint[],"
          + " ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::float8[], ?::varchar[], ?::varchar[])"
          + JOB_ON_CONFLICT;

  private static final String GPU_COLUMNS =
      "job_id, gang_member, pos, node_id, gpu_index, gpu_uuid, gpu_model, gpu_mode, mig_profile,"
          + " mig_start_slot, milli_gpu, memory_mib, host_cpu_millis, host_memory_mib";

  /** PostgreSQL: a batch's GPU rows in one statement, one array per column. */
  private static final String INSERT_GPUS_POSTGRES =
      "INSERT INTO gpusched_job_gpu (" + GPU_COLUMNS + ") SELECT * FROM unnest(?::varchar[], ?::integer[],"
          + " ?::integer[], ?::varchar[], ?::integer[], ?::varchar[], ?::varchar[], ?::varchar[], ?::varchar[],"
          + " ?::integer[], ?::integer[], ?::bigint[], ?::bigint[], ?::bigint[])";

  /** Other databases (H2): {@code MERGE ... KEY}, one statement per job too. */
  private static final String UPSERT_JOB_MERGE =
      "MERGE INTO gpusched_job (" + JOB_COLUMNS + ") KEY (id)"
          + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  /**
   * Writes each job's record: one upsert of its row; its GPU rows deleted if {@code mayHaveGpuRows}
   * says it may have some, then inserted for the GPUs it holds now ({@code willHaveGpuRows} is told
   * of each such job before the statements run, so that whatever the commit's outcome the job is
   * then counted as one that may have rows).
   */
  static void writeJobs(
      Connection c,
      Iterable<StoredJob> jobs,
      boolean postgres,
      java.util.function.Predicate<String> mayHaveGpuRows,
      java.util.function.Consumer<String> willHaveGpuRows,
      java.util.function.Function<io.gpusched.JobSpec, String> specText)
      throws SQLException {
    if (postgres) {
      writeJobsInArrays(c, jobs, mayHaveGpuRows, willHaveGpuRows, specText);
      return;
    }
    try (PreparedStatement delGpu = c.prepareStatement("DELETE FROM gpusched_job_gpu WHERE job_id = ?");
        PreparedStatement insJob = c.prepareStatement(UPSERT_JOB_MERGE);
        PreparedStatement insGpu =
            c.prepareStatement(
                "INSERT INTO gpusched_job_gpu (" + GPU_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      boolean anyGpu = false;
      boolean anyDelete = false;
      for (StoredJob j : jobs) {
        if (mayHaveGpuRows.test(j.id())) {
          delGpu.setString(1, j.id());
          delGpu.addBatch();
          anyDelete = true;
        }
        if (!j.allocations().isEmpty()) {
          willHaveGpuRows.accept(j.id());
        }
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
        insJob.addBatch();
        for (int m = 0; m < j.allocations().size(); m++) {
          StoredAllocation a = j.allocations().get(m);
          for (int p = 0; p < a.gpus().size(); p++) {
            AllocatedGpu g = a.gpus().get(p);
            insGpu.setString(1, j.id());
            insGpu.setInt(2, m);
            insGpu.setInt(3, p);
            insGpu.setString(4, g.nodeId());
            insGpu.setInt(5, g.gpuIndex());
            insGpu.setString(6, g.gpuUuid());
            insGpu.setString(7, g.model());
            insGpu.setString(8, g.mode().name());
            setNullable(insGpu, 9, g.migProfile());
            insGpu.setInt(10, g.migStartSlot());
            insGpu.setInt(11, g.milliGpu());
            insGpu.setLong(12, g.memoryMiB());
            insGpu.setLong(13, a.cpuMillis());
            insGpu.setLong(14, a.memoryMiB());
            insGpu.addBatch();
            anyGpu = true;
          }
        }
      }
      if (anyDelete) {
        delGpu.executeBatch();
      }
      insJob.executeBatch();
      if (anyGpu) {
        insGpu.executeBatch();
      }
    }
  }

  /** {@link #writeJobs} on PostgreSQL: at most three statements for the whole batch. */
  private static void writeJobsInArrays(
      Connection c,
      Iterable<StoredJob> jobs,
      java.util.function.Predicate<String> mayHaveGpuRows,
      java.util.function.Consumer<String> willHaveGpuRows,
      java.util.function.Function<io.gpusched.JobSpec, String> specText)
      throws SQLException {
    var delete = new ArrayList<String>();
    Columns job = new Columns(16);
    Columns gpu = new Columns(14);
    for (StoredJob j : jobs) {
      if (mayHaveGpuRows.test(j.id())) {
        delete.add(j.id());
      }
      if (!j.allocations().isEmpty()) {
        willHaveGpuRows.accept(j.id());
      }
      job.row(
          j.id(), j.sequence(), j.spec().queue(), j.state().name(), j.attempts(),
          j.stopReason() == null ? null : j.stopReason().name(), j.endReason(), j.submittedAtMillis(),
          j.queuedAtMillis(), j.startedAtMillis(), j.endedAtMillis(), j.stopDeadlineMillis(), j.startOrder(),
          j.accruedCost(), j.checkpointRef(), specText.apply(j.spec()));
      for (int m = 0; m < j.allocations().size(); m++) {
        StoredAllocation a = j.allocations().get(m);
        for (int p = 0; p < a.gpus().size(); p++) {
          AllocatedGpu g = a.gpus().get(p);
          gpu.row(
              j.id(), m, p, g.nodeId(), g.gpuIndex(), g.gpuUuid(), g.model(), g.mode().name(), g.migProfile(),
              g.migStartSlot(), g.milliGpu(), g.memoryMiB(), a.cpuMillis(), a.memoryMiB());
        }
      }
    }
    if (!delete.isEmpty()) {
      // one statement per job in a JDBC batch: "job_id = ANY(?)" gets a bitmap scan, which does not
      // mark dead index entries as a plain index scan does, and measured 1.7 ms for 16 jobs
      try (PreparedStatement del = c.prepareStatement("DELETE FROM gpusched_job_gpu WHERE job_id = ?")) {
        for (String id : delete) {
          del.setString(1, id);
          del.addBatch();
        }
        del.executeBatch();
      }
    }
    if (job.size() > 0) {
      run(c, UPSERT_JOBS_POSTGRES, JOB_TYPES, job.columns);
    }
    if (gpu.size() > 0) {
      run(c, INSERT_GPUS_POSTGRES, GPU_TYPES, gpu.columns);
    }
  }

  private static final String[] JOB_TYPES = {
    "varchar", "int8", "varchar", "varchar", "int4", "varchar", "varchar", "int8", "int8", "int8", "int8", "int8",
    "int8", "float8", "varchar", "varchar"
  };
  private static final String[] GPU_TYPES = {
    "varchar", "int4", "int4", "varchar", "int4", "varchar", "varchar", "varchar", "varchar", "int4", "int4", "int8",
    "int8", "int8"
  };
  private static final String[] NAME_TYPES = {"varchar"};
  private static final String[] QUEUE_TYPES = {"varchar", "varchar", "int8", "int8", "float8", "float8"};
  private static final String[] USAGE_TYPES = {"varchar", "varchar", "float8"};
  private static final String[] NODE_TYPES = {"varchar", "int8", "varchar", "bool", "varchar"};

  /** One statement, its parameters one array per column ({@code types}: their element types). */
  private static void run(Connection c, String sql, String[] types, List<? extends List<?>> columns)
      throws SQLException {
    var arrays = new java.sql.Array[columns.size()];
    try (PreparedStatement s = c.prepareStatement(sql)) {
      for (int i = 0; i < arrays.length; i++) {
        arrays[i] = c.createArrayOf(types[i], columns.get(i).toArray());
        s.setArray(i + 1, arrays[i]);
      }
      s.executeUpdate();
    } finally {
      for (java.sql.Array a : arrays) {
        if (a != null) {
          a.free();
        }
      }
    }
  }

  /** Rows gathered as columns, for {@link #run}. */
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

    int size() {
      return columns.get(0).size();
    }
  }

  static void writeQueues(Connection c, Iterable<StoredQueue> queues, boolean postgres) throws SQLException {
    if (postgres) {
      var names = new ArrayList<String>();
      Columns queue = new Columns(6);
      Columns usage = new Columns(3);
      for (StoredQueue q : queues) {
        String name = q.spec().name();
        names.add(name);
        queue.row(name, SpecCodec.queue(q.spec()), q.decayedAtMillis(), q.lastStart(), q.endedCost(), q.dominantShare());
        for (var e : q.decayedShare().entrySet()) {
          usage.row(name, e.getKey(), e.getValue());
        }
      }
      run(c, "DELETE FROM gpusched_queue_usage WHERE queue_name = ANY(?::varchar[])", NAME_TYPES, List.of(names));
      run(c, "DELETE FROM gpusched_queue WHERE name = ANY(?::varchar[])", NAME_TYPES, List.of(names));
      run(
          c,
          "INSERT INTO gpusched_queue (name, spec, decayed_at, last_start, ended_cost, dominant_share) SELECT * FROM"
              + " unnest(?::varchar[], ?::varchar[], ?::bigint[], ?::bigint[], ?::float8[], ?::float8[])",
          QUEUE_TYPES, queue.columns);
      if (usage.size() > 0) {
        run(
            c,
            "INSERT INTO gpusched_queue_usage (queue_name, gpu_model, decayed_share) SELECT * FROM"
                + " unnest(?::varchar[], ?::varchar[], ?::float8[])",
            USAGE_TYPES, usage.columns);
      }
      return;
    }
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

  static void writeNodes(Connection c, Iterable<StoredNode> nodes, boolean postgres) throws SQLException {
    if (postgres) {
      var ids = new ArrayList<String>();
      Columns node = new Columns(5);
      for (StoredNode n : nodes) {
        ids.add(n.spec().id());
        node.row(n.spec().id(), n.sequence(), n.state().name(), n.addedAtRunTime(), SpecCodec.node(n.spec()));
      }
      run(c, "DELETE FROM gpusched_node WHERE id = ANY(?::varchar[])", NAME_TYPES, List.of(ids));
      run(
          c,
          "INSERT INTO gpusched_node (id, seq, state, added_at_run_time, spec) SELECT * FROM"
              + " unnest(?::varchar[], ?::bigint[], ?::varchar[], ?::boolean[], ?::varchar[])",
          NODE_TYPES, node.columns);
      return;
    }
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
