package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuMode;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredAllocation;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a {@link JdbcStore}'s schema from an older version to {@link JdbcStore#SCHEMA_VERSION},
 * one version at a time, in the caller's transaction (its auto-commit off).
 *
 * <ul>
 *   <li><b>1 to 2:</b> a running job's GPUs move from {@code gpusched_job_gpu} (one row per GPU) to
 *       a JSON column {@code allocations} of its {@code gpusched_job} row ({@link
 *       SpecCodec#allocations(java.util.List)}); the table is dropped. A commit then writes one row
 *       per job instead of a job row, a delete and an insert of GPU rows.
 * </ul>
 *
 * <p>Each step first locks the version row and reads it again, so two replicas starting together
 * migrate once (the second finds the new version). On PostgreSQL a step is one transaction (DDL is
 * transactional). H2 commits at each DDL statement, so a step is written to be run again after a
 * crash part way: the column is added only if missing, the GPU rows are read only if their table
 * still exists, and the version row moves last.
 */
final class SchemaMigrations {
  private static final Logger LOG = LoggerFactory.getLogger(SchemaMigrations.class);

  private SchemaMigrations() {}

  /**
   * Migrates the store from schema version {@code from} and commits.
   *
   * @throws StoreException if the stored data cannot be carried over (a corrupt store); nothing is
   *     then committed on PostgreSQL
   * @throws SQLException if the database refuses (a read-only database, a lost connection)
   */
  static void migrate(Connection c, int from, String store) throws SQLException {
    for (int v = from; v < JdbcStore.SCHEMA_VERSION; v++) {
      if (v != 1) {
        throw new IllegalStateException("no migration from schema version " + v);
      }
      from1To2(c, store);
    }
  }

  private static void from1To2(Connection c, String store) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT version FROM gpusched_schema WHERE id = 1 FOR UPDATE")) {
      if (!rs.next() || rs.getInt(1) != 1) {
        c.rollback(); // another replica migrated meanwhile
        return;
      }
    }
    LOG.info("gpusched: migrating the store {} from schema version 1 to 2 (GPU rows into the job rows)", store);
    try (Statement s = c.createStatement()) {
      s.executeUpdate("ALTER TABLE gpusched_job ADD COLUMN IF NOT EXISTS allocations VARCHAR");
    }
    int jobs = 0;
    if (tableExists(c, "gpusched_job_gpu")) {
      Map<String, TreeMap<Integer, Member>> gpus = new LinkedHashMap<>();
      try (Statement s = c.createStatement();
          ResultSet rs =
              s.executeQuery(
                  "SELECT job_id, gang_member, node_id, gpu_index, gpu_uuid, gpu_model, gpu_mode, mig_profile,"
                      + " mig_start_slot, milli_gpu, memory_mib, host_cpu_millis, host_memory_mib"
                      + " FROM gpusched_job_gpu ORDER BY job_id, gang_member, pos")) {
        while (rs.next()) {
          String job = rs.getString(1);
          int member = rs.getInt(2);
          AllocatedGpu g;
          try {
            g =
                new AllocatedGpu(
                    rs.getString(3), rs.getInt(4), rs.getString(5), rs.getString(6),
                    GpuMode.valueOf(rs.getString(7)), rs.getString(8), rs.getInt(9), rs.getInt(10),
                    rs.getLong(11));
          } catch (IllegalArgumentException | NullPointerException e) {
            throw new StoreException(
                "the store " + store + " holds gpusched_job_gpu rows of job " + job + " that cannot be read: " + e
                    + "; schema version 1 kept",
                e);
          }
          long cpu = rs.getLong(12);
          long memory = rs.getLong(13);
          gpus.computeIfAbsent(job, k -> new TreeMap<>())
              .computeIfAbsent(member, k -> new Member(new ArrayList<>(), cpu, memory))
              .gpus()
              .add(g);
        }
      }
      try (PreparedStatement u = c.prepareStatement("UPDATE gpusched_job SET allocations = ? WHERE id = ?")) {
        for (var e : gpus.entrySet()) {
          var allocs = new ArrayList<StoredAllocation>();
          for (Member m : e.getValue().values()) {
            allocs.add(new StoredAllocation(m.gpus(), m.cpuMillis(), m.memoryMiB()));
          }
          u.setString(1, SpecCodec.allocations(allocs));
          u.setString(2, e.getKey());
          if (u.executeUpdate() != 1) {
            throw new StoreException(
                "the store " + store + " holds gpusched_job_gpu rows of job " + e.getKey()
                    + ", which has no gpusched_job row: a corrupt store; schema version 1 kept");
          }
          jobs++;
        }
      }
      try (Statement s = c.createStatement()) {
        s.executeUpdate("DROP TABLE gpusched_job_gpu");
      }
    }
    try (Statement s = c.createStatement()) {
      s.executeUpdate("UPDATE gpusched_schema SET version = 2, written_by = 'gpusched' WHERE id = 1");
    }
    c.commit();
    LOG.info("gpusched: the store {} is at schema version 2 ({} jobs' GPUs carried over)", store, jobs);
  }

  /** A gang member's GPUs and host charges, as version 1 stored them (on each of its GPU rows). */
  private record Member(List<AllocatedGpu> gpus, long cpuMillis, long memoryMiB) {}

  /** Whether {@code table} exists in the connection's current schema (H2 and PostgreSQL). */
  private static boolean tableExists(Connection c, String table) throws SQLException {
    try (PreparedStatement s =
        c.prepareStatement(
            "SELECT COUNT(*) FROM information_schema.tables WHERE LOWER(table_name) = ?"
                + " AND LOWER(table_schema) = LOWER(CURRENT_SCHEMA)")) {
      s.setString(1, table);
      try (ResultSet rs = s.executeQuery()) {
        return rs.next() && rs.getInt(1) > 0;
      }
    }
  }
}
