package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.store.StoredAllocation;
import io.gpusched.store.StoredJob;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The job writes of a {@link JdbcStore} commit on PostgreSQL: each kind of write is <em>one</em>
 * statement for the whole batch, its values passed as arrays and expanded with {@code unnest}
 * (one statement per table, however many jobs; a JDBC batch would run one statement per row).
 * A probe on this project's 2-core VM measured less PostgreSQL CPU per job record than with JDBC
 * batches of the same rows (see docs/benchmarks.md). The driver's {@code reWriteBatchedInserts}
 * option is not needed (and does not apply to these statements).
 */
final class PgJobWrites {
  private PgJobWrites() {}

  private static final String SMALL_SET =
      "state = u.state, attempts = u.attempts, stop_reason = u.stop_reason, end_reason = u.end_reason,"
          + " submitted_at = u.submitted_at, queued_at = u.queued_at, started_at = u.started_at,"
          + " ended_at = u.ended_at, stop_deadline = u.stop_deadline, start_order = u.start_order,"
          + " accrued_cost = u.accrued_cost, checkpoint_ref = u.checkpoint_ref";

  private static final String ARRAYS =
      "CAST(? AS varchar[]), CAST(? AS int8[]), CAST(? AS varchar[]), CAST(? AS int4[]),"
          + " CAST(? AS varchar[]), CAST(? AS varchar[]), CAST(? AS int8[]), CAST(? AS int8[]),"
          + " CAST(? AS int8[]), CAST(? AS int8[]), CAST(? AS int8[]), CAST(? AS int8[]),"
          + " CAST(? AS float8[]), CAST(? AS varchar[])";

  /** The small columns of the rows that exist: no spec, no queue; HOT updates (no index changes). */
  private static final String UPDATE =
      "UPDATE gpusched_job j SET " + SMALL_SET + " FROM unnest(" + ARRAYS + ") AS u(id, seq, state, attempts,"
          + " stop_reason, end_reason, submitted_at, queued_at, started_at, ended_at, stop_deadline,"
          + " start_order, accrued_cost, checkpoint_ref) WHERE j.id = u.id AND j.seq = u.seq RETURNING j.id";

  private static final String UPSERT =
      "INSERT INTO gpusched_job (id, seq, state, attempts, stop_reason, end_reason, submitted_at,"
          + " queued_at, started_at, ended_at, stop_deadline, start_order, accrued_cost, checkpoint_ref,"
          + " queue_name, spec) SELECT * FROM unnest(" + ARRAYS + ", CAST(? AS varchar[]), CAST(? AS varchar[]))"
          + " ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, queue_name = EXCLUDED.queue_name,"
          + " spec = EXCLUDED.spec, "
          + SMALL_SET.replace("u.", "EXCLUDED.");

  /**
   * Updates the small columns of {@code jobs}' rows where the row of that submission exists.
   *
   * @return the jobs whose row was not there (to be written in full)
   */
  static List<StoredJob> update(Connection c, List<StoredJob> jobs) throws SQLException {
    if (jobs.isEmpty()) {
      return List.of();
    }
    Set<String> updated = new HashSet<>();
    try (PreparedStatement s = c.prepareStatement(UPDATE)) {
      bindSmall(c, s, jobs);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          updated.add(rs.getString(1));
        }
      }
    }
    if (updated.size() == jobs.size()) {
      return List.of();
    }
    var missing = new ArrayList<StoredJob>();
    for (StoredJob j : jobs) {
      if (!updated.contains(j.id())) {
        missing.add(j);
      }
    }
    return missing;
  }

  /** Inserts or replaces {@code jobs}' whole rows, spec included. */
  static void upsert(Connection c, List<StoredJob> jobs) throws SQLException {
    if (jobs.isEmpty()) {
      return;
    }
    int n = jobs.size();
    String[] queue = new String[n];
    String[] spec = new String[n];
    for (int i = 0; i < n; i++) {
      StoredJob j = jobs.get(i);
      queue[i] = j.spec().queue();
      spec[i] = SpecCodec.job(j.spec());
    }
    try (PreparedStatement s = c.prepareStatement(UPSERT)) {
      bindSmall(c, s, jobs);
      s.setArray(15, c.createArrayOf("varchar", queue));
      s.setArray(16, c.createArrayOf("varchar", spec));
      s.executeUpdate();
    }
  }

  private static void bindSmall(Connection c, PreparedStatement s, List<StoredJob> jobs) throws SQLException {
    int n = jobs.size();
    String[] id = new String[n];
    Long[] seq = new Long[n];
    String[] state = new String[n];
    Integer[] attempts = new Integer[n];
    String[] stopReason = new String[n];
    String[] endReason = new String[n];
    Long[] submitted = new Long[n];
    Long[] queued = new Long[n];
    Long[] started = new Long[n];
    Long[] ended = new Long[n];
    Long[] deadline = new Long[n];
    Long[] startOrder = new Long[n];
    Double[] cost = new Double[n];
    String[] checkpoint = new String[n];
    for (int i = 0; i < n; i++) {
      StoredJob j = jobs.get(i);
      id[i] = j.id();
      seq[i] = j.sequence();
      state[i] = j.state().name();
      attempts[i] = j.attempts();
      stopReason[i] = j.stopReason() == null ? null : j.stopReason().name();
      endReason[i] = j.endReason();
      submitted[i] = j.submittedAtMillis();
      queued[i] = j.queuedAtMillis();
      started[i] = j.startedAtMillis();
      ended[i] = j.endedAtMillis();
      deadline[i] = j.stopDeadlineMillis();
      startOrder[i] = j.startOrder();
      cost[i] = j.accruedCost();
      checkpoint[i] = j.checkpointRef();
    }
    Object[][] columns = {
      id, seq, state, attempts, stopReason, endReason, submitted, queued, started, ended, deadline, startOrder,
      cost, checkpoint
    };
    String[] types = {
      "varchar", "int8", "varchar", "int4", "varchar", "varchar", "int8", "int8", "int8", "int8", "int8", "int8",
      "float8", "varchar"
    };
    for (int i = 0; i < columns.length; i++) {
      s.setArray(i + 1, c.createArrayOf(types[i], columns[i]));
    }
  }

  /** Deletes the GPU rows of {@code jobs}. */
  static void deleteGpus(Connection c, List<StoredJob> jobs) throws SQLException {
    if (jobs.isEmpty()) {
      return;
    }
    String[] ids = new String[jobs.size()];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = jobs.get(i).id();
    }
    try (PreparedStatement s = c.prepareStatement("DELETE FROM gpusched_job_gpu WHERE job_id = ANY (CAST(? AS varchar[]))")) {
      Array a = c.createArrayOf("varchar", ids);
      s.setArray(1, a);
      s.executeUpdate();
    }
  }

  /** Inserts the GPU rows of {@code jobs}' allocations. */
  static void insertGpus(Connection c, List<StoredJob> jobs) throws SQLException {
    var rows = new ArrayList<Object[]>();
    for (StoredJob j : jobs) {
      for (int m = 0; m < j.allocations().size(); m++) {
        StoredAllocation a = j.allocations().get(m);
        for (int p = 0; p < a.gpus().size(); p++) {
          AllocatedGpu g = a.gpus().get(p);
          rows.add(
              new Object[] {
                j.id(), m, p, g.nodeId(), g.gpuIndex(), g.gpuUuid(), g.model(), g.mode().name(), g.migProfile(),
                g.migStartSlot(), g.milliGpu(), g.memoryMiB(), a.cpuMillis(), a.memoryMiB()
              });
        }
      }
    }
    if (rows.isEmpty()) {
      return;
    }
    String[] types = {
      "varchar", "int4", "int4", "varchar", "int4", "varchar", "varchar", "varchar", "varchar", "int4", "int4", "int8",
      "int8", "int8"
    };
    Object[][] columns = new Object[types.length][];
    for (int col = 0; col < types.length; col++) {
      Object[] values =
          switch (types[col]) {
            case "int4" -> new Integer[rows.size()];
            case "int8" -> new Long[rows.size()];
            default -> new String[rows.size()];
          };
      for (int r = 0; r < rows.size(); r++) {
        values[r] = rows.get(r)[col];
      }
      columns[col] = values;
    }
    var sql = new StringBuilder(
        "INSERT INTO gpusched_job_gpu (job_id, gang_member, pos, node_id, gpu_index, gpu_uuid, gpu_model,"
            + " gpu_mode, mig_profile, mig_start_slot, milli_gpu, memory_mib, host_cpu_millis, host_memory_mib)"
            + " SELECT * FROM unnest(");
    for (int col = 0; col < types.length; col++) {
      sql.append(col == 0 ? "" : ", ").append("CAST(? AS ").append(types[col]).append("[])");
    }
    sql.append(')');
    try (PreparedStatement s = c.prepareStatement(sql.toString())) {
      for (int col = 0; col < types.length; col++) {
        s.setArray(col + 1, c.createArrayOf(types[col], columns[col]));
      }
      s.executeUpdate();
    }
  }
}
