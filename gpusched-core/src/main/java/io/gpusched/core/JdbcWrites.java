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
import org.jspecify.annotations.Nullable;

/**
 * The writes of a {@link JdbcStore} commit, with JDBC batches, in the caller's transaction: a job's
 * row upserted in one statement ({@code INSERT ... ON CONFLICT DO UPDATE} on PostgreSQL, {@code
 * MERGE ... KEY} elsewhere) and its GPU rows deleted (only where they may exist) and inserted
 * again; a queue with its usage rows, and a node, deleted and inserted again.
 */
final class JdbcWrites {
  private JdbcWrites() {}

  private static final String JOB_COLUMNS =
      "id, seq, queue_name, state, attempts, stop_reason, end_reason, submitted_at, queued_at,"
          + " started_at, ended_at, stop_deadline, start_order, accrued_cost, checkpoint_ref, spec";

  /** PostgreSQL: one statement inserts or rewrites a job's row (an update keeps its index entry). */
  private static final String UPSERT_JOB_POSTGRES =
      "INSERT INTO gpusched_job (" + JOB_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
          + " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, queue_name = EXCLUDED.queue_name,"
          + " state = EXCLUDED.state, attempts = EXCLUDED.attempts, stop_reason = EXCLUDED.stop_reason,"
          + " end_reason = EXCLUDED.end_reason, submitted_at = EXCLUDED.submitted_at,"
          + " queued_at = EXCLUDED.queued_at, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at,"
          + " stop_deadline = EXCLUDED.stop_deadline, start_order = EXCLUDED.start_order,"
          + " accrued_cost = EXCLUDED.accrued_cost, checkpoint_ref = EXCLUDED.checkpoint_ref,"
          + " spec = EXCLUDED.spec";

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
    try (PreparedStatement delGpu = c.prepareStatement("DELETE FROM gpusched_job_gpu WHERE job_id = ?");
        PreparedStatement insJob = c.prepareStatement(postgres ? UPSERT_JOB_POSTGRES : UPSERT_JOB_MERGE);
        PreparedStatement insGpu =
            c.prepareStatement(
                "INSERT INTO gpusched_job_gpu (job_id, gang_member, pos, node_id, gpu_index, gpu_uuid,"
                    + " gpu_model, gpu_mode, mig_profile, mig_start_slot, milli_gpu, memory_mib,"
                    + " host_cpu_millis, host_memory_mib) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
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
