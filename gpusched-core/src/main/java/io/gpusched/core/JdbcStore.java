package io.gpusched.core;

import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeState;
import io.gpusched.StopReason;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredAllocation;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredNode;
import io.gpusched.store.StoredQueue;
import io.gpusched.store.StoredState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link SchedulerStore} in a relational database, through {@code java.sql} only.
 *
 * <h2>Schema</h2>
 *
 * Version {@value #SCHEMA_VERSION}: {@code gpusched_schema} (one row: the version), {@code
 * gpusched_job} (one row per job; its spec as JSON text, and the allocations of a job that holds
 * GPUs as JSON text too, see {@link SpecCodec}), {@code gpusched_queue} and {@code
 * gpusched_queue_usage} (decayed share per GPU model), {@code gpusched_node}, and for replicas
 * {@code gpusched_leader} (one row: the lease and epoch, see {@link LeaseElection}) and {@code
 * gpusched_inbox} (followers' submits and cancels, see {@link Inbox}). Plain types only
 * ({@code VARCHAR}, {@code INTEGER}, {@code BIGINT}, {@code DOUBLE PRECISION}, {@code BOOLEAN}),
 * meant to work on H2 2.x and PostgreSQL 15 alike.
 *
 * <p>The first call checks the schema once: a missing {@code gpusched_schema} with none of the
 * other tables present creates them all and the version row, then commits (one transaction where
 * DDL is transactional, as on PostgreSQL; H2 commits each {@code CREATE TABLE}); a version row of
 * another version, a missing version row, or gpusched tables without {@code gpusched_schema}
 * (foreign or damaged) throw {@link StoreException} naming both versions, writing nothing. A
 * store of an older version is migrated first ({@link SchemaMigrations}).
 *
 * <h2>Commits</h2>
 *
 * One connection and one transaction per {@link #commit}: the batch's records are deduplicated
 * (the last change of a key wins), then written and committed; any failure rolls back. On
 * PostgreSQL the whole batch is <em>one statement</em> in autocommit mode ({@link
 * JdbcWrites#commitPostgres}: data-modifying {@code WITH} queries, rows as one array per column,
 * every write gated on the fence), so a commit is one round trip to the server whatever the number
 * of rows; a job's, queue's, usage and node rows are upserted ({@code INSERT ... ON CONFLICT DO
 * UPDATE}). Elsewhere (H2) a handful of statements per commit in one transaction: a job's row
 * upserted with {@code MERGE ... KEY}, queue and node rows deleted and inserted again.
 * Thread-safe: each call takes its own connection.
 */
final class JdbcStore implements SchedulerStore {

  private static final Logger LOG = LoggerFactory.getLogger(JdbcStore.class);

  /** The schema version this code reads and writes. */
  static final int SCHEMA_VERSION = 2;

  static final List<String> TABLES =
      List.of(
          "gpusched_job", "gpusched_queue", "gpusched_queue_usage", "gpusched_node",
          "gpusched_leader", "gpusched_inbox");

  private static final List<String> DDL =
      List.of(
          "CREATE TABLE gpusched_schema (id INTEGER NOT NULL PRIMARY KEY, version INTEGER NOT NULL,"
              + " written_by VARCHAR(200) NOT NULL)",
          "CREATE TABLE gpusched_job (id VARCHAR NOT NULL PRIMARY KEY, seq BIGINT NOT NULL,"
              + " queue_name VARCHAR NOT NULL, state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL,"
              + " stop_reason VARCHAR(32), end_reason VARCHAR, submitted_at BIGINT NOT NULL,"
              + " queued_at BIGINT NOT NULL, started_at BIGINT NOT NULL, ended_at BIGINT NOT NULL,"
              + " stop_deadline BIGINT NOT NULL, start_order BIGINT NOT NULL,"
              + " accrued_cost DOUBLE PRECISION NOT NULL, checkpoint_ref VARCHAR, spec VARCHAR NOT NULL,"
              + " allocations VARCHAR)",
          "CREATE TABLE gpusched_queue (name VARCHAR NOT NULL PRIMARY KEY, spec VARCHAR NOT NULL,"
              + " decayed_at BIGINT NOT NULL, last_start BIGINT NOT NULL,"
              + " ended_cost DOUBLE PRECISION NOT NULL, dominant_share DOUBLE PRECISION NOT NULL)",
          "CREATE TABLE gpusched_queue_usage (queue_name VARCHAR NOT NULL, gpu_model VARCHAR NOT NULL,"
              + " decayed_share DOUBLE PRECISION NOT NULL, PRIMARY KEY (queue_name, gpu_model))",
          "CREATE TABLE gpusched_node (id VARCHAR NOT NULL PRIMARY KEY, seq BIGINT NOT NULL,"
              + " state VARCHAR(16) NOT NULL, added_at_run_time BOOLEAN NOT NULL, spec VARCHAR NOT NULL)",
          "CREATE TABLE gpusched_leader (id INTEGER NOT NULL PRIMARY KEY, epoch BIGINT NOT NULL,"
              + " holder VARCHAR(200), renewals BIGINT NOT NULL, ready BOOLEAN NOT NULL)",
          "CREATE TABLE gpusched_inbox (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
              + " kind VARCHAR(16) NOT NULL, job_id VARCHAR NOT NULL, spec VARCHAR,"
              + " replica VARCHAR(200) NOT NULL, rejected VARCHAR)",
          "INSERT INTO gpusched_leader (id, epoch, holder, renewals, ready) VALUES (1, 0, NULL, 0, FALSE)");

  private final DataSource dataSource;
  /** A leader's fence (epoch check and inbox consumption with each commit), or null. */
  private final @Nullable LeaderFence fence;

  private volatile boolean schemaChecked;

  /**
   * Whether the database is PostgreSQL (read once with the schema): job records are then written
   * with {@code INSERT ... ON CONFLICT DO UPDATE}; elsewhere (H2) with {@code MERGE ... KEY}.
   */
  private volatile boolean postgres;

  /**
   * Each live job spec's text as written ({@link SpecCodec#job}), so that a job's later records
   * (its start, its end) do not encode it again: keyed by the spec object's identity (weak keys:
   * an entry goes with its job), bounded. Its upkeep runs on the calling thread, not on a pool.
   */
  private final com.github.benmanes.caffeine.cache.Cache<io.gpusched.JobSpec, String> specText =
      com.github.benmanes.caffeine.cache.Caffeine.newBuilder()
          .weakKeys()
          .maximumSize(SPEC_TEXTS)
          .executor(Runnable::run)
          .build();

  /** How many job specs' texts {@link #specText} keeps. */
  static final int SPEC_TEXTS = 16_384;

  /** The spec's text, encoded once per spec object (any thread). */
  private String specText(io.gpusched.JobSpec spec) {
    return specText.get(spec, SpecCodec::job);
  }

  /**
   * Encodes a new job's spec now, on the calling thread (a submitter's), so that the commit that
   * writes the job finds its text ready: the commit is on the path every waiting caller waits on.
   */
  void encodeSpec(io.gpusched.JobSpec spec) {
    specText(spec);
  }

  JdbcStore(DataSource dataSource) {
    this(dataSource, null);
  }

  /**
   * A store whose commits are fenced: each commit first checks, in its own transaction, that the
   * database's leader epoch is still {@code fence.epoch} (a conditional update of the leader row,
   * which also holds that row until the commit, so an election cannot slip in between), and
   * deletes the inbox rows its job records consume. A commit that finds another epoch writes
   * nothing and throws {@link StoreException}.
   */
  JdbcStore(DataSource dataSource, @Nullable LeaderFence fence) {
    this.dataSource = dataSource;
    this.fence = fence;
  }

  @Override
  public String toString() {
    return "JdbcStore[" + dataSource + (fence == null ? "" : ", epoch " + fence.epoch) + "]";
  }

  /** Connects, checks (or creates) the schema, and disconnects. */
  void checkSchema() {
    try (Connection c = connect("check the schema")) {
      try {
        ensureSchema(c);
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(c, e);
        if (e instanceof StoreException se) {
          throw se;
        }
        throw new StoreException("cannot check the schema of the store " + this + ": " + SqlStates.describe(e), e);
      }
    } catch (SQLException e) {
      throw new StoreException("cannot close the connection to the store " + this + ": " + e, e);
    }
  }

  // ---- schema ----

  private Connection connect(String what) {
    try {
      return dataSource.getConnection();
    } catch (SQLException | RuntimeException e) {
      throw new StoreException("cannot connect to the store " + this + " to " + what + ": " + e, e);
    }
  }

  private void ensureSchema(Connection c) throws SQLException {
    if (schemaChecked) {
      return;
    }
    String product = c.getMetaData().getDatabaseProductName().toLowerCase(java.util.Locale.ROOT);
    postgres = product.contains("postgres");
    if (product.equals("h2")) {
      warnOfWriteDelay(c);
    }
    c.setAutoCommit(false);
    Integer version = null;
    boolean table;
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT version FROM gpusched_schema WHERE id = 1")) {
      table = true;
      if (rs.next()) {
        version = rs.getInt(1);
      }
    } catch (SQLException e) {
      if (!isMissingTable(e)) {
        throw e;
      }
      table = false;
    }
    c.rollback();
    if (table && version == null) {
      throw new StoreException(
          "the store " + this + " has a gpusched_schema table without a version row: a foreign or"
              + " damaged schema (this library uses schema version " + SCHEMA_VERSION + "); nothing written");
    }
    if (version != null && version >= 1 && version < SCHEMA_VERSION) {
      try {
        SchemaMigrations.migrate(c, version, toString());
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(c, e);
        if (e instanceof SQLException se && SqlStates.readOnly(se)) {
          throw readOnlyStore("migrate it from schema version " + version + " to " + SCHEMA_VERSION, se);
        }
        throw e;
      }
      version = SCHEMA_VERSION;
    }
    if (version != null && version != SCHEMA_VERSION) {
      throw new StoreException(
          "the store " + this + " has schema version " + version + ", this library uses schema version "
              + SCHEMA_VERSION + (version > SCHEMA_VERSION ? " (the store was written by a newer gpusched)" : "")
              + "; nothing written");
    }
    if (!table) {
      for (String t : TABLES) {
        if (exists(c, t)) {
          throw new StoreException(
              "the store " + this + " has a table " + t + " but no gpusched_schema: a foreign or damaged"
                  + " schema (this library uses schema version " + SCHEMA_VERSION + "); nothing written");
        }
      }
      try (Statement s = c.createStatement()) {
        for (String ddl : DDL) {
          s.executeUpdate(ddl); // the tables, then the leader row (epoch 0, no holder)
        }
        s.executeUpdate(
            "INSERT INTO gpusched_schema (id, version, written_by) VALUES (1, " + SCHEMA_VERSION
                + ", 'gpusched')");
        c.commit();
      } catch (SQLException e) {
        rollbackQuietly(c, e);
        if (SqlStates.readOnly(e)) {
          throw readOnlyStore("create the schema", e);
        }
        throw e;
      }
    } else {
      probeWritable(c);
    }
    schemaChecked = true;
  }

  /**
   * Writes the version row onto itself and rolls back: a read-only database (a read-only role or
   * {@code default_transaction_read_only} on PostgreSQL, {@code ACCESS_MODE_DATA=r} on H2) is
   * refused when the store is first used, before a scheduler recovers anything, rather than at its
   * first commit.
   */
  private void probeWritable(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.executeUpdate("UPDATE gpusched_schema SET written_by = written_by WHERE id = 1");
    } catch (SQLException e) {
      rollbackQuietly(c, e);
      if (SqlStates.readOnly(e)) {
        throw readOnlyStore("write", e);
      }
      throw e;
    }
    c.rollback();
  }

  private StoreException readOnlyStore(String what, SQLException e) {
    return new StoreException(
        "the store " + this + " is read-only (cannot " + what + ": " + e.getMessage() + "): a durable"
            + " scheduler writes every change before it acts on it; make the database writable for this"
            + " user; nothing written",
        e);
  }

  /**
   * H2 keeps committed changes in memory for {@code WRITE_DELAY} milliseconds (500 by default)
   * before it writes them: a killed JVM then loses acknowledged commits. Says so once, as a warning
   * (the application may have chosen it); docs/durability.md recommends {@code WRITE_DELAY=0}.
   */
  private void warnOfWriteDelay(Connection c) {
    String delay = h2WriteDelay(c);
    if (delay != null && !delay.equals("0")) {
      LOG.warn(
          "gpusched: the H2 store {} has WRITE_DELAY={} ms: H2 writes committed changes that late, so a"
              + " JVM killed meanwhile loses acknowledged submits and starts; add ;WRITE_DELAY=0 to the"
              + " JDBC URL (see docs/durability.md)",
          this, delay);
    }
  }

  /** H2's {@code WRITE_DELAY} setting on this connection's database, or null if it cannot be read. */
  static @Nullable String h2WriteDelay(Connection c) {
    try (Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS WHERE SETTING_NAME = 'WRITE_DELAY'")) {
      String v = rs.next() ? rs.getString(1) : null;
      return v == null ? null : v.trim();
    } catch (SQLException e) {
      LOG.debug("gpusched: cannot read H2's WRITE_DELAY setting", e);
      return null;
    }
  }

  private static boolean exists(Connection c, String table) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT 1 FROM " + table + " WHERE 1 = 0")) {
      return rs != null;
    } catch (SQLException e) {
      if (!isMissingTable(e)) {
        throw e;
      }
      return false;
    } finally {
      c.rollback(); // PostgreSQL aborts the transaction after a failed statement
    }
  }

  /** SQL state class 42 (syntax error or access rule violation): H2 42S02, PostgreSQL 42P01. */
  private static boolean isMissingTable(SQLException e) {
    String state = e.getSQLState();
    return state != null && state.startsWith("42");
  }

  private static void rollbackQuietly(Connection c, Throwable cause) {
    try {
      c.rollback();
    } catch (SQLException | RuntimeException r) {
      cause.addSuppressed(r);
    }
  }

  // ---- load ----

  @Override
  public StoredState load() {
    try (Connection c = connect("load the state")) {
      try {
        ensureSchema(c);
        c.setAutoCommit(false);
        StoredState s = read(c);
        c.commit();
        return s;
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(c, e);
        if (e instanceof StoreException se) {
          throw se;
        }
        throw new StoreException("cannot load the state from the store " + this + ": " + SqlStates.describe(e), e);
      }
    } catch (SQLException e) {
      throw new StoreException("cannot close the connection to the store " + this + ": " + e, e);
    }
  }

  private StoredState read(Connection c) throws SQLException {
    var jobs = new ArrayList<StoredJob>();
    try (Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT id, seq, state, attempts, stop_reason, end_reason, submitted_at, queued_at,"
                    + " started_at, ended_at, stop_deadline, start_order, accrued_cost, checkpoint_ref, spec,"
                    + " allocations FROM gpusched_job")) {
      while (rs.next()) {
        String id = rs.getString(1);
        try {
          JobSpec spec = SpecCodec.job(rs.getString(15));
          if (!spec.id().equals(id)) {
            throw new IllegalArgumentException("its spec is of job " + spec.id());
          }
          List<StoredAllocation> allocs = SpecCodec.allocations(rs.getString(16));
          String why = rs.getString(5);
          jobs.add(
              new StoredJob(
                  spec, rs.getLong(2), JobState.valueOf(rs.getString(3)), rs.getInt(4),
                  why == null ? null : StopReason.valueOf(why), rs.getString(6), rs.getLong(7),
                  rs.getLong(8), rs.getLong(9), rs.getLong(10), rs.getLong(11), rs.getLong(12),
                  rs.getDouble(13), rs.getString(14), allocs));
        } catch (IllegalArgumentException | NullPointerException | IndexOutOfBoundsException e) {
          throw new StoreException("the store " + this + " holds job " + id + " that cannot be read: " + e, e);
        }
      }
    }
    return new StoredState(jobs, readQueues(c, this), readNodes(c, this));
  }

  /**
   * The queue records with their usage rows, in one connection's view ({@code store} names the
   * store in errors; {@link ReplicaReads} reads them too).
   *
   * @throws StoreException if a row cannot be read, or usage rows name a queue without a record
   */
  static List<StoredQueue> readQueues(Connection c, Object store) throws SQLException {
    Map<String, Map<String, Double>> usage = new HashMap<>();
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT queue_name, gpu_model, decayed_share FROM gpusched_queue_usage")) {
      while (rs.next()) {
        usage.computeIfAbsent(rs.getString(1), k -> new LinkedHashMap<>()).put(rs.getString(2), rs.getDouble(3));
      }
    }
    var queues = new ArrayList<StoredQueue>();
    try (Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT name, spec, decayed_at, last_start, ended_cost, dominant_share FROM gpusched_queue")) {
      while (rs.next()) {
        String name = rs.getString(1);
        try {
          queues.add(
              new StoredQueue(
                  SpecCodec.queue(rs.getString(2)), usage.getOrDefault(name, Map.of()), rs.getLong(3),
                  rs.getLong(4), rs.getDouble(5), rs.getDouble(6)));
        } catch (IllegalArgumentException | NullPointerException | IndexOutOfBoundsException e) {
          throw new StoreException("the store " + store + " holds queue " + name + " that cannot be read: " + e, e);
        }
      }
    }
    for (StoredQueue q : queues) {
      usage.remove(q.spec().name());
    }
    if (!usage.isEmpty()) {
      throw new StoreException(
          "the store " + store + " holds gpusched_queue_usage rows of queue " + usage.keySet().iterator().next()
              + ", which has no gpusched_queue row: a corrupt store; nothing written");
    }
    return queues;
  }

  /**
   * The node records in their order ({@code store} names the store in errors).
   *
   * @throws StoreException if a row cannot be read
   */
  static List<StoredNode> readNodes(Connection c, Object store) throws SQLException {
    var nodes = new ArrayList<StoredNode>();
    try (Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("SELECT id, seq, state, added_at_run_time, spec FROM gpusched_node ORDER BY seq")) {
      while (rs.next()) {
        String id = rs.getString(1);
        try {
          nodes.add(
              new StoredNode(
                  SpecCodec.node(rs.getString(5)), NodeState.valueOf(rs.getString(3)), rs.getBoolean(4),
                  rs.getLong(2)));
        } catch (IllegalArgumentException | NullPointerException | IndexOutOfBoundsException e) {
          throw new StoreException("the store " + store + " holds node " + id + " that cannot be read: " + e, e);
        }
      }
    }
    return nodes;
  }

  // ---- commit ----

  @Override
  public void commit(List<StoreChange> changes) {
    Objects.requireNonNull(changes, "changes");
    if (changes.isEmpty()) {
      return;
    }
    var jobs = new LinkedHashMap<String, StoredJob>();
    var queues = new LinkedHashMap<String, StoredQueue>();
    var nodes = new LinkedHashMap<String, StoredNode>();
    for (StoreChange ch : changes) {
      if (ch instanceof StoreChange.PutJob p) {
        jobs.put(p.job().id(), p.job());
      } else if (ch instanceof StoreChange.PutQueue p) {
        queues.put(p.queue().spec().name(), p.queue());
      } else if (ch instanceof StoreChange.PutNode p) {
        nodes.put(p.node().spec().id(), p.node());
      } else {
        throw new IllegalArgumentException("unknown change " + ch);
      }
    }
    try (Connection c = connect("commit " + changes.size() + " changes")) {
      List<Long> consumed = List.of();
      boolean oneStatement = false;
      try {
        ensureSchema(c);
        if (postgres) {
          oneStatement = true;
          if (!c.getAutoCommit()) {
            c.setAutoCommit(true); // the statement is its own transaction
          }
          consumed = fence == null ? List.of() : fence.rowsFor(jobs);
          boolean held =
              JdbcWrites.commitPostgres(
                  c, fence == null ? null : fence.epoch, consumed, jobs.values(), queues.values(),
                  nodes.values(), this::specText);
          if (fence != null) {
            if (!held) {
              throw deposed(fence);
            }
            fence.consumed(consumed);
          }
          return;
        }
        c.setAutoCommit(false);
        if (fence != null) {
          checkEpoch(c, fence);
          consumed = fence.rowsFor(jobs);
          deleteInboxRows(c, consumed);
        }
        if (!jobs.isEmpty()) {
          JdbcWrites.writeJobs(c, jobs.values(), this::specText);
        }
        if (!queues.isEmpty()) {
          JdbcWrites.writeQueues(c, queues.values());
        }
        if (!nodes.isEmpty()) {
          JdbcWrites.writeNodes(c, nodes.values());
        }
        c.commit();
        if (fence != null) {
          fence.consumed(consumed);
        }
      } catch (SQLException | RuntimeException e) {
        if (!oneStatement) {
          rollbackQuietly(c, e); // the one statement's transaction ended with it
        }
        if (e instanceof StoreException se) {
          throw se;
        }
        throw new StoreException(
            "cannot commit " + changes.size() + " changes to the store " + this + " (rolled back): " + SqlStates.describe(e),
            e);
      }
    } catch (SQLException e) {
      throw new StoreException("cannot close the connection to the store " + this + ": " + e, e);
    }
  }

  /** Rejected inbox rows kept for diagnosis; older ones are pruned. */
  static final int KEEP_REJECTED = 1000;

  @Override
  public int pruneFinishedJobs(long endedBeforeMillis, int limit) {
    if (limit <= 0) {
      throw new IllegalArgumentException("limit must be > 0, was " + limit);
    }
    try (Connection c = connect("prune finished jobs")) {
      try {
        ensureSchema(c);
        c.setAutoCommit(false);
        if (fence != null) {
          checkEpoch(c, fence);
        }
        int n;
        // the predicate is repeated outside the subquery: a row replaced meanwhile (its id reused
        // by a new submission) no longer matches it when the delete reaches it
        try (PreparedStatement del =
            c.prepareStatement(
                "DELETE FROM gpusched_job WHERE state IN ('COMPLETED', 'FAILED', 'CANCELLED')"
                    + " AND ended_at < ? AND id IN (SELECT id FROM gpusched_job WHERE state IN"
                    + " ('COMPLETED', 'FAILED', 'CANCELLED') AND ended_at < ? ORDER BY ended_at, id LIMIT ?)")) {
          del.setLong(1, endedBeforeMillis);
          del.setLong(2, endedBeforeMillis);
          del.setInt(3, limit);
          n = del.executeUpdate();
        }
        pruneRejected(c, limit);
        c.commit();
        return n;
      } catch (SQLException | RuntimeException e) {
        rollbackQuietly(c, e);
        if (e instanceof StoreException se) {
          throw se;
        }
        throw new StoreException("cannot prune finished jobs in the store " + this + " (rolled back): " + SqlStates.describe(e), e);
      }
    } catch (SQLException e) {
      throw new StoreException("cannot close the connection to the store " + this + ": " + e, e);
    }
  }

  /** Deletes up to {@code limit} rejected inbox rows older than the newest {@link #KEEP_REJECTED}. */
  private static void pruneRejected(Connection c, int limit) throws SQLException {
    long below = -1;
    try (PreparedStatement q =
        c.prepareStatement(
            "SELECT id FROM gpusched_inbox WHERE rejected IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET ?")) {
      q.setInt(1, KEEP_REJECTED - 1);
      try (ResultSet rs = q.executeQuery()) {
        if (rs.next()) {
          below = rs.getLong(1); // the oldest of the newest KEEP_REJECTED
        }
      }
    }
    if (below < 0) {
      return;
    }
    try (PreparedStatement del =
        c.prepareStatement(
            "DELETE FROM gpusched_inbox WHERE rejected IS NOT NULL AND id < ? AND id IN (SELECT id FROM"
                + " gpusched_inbox WHERE rejected IS NOT NULL AND id < ? ORDER BY id LIMIT ?)")) {
      del.setLong(1, below);
      del.setLong(2, below);
      del.setInt(3, limit);
      del.executeUpdate();
    }
  }

  /**
   * The fence: holds the leader row for this transaction if its epoch is still ours.
   *
   * @throws StoreException if the database names a newer leader (the fence is told)
   */
  static void checkEpoch(Connection c, LeaderFence fence) throws SQLException {
    try (PreparedStatement s =
        c.prepareStatement("UPDATE gpusched_leader SET epoch = epoch WHERE id = 1 AND epoch = ?")) {
      s.setLong(1, fence.epoch);
      if (s.executeUpdate() != 1) {
        throw deposed(fence);
      }
    }
  }

  /** Tells the fence that the database names a newer leader; the exception to throw. */
  private static StoreException deposed(LeaderFence fence) {
    fence.deposed();
    return new StoreException(
        "fenced: this scheduler leads in epoch " + fence.epoch + " but the store has a newer leader;"
            + " nothing written");
  }

  static void deleteInboxRows(Connection c, List<Long> rows) throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    try (PreparedStatement del = c.prepareStatement("DELETE FROM gpusched_inbox WHERE id = ?")) {
      for (long id : rows) {
        del.setLong(1, id);
        del.addBatch();
      }
      del.executeBatch();
    }
  }
}
