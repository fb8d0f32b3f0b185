package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuCluster;
import io.gpusched.JobHandle;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementStrategy;
import io.gpusched.QueueSpec;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredState;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to a durable scheduler on H2 in file mode (issue 12, "Tests: Bad input"): a read-only
 * database, a full disk in the middle of a group commit, and a store that is already corrupt. Each
 * must give a clear error naming the problem and leave no partial state, neither in the store nor
 * in the scheduler or its cluster. (Another schema version: {@code JdbcStoreTest}.)
 */
class StoreBadInputTest {

  @TempDir Path dir;

  final SchedulerHarness h = new SchedulerHarness();

  /** An H2 file database with extra URL settings (a plain connection each call). */
  static DataSource h2(Path dir, String name, String extra) {
    return JdbcStoreTest.h2Url(
        "jdbc:h2:file:" + dir.resolve(name).toAbsolutePath() + ";MAX_COMPACT_TIME=0;WRITE_DELAY=0" + extra);
  }

  DataSource db() {
    return h2(dir, "db", "");
  }

  GpuSchedulers.Builder builder(SchedulerStore store, NodeSpec... nodes) {
    return h.builder()
        .store(store)
        .queue(QueueSpec.of("research"))
        .nodes(List.of(nodes))
        .strategy(PlacementStrategy.FIRST_FIT);
  }

  static void sql(DataSource ds, String... statements) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      for (String st : statements) {
        s.execute(st);
      }
    }
  }

  static List<AllocatedGpu> gpus(StoredJob j) {
    var out = new ArrayList<AllocatedGpu>();
    j.allocations().forEach(a -> out.addAll(a.gpus()));
    return out;
  }

  /** What the store holds equals what the scheduler shows: the same jobs, states and GPUs. */
  static void storeEqualsScheduler(SchedulerStore store, io.gpusched.GpuScheduler s) {
    Map<String, StoredJob> stored = new TreeMap<>();
    store.load().jobs().forEach(j -> stored.put(j.id(), j));
    Map<String, JobHandle> shown = new TreeMap<>();
    s.jobs().forEach(j -> shown.put(j.id(), j));
    assertThat(stored.keySet()).isEqualTo(shown.keySet());
    for (JobHandle j : shown.values()) {
      StoredJob sj = stored.get(j.id());
      assertThat(sj.state()).as("state of %s", j.id()).isEqualTo(j.state());
      assertThat(sj.attempts()).as("attempts of %s", j.id()).isEqualTo(j.attempts());
      assertThat(gpus(sj)).as("GPUs of %s", j.id()).isEqualTo(DurableSchedulerTest.gpus(j));
    }
  }

  // ---- a read-only database ----

  /** A first run on the store: job a running on n, job b (two GPUs) waiting; the state it left. */
  private StoredState oneRunningOnePending() {
    var s1 = builder(SchedulerStores.jdbc(db()), whole("n", 2)).build();
    s1.submit(job("a", 1).queue("research").build());
    s1.submit(job("b", 2).queue("research").build()); // pending
    s1.close();
    return SchedulerStores.jdbc(db()).load();
  }

  @Test
  void aReadOnlyDatabaseFailsTheStartNamingItAndWritesNothing() throws SQLException {
    StoredState before = oneRunningOnePending();

    GpuCluster cluster = GpuClusters.newBuilder().node(whole("n", 2)).build();
    DataSource readOnly = h2(dir, "db", ";ACCESS_MODE_DATA=r");
    assertThatThrownBy(() -> builder(SchedulerStores.jdbc(readOnly)).cluster(cluster).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("read-only")
        .hasMessageContaining("nothing written");
    assertThat(cluster.allocations("n")).as("no allocation is left on the cluster").isEmpty();
    assertThat(SchedulerStores.jdbc(db()).load()).isEqualTo(before);
    assertThat(h.launcher.started).containsExactly("a"); // the first run's start only: no reconcile, no start
  }

  /**
   * A store of schema version 1 on a read-only database cannot be migrated: the start fails naming
   * the read-only database and the migration, the store keeps version 1, and the same store on a
   * writable connection is then migrated and loads the same jobs.
   */
  @Test
  void aReadOnlyVersion1DatabaseIsRefusedAndKeepsItsVersion() throws SQLException {
    List<StoredJob> jobs = oneRunningOnePending().jobs();
    SchemaV1.downgrade(db(), jobs);

    DataSource readOnly = h2(dir, "db", ";ACCESS_MODE_DATA=r");
    GpuCluster cluster = GpuClusters.newBuilder().node(whole("n", 2)).build();
    assertThatThrownBy(() -> builder(SchedulerStores.jdbc(readOnly)).cluster(cluster).build())
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("read-only")
        .hasMessageContaining("migrate it from schema version 1 to " + JdbcStore.SCHEMA_VERSION);
    assertThat(cluster.allocations("n")).as("no allocation is left on the cluster").isEmpty();
    try (var c = db().getConnection();
        var st = c.createStatement();
        var rs = st.executeQuery("SELECT version FROM gpusched_schema WHERE id = 1")) {
      assertThat(rs.next()).isTrue();
      assertThat(rs.getInt(1)).isOne();
    }
    assertThat(SchedulerStores.jdbc(db()).load().jobs()).containsExactlyInAnyOrderElementsOf(jobs);
  }

  @Test
  void aDatabaseThatTurnsReadOnlyRefusesASubmitNamingItAndHoldsNothingOfIt() {
    AtomicBoolean readOnly = new AtomicBoolean();
    DataSource ds = failingWrites(db(), readOnly, new AtomicInteger(1), "25006", "cannot execute INSERT in a read-only transaction (simulated)");
    var s = builder(SchedulerStores.jdbc(ds), whole("n", 2)).build();
    JobHandle a = s.submit(job("a", 1).queue("research").build());
    readOnly.set(true);

    assertThatThrownBy(() -> s.submit(job("b", 1).queue("research").build()))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("job b was not accepted")
        .hasMessageContaining("read-only");
    assertThat(s.job("b")).isEmpty();
    assertThat(SchedulerStores.jdbc(db()).load().jobs()).extracting(StoredJob::id).containsExactly("a");
    assertThat(a.state()).isEqualTo(io.gpusched.JobState.RUNNING);
  }

  // ---- a full disk ----

  /**
   * A data source whose connections fail the {@code nth} write (a statement's {@code
   * executeBatch}, {@code executeUpdate} or a connection's {@code commit}) counted while {@code
   * armed}, with the given SQL state, then work again (the counter is spent).
   */
  static DataSource failingWrites(
      DataSource real, AtomicBoolean armed, AtomicInteger nth, String sqlState, String message) {
    ClassLoader cl = StoreBadInputTest.class.getClassLoader();
    Set<String> writes = Set.of("executeBatch", "executeUpdate", "commit");
    AtomicBoolean spent = new AtomicBoolean(false);
    // one counter for the data source: fail the nth write after arming, once
    Consumer<String> maybeFail =
        what -> {
          if (armed.get() && !spent.get() && writes.contains(what) && nth.decrementAndGet() == 0) {
            spent.set(true);
            throw new FailedWrite(new SQLException(message, sqlState));
          }
        };
    return (DataSource)
        Proxy.newProxyInstance(
            cl,
            new Class<?>[] {DataSource.class},
            (p, m, args) -> {
              if (m.getName().equals("toString")) {
                return "failingWrites(" + real + ")";
              }
              Object r = invoke(m, real, args);
              if (!(r instanceof Connection c)) {
                return r;
              }
              return Proxy.newProxyInstance(
                  cl,
                  new Class<?>[] {Connection.class},
                  (cp, cm, cargs) -> {
                    check(maybeFail, cm);
                    Object cr = invoke(cm, c, cargs);
                    if (cr instanceof java.sql.PreparedStatement ps) {
                      return Proxy.newProxyInstance(
                          cl,
                          new Class<?>[] {java.sql.PreparedStatement.class},
                          (sp, sm, sargs) -> {
                            check(maybeFail, sm);
                            return invoke(sm, ps, sargs);
                          });
                    }
                    if (cr instanceof Statement st) {
                      return Proxy.newProxyInstance(
                          cl,
                          new Class<?>[] {Statement.class},
                          (sp, sm, sargs) -> {
                            check(maybeFail, sm);
                            return invoke(sm, st, sargs);
                          });
                    }
                    return cr;
                  });
            });
  }

  /** Carries the simulated SQLException out of the counter. */
  private static final class FailedWrite extends RuntimeException {
    private static final long serialVersionUID = 1L;

    FailedWrite(SQLException e) {
      super(e);
    }
  }

  private static void check(Consumer<String> maybeFail, Method m) throws SQLException {
    try {
      maybeFail.accept(m.getName());
    } catch (FailedWrite f) {
      throw (SQLException) f.getCause();
    }
  }

  private static Object invoke(Method m, Object target, Object[] args) throws Throwable {
    try {
      return m.invoke(target, args);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  /** Blocks the first commit after {@link #block} until released. */
  static final class GateStore implements SchedulerStore {
    final SchedulerStore inner;
    final AtomicBoolean block = new AtomicBoolean();
    final CountDownLatch inCommit = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    volatile Runnable afterBlockedCommit = () -> {};

    GateStore(SchedulerStore inner) {
      this.inner = inner;
    }

    @Override
    public StoredState load() {
      return inner.load();
    }

    @Override
    public void commit(List<StoreChange> changes) {
      if (block.compareAndSet(true, false)) {
        inCommit.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        inner.commit(changes);
        afterBlockedCommit.run();
        return;
      }
      inner.commit(changes);
    }
  }

  @Test
  void aFullDiskMidGroupCommitRefusesTheUnacknowledgedKeepsTheAcknowledgedAndRecovers() throws Exception {
    AtomicBoolean armed = new AtomicBoolean();
    // the batch after the blocked one: delete GPU rows, delete job rows, insert job rows (fails)
    AtomicInteger nth = new AtomicInteger(3);
    DataSource ds = failingWrites(db(), armed, nth, "53100", "could not extend file: No space left on device (simulated)");
    var store = new GateStore(SchedulerStores.jdbc(ds));
    var s = builder(store, whole("n1", 4), whole("n2", 4)).build();
    JobHandle done = s.submit(job("done", 1).queue("research").build());
    JobHandle kept = s.submit(job("kept", 2).queue("research").build());
    assertThat(done.state()).isEqualTo(io.gpusched.JobState.RUNNING);

    store.block.set(true);
    Thread leader = new Thread(() -> s.submit(job("leader", 1).queue("research").build()));
    leader.start();
    store.inCommit.await(); // the leader's commit is blocked: everyone else queues behind it
    int n = 6;
    var outcome = new ConcurrentHashMap<String, Object>();
    var others = new ArrayList<Thread>();
    for (int i = 0; i < n; i++) {
      String id = "f" + i;
      Thread t =
          new Thread(
              () -> {
                try {
                  outcome.put(id, s.submit(job(id, 1).queue("research").build()));
                } catch (RuntimeException e) {
                  outcome.put(id, e);
                }
              });
      others.add(t);
      t.start();
    }
    Thread reporter =
        new Thread(
            () -> {
              try {
                done.complete();
                outcome.put("done", "acknowledged");
              } catch (RuntimeException e) {
                outcome.put("done", e);
              }
            });
    others.add(reporter);
    reporter.start();
    for (Thread t : others) { // each has appended its entry and waits on the journal's monitor
      while (t.getState() != Thread.State.WAITING) {
        Thread.onSpinWait();
      }
    }
    store.afterBlockedCommit = () -> armed.set(true); // the disk fills up: the next batch fails at its third write
    store.release.countDown();
    leader.join();
    for (Thread t : others) {
      t.join();
    }

    // the leader's batch was written before the disk filled; the next one, everyone else's, failed
    assertThat(s.job("leader")).isPresent();
    for (int i = 0; i < n; i++) {
      assertThat(outcome.get("f" + i))
          .as("f%d", i)
          .isInstanceOfSatisfying(
              StoreException.class,
              e -> assertThat(e).hasMessageContaining("was not accepted").hasMessageContaining("disk is full"));
      assertThat(s.job("f" + i)).isEmpty();
    }
    assertThat(done.state()).isEqualTo(io.gpusched.JobState.COMPLETED); // made in memory either way
    StoredState during = SchedulerStores.jdbc(db()).load();
    assertThat(during.jobs()).extracting(StoredJob::id).containsExactlyInAnyOrder("done", "kept", "leader");
    if (outcome.get("done") instanceof StoreException) {
      // refused with the batch: written by the next commit that succeeds (below)
    } else { // acknowledged: the report retried on the recovered disk and returned after its commit
      assertThat(outcome.get("done")).isEqualTo("acknowledged");
      assertThat(during.jobs()).filteredOn(j -> j.id().equals("done")).singleElement()
          .extracting(StoredJob::state).isEqualTo(io.gpusched.JobState.COMPLETED);
    }

    // the disk recovers: the next round writes what was kept, and the store shows what the scheduler does
    s.tick();
    storeEqualsScheduler(SchedulerStores.jdbc(db()), s);
    assertThat(kept.state()).isEqualTo(io.gpusched.JobState.RUNNING);
    JobHandle again = s.submit(job("f0", 1).queue("research").build()); // a refused id is free
    assertThat(again.state()).isEqualTo(io.gpusched.JobState.RUNNING);
    storeEqualsScheduler(SchedulerStores.jdbc(db()), s);
    s.close();

    // and a restart recovers exactly that
    var s2 = builder(SchedulerStores.jdbc(db()), whole("n1", 4), whole("n2", 4)).build();
    storeEqualsScheduler(SchedulerStores.jdbc(db()), s2);
    ((DefaultScheduler) s2).verifyInvariants();
  }

  // ---- a store that is already corrupt ----

  /** Writes jobs a (running on n/0), b (running on n/1), p (pending) with one scheduler, closed. */
  void twoRunningOnePending() {
    var s = builder(SchedulerStores.jdbc(db()), whole("n", 2)).build();
    s.submit(job("a", 1).queue("research").build());
    s.submit(job("b", 1).queue("research").build());
    s.submit(job("p", 1).queue("research").build());
    s.close();
  }

  /** Building on the corrupt store fails with a message naming all of {@code named}; nothing is left. */
  void refused(Class<? extends RuntimeException> type, String... named) throws SQLException {
    StoredState before = loadQuietly();
    GpuCluster cluster = GpuClusters.newBuilder().node(whole("n", 2)).build();
    var b = builder(SchedulerStores.jdbc(db())).cluster(cluster);
    var thrown = assertThatThrownBy(b::build).isInstanceOf(type);
    for (String s : named) {
      thrown.hasMessageContaining(s);
    }
    assertThat(cluster.allocations("n")).as("no allocation is left on the cluster").isEmpty();
    assertThat(h.launcher.started).as("nothing started").containsExactly("a", "b");
    if (before != null) {
      assertThat(SchedulerStores.jdbc(db()).load()).as("nothing written").isEqualTo(before);
    }
  }

  private StoredState loadQuietly() {
    try {
      return SchedulerStores.jdbc(db()).load();
    } catch (StoreException e) {
      return null;
    }
  }

  @Test
  void aRunningJobOnAnUnknownNodeFailsTheBuildNamingTheJobAndTheNode() throws SQLException {
    twoRunningOnePending();
    sql(db(), "UPDATE gpusched_job SET allocations = REPLACE(allocations, '[\"n\",', '[\"ghost\",') WHERE id = 'b'");
    refused(IllegalStateException.class, "running job b", "unknown node ghost");
  }

  @Test
  void aRunningJobOnAGpuIndexOutOfRangeFailsTheBuildNamingTheJobAndTheIndex() throws SQLException {
    twoRunningOnePending();
    sql(
        db(),
        "UPDATE gpusched_job SET allocations = REPLACE(REPLACE(allocations, '[\"n\",\"1\",', '[\"n\",\"7\",'),"
            + " '[\"n\",\"0\",', '[\"n\",\"7\",') WHERE id = 'b'");
    refused(IllegalStateException.class, "running job b", "no GPU index 7");
  }

  @Test
  void twoRunningJobsOnOneGpuFailTheBuildNamingTheJobAndTheGpu() throws SQLException {
    twoRunningOnePending();
    sql(
        db(),
        "UPDATE gpusched_job SET allocations = (SELECT allocations FROM gpusched_job WHERE id = 'a')"
            + " WHERE id = 'b'");
    refused(IllegalStateException.class, "running job b", "n/0", "not free");
  }

  @Test
  void anUnparseableSpecFailsTheBuildNamingTheJob() throws SQLException {
    twoRunningOnePending();
    sql(db(), "UPDATE gpusched_job SET spec = '{\"id\": \"b\", \"request\": ' WHERE id = 'b'");
    refused(StoreException.class, "job b", "cannot be read");
  }

  @Test
  void aJobOfAQueueTheStoreDoesNotHoldFailsTheBuildNamingTheJobAndTheQueue() throws SQLException {
    twoRunningOnePending();
    sql(db(), "DELETE FROM gpusched_queue_usage WHERE queue_name = 'research'", "DELETE FROM gpusched_queue WHERE name = 'research'");
    StoredState before = SchedulerStores.jdbc(db()).load();
    GpuCluster cluster = GpuClusters.newBuilder().node(whole("n", 2)).build();
    assertThatThrownBy(
            () ->
                h.builder()
                    .store(SchedulerStores.jdbc(db()))
                    .queue(QueueSpec.of("other"))
                    .cluster(cluster)
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("job a")
        .hasMessageContaining("queue research");
    assertThat(cluster.allocations("n")).isEmpty();
    assertThat(SchedulerStores.jdbc(db()).load()).isEqualTo(before);
  }

  @Test
  void unreadableAllocationsFailTheLoadNamingTheJob() throws SQLException {
    twoRunningOnePending();
    sql(db(), "UPDATE gpusched_job SET allocations = '[{\"gpus\":[[\"n\",\"0\"]]}]' WHERE id = 'b'");
    refused(StoreException.class, "job b", "cannot be read", "9 fields");
  }

  @Test
  void aRunningJobWithoutItsAllocationsFailsTheLoadNamingTheJob() throws SQLException {
    twoRunningOnePending();
    sql(db(), "UPDATE gpusched_job SET allocations = NULL WHERE id = 'b'");
    refused(StoreException.class, "job b", "cannot be read");
  }
}
