package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.JobState;
import io.gpusched.StopReason;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredState;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import javax.sql.DataSource;

/**
 * What a {@link JdbcStore} commit writes for a job change ({@link JobRows}), checked on a database
 * (H2 from {@link JdbcStoreTest}, PostgreSQL from {@link PostgresStoreTest}): a change that keeps a
 * job's submission rewrites neither its spec nor its unchanged GPU rows (the checks mark those in
 * the database behind the store's back and see the marks survive), a changed allocation or a new
 * submission of the id is written in full, and a row that vanished behind the store is written in
 * full again rather than lost.
 */
final class ChangedRowsChecks {
  private ChangedRowsChecks() {}

  static void onlyWhatChangedIsWritten(DataSource ds) throws SQLException {
    JdbcStore store = (JdbcStore) SchedulerStores.jdbc(ds);
    store.load();
    StoredJob a = StoreContractTest.running("a");
    store.commit(List.of(new StoreChange.PutJob(a)));
    sql(ds, "UPDATE gpusched_job_gpu SET gpu_uuid = 'marked' WHERE job_id = 'a'");
    sql(ds, "UPDATE gpusched_job SET spec = CONCAT(spec, ' ') WHERE id = 'a'");

    StoredJob checkpointed = with(a, a.state(), a.endedAtMillis(), "s3://ckpt/8", a.allocations());
    store.commit(List.of(new StoreChange.PutJob(checkpointed)));
    assertThat(text(ds, "SELECT checkpoint_ref FROM gpusched_job WHERE id = 'a'")).isEqualTo("s3://ckpt/8");
    assertThat(count(ds, "SELECT COUNT(*) FROM gpusched_job_gpu WHERE job_id = 'a' AND gpu_uuid = 'marked'"))
        .as("GPU rows of an unchanged allocation are not rewritten")
        .isEqualTo(4);
    assertThat(text(ds, "SELECT spec FROM gpusched_job WHERE id = 'a'"))
        .as("the spec of a job whose row holds its submission is not rewritten")
        .endsWith(" ");

    StoredJob ended = with(a, JobState.COMPLETED, 10_000, "s3://ckpt/8", List.of());
    store.commit(List.of(new StoreChange.PutJob(ended)));
    assertThat(count(ds, "SELECT COUNT(*) FROM gpusched_job_gpu")).as("an end deletes its GPU rows").isZero();
    assertThat(store.jobRows.size()).as("a final job is not remembered").isZero();

    StoredJob again = StoreContractTest.pending("a", 9); // the id submitted again: another spec
    store.commit(List.of(new StoreChange.PutJob(again)));
    assertThat(SchedulerStores.jdbc(ds).load().jobs()).containsExactly(again);

    StoredJob b = StoreContractTest.running("b");
    store.commit(List.of(new StoreChange.PutJob(b)));
    sql(ds, "DELETE FROM gpusched_job WHERE id = 'b'");
    sql(ds, "DELETE FROM gpusched_job_gpu WHERE job_id = 'b'");
    StoredJob b2 = with(b, b.state(), b.endedAtMillis(), "s3://ckpt/9", b.allocations());
    store.commit(List.of(new StoreChange.PutJob(b2), new StoreChange.PutJob(with(again, JobState.CANCELLED, 11_000, null, List.of()))));
    StoredState back = SchedulerStores.jdbc(ds).load();
    assertThat(back.jobs())
        .as("a row deleted behind the store is written in full by the next change")
        .containsExactlyInAnyOrder(b2, with(again, JobState.CANCELLED, 11_000, null, List.of()));
  }

  private static StoredJob with(
      StoredJob j, JobState state, long endedAt, @org.jspecify.annotations.Nullable String checkpoint,
      List<io.gpusched.store.StoredAllocation> allocations) {
    StopReason why = state == JobState.PREEMPTING ? j.stopReason() : null;
    return new StoredJob(
        j.spec(), j.sequence(), state, j.attempts(), why, j.endReason(), j.submittedAtMillis(), j.queuedAtMillis(),
        j.startedAtMillis(), endedAt, state == JobState.PREEMPTING ? j.stopDeadlineMillis() : -1, j.startOrder(),
        j.accruedCost(), checkpoint, allocations);
  }

  private static void sql(DataSource ds, String statement) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute(statement);
    }
  }

  private static long count(DataSource ds, String query) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(query)) {
      assertThat(rs.next()).isTrue();
      return rs.getLong(1);
    }
  }

  private static String text(DataSource ds, String query) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(query)) {
      assertThat(rs.next()).isTrue();
      return rs.getString(1);
    }
  }
}
