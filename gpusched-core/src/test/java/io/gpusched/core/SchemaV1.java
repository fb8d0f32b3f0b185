package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.store.StoredAllocation;
import io.gpusched.store.StoredJob;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import javax.sql.DataSource;

/**
 * Turns a store of the current schema into one of schema version 1, as a build of that version
 * wrote it: each running job's GPUs as rows of {@code gpusched_job_gpu}, no {@code allocations}
 * column. For the migration tests.
 */
final class SchemaV1 {
  private SchemaV1() {}

  /** Version 1's GPU table, as that version created it. */
  static final String GPU_TABLE =
      "CREATE TABLE gpusched_job_gpu (job_id VARCHAR NOT NULL, gang_member INTEGER NOT NULL,"
          + " pos INTEGER NOT NULL, node_id VARCHAR NOT NULL, gpu_index INTEGER NOT NULL,"
          + " gpu_uuid VARCHAR NOT NULL, gpu_model VARCHAR NOT NULL, gpu_mode VARCHAR(16) NOT NULL,"
          + " mig_profile VARCHAR, mig_start_slot INTEGER NOT NULL, milli_gpu INTEGER NOT NULL,"
          + " memory_mib BIGINT NOT NULL, host_cpu_millis BIGINT NOT NULL,"
          + " host_memory_mib BIGINT NOT NULL, PRIMARY KEY (job_id, gang_member, pos))";

  /** Rewrites the store at {@code ds} (holding exactly {@code jobs}) in version 1's layout. */
  static void downgrade(DataSource ds, Iterable<StoredJob> jobs) throws SQLException {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.executeUpdate(GPU_TABLE);
      }
      try (PreparedStatement ins =
          c.prepareStatement(
              "INSERT INTO gpusched_job_gpu (job_id, gang_member, pos, node_id, gpu_index, gpu_uuid, gpu_model,"
                  + " gpu_mode, mig_profile, mig_start_slot, milli_gpu, memory_mib, host_cpu_millis,"
                  + " host_memory_mib) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        for (StoredJob j : jobs) {
          for (int m = 0; m < j.allocations().size(); m++) {
            StoredAllocation a = j.allocations().get(m);
            for (int p = 0; p < a.gpus().size(); p++) {
              AllocatedGpu g = a.gpus().get(p);
              ins.setString(1, j.id());
              ins.setInt(2, m);
              ins.setInt(3, p);
              ins.setString(4, g.nodeId());
              ins.setInt(5, g.gpuIndex());
              ins.setString(6, g.gpuUuid());
              ins.setString(7, g.model());
              ins.setString(8, g.mode().name());
              if (g.migProfile() == null) {
                ins.setNull(9, Types.VARCHAR);
              } else {
                ins.setString(9, g.migProfile());
              }
              ins.setInt(10, g.migStartSlot());
              ins.setInt(11, g.milliGpu());
              ins.setLong(12, g.memoryMiB());
              ins.setLong(13, a.cpuMillis());
              ins.setLong(14, a.memoryMiB());
              ins.executeUpdate();
            }
          }
        }
      }
      try (Statement s = c.createStatement()) {
        s.executeUpdate("ALTER TABLE gpusched_job DROP COLUMN allocations");
        s.executeUpdate("UPDATE gpusched_schema SET version = 1");
      }
      c.commit();
    }
  }
}
