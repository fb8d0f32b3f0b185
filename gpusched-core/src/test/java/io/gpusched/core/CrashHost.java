package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.Reconciliation;
import io.gpusched.StopReason;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The simulated GPU host of {@link FailoverCrashTest}, shared by every replica process through
 * tables of the test database: what runs where ({@code test_running}, {@code test_gpu}), the highest
 * leader epoch it has seen ({@code test_host_epoch}; calls of an older epoch are refused), and an
 * event log ({@code test_event}). Every host call is one transaction that locks the epoch row, so
 * host calls are serialized. A start of a job that already runs, or on a GPU another running job
 * holds, is recorded as {@code DOUBLE_JOB} / {@code DOUBLE_GPU}: the test fails on either.
 *
 * <p>A GPU still held on the host by a job the store shows as ended (its stop was committed, then
 * the leader died before the launcher's {@code stop} call) is released when another job starts
 * there, as {@code LATE_STOP}. Since stops are sent again by the next leader before it starts
 * anything ({@link Recovery}), the test fails on a {@code LATE_STOP} too.
 */
final class CrashHost implements JobLauncher {

  static final String[] DDL = {
    "CREATE TABLE test_host_epoch (id INTEGER PRIMARY KEY, epoch BIGINT NOT NULL)",
    "INSERT INTO test_host_epoch VALUES (1, 0)",
    "CREATE TABLE test_running (job_id VARCHAR PRIMARY KEY, epoch BIGINT NOT NULL)",
    "CREATE TABLE test_gpu (gpu VARCHAR PRIMARY KEY, job_id VARCHAR NOT NULL)",
    "CREATE TABLE test_event (id BIGSERIAL PRIMARY KEY, kind VARCHAR NOT NULL, job_id VARCHAR,"
        + " epoch BIGINT NOT NULL, detail VARCHAR, at_ms BIGINT NOT NULL)"
  };

  private final DataSource ds;
  private final double haltAtStart;
  private final java.util.Random random;
  /** The handles of the runs this process started or recovered, by job id. */
  final Map<String, JobHandle> handles = new ConcurrentHashMap<>();
  /** The cluster of the scheduler being built (set by the configuration supplier). */
  volatile @Nullable GpuCluster cluster;
  private volatile long checkedEpoch = -1;

  CrashHost(DataSource ds, double haltAtStart, long seed) {
    this.ds = ds;
    this.haltAtStart = haltAtStart;
    this.random = new java.util.Random(seed);
  }

  private interface Tx<T> {
    T run(Connection c, long hostEpoch) throws SQLException;
  }

  /**
   * Runs one host transaction with the epoch row locked; null if the call's epoch is stale. A
   * real host does not lose a stop because a database is restarting, so a call that meets the
   * test's PostgreSQL restart (a dead pooled connection, SQL state class 08 or 57P) is tried again,
   * for up to 10 s: otherwise the host kept a cancelled job "running" and the next start on its GPU
   * was recorded as a LATE_STOP that the scheduler had not caused (CI, seed 54235997032800).
   */
  private <T> @Nullable T host(JobHandle job, String kind, Tx<T> work) {
    for (int attempt = 1; ; attempt++) {
      try {
        return hostOnce(job, kind, work);
      } catch (IllegalStateException e) {
        if (!(e.getCause() instanceof SQLException sql) || !connectionLost(sql) || attempt >= 100) {
          throw e;
        }
        try {
          Thread.sleep(100);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw e;
        }
      }
    }
  }

  private static boolean connectionLost(SQLException e) {
    String state = e.getSQLState();
    return state != null && (state.startsWith("08") || state.startsWith("57P"));
  }

  private <T> @Nullable T hostOnce(JobHandle job, String kind, Tx<T> work) {
    try (Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      try {
        long hostEpoch;
        try (Statement s = c.createStatement();
            ResultSet rs = s.executeQuery("SELECT epoch FROM test_host_epoch WHERE id = 1 FOR UPDATE")) {
          rs.next();
          hostEpoch = rs.getLong(1);
        }
        long e = job.leaderEpoch();
        if (e < hostEpoch) {
          event(c, "REFUSED", job.id(), e, kind + " from epoch " + e + " after " + hostEpoch);
          c.commit();
          return null;
        }
        if (e > hostEpoch) {
          try (Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE test_host_epoch SET epoch = " + e + " WHERE id = 1");
          }
        }
        T t = work.run(c, e);
        c.commit();
        return t;
      } catch (SQLException | RuntimeException ex) {
        c.rollback();
        throw ex;
      }
    } catch (SQLException ex) {
      throw new IllegalStateException("host call failed: " + ex, ex);
    }
  }

  static void event(Connection c, String kind, @Nullable String job, long epoch, String detail)
      throws SQLException {
    try (PreparedStatement p =
        c.prepareStatement("INSERT INTO test_event (kind, job_id, epoch, detail, at_ms) VALUES (?, ?, ?, ?, ?)")) {
      p.setString(1, kind);
      p.setString(2, job);
      p.setLong(3, epoch);
      p.setString(4, detail);
      p.setLong(5, System.currentTimeMillis());
      p.executeUpdate();
    }
  }

  private static List<String> gpus(JobHandle job) {
    var out = new ArrayList<String>();
    for (Allocation a : job.allocations()) {
      for (AllocatedGpu g : a.gpus()) {
        out.add(g.nodeId() + "/" + g.gpuIndex());
      }
    }
    return out;
  }

  @Override
  public void start(JobHandle job) {
    if (random.nextDouble() < haltAtStart) {
      // a crash between the start's commit and the launcher call: the start is in the store,
      // the host never heard of it
      Runtime.getRuntime().halt(137);
    }
    List<String> gpus = gpus(job);
    host(job, "start", (c, e) -> {
      try (PreparedStatement p = c.prepareStatement("SELECT 1 FROM test_running WHERE job_id = ?")) {
        p.setString(1, job.id());
        try (ResultSet rs = p.executeQuery()) {
          if (rs.next()) {
            event(c, "DOUBLE_JOB", job.id(), e, "started while it runs");
          }
        }
      }
      for (String g : gpus) {
        String other = null;
        try (PreparedStatement p = c.prepareStatement("SELECT job_id FROM test_gpu WHERE gpu = ?")) {
          p.setString(1, g);
          try (ResultSet rs = p.executeQuery()) {
            if (rs.next()) {
              other = rs.getString(1);
            }
          }
        }
        if (other != null) {
          String state = storedState(c, other);
          if ("RUNNING".equals(state) || "PREEMPTING".equals(state)) {
            event(c, "DOUBLE_GPU", job.id(), e, g + " held by running " + other);
          } else {
            event(c, "LATE_STOP", other, e, g + " of " + other + " (" + state + ") taken by " + job.id());
          }
          remove(c, other);
        }
      }
      remove(c, job.id());
      try (PreparedStatement p = c.prepareStatement("INSERT INTO test_running (job_id, epoch) VALUES (?, ?)");
          PreparedStatement q = c.prepareStatement("INSERT INTO test_gpu (gpu, job_id) VALUES (?, ?)")) {
        p.setString(1, job.id());
        p.setLong(2, e);
        p.executeUpdate();
        for (String g : gpus) {
          q.setString(1, g);
          q.setString(2, job.id());
          q.executeUpdate();
        }
      }
      event(c, "START", job.id(), e, String.join(",", gpus));
      return Boolean.TRUE;
    });
    handles.put(job.id(), job);
  }

  private static @Nullable String storedState(Connection c, String job) throws SQLException {
    try (PreparedStatement p = c.prepareStatement("SELECT state FROM gpusched_job WHERE id = ?")) {
      p.setString(1, job);
      try (ResultSet rs = p.executeQuery()) {
        return rs.next() ? rs.getString(1) : null;
      }
    }
  }

  private static void remove(Connection c, String job) throws SQLException {
    try (PreparedStatement p = c.prepareStatement("DELETE FROM test_running WHERE job_id = ?");
        PreparedStatement q = c.prepareStatement("DELETE FROM test_gpu WHERE job_id = ?")) {
      p.setString(1, job);
      p.executeUpdate();
      q.setString(1, job);
      q.executeUpdate();
    }
  }

  @Override
  public void stop(JobHandle job, StopReason reason, Instant deadline) {
    handles.remove(job.id());
    host(job, "stop", (c, e) -> {
      remove(c, job.id());
      event(c, "STOP", job.id(), e, reason.name());
      return Boolean.TRUE;
    });
  }

  @Override
  public Reconciliation reconcile(JobHandle job) {
    if (checkedEpoch != job.leaderEpoch()) {
      checkedEpoch = job.leaderEpoch();
      checkRecovery(job.leaderEpoch());
    }
    Boolean runs =
        host(job, "reconcile", (c, e) -> {
          try (PreparedStatement p = c.prepareStatement("SELECT 1 FROM test_running WHERE job_id = ?")) {
            p.setString(1, job.id());
            try (ResultSet rs = p.executeQuery()) {
              boolean r = rs.next();
              event(c, "RECONCILE", job.id(), e, r ? "RUNNING" : "GONE");
              return r;
            }
          }
        });
    if (Boolean.TRUE.equals(runs)) {
      handles.put(job.id(), job);
      return Reconciliation.RUNNING;
    }
    return runs == null ? Reconciliation.UNKNOWN : Reconciliation.GONE;
  }

  /**
   * At the first reconcile of an epoch (all running jobs are restored, nothing else has run): the
   * engine's allocations must equal the running jobs' allocations in the store.
   */
  private void checkRecovery(long epoch) {
    GpuCluster cl = cluster;
    Map<String, Integer> engine = new TreeMap<>();
    for (var n : cl.nodes()) {
      for (Allocation a : cl.allocations(n.id())) {
        for (AllocatedGpu g : a.gpus()) {
          if (!g.nodeId().equals(n.id())) {
            continue; // a gang spread over nodes is listed with each of them: count it once
          }
          engine.merge(g.nodeId() + "/" + g.gpuIndex(), 1, Integer::sum);
        }
      }
    }
    Map<String, Integer> stored = new TreeMap<>();
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT allocations FROM gpusched_job WHERE state IN ('RUNNING', 'PREEMPTING')")) {
      while (rs.next()) {
        for (var a : SpecCodec.allocations(rs.getString(1))) {
          for (AllocatedGpu g : a.gpus()) {
            stored.merge(g.nodeId() + "/" + g.gpuIndex(), 1, Integer::sum);
          }
        }
      }
      String kind = engine.equals(stored) ? "RECOVERY_OK" : "RECOVERY_MISMATCH";
      event(c, kind, null, epoch, "engine " + engine + " store " + stored);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The host finishes a run this process knows of: it leaves the host first, then is reported
   * (a crash in between makes the next leader's reconcile find it GONE, and requeue it).
   */
  void finishOne(java.util.Random r) {
    var ids = new ArrayList<>(handles.keySet());
    if (ids.isEmpty()) {
      return;
    }
    JobHandle job = handles.get(ids.get(r.nextInt(ids.size())));
    if (job == null || job.state().isFinal()) {
      if (job != null) {
        handles.remove(job.id());
      }
      return;
    }
    Boolean done =
        host(job, "finish", (c, e) -> {
          remove(c, job.id());
          event(c, "END", job.id(), e, "completed by the host");
          return Boolean.TRUE;
        });
    if (done != null) {
      handles.remove(job.id());
      try {
        job.complete();
      } catch (RuntimeException e) {
        // the store is down or the scheduler closed: the next leader reconciles it as GONE
      }
    }
  }

  /**
   * A job the host runs now, or null: the generators cancel some of these, so that stops of
   * running jobs (and their sending again after a kill) happen in the crash test too.
   */
  @Nullable String anyRunning(java.util.Random r) {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT job_id FROM test_running ORDER BY job_id")) {
      List<String> ids = new ArrayList<>();
      while (rs.next()) {
        ids.add(rs.getString(1));
      }
      return ids.isEmpty() ? null : ids.get(r.nextInt(ids.size()));
    } catch (SQLException e) {
      return null; // the database is down: cancel something else
    }
  }
}
