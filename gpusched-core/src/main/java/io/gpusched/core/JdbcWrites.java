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
 * The writes of a {@link JdbcStore} commit, in the caller's transaction: jobs as {@link JobRows}
 * plans them (on PostgreSQL through {@link PgJobWrites}, one statement per kind; elsewhere with JDBC
 * batches, a row inserted or replaced with {@code MERGE ... KEY}); a queue with its usage rows, and
 * a node, deleted and inserted again (JDBC batches).
 */
final class JdbcWrites {
  private JdbcWrites() {}

  private static final String JOB_COLUMNS =
      "id, seq, queue_name, state, attempts, stop_reason, end_reason, submitted_at, queued_at,"
          + " started_at, ended_at, stop_deadline, start_order, accrued_cost, checkpoint_ref, spec";

  /** Other databases (H2): {@code MERGE ... KEY}, one statement per job too. */
  private static final String UPSERT_JOB_MERGE =
      "MERGE INTO gpusched_job (" + JOB_COLUMNS + ") KEY (id)"
          + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  /** H2 (and other non-PostgreSQL databases): the small columns of a row that exists. */
  private static final String UPDATE_JOB =
      "UPDATE gpusched_job SET state = ?, attempts = ?, stop_reason = ?, end_reason = ?, submitted_at = ?,"
          + " queued_at = ?, started_at = ?, ended_at = ?, stop_deadline = ?, start_order = ?,"
          + " accrued_cost = ?, checkpoint_ref = ? WHERE id = ? AND seq = ?";

  /**
   * Writes the jobs of a commit as {@code plan} says (see {@link JobRows}): the small columns of
   * rows that hold the job's submission (a job whose row is missing is written in full instead),
   * whole rows with their spec, then GPU rows deleted and inserted where they changed. On
   * PostgreSQL each kind is one statement with arrays ({@link PgJobWrites}); elsewhere one JDBC
   * batch.
   */
  static void writeJobs(Connection c, JobRows.Plan plan, boolean postgres) throws SQLException {
    List<StoredJob> missing = postgres ? PgJobWrites.update(c, plan.updates()) : update(c, plan.updates());
    JobRows.Plan p = plan.withMissing(missing);
    if (postgres) {
      PgJobWrites.upsert(c, p.full());
      PgJobWrites.deleteGpus(c, p.deleteGpus());
      PgJobWrites.insertGpus(c, p.insertGpus());
    } else {
      merge(c, p.full());
      deleteGpus(c, p.deleteGpus());
      insertGpus(c, p.insertGpus());
    }
  }

  /** The jobs whose row the update did not find (or whose count the driver did not tell). */
  private static List<StoredJob> update(Connection c, List<StoredJob> jobs) throws SQLException {
    if (jobs.isEmpty()) {
      return List.of();
    }
    int[] counts;
    try (PreparedStatement s = c.prepareStatement(UPDATE_JOB)) {
      for (StoredJob j : jobs) {
        s.setString(1, j.state().name());
        s.setInt(2, j.attempts());
        setNullable(s, 3, j.stopReason() == null ? null : j.stopReason().name());
        setNullable(s, 4, j.endReason());
        s.setLong(5, j.submittedAtMillis());
        s.setLong(6, j.queuedAtMillis());
        s.setLong(7, j.startedAtMillis());
        s.setLong(8, j.endedAtMillis());
        s.setLong(9, j.stopDeadlineMillis());
        s.setLong(10, j.startOrder());
        s.setDouble(11, j.accruedCost());
        setNullable(s, 12, j.checkpointRef());
        s.setString(13, j.id());
        s.setLong(14, j.sequence());
        s.addBatch();
      }
      counts = s.executeBatch();
    }
    var missing = new ArrayList<StoredJob>();
    for (int i = 0; i < jobs.size(); i++) {
      if (i >= counts.length || counts[i] <= 0) {
        missing.add(jobs.get(i));
      }
    }
    return missing;
  }

  private static void merge(Connection c, List<StoredJob> jobs) throws SQLException {
    if (jobs.isEmpty()) {
      return;
    }
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
        insJob.setString(16, SpecCodec.job(j.spec()));
        insJob.addBatch();
      }
      insJob.executeBatch();
    }
  }

  private static void deleteGpus(Connection c, List<StoredJob> jobs) throws SQLException {
    if (jobs.isEmpty()) {
      return;
    }
    try (PreparedStatement delGpu = c.prepareStatement("DELETE FROM gpusched_job_gpu WHERE job_id = ?")) {
      for (StoredJob j : jobs) {
        delGpu.setString(1, j.id());
        delGpu.addBatch();
      }
      delGpu.executeBatch();
    }
  }

  private static void insertGpus(Connection c, List<StoredJob> jobs) throws SQLException {
    if (jobs.isEmpty()) {
      return;
    }
    try (PreparedStatement insGpu =
        c.prepareStatement(
            "INSERT INTO gpusched_job_gpu (job_id, gang_member, pos, node_id, gpu_index, gpu_uuid,"
                + " gpu_model, gpu_mode, mig_profile, mig_start_slot, milli_gpu, memory_mib,"
                + " host_cpu_millis, host_memory_mib) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
      for (StoredJob j : jobs) {
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
          }
        }
      }
      insGpu.executeBatch();
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
