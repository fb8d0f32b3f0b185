package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.store.CommittedJob;
import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredNode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What a replica reads from the database (any replica, the leader too), its leadership listeners,
 * and the cold replica's grace before it takes a lease; on H2 shared in this JVM.
 */
class ReplicaFollowerTest {
  private static final AtomicInteger DBS = new AtomicInteger();
  private final DataSource ds =
      ReplicaTest.dataSource(
          "jdbc:h2:mem:replica-follower" + DBS.incrementAndGet() + ";DB_CLOSE_DELAY=-1;LOCK_TIMEOUT=10000");
  private final List<SchedulerReplica> replicas = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    replicas.forEach(SchedulerReplica::close);
  }

  private SchedulerReplica replica(String name, ReplicaTest.Host host) {
    SchedulerReplica r = ReplicaTest.newReplica(ds, name, host, Duration.ofMillis(600));
    replicas.add(r);
    return r;
  }

  private static void await(String what, BooleanSupplier c) throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(5);
    }
  }

  private static JobSpec spec(String id) {
    return JobSpec.builder(PlacementRequest.mig("1g.10gb")).id(id).build();
  }

  @Test
  void readsShowCommittedRecordsAndWaitingSubmissionsWithoutALeader() {
    readsWithoutALeader(ds);
  }

  /** The reads on a database without a leader (H2 here, PostgreSQL in {@link PostgresStoreTest}). */
  static void readsWithoutALeader(DataSource ds) {
    new JdbcStore(ds).checkSchema();
    StoredJob running = StoreContractTest.running("r");
    new JdbcStore(ds)
        .commit(
            List.of(
                new StoreChange.PutJob(StoreContractTest.pending("p2", 2)),
                new StoreChange.PutJob(StoreContractTest.pending("p1", 1)),
                new StoreChange.PutJob(running),
                new StoreChange.PutJob(StoreContractTest.ended("e", 3, JobState.COMPLETED, 5_000))));
    Inbox inbox = new Inbox(ds);
    Set<String> queues = Set.of(JobSpec.DEFAULT_QUEUE);
    inbox.offerSubmit(spec("w"), queues, "f");
    inbox.offerSubmit(spec("e"), queues, "f"); // an ended id submitted again: newer than its record
    ReplicaReads reads = new ReplicaReads(ds);

    assertThat(reads.job("r")).contains(CommittedJob.of(running)); // every GPU, MIG slice, share, host
    CommittedJob w = reads.job("w").orElseThrow();
    assertThat(w.inInbox()).isTrue();
    assertThat(w.state()).isEqualTo(JobState.PENDING);
    assertThat(w.spec()).isEqualTo(spec("w"));
    assertThat(reads.job("e").orElseThrow().inInbox()).as("the waiting resubmission, not the ended record").isTrue();
    assertThat(inbox.state("e")).as("state agrees (it said COMPLETED before)").contains(JobState.PENDING);
    assertThat(reads.job("nope")).isEmpty();

    assertThat(reads.pending(JobSpec.DEFAULT_QUEUE, 10).stream().map(CommittedJob::id))
        .containsExactly("p1", "p2", "w", "e");
    assertThat(reads.pending(JobSpec.DEFAULT_QUEUE, 3).stream().map(CommittedJob::id)).containsExactly("p1", "p2", "w");
    assertThat(reads.pending("other", 10)).isEmpty();
    assertThatThrownBy(() -> reads.pending(JobSpec.DEFAULT_QUEUE, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("limit must be > 0, was 0");
    assertThat(reads.jobCounts())
        .isEqualTo(Map.of(JobState.PENDING, 4L, JobState.PREEMPTING, 1L, JobState.COMPLETED, 1L));

    assertThat(reads.queues()).as("no queue committed yet").isEmpty();
    assertThat(reads.nodes()).isEmpty();
    var q = StoreContractTest.queue("q", 0.25);
    var n2 = new StoredNode(SchedulerHarness.mig("m", 2), NodeState.DOWN, false, 2);
    var n1 = new StoredNode(StoreContractTest.richNode(), NodeState.CORDONED, true, 1);
    new JdbcStore(ds).commit(List.of(new StoreChange.PutQueue(q), new StoreChange.PutNode(n2), new StoreChange.PutNode(n1)));
    assertThat(reads.queues()).containsExactly(q); // usage per model and its timestamp, exact
    assertThat(reads.nodes()).as("in the order they were added").containsExactly(n1, n2);
  }

  /**
   * The leader applies a follower's submission (commits the job, deletes the inbox row) between the
   * two statements of a read. {@code state} read the job table first and then the inbox, and so
   * returned empty for a job that was pending all along (failed with that order); the inbox is now
   * read first.
   */
  @Test
  void aSubmissionAppliedBetweenTheTwoStatementsOfAReadIsStillSeen() {
    new JdbcStore(ds).checkSchema();
    Inbox inbox = new Inbox(ds);
    inbox.offerSubmit(spec("x"), Set.of(JobSpec.DEFAULT_QUEUE), "f");
    assertThat(new Inbox(afterJobQuery(ds, applyOnce("x", 1))).state("x")).contains(JobState.PENDING);
    inbox.offerSubmit(spec("y"), Set.of(JobSpec.DEFAULT_QUEUE), "f");
    assertThat(new ReplicaReads(afterJobQuery(ds, applyOnce("y", 2))).job("y")).isPresent();
  }

  /** What the leader's commit of a waiting submission does (the job written, its row deleted), once. */
  private Runnable applyOnce(String id, long seq) {
    AtomicBoolean armed = new AtomicBoolean(true);
    return () -> {
      if (armed.getAndSet(false)) {
        new JdbcStore(ds).commit(List.of(new StoreChange.PutJob(StoreContractTest.pending(id, seq))));
        try (var c = ds.getConnection(); var st = c.prepareStatement("DELETE FROM gpusched_inbox WHERE job_id = ?")) {
          st.setString(1, id);
          st.executeUpdate();
        } catch (java.sql.SQLException e) {
          throw new AssertionError(e);
        }
      }
    };
  }

  /** {@code ds}, running {@code hook} after each query of the job table by id. */
  private static DataSource afterJobQuery(DataSource ds, Runnable hook) {
    return (DataSource)
        java.lang.reflect.Proxy.newProxyInstance(
            ReplicaFollowerTest.class.getClassLoader(),
            new Class<?>[] {DataSource.class},
            (p, m, args) -> {
              Object r = invoke(ds, m, args);
              if (!(r instanceof java.sql.Connection c)) {
                return r;
              }
              return java.lang.reflect.Proxy.newProxyInstance(
                  ReplicaFollowerTest.class.getClassLoader(),
                  new Class<?>[] {java.sql.Connection.class},
                  (pc, mc, argsc) -> {
                    Object rc = invoke(c, mc, argsc);
                    if (!(rc instanceof java.sql.PreparedStatement ps)
                        || !String.valueOf(argsc[0]).contains("FROM gpusched_job WHERE id")) {
                      return rc;
                    }
                    return java.lang.reflect.Proxy.newProxyInstance(
                        ReplicaFollowerTest.class.getClassLoader(),
                        new Class<?>[] {java.sql.PreparedStatement.class},
                        (pp, mp, argsp) -> {
                          Object rp = invoke(ps, mp, argsp);
                          if (mp.getName().equals("executeQuery")) {
                            hook.run();
                          }
                          return rp;
                        });
                  });
            });
  }

  private static Object invoke(Object target, java.lang.reflect.Method m, Object[] args) throws Throwable {
    try {
      return m.invoke(target, args);
    } catch (java.lang.reflect.InvocationTargetException e) {
      throw e.getCause();
    }
  }

  @Test
  void aFollowerReadsWhatTheLeaderCommitted() throws Exception {
    ReplicaTest.Host host = new ReplicaTest.Host();
    SchedulerReplica r1 = replica("r1", host);
    await("r1 leads", () -> r1.status().role() == ReplicaStatus.Role.LEADER);
    SchedulerReplica r2 = replica("r2", host);
    await("r2 sees r1", () -> "r1".equals(r2.status().leader()));
    assertThat(r1.status().leader()).isEqualTo("r1");

    r2.submit(JobSpec.builder(PlacementRequest.wholeGpus(3)).id("a").queue("q").build());
    r2.submit(JobSpec.builder(PlacementRequest.wholeGpus(2)).id("b").queue("q").build()); // waits: 1 GPU left
    await("the host starts a", () -> host.running.containsKey("a"));
    await("b is committed pending", () -> r2.job("b").map(j -> !j.inInbox()).orElse(false));
    CommittedJob a = r2.job("a").orElseThrow();
    assertThat(a.state()).isEqualTo(JobState.RUNNING);
    assertThat(a.attempts()).isEqualTo(1);
    assertThat(a.allocations().get(0).gpus())
        .isEqualTo(r1.leader().orElseThrow().job("a").orElseThrow().allocations().get(0).gpus());
    assertThat(r2.pending("q", 10).stream().map(CommittedJob::id)).containsExactly("b");
    assertThat(r2.jobCounts()).isEqualTo(Map.of(JobState.RUNNING, 1L, JobState.PENDING, 1L));
    assertThat(r1.job("a")).as("the leader reads the same").isEqualTo(r2.job("a"));

    // queues and nodes as the leader committed them
    await("q's usage is committed", () -> r2.queues().stream()
        .filter(x -> x.spec().name().equals("q"))
        .anyMatch(x -> x.decayedShare().values().stream().mapToDouble(Double::doubleValue).sum() > 0));
    GpuScheduler leader = r1.leader().orElseThrow();
    assertThat(r2.nodes()).extracting(n -> n.spec().id())
        .containsExactlyElementsOf(leader.cluster().nodes().stream().map(n -> n.id()).toList());
    assertThat(r2.nodes()).allSatisfy(n -> assertThat(n.state()).isEqualTo(NodeState.READY));
    String node = a.allocations().get(0).gpus().get(0).nodeId();
    leader.cordon(node); // committed before it returns
    assertThat(r2.nodes()).filteredOn(n -> n.spec().id().equals(node)).singleElement()
        .satisfies(n -> assertThat(n.state()).isEqualTo(NodeState.CORDONED));
  }

  @Test
  void leadershipListenersHearEachEpochBeginAndEnd() throws Exception {
    ReplicaTest.Host host = new ReplicaTest.Host();
    List<String> heard1 = new CopyOnWriteArrayList<>();
    List<String> heard2 = new CopyOnWriteArrayList<>();
    SchedulerReplica r1 = replica("r1", host);
    await("r1 leads", () -> r1.status().role() == ReplicaStatus.Role.LEADER);
    r1.addLeadershipListener(listener(heard1)); // added while leading: hears it at once
    SchedulerReplica r2 = replica("r2", host);
    r2.addLeadershipListener(listener(heard2));
    await("r1's listener hears epoch 1", () -> heard1.equals(List.of("leading 1")));
    await("r2 sees epoch 1", () -> r2.status().epoch() == 1);

    r1.close();
    assertThat(heard1).containsExactly("leading 1", "stopped 1 (scheduler open: true)");
    await("r2's listener hears epoch 2", () -> heard2.equals(List.of("leading 2")));
    assertThatThrownBy(() -> r1.addLeadershipListener(listener(heard1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
  }

  private static SchedulerReplica.LeadershipListener listener(List<String> heard) {
    return new SchedulerReplica.LeadershipListener() {
      @Override
      public void leading(GpuScheduler scheduler, long epoch) {
        heard.add("leading " + epoch);
      }

      @Override
      public void stoppedLeading(GpuScheduler scheduler, long epoch) {
        heard.add("stopped " + epoch + " (scheduler open: " + !scheduler.isClosed() + ")");
      }
    };
  }

  @Test
  void aColdReplicaTakesAnExpiredOrReleasedLeaseOnlyAfterItsGraceSoAWarmOneWins() {
    new JdbcStore(ds).checkSchema();
    long[] clock = {0};
    long lease = 3_000;
    long grace = 1_000;
    var a = new LeaseElection(ds, "a", lease, grace, () -> clock[0]);
    var warm = new LeaseElection(ds, "warm", lease, grace, () -> clock[0]);
    var cold = new LeaseElection(ds, "cold", lease, grace, () -> clock[0]);
    assertThat(cold.tryAcquire(false)).as("a free lease: cold waits its grace").isZero();
    assertThat(a.tryAcquire(true)).as("a free lease: warm takes it at once").isEqualTo(1);
    assertThat(warm.tryAcquire(true)).isZero();
    assertThat(cold.tryAcquire(false)).isZero();

    clock[0] += lease; // a died right after its last renewal
    assertThat(cold.tryAcquire(false)).as("expired, but cold waits").isZero();
    assertThat(warm.tryAcquire(true)).as("the warm follower takes over at expiry").isEqualTo(2);

    clock[0] += 10; // warm dies at once; cold sees the new row and measures from now
    assertThat(cold.tryAcquire(false)).isZero();
    clock[0] += lease;
    assertThat(cold.tryAcquire(false)).as("alone, cold still waits its grace").isZero();
    clock[0] += grace - 1;
    assertThat(cold.tryAcquire(false)).isZero();
    clock[0] += 1;
    assertThat(cold.tryAcquire(false)).as("then a lone cold follower takes over").isEqualTo(3);

    assertThat(cold.release(3)).isTrue();
    assertThat(a.tryAcquire(false)).as("released: a cold replica waits its grace").isZero();
    clock[0] += grace;
    assertThat(a.tryAcquire(false)).isEqualTo(4);
    assertThat(Optional.ofNullable(Replica.holderName("sched-1/ab12"))).contains("sched-1");
  }
}
