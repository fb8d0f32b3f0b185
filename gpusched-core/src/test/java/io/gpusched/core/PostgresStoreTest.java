package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import java.io.IOException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The JDBC store on a real PostgreSQL server ({@link PostgresServer}: Debian's binaries, initdb into
 * a temporary folder, a free loopback port; skipped with the reason where they are missing, and
 * required where {@code .ci/run} installed them): the store contract, the versioned schema, a
 * server restart between commits, and the restart property of {@link RestartPropertyTest} on
 * sequences drawn from its generator.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PostgresStoreTest {
  private static @Nullable PostgresServer pg;

  @BeforeAll
  static void startServer() {
    pg = PostgresServer.startOrSkip();
  }

  @AfterAll
  static void stopServer() throws IOException {
    if (pg != null) {
      pg.close();
      pg = null;
    }
  }

  private static PostgresServer pg() {
    PostgresServer s = pg;
    assertThat(s).as("server").isNotNull();
    return s;
  }

  private static DataSource freshDatabase() {
    return pg().dataSource(pg().newDatabase());
  }

  private static long count(DataSource ds, String query) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(query)) {
      assertThat(rs.next()).isTrue();
      return rs.getLong(1);
    }
  }

  private static void sql(DataSource ds, String statement) throws SQLException {
    try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
      st.execute(statement);
    }
  }

  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  class Contract extends StoreContractTest {
    private String last = "";

    @Override
    SchedulerStore newStore() {
      last = pg().newDatabase();
      return SchedulerStores.jdbc(pg().dataSource(last));
    }

    @Override
    SchedulerStore reopen(SchedulerStore store) {
      return SchedulerStores.jdbc(pg().dataSource(last));
    }
  }

  @Test
  void aVersion1StoreIsMigratedInOneTransactionAndLoadsTheSameState() throws SQLException {
    JdbcStoreTest.migratesVersion1(freshDatabase());
  }

  @Test
  void aCorruptVersion1StoreIsRefusedAndKeepsItsVersionAndItsGpuRows() throws SQLException {
    JdbcStoreTest.refusesCorruptVersion1(freshDatabase());
  }

  @Test
  void replicaReadsShowCommittedRecordsAndWaitingSubmissions() {
    ReplicaFollowerTest.readsWithoutALeader(freshDatabase());
  }

  @Test
  void theSchemaIsCreatedInOneTransactionWithItsVersionRowAndANewerOneIsRefused() throws SQLException {
    DataSource ds = freshDatabase();
    assertThat(SchedulerStores.jdbc(ds).load().isEmpty()).isTrue();
    assertThat(count(ds, "SELECT version FROM gpusched_schema WHERE id = 1"))
        .isEqualTo(JdbcStore.SCHEMA_VERSION);
    assertThat(count(ds, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'gpusched%'"))
        .isEqualTo(7); // five of the store, the leader row's and the inbox
    int newer = JdbcStore.SCHEMA_VERSION + 1;
    sql(ds, "UPDATE gpusched_schema SET version = " + newer);
    SchedulerStore s = SchedulerStores.jdbc(ds);
    assertThatThrownBy(s::load)
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("schema version " + newer)
        .hasMessageContaining("schema version " + JdbcStore.SCHEMA_VERSION);
    assertThatThrownBy(() -> s.commit(List.of(new StoreChange.PutJob(StoreContractTest.pending("j", 1)))))
        .isInstanceOf(StoreException.class);
    assertThat(count(ds, "SELECT COUNT(*) FROM gpusched_job")).isZero();
  }

  @Test
  void aForeignTableIsRefusedAndNothingIsCreated() throws SQLException {
    DataSource ds = freshDatabase();
    sql(ds, "CREATE TABLE gpusched_job (id VARCHAR PRIMARY KEY, something INTEGER)");
    assertThatThrownBy(() -> SchedulerStores.jdbc(ds).load())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("gpusched_job");
    assertThat(count(ds, "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'gpusched%'"))
        .isEqualTo(1);
  }

  @Test
  void committedStateSurvivesAServerRestartAndTheStoreIsUnreachableWhileItIsDown() throws Exception {
    DataSource ds = freshDatabase();
    SchedulerStore s = SchedulerStores.jdbc(ds);
    s.load();
    s.commit(List.of(new StoreChange.PutJob(StoreContractTest.pending("before", 1))));
    pg().stopServer();
    try {
      assertThatThrownBy(() -> s.commit(List.of(new StoreChange.PutJob(StoreContractTest.pending("during", 2)))))
          .isInstanceOf(StoreException.class);
    } finally {
      pg().startServer();
    }
    s.commit(List.of(new StoreChange.PutJob(StoreContractTest.pending("after", 3))));
    var loaded = SchedulerStores.jdbc(ds).load();
    assertThat(loaded.jobs()).extracting(j -> j.id()).containsExactlyInAnyOrder("before", "after");
  }

  @Test
  void aReadOnlyDatabaseFailsTheStartNamingItAndWritesNothing() throws SQLException {
    String db = pg().newDatabase();
    DataSource ds = pg().dataSource(db);
    var h = new SchedulerHarness();
    var s1 = h.builder().store(SchedulerStores.jdbc(ds)).nodes(List.of(SchedulerHarness.whole("n", 2))).build();
    s1.submit(SchedulerHarness.job("a", 1).build());
    s1.submit(SchedulerHarness.job("b", 2).build()); // pending
    s1.close();
    var before = SchedulerStores.jdbc(ds).load();
    sql(ds, "ALTER DATABASE " + db + " SET default_transaction_read_only = on"); // new sessions

    var cluster = GpuClusters.newBuilder().node(SchedulerHarness.whole("n", 2)).build();
    assertThatThrownBy(() -> h.builder().store(SchedulerStores.jdbc(ds)).cluster(cluster).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("read-only")
        .hasMessageContaining("nothing written");
    assertThat(cluster.allocations("n")).isEmpty();
    assertThat(h.launcher.started).containsExactly("a");
    try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
      st.execute("SET default_transaction_read_only = off"); // this session, to undo it
      st.execute("ALTER DATABASE " + db + " RESET default_transaction_read_only");
    }
    assertThat(SchedulerStores.jdbc(ds).load()).isEqualTo(before);

    String empty = pg().newDatabase(); // and an empty one: the schema cannot be created
    sql(pg().dataSource(empty), "ALTER DATABASE " + empty + " SET default_transaction_read_only = on");
    assertThatThrownBy(
            () -> h.builder().store(SchedulerStores.jdbc(pg().dataSource(empty))).nodes(List.of(SchedulerHarness.whole("n", 1))).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("read-only")
        .hasMessageContaining("create the schema");
  }

  /** The rows of every table a commit writes, and the inbox's: {@code job queue usage node inbox}. */
  private static String rows(DataSource ds) throws SQLException {
    return count(ds, "SELECT COUNT(*) FROM gpusched_job") + " " + count(ds, "SELECT COUNT(*) FROM gpusched_queue")
        + " " + count(ds, "SELECT COUNT(*) FROM gpusched_queue_usage") + " "
        + count(ds, "SELECT COUNT(*) FROM gpusched_node") + " " + count(ds, "SELECT COUNT(*) FROM gpusched_inbox");
  }

  private static List<StoreChange> jobQueueAndNode() {
    return List.of(
        new StoreChange.PutJob(StoreContractTest.pending("x", 1)),
        new StoreChange.PutQueue(StoreContractTest.queue("q", 0.5)),
        new StoreChange.PutNode(
            new io.gpusched.store.StoredNode(StoreContractTest.richNode(), io.gpusched.NodeState.READY, true, 1)));
  }

  /**
   * A commit is one statement on PostgreSQL, every write gated on the fence: a deposed leader's
   * batch writes no job, queue, usage or node row and consumes no inbox row; the leader's deletes
   * the inbox row its job record consumes, in the same transaction.
   */
  @Test
  void aDeposedLeadersCommitWritesNothingAndTheLeadersConsumesItsInboxRow() throws SQLException {
    DataSource ds = freshDatabase();
    new JdbcStore(ds).checkSchema();
    sql(ds, "UPDATE gpusched_leader SET epoch = 2 WHERE id = 1");
    sql(ds, "INSERT INTO gpusched_inbox (kind, job_id, spec, replica) VALUES ('CANCEL', 'x', NULL, 'f')");
    long row = count(ds, "SELECT MAX(id) FROM gpusched_inbox");

    var old = new LeaderFence(1, () -> {});
    old.consumeWith("x", row, false);
    assertThatThrownBy(() -> new JdbcStore(ds, old).commit(jobQueueAndNode()))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("epoch 1")
        .hasMessageContaining("newer leader");
    assertThat(old.isDeposed()).isTrue();
    assertThat(rows(ds)).as("job queue usage node inbox").isEqualTo("0 0 0 0 1");

    var current = new LeaderFence(2, () -> {});
    current.consumeWith("x", row, false);
    new JdbcStore(ds, current).commit(jobQueueAndNode());
    assertThat(current.isDeposed()).isFalse();
    assertThat(current.waiting("x", row)).isFalse();
    assertThat(rows(ds)).as("job queue usage node inbox").isEqualTo("1 1 2 1 0");
  }

  /**
   * The fence holds the leader row: a commit that meets an election in progress (the leader row
   * updated, not yet committed) waits for it, then finds the new epoch and writes nothing; so a
   * new leader that loads the state after its election sees every write of the old one.
   */
  @Test
  void aCommitThatMeetsAnElectionInProgressWaitsForItAndThenWritesNothing() throws Exception {
    DataSource ds = freshDatabase();
    new JdbcStore(ds).checkSchema();
    sql(ds, "UPDATE gpusched_leader SET epoch = 1 WHERE id = 1");
    try (Connection election = ds.getConnection()) {
      election.setAutoCommit(false);
      try (Statement st = election.createStatement()) {
        st.executeUpdate("UPDATE gpusched_leader SET epoch = 2 WHERE id = 1");
      }
      var old = new LeaderFence(1, () -> {});
      var failure = new java.util.concurrent.atomic.AtomicReference<@Nullable Throwable>();
      Thread commit =
          new Thread(
              () -> {
                try {
                  new JdbcStore(ds, old).commit(jobQueueAndNode());
                } catch (Throwable t) {
                  failure.set(t);
                }
              });
      commit.start();
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (count(ds, "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") == 0) {
        assertThat(System.nanoTime()).as("the commit waits on the leader row").isLessThan(deadline);
        assertThat(commit.isAlive()).as("the commit is still waiting").isTrue();
        Thread.sleep(10);
      }
      election.commit();
      commit.join(30_000);
      assertThat(commit.isAlive()).isFalse();
      assertThat(failure.get()).isInstanceOf(StoreException.class).hasMessageContaining("newer leader");
      assertThat(old.isDeposed()).isTrue();
    }
    assertThat(rows(ds)).as("job queue usage node inbox").isEqualTo("0 0 0 0 0");
  }

  @Test
  void finalJobsOlderThanTheRetentionArePrunedByTheTick() {
    DataSource ds = freshDatabase();
    new FinishedJobPruningTest()
        .finalJobsOlderThanTheRetentionArePrunedByTheTick(SchedulerStores.jdbc(ds), () -> SchedulerStores.jdbc(ds));
  }

  @Test
  void rejectedInboxRowsBeyondTheNewestThousandArePruned() throws SQLException {
    FinishedJobPruningTest.rejectedInboxRowsBeyondTheNewestThousandArePruned(freshDatabase());
  }

  /**
   * Backup and restore as docs/durability.md describes it: at a random point of a random sequence
   * the scheduler crashes (it is dropped, its connections open), the database is backed up with
   * {@code pg_dump} and restored with {@code pg_restore} into a new database, and a scheduler
   * started on the copy goes on. The visible state at the end (jobs, states, allocations, usage,
   * nodes) equals the same sequence run without a crash, on the in-memory store.
   */
  @Test
  void aDumpRestoredIntoANewDatabaseGoesOnAsTheOriginalWould() {
    long seed = Long.getLong("gpusched.pg.seed", 20261207L);
    Random rnd = new Random(seed);
    int tries = Integer.getInteger("gpusched.pg.dump-tries", 4);
    List<List<RestartPropertyTest.Op>> sequences = RestartPropertyTest.sequences(rnd, tries);
    for (int t = 0; t < tries; t++) {
      List<RestartPropertyTest.Op> ops = sequences.get(t);
      int restartAt = ops.isEmpty() ? 0 : 1 + rnd.nextInt(ops.size());
      String db = pg().newDatabase();
      var stores = new java.util.concurrent.atomic.AtomicInteger();
      Map<String, Object> plain = RestartPropertyTest.run(ops, -1, SchedulerStores::inMemory);
      Map<String, Object> restored =
          RestartPropertyTest.run(ops, restartAt, () -> {
            if (stores.getAndIncrement() == 0) {
              return SchedulerStores.jdbc(pg().dataSource(db));
            }
            try {
              return SchedulerStores.jdbc(pg().dataSource(pg().dumpAndRestore(db)));
            } catch (IOException e) {
              throw new java.io.UncheckedIOException(e);
            }
          });
      assertThat(stores.get()).as("the second store is the restored copy").isEqualTo(2);
      assertThat(new java.util.TreeMap<>(restored).keySet())
          .as("seed %d, try %d: %s restored before op %d", seed, t, ops, restartAt)
          .isEqualTo(new java.util.TreeMap<>(plain).keySet());
      RestartPropertyTest.assertSameVisibleState(restored, plain);
    }
  }

  /**
   * {@link RestartPropertyTest}'s property on PostgreSQL: a random sequence with a crash and restart
   * at a random point leaves the same visible state as without it. Sequences come from that test's
   * generator with a fixed seed (a failure names the seed and the try).
   */
  @Test
  void aRestartAnywhereLeavesTheSameVisibleStateOnPostgreSQL() {
    long seed = Long.getLong("gpusched.pg.seed", 20261206L);
    Random rnd = new Random(seed);
    int tries = Integer.getInteger("gpusched.pg.tries", 12);
    List<List<RestartPropertyTest.Op>> sequences = RestartPropertyTest.sequences(rnd, tries);
    for (int t = 0; t < tries; t++) {
      List<RestartPropertyTest.Op> ops = sequences.get(t);
      int restartAt = rnd.nextInt(ops.size() + 1);
      String db = pg().newDatabase();
      Map<String, Object> plain = RestartPropertyTest.run(ops, -1, SchedulerStores::inMemory);
      Map<String, Object> restarted =
          RestartPropertyTest.run(ops, restartAt, () -> SchedulerStores.jdbc(pg().dataSource(db)));
      assertThat(new java.util.TreeMap<>(restarted).keySet())
          .as("seed %d, try %d: %s restarted before op %d", seed, t, ops, restartAt)
          .isEqualTo(new java.util.TreeMap<>(plain).keySet());
      RestartPropertyTest.assertSameVisibleState(restarted, plain);
    }
  }
}
