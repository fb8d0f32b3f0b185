package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.Reconciliation;
import io.gpusched.StopReason;
import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Leader election, fencing, the inbox and failover, in one JVM on an H2 database shared by the
 * replicas (in memory, so it outlives every connection). The same code on PostgreSQL with replicas
 * as separate processes killed with {@code kill -9} is {@link FailoverCrashTest}.
 */
class ReplicaTest {
  private static final AtomicInteger DBS = new AtomicInteger();
  private final String url = "jdbc:h2:mem:replica" + DBS.incrementAndGet() + ";DB_CLOSE_DELAY=-1;LOCK_TIMEOUT=10000";
  private final DataSource ds = dataSource(url);
  private final List<SchedulerReplica> replicas = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    replicas.forEach(SchedulerReplica::close);
  }

  static DataSource dataSource(String url) {
    return JdbcStoreTest.h2Url(url);
  }

  /** A host that records every call with its epoch and refuses calls from an older epoch. */
  static final class Host implements JobLauncher {
    final List<String> calls = new CopyOnWriteArrayList<>();
    final Map<String, Long> running = new ConcurrentHashMap<>();
    final AtomicLong highestEpoch = new AtomicLong();
    final List<String> refused = new CopyOnWriteArrayList<>();

    private boolean accept(JobHandle job, String what) {
      long e = job.leaderEpoch();
      if (e < highestEpoch.accumulateAndGet(e, Math::max)) {
        refused.add(what + " " + job.id() + "@" + e);
        return false;
      }
      calls.add(what + " " + job.id() + "@" + e);
      return true;
    }

    @Override
    public void start(JobHandle job) {
      if (accept(job, "start")) {
        running.put(job.id(), job.leaderEpoch());
      }
    }

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      if (accept(job, "stop " + reason)) {
        running.remove(job.id());
      }
    }

    @Override
    public Reconciliation reconcile(JobHandle job) {
      accept(job, "reconcile");
      return running.containsKey(job.id()) ? Reconciliation.RUNNING : Reconciliation.GONE;
    }
  }

  private SchedulerReplica replica(String name, Host host) {
    return replica(name, host, Duration.ofMillis(600));
  }

  private SchedulerReplica replica(String name, Host host, Duration lease) {
    SchedulerReplica r = newReplica(ds, name, host, lease);
    replicas.add(r);
    return r;
  }

  /** A replica on {@code ds} of a one-node, four-GPU scheduler with queue q (50 ms ticks, 20 ms polls). */
  static SchedulerReplica newReplica(DataSource ds, String name, Host host, Duration lease) {
    return SchedulerReplicas.newBuilder(
            ds,
            () ->
                GpuSchedulers.newBuilder()
                    .nodes(List.of(NodeSpec.builder("n1").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
                    .queue(QueueSpec.of("q"))
                    .launcher(host)
                    .tickInterval(Duration.ofMillis(50)))
        .name(name)
        .leaseDuration(lease)
        .pollInterval(Duration.ofMillis(20))
        .build();
  }

  private static JobSpec job(String id, int gpus) {
    return JobSpec.builder(PlacementRequest.wholeGpus(gpus)).id(id).queue("q").requeueOnPreemption(true).build();
  }

  /** Waits for a condition the replicas reach on their own threads; fails after 20 s. */
  private static void await(String what, BooleanSupplier c) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(5);
    }
  }

  private long count(String sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private void sql(String sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      s.executeUpdate(sql);
    }
  }

  @Test
  void aDeposedLeadersPruneDeletesNothing() throws SQLException {
    new JdbcStore(ds).checkSchema();
    long[] clock = {0};
    var a = new LeaseElection(ds, "a", 1_000, () -> clock[0]);
    var b = new LeaseElection(ds, "b", 1_000, () -> clock[0]);
    assertThat(a.tryAcquire()).isEqualTo(1);
    new JdbcStore(ds, new LeaderFence(1, () -> {}))
        .commit(List.of(new StoreChange.PutJob(StoreContractTest.ended("old", 1, io.gpusched.JobState.COMPLETED, 5))));
    assertThat(b.tryAcquire()).isZero();
    clock[0] += 1_000;
    assertThat(b.tryAcquire()).isEqualTo(2); // a is deposed

    var fenceA = new LeaderFence(1, () -> {});
    assertThatThrownBy(() -> new JdbcStore(ds, fenceA).pruneFinishedJobs(Long.MAX_VALUE, 10))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("newer leader");
    assertThat(fenceA.isDeposed()).isTrue();
    assertThat(count("SELECT COUNT(*) FROM gpusched_job")).isEqualTo(1);
    assertThat(new JdbcStore(ds, new LeaderFence(2, () -> {})).pruneFinishedJobs(Long.MAX_VALUE, 10)).isEqualTo(1);
    assertThat(count("SELECT COUNT(*) FROM gpusched_job")).isZero();
  }

  @Test
  void aLeaseIsTakenOnlyWhenItRunsOutAndTheOldEpochIsFencedOutOfTheStore() throws SQLException {
    new JdbcStore(ds).checkSchema();
    long[] clock = {0};
    long lease = 1_000;
    var a = new LeaseElection(ds, "a", lease, () -> clock[0]);
    var b = new LeaseElection(ds, "b", lease, () -> clock[0]);
    assertThat(a.tryAcquire()).isEqualTo(1); // free at first
    assertThat(b.tryAcquire()).isZero(); // b starts measuring
    for (int i = 0; i < 5; i++) {
      clock[0] += 600;
      assertThat(a.renew(1)).isTrue();
      assertThat(b.tryAcquire()).as("a renews: b never takes over").isZero();
    }
    clock[0] += 999;
    assertThat(b.tryAcquire()).as("not yet a whole lease without a renewal").isZero();
    clock[0] += 1;
    assertThat(b.tryAcquire()).isEqualTo(2);
    assertThat(a.renew(1)).as("a is deposed").isFalse();

    var fenceA = new LeaderFence(1, () -> {});
    assertThatThrownBy(
            () -> new JdbcStore(ds, fenceA).commit(List.of(new StoreChange.PutJob(StoreContractTest.pending("x", 1)))))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("epoch 1")
        .hasMessageContaining("newer leader");
    assertThat(fenceA.isDeposed()).isTrue();
    assertThat(count("SELECT COUNT(*) FROM gpusched_job")).as("nothing of the deposed leader's commit").isZero();
    new JdbcStore(ds, new LeaderFence(2, () -> {}))
        .commit(List.of(new StoreChange.PutJob(StoreContractTest.pending("x", 1))));
    assertThat(count("SELECT COUNT(*) FROM gpusched_job")).isEqualTo(1);

    assertThat(b.release(2)).isTrue();
    assertThat(a.tryAcquire()).as("a released lease is free at once").isEqualTo(3);
  }

  @Test
  void aFollowerTakesSubmitsAndCancelsThroughTheInboxAndTakesOverWithTheRunningJobs() throws Exception {
    Host host = new Host();
    SchedulerReplica r1 = replica("r1", host);
    await("r1 leads", () -> r1.status().role() == ReplicaStatus.Role.LEADER);
    SchedulerReplica r2 = replica("r2", host);
    await("r2 sees epoch 1", () -> r2.status().epoch() == 1 && r2.status().storeReachable());
    assertThat(r2.status().role()).isEqualTo(ReplicaStatus.Role.FOLLOWER);

    r2.submit(job("a", 2));
    assertThat(r2.state("a")).as("acknowledged: in the inbox at least").isPresent();
    await("a runs", () -> r2.state("a").equals(java.util.Optional.of(JobState.RUNNING)));
    await("the host starts a (after the start's commit)", () -> host.calls.contains("start a@1"));
    assertThatThrownBy(() -> r2.submit(job("a", 1))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a");
    assertThatThrownBy(() -> r2.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("z").queue("nope").build()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("nope");

    assertThat(r2.cancel("a")).isTrue();
    await("a cancelled", () -> r2.state("a").equals(java.util.Optional.of(JobState.CANCELLED)));
    await("the host stops a", () -> host.calls.contains("stop CANCELLED a@1"));
    assertThat(count("SELECT COUNT(*) FROM gpusched_inbox")).as("applied rows are consumed").isZero();

    r2.submit(job("b", 2));
    r1.submit(job("c", 2));
    await("b and c run", () -> host.running.containsKey("b") && host.running.containsKey("c"));
    var gpusBefore = r1.leader().orElseThrow().job("b").orElseThrow().allocations().get(0).gpus();
    r2.submit(job("d", 1)); // waits: the node is full

    r1.close();
    await("r2 leads", () -> r2.status().role() == ReplicaStatus.Role.LEADER);
    assertThat(r2.status().epoch()).isEqualTo(2);
    assertThat(r2.status().takeovers()).isEqualTo(1);
    var s2 = r2.leader().orElseThrow();
    assertThat(s2.job("b").orElseThrow().state()).isEqualTo(JobState.RUNNING);
    assertThat(s2.job("b").orElseThrow().allocations().get(0).gpus()).isEqualTo(gpusBefore);
    assertThat(s2.job("b").orElseThrow().leaderEpoch()).isEqualTo(2);
    assertThat(host.calls).contains("reconcile b@2", "reconcile c@2");
    // d is in the store or still in the inbox (r1 may have closed before its poll): either way the
    // new leader has it, pending
    await("r2 has d", () -> s2.job("d").isPresent());
    assertThat(s2.job("d").orElseThrow().state()).isEqualTo(JobState.PENDING);
    assertThat(host.refused).isEmpty();

    s2.job("b").orElseThrow().complete();
    await("d runs in epoch 2", () -> host.calls.contains("start d@2"));
  }

  @Test
  void aDeposedLeaderCannotWriteAndStepsDown() throws Exception {
    Host host = new Host();
    // a long lease: r1 renews only every 20 s, so it cannot notice the takeover below by a renewal
    // before its next write does (with a short one, a loaded machine let it step down first and
    // the write went to the inbox instead of being fenced)
    SchedulerReplica r1 = replica("r1", host, Duration.ofSeconds(60));
    await("r1 leads", () -> r1.status().role() == ReplicaStatus.Role.LEADER);
    r1.submit(job("a", 1));
    // another replica takes the lease while r1 is paused (as if r1 hung through its lease)
    sql("UPDATE gpusched_leader SET epoch = 2, holder = 'other', renewals = 0");

    assertThatThrownBy(() -> r1.submit(job("b", 1)))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("fenced");
    assertThat(count("SELECT COUNT(*) FROM gpusched_job WHERE id = 'b'")).isZero();
    await("r1 steps down", () -> r1.status().role() == ReplicaStatus.Role.FOLLOWER);
    assertThat(host.calls).doesNotContain("start b@1");
  }

  @Test
  void anInboxRowCommittedAfterARowWithAHigherIdIsStillApplied() throws Exception {
    Host host = new Host();
    SchedulerReplica r1 = replica("r1", host);
    await("r1 leads", () -> r1.status().role() == ReplicaStatus.Role.LEADER);
    SchedulerReplica r2 = replica("r2", host);
    try (Connection slow = ds.getConnection()) {
      slow.setAutoCommit(false); // a follower whose insert takes its id first and commits last
      try (var p =
          slow.prepareStatement("INSERT INTO gpusched_inbox (kind, job_id, spec, replica) VALUES ('SUBMIT', 'late', ?, 'slow')")) {
        p.setString(1, SpecCodec.job(job("late", 1)));
        p.executeUpdate();
      }
      r2.submit(job("early", 1)); // a higher id, committed first
      await("early runs", () -> host.running.containsKey("early"));
      slow.commit();
    }
    await("late runs too", () -> host.running.containsKey("late"));
    assertThat(count("SELECT COUNT(*) FROM gpusched_inbox")).isZero();
  }
}
