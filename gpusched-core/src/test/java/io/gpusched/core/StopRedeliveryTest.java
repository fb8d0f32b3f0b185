package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static io.gpusched.core.SchedulerHarness.whole;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobState;
import io.gpusched.PlacementStrategy;
import io.gpusched.Reconciliation;
import io.gpusched.StopReason;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredState;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * A stop that was committed but not handed to the launcher when the scheduler died is sent again
 * by the scheduler recovered from the store (issue 12). The death is simulated exactly at that
 * point: the store accepts the commit that writes the stop, then the process is "dead" (no further
 * commit reaches the store, and the dead scheduler's launcher calls reach no host); a new scheduler
 * is built on the same store.
 */
class StopRedeliveryTest {

  final SchedulerHarness h = new SchedulerHarness();

  /** Dies right after committing the first batch that matches {@code deathAfter}. */
  static final class DyingStore implements SchedulerStore {
    final SchedulerStore inner = SchedulerStores.inMemory();
    volatile Predicate<List<StoreChange>> deathAfter = b -> false;
    volatile boolean dead;

    @Override
    public StoredState load() {
      return inner.load();
    }

    @Override
    public void commit(List<StoreChange> changes) {
      if (dead) {
        throw new StoreException("the process is dead (simulated)");
      }
      inner.commit(changes);
      if (deathAfter.test(changes)) {
        dead = true;
      }
    }

    StoredJob job(String id) {
      return inner.load().jobs().stream().filter(j -> j.id().equals(id)).findFirst().orElseThrow();
    }
  }

  /** Records stops as "id:reason:run"; after {@code dead} says so, the host hears nothing. */
  static final class Host implements JobLauncher {
    final List<String> stops = new CopyOnWriteArrayList<>();
    final java.util.function.BooleanSupplier dead;
    final Reconciliation answer;

    Host(java.util.function.BooleanSupplier dead, Reconciliation answer) {
      this.dead = dead;
      this.answer = answer;
    }

    @Override
    public void start(JobHandle job) {}

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      if (!dead.getAsBoolean()) {
        stops.add(job.id() + ":" + reason + ":" + job.attempts());
      }
    }

    @Override
    public Reconciliation reconcile(JobHandle job) {
      return answer;
    }
  }

  GpuSchedulers.Builder builder(SchedulerStore store, JobLauncher launcher) {
    return GpuSchedulers.newBuilder()
        .clock(h.clock)
        .manualTicks()
        .eventExecutor(Runnable::run)
        .store(store)
        .nodes(List.of(whole("n1", 2), whole("n2", 1)))
        .strategy(PlacementStrategy.FIRST_FIT)
        .launcher(launcher);
  }

  static Predicate<List<StoreChange>> writes(String id, JobState state, int attempts) {
    return b ->
        b.stream()
            .anyMatch(
                c -> c instanceof StoreChange.PutJob p && p.job().id().equals(id) && p.job().state() == state
                    && p.job().attempts() == attempts);
  }

  /**
   * Runs {@code kill} on a scheduler whose process dies right after the commit that writes {@code
   * id} in {@code state}; a delivered stop of job "told" must not be sent again. Returns the new
   * scheduler's host.
   */
  Host dieAfterCommitThenRecover(
      String id, JobState state, int attempts, Consumer<GpuScheduler> kill, Reconciliation answer) {
    DyingStore store = new DyingStore();
    Host host1 = new Host(() -> store.dead, Reconciliation.UNKNOWN);
    GpuScheduler s1 = builder(store, host1).build();
    JobHandle told = s1.submit(job("told", 1).build()); // n1
    s1.submit(job("x", 1).leaseTtl(Duration.ofSeconds(30)).build()); // n1
    s1.submit(job("y", 1).preemptible(true).build()); // n2
    told.cancel(); // delivered, and the delivery is written with the next round
    s1.tick();
    assertThat(host1.stops).containsExactly("told:CANCELLED:1");
    assertThat(store.job("told").stopDeadlineMillis()).isEqualTo(-1);

    store.deathAfter = writes(id, state, attempts);
    kill.accept(s1); // the stop is committed; the process dies before the host hears of it
    assertThat(store.dead).isTrue();
    assertThat(host1.stops).containsExactly("told:CANCELLED:1");
    assertThat(store.job(id).state()).isEqualTo(state);
    assertThat(store.job(id).stopDeadlineMillis()).isNotNegative(); // the record asks for it
    if (state.isFinal()) { // its end time, though the dispatcher had not set it yet at this commit
      assertThat(store.job(id).endedAtMillis()).isEqualTo(h.clock.millis());
    }

    Host host2 = new Host(() -> false, answer);
    GpuScheduler s2 = builder(store.inner, host2).build();
    s2.tick(); // writes that the stop was sent
    ((DefaultScheduler) s2).verifyInvariants();
    if (store.job(id).state() != JobState.PREEMPTING) { // else its stop deadline
      assertThat(store.job(id).stopDeadlineMillis()).isEqualTo(-1);
    }
    s2.close();
    GpuScheduler s3 = builder(store.inner, new Host(() -> false, answer)).build(); // sent once only
    s3.close();
    return host2;
  }

  @Test
  void aCancelCommittedButNotToldIsSentAgain() {
    Host host =
        dieAfterCommitThenRecover(
            "x", JobState.CANCELLED, 1,
            s -> {
              try {
                s.job("x").orElseThrow().cancel();
              } catch (StoreException expected) {
                // the write of "sent" could not reach the dead store
              }
            },
            Reconciliation.UNKNOWN);
    assertThat(host.stops).containsExactly("x:CANCELLED:1");
  }

  @Test
  void aLeaseExpiryCommittedButNotToldIsSentAgain() {
    Host host =
        dieAfterCommitThenRecover(
            "x", JobState.FAILED, 1,
            s -> {
              h.clock.advance(Duration.ofSeconds(31));
              s.job("y").orElseThrow().heartbeat();
              s.tick();
            },
            Reconciliation.UNKNOWN);
    assertThat(host.stops).containsExactly("x:LEASE_EXPIRED:1");
  }

  @Test
  void aNodeLossCommittedButNotToldIsSentAgainForTheLostRunThoughTheJobRunsAgain() {
    Host host =
        dieAfterCommitThenRecover(
            "y", JobState.RUNNING, 2, // requeued and started again on n1 in the round that lost n2
            s -> {
              try {
                s.nodeDown("n2");
              } catch (StoreException expected) {
                // the removal was committed; what followed could not be
              }
            },
            Reconciliation.UNKNOWN);
    // the stop of run 1, on a handle of run 1 (its attempts() says 1, though the job is in its
    // second run by now, so the host does not stop run 2); run 2 runs on
    assertThat(host.stops).containsExactly("y:NODE_LOST:1");
  }

  @Test
  void aDrainCommittedButNotToldIsSentAgainToAJobThatStillRuns() {
    Host host =
        dieAfterCommitThenRecover(
            "y", JobState.PREEMPTING, 1, s -> s.drain("n2", Duration.ofMinutes(5)), Reconciliation.RUNNING);
    assertThat(host.stops).containsExactly("y:NODE_DRAIN:1");
  }

  @Test
  void aPreemptingJobTheHostReportsGoneGetsNoStop() {
    Host host =
        dieAfterCommitThenRecover(
            "y", JobState.PREEMPTING, 1, s -> s.drain("n2", Duration.ofMinutes(5)), Reconciliation.GONE);
    assertThat(host.stops).isEmpty();
  }
}
