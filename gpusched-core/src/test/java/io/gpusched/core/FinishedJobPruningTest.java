package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobState;
import io.gpusched.PlacementStrategy;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredState;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: final jobs do not grow the store forever. A durable scheduler's tick deletes the final
 * jobs older than its retention, in batches, at most once a minute of its clock; live jobs and
 * recent final ones stay; a store that fails to prune is tried again later and changes nothing
 * else. On the in-memory store and on H2 (PostgreSQL: {@code PostgresStoreTest}).
 */
class FinishedJobPruningTest {

  @TempDir Path dir;

  final SchedulerHarness h = new SchedulerHarness();

  GpuSchedulers.Builder builder(SchedulerStore store) {
    return h.builder()
        .store(store)
        .nodes(List.of(whole("n", 2)))
        .strategy(PlacementStrategy.FIRST_FIT)
        .finishedJobRetention(Duration.ofHours(1));
  }

  static List<String> storedIds(SchedulerStore store) {
    return store.load().jobs().stream().map(StoredJob::id).sorted().toList();
  }

  /** Runs the scenario on {@code store}; {@code reopen} gives a fresh view of the same data. */
  void finalJobsOlderThanTheRetentionArePrunedByTheTick(SchedulerStore store, java.util.function.Supplier<SchedulerStore> reopen) {
    GpuScheduler s = builder(store).build();
    s.submit(job("done", 1).build()).complete();
    s.submit(job("failed", 1).build()).fail("oom");
    JobHandle cancelled = s.submit(job("cancelled", 2).build()); // pending
    cancelled.cancel();
    s.tick(); // the first tick prunes at once: nothing is old enough
    h.clock.advance(Duration.ofMinutes(30));
    s.submit(job("later", 1).build()).complete();
    JobHandle running = s.submit(job("running", 1).build());
    JobHandle pending = s.submit(job("pending", 2).build());
    s.tick(); // 30 min: within the interval since the last prune, and nothing is old enough
    assertThat(storedIds(reopen.get()))
        .containsExactly("cancelled", "done", "failed", "later", "pending", "running");

    h.clock.advance(Duration.ofMinutes(31));
    s.tick(); // 61 min: the first three ended more than an hour ago
    assertThat(storedIds(reopen.get())).containsExactly("later", "pending", "running");
    assertThat(s.job("done")).isPresent(); // still in memory (retainFinishedJobs)
    assertThat(running.state()).isEqualTo(JobState.RUNNING);
    assertThat(pending.state()).isEqualTo(JobState.PENDING);

    h.clock.advance(Duration.ofMinutes(30));
    s.tick(); // 91 min: "later" ended 61 min ago
    assertThat(storedIds(reopen.get())).containsExactly("pending", "running");
    s.close();

    GpuScheduler s2 = builder(reopen.get()).build(); // a restart finds the live jobs only
    assertThat(s2.jobs()).extracting(JobHandle::id).containsExactlyInAnyOrder("pending", "running");
    assertThat(s2.job("running").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    ((DefaultScheduler) s2).verifyInvariants();
  }

  @Test
  void onTheInMemoryStore() {
    SchedulerStore store = SchedulerStores.inMemory();
    finalJobsOlderThanTheRetentionArePrunedByTheTick(store, () -> store);
  }

  @Test
  void onH2() {
    DataSource ds = JdbcStoreTest.h2(dir, "prune");
    finalJobsOlderThanTheRetentionArePrunedByTheTick(SchedulerStores.jdbc(ds), () -> SchedulerStores.jdbc(ds));
  }

  @Test
  void aTickPrunesAtMostTwentyBatchesAndAFailedPruneChangesNothingAndIsRetried() {
    AtomicBoolean fail = new AtomicBoolean();
    AtomicInteger calls = new AtomicInteger();
    SchedulerStore inner = SchedulerStores.inMemory();
    SchedulerStore store =
        new SchedulerStore() {
          @Override
          public StoredState load() {
            return inner.load();
          }

          @Override
          public void commit(List<StoreChange> changes) {
            inner.commit(changes);
          }

          @Override
          public int pruneFinishedJobs(long endedBeforeMillis, int limit) {
            calls.incrementAndGet();
            if (fail.get()) {
              throw new StoreException("disk full (simulated)");
            }
            return inner.pruneFinishedJobs(endedBeforeMillis, limit);
          }
        };
    var changes = new java.util.ArrayList<StoreChange>();
    for (int i = 1; i <= 21_500; i++) {
      changes.add(new StoreChange.PutJob(StoreContractTest.ended("old" + i, i, JobState.COMPLETED, 1_000)));
    }
    inner.commit(changes);
    GpuScheduler s = builder(store).retainFinishedJobs(10).build();
    fail.set(true);
    s.tick();
    assertThat(calls.get()).isEqualTo(1);
    assertThat(inner.load().jobs()).hasSize(21_500); // nothing deleted, nothing else changed
    s.submit(job("a", 1).build()); // and the scheduler works on
    fail.set(false);
    s.tick(); // within the interval: not again yet
    assertThat(calls.get()).isEqualTo(1);
    h.clock.advance(Duration.ofMinutes(1));
    s.tick(); // 20 batches of 1,000
    assertThat(calls.get()).isEqualTo(21);
    assertThat(inner.load().jobs()).hasSize(1_500 + 1);
    h.clock.advance(Duration.ofMinutes(1));
    s.tick(); // the rest: a batch of 1,000, then one of 500, which ends the run
    assertThat(calls.get()).isEqualTo(23);
    assertThat(storedIds(inner)).containsExactly("a");
  }

  @Test
  void theRetentionMustNotBeNegative() {
    assertThatThrownBy(() -> GpuSchedulers.newBuilder().finishedJobRetention(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("finishedJobRetention");
  }

  /** Rejected inbox rows beyond the newest thousand are pruned with the jobs (JDBC store). */
  static void rejectedInboxRowsBeyondTheNewestThousandArePruned(DataSource ds) throws SQLException {
    SchedulerStore store = SchedulerStores.jdbc(ds);
    store.load();
    try (Connection c = ds.getConnection();
        PreparedStatement ins =
            c.prepareStatement(
                "INSERT INTO gpusched_inbox (kind, job_id, spec, replica, rejected) VALUES ('SUBMIT', ?, NULL, 'r', ?)")) {
      for (int i = 0; i < 1_205; i++) {
        ins.setString(1, "j" + i);
        ins.setString(2, i % 100 == 7 ? null : "duplicate id"); // 12 rows still waiting, 1,193 rejected
        ins.addBatch();
      }
      ins.executeBatch();
    }
    assertThat(store.pruneFinishedJobs(Long.MAX_VALUE, 100)).isZero(); // no jobs; 100 rows
    assertThat(count(ds, "SELECT COUNT(*) FROM gpusched_inbox WHERE rejected IS NOT NULL")).isEqualTo(1_093);
    assertThat(store.pruneFinishedJobs(Long.MAX_VALUE, 1_000)).isZero();
    assertThat(count(ds, "SELECT COUNT(*) FROM gpusched_inbox WHERE rejected IS NOT NULL")).isEqualTo(1_000);
    assertThat(count(ds, "SELECT MIN(id) FROM gpusched_inbox WHERE rejected IS NOT NULL"))
        .isGreaterThan(count(ds, "SELECT MIN(id) FROM gpusched_inbox")); // the oldest went
    assertThat(count(ds, "SELECT COUNT(*) FROM gpusched_inbox WHERE rejected IS NULL")).isEqualTo(12);
  }

  static long count(DataSource ds, String query) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement st = c.createStatement();
        ResultSet rs = st.executeQuery(query)) {
      assertThat(rs.next()).isTrue();
      return rs.getLong(1);
    }
  }

  @Test
  void rejectedInboxRowsOnH2() throws SQLException {
    rejectedInboxRowsBeyondTheNewestThousandArePruned(JdbcStoreTest.h2(dir, "inbox"));
  }
}
