package io.gpusched.core;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.store.CommittedJob;
import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link SchedulerReplica}: the election thread and the leader's work thread around a {@link
 * DefaultScheduler} built for each epoch this replica wins.
 *
 * <h2>Threads</h2>
 *
 * <ul>
 *   <li><b>Election</b> (every poll interval): as a follower, {@link LeaseElection#tryAcquire};
 *       holding the lease, {@link LeaseElection#renew} every renewal interval. It decides when
 *       leadership begins and ends ({@link #held}) and hands the work to the work thread.
 *   <li><b>Work</b> (one thread): builds the scheduler of a won epoch (load, recovery,
 *       reconciliation: the lease is renewed meanwhile by the election thread), consumes the inbox
 *       every poll interval while leading, and closes the scheduler when leadership ends. Every
 *       change of {@link #leading} happens here, so a build and a step-down never interleave.
 * </ul>
 *
 * <p>{@link SchedulerReplica.LeadershipListener}s are called on the work thread too, after a build
 * and before a scheduler is closed.
 *
 * <p>Leadership ends when a renewal finds another holder, when a fenced commit finds a newer epoch
 * ({@link LeaderFence}), or when the database has been unreachable for a whole lease (this replica
 * can no longer know that it leads; another may already). The scheduler is closed then; commits it
 * still attempts are fenced, and its launcher calls carry its old epoch.
 */
final class Replica implements SchedulerReplica {

  private static final Logger log = LoggerFactory.getLogger(Replica.class);

  /** The leader's state of one epoch (work thread writes, anyone reads). */
  private record Leading(long epoch, LeaderFence fence, DefaultScheduler scheduler) {}

  private final DataSource dataSource;
  private final Supplier<GpuSchedulers.Builder> config;
  private final UnaryOperator<SchedulerStore> decorate;
  private final String name;
  private final long leaseNanos;
  private final long renewNanos;
  private final LeaseElection election;
  private final Inbox inbox;
  private final ReplicaReads reads;
  /** Work thread only. */
  private final List<LeadershipListener> listeners = new ArrayList<>();
  private final Set<String> queues;
  private final ScheduledExecutorService electionThread;
  private final ScheduledExecutorService workThread;

  /** The epoch whose lease this replica holds (or is acquiring), 0 if none. */
  private final AtomicLong held = new AtomicLong();

  private volatile @Nullable Leading leading;
  private volatile boolean reachable;
  private volatile long seenEpoch;
  private volatile @Nullable String seenHolder;
  /** Whether the warm-up build finished (or failed): a cold replica waits longer to take over. */
  private volatile boolean warm;
  private volatile boolean closed;
  private final AtomicLong takeovers = new AtomicLong();
  /** Election thread only. */
  private long lastRenewOk;

  private long lastRenewTry;

  Replica(
      DataSource dataSource,
      Supplier<GpuSchedulers.Builder> config,
      UnaryOperator<SchedulerStore> decorate,
      String name,
      long leaseMillis,
      long pollMillis) {
    this.dataSource = dataSource;
    this.config = config;
    this.decorate = decorate;
    this.name = name;
    this.leaseNanos = TimeUnit.MILLISECONDS.toNanos(leaseMillis);
    this.renewNanos = leaseNanos / 3;
    this.election =
        new LeaseElection(
            dataSource, name + "/" + java.util.UUID.randomUUID(), leaseNanos, renewNanos, System::nanoTime);
    this.inbox = new Inbox(dataSource);
    this.reads = new ReplicaReads(dataSource);
    GpuSchedulers.Builder b = config.get();
    Set<String> qs = new LinkedHashSet<>(b.queues.keySet());
    if (qs.isEmpty()) {
      qs.add(JobSpec.DEFAULT_QUEUE);
    }
    this.queues = Set.copyOf(qs);
    this.electionThread = Executors.newSingleThreadScheduledExecutor(r -> thread(r, "gpusched-election-" + name));
    this.workThread = Executors.newSingleThreadScheduledExecutor(r -> thread(r, "gpusched-leader-" + name));
    workThread.execute(this::warmUp);
    // the futures only ever end by cancellation (close): each step catches what it throws
    var unusedElection =
        electionThread.scheduleWithFixedDelay(this::electionStep, 0, pollMillis, TimeUnit.MILLISECONDS);
    var unusedInbox =
        workThread.scheduleWithFixedDelay(this::consumeInbox, pollMillis, pollMillis, TimeUnit.MILLISECONDS);
  }

  private static Thread thread(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  @Override
  public String toString() {
    return "SchedulerReplica[" + election.token() + "]";
  }

  // ---- election thread ----

  private void electionStep() {
    if (closed) {
      return;
    }
    long now = System.nanoTime();
    long h = held.get();
    try {
      if (h == 0) {
        long won = election.tryAcquire(warm);
        LeaseElection.Seen s = election.last();
        if (s != null) {
          seenEpoch = s.epoch();
          seenHolder = s.holder();
        }
        reachable = true;
        if (won > 0 && held.compareAndSet(0, won)) {
          seenEpoch = won;
          lastRenewOk = now;
          lastRenewTry = now;
          log.info("gpusched replica {} won the lease in epoch {} ({}); recovering", name, won,
              warm ? "warm" : "cold: its warm-up build has not finished");
          workThread.execute(() -> lead(won, now));
        }
      } else if (now - lastRenewTry >= renewNanos) {
        lastRenewTry = now;
        boolean ok = election.renew(h);
        reachable = true;
        if (ok) {
          lastRenewOk = now;
        } else {
          lose(h, "another replica holds the lease");
        }
      }
    } catch (StoreException e) {
      reachable = false;
      log.debug("gpusched replica {}: the store is unreachable", name, e);
      if (h != 0 && now - lastRenewOk >= leaseNanos) {
        lose(h, "the store was unreachable for a whole lease");
      }
    } catch (java.util.concurrent.RejectedExecutionException e) {
      if (!closed) {
        log.error("gpusched replica {}: election step failed", name, e);
      } // else: closed during this step (its work thread is shut down): nothing to hand over
    } catch (RuntimeException e) {
      log.error("gpusched replica {}: election step failed", name, e);
    }
  }

  /** Ends leadership of epoch {@code epoch} (any thread); the work thread closes the scheduler. */
  private void lose(long epoch, String why) {
    if (held.compareAndSet(epoch, 0)) {
      log.warn("gpusched replica {} is no longer the leader of epoch {}: {}", name, epoch, why);
      workThread.execute(() -> stepDown(epoch));
    }
  }

  // ---- work thread ----

  /**
   * Builds the scheduler of a won epoch (work thread).
   *
   * @param wonAt when the election thread won the lease ({@code System.nanoTime()}): the log line
   *     says how long the takeover waited for this thread (a warm-up still running on it)
   */
  private void lead(long epoch, long wonAt) {
    if (held.get() != epoch || closed) {
      return;
    }
    LeaderFence fence = new LeaderFence(epoch, () -> lose(epoch, "a commit found a newer epoch (fenced)"));
    long t0 = System.nanoTime();
    RecoveryTimes times = new RecoveryTimes();
    DefaultScheduler s;
    try {
      GpuSchedulers.Builder b = config.get();
      b.store(times.wrap(decorate.apply(new JdbcStore(dataSource, fence))));
      b.leaderEpoch = epoch;
      s = (DefaultScheduler) b.build();
    } catch (RuntimeException e) {
      log.error("gpusched replica {} could not recover as the leader of epoch {}; giving the lease up",
          name, epoch, e);
      if (held.compareAndSet(epoch, 0)) {
        try {
          election.release(epoch);
        } catch (StoreException r) {
          e.addSuppressed(r);
        }
      }
      return;
    }
    if (held.get() != epoch || closed) {
      s.close();
      return;
    }
    leading = new Leading(epoch, fence, s);
    takeovers.incrementAndGet();
    try {
      election.markReady(epoch);
    } catch (StoreException e) {
      log.debug("gpusched replica {}: could not mark epoch {} ready", name, epoch, e);
    }
    for (LeadershipListener x : listeners) { // after ready: a slow listener does not delay it
      tell(x, true, s, epoch);
    }
    long t1 = System.nanoTime();
    var counts = s.snapshot().jobsByState();
    log.info(
        "gpusched replica {} leads in epoch {} (its recovery took {} ms after {} ms waiting for the work"
            + " thread: {}, the rest restore, reconciliation of {} running jobs and configuration)",
        name, epoch, TimeUnit.NANOSECONDS.toMillis(t1 - t0), TimeUnit.NANOSECONDS.toMillis(t0 - wonAt),
        times.stop(),
        counts.getOrDefault(JobState.RUNNING, 0) + counts.getOrDefault(JobState.PREEMPTING, 0));
  }

  /**
   * Builds and closes a throwaway scheduler from the configuration on a copy of the stored state
   * in memory (no launcher, no listeners, no timer, its own cluster), so that the code a takeover
   * runs (loading, decoding, restoring) is loaded and compiled before it is needed: a cold JVM took
   * seconds for its first build on a loaded two-core machine, a warm one milliseconds. Failures
   * are only logged: the takeover works without it.
   */
  private void warmUp() {
    long t0 = System.nanoTime();
    try {
      var state = new JdbcStore(dataSource).load();
      var copy = new InMemoryStore();
      var changes = new java.util.ArrayList<io.gpusched.store.StoreChange>();
      state.jobs().forEach(j -> changes.add(new io.gpusched.store.StoreChange.PutJob(j)));
      state.queues().forEach(q -> changes.add(new io.gpusched.store.StoreChange.PutQueue(q)));
      state.nodes().forEach(n -> changes.add(new io.gpusched.store.StoreChange.PutNode(n)));
      copy.commit(changes);
      GpuSchedulers.Builder b = config.get();
      if (b.cluster != null) { // never touch the application's cluster: a copy of its nodes
        b.nodes.addAll(b.cluster.nodes());
        b.cluster = null;
      }
      b.listeners.clear();
      b.launcher = io.gpusched.JobLauncher.NONE;
      b.manualTicks = true;
      b.eventExecutor = Runnable::run;
      b.store = copy;
      b.build().close();
      log.info("gpusched replica {} warmed up in {} ms", name, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    } catch (RuntimeException e) {
      log.debug("gpusched replica {}: warm-up failed", name, e);
    } finally {
      warm = true;
    }
  }

  /** Calls a listener (work thread); what it throws is logged. */
  private void tell(LeadershipListener x, boolean lead, GpuScheduler s, long epoch) {
    try {
      if (lead) {
        x.leading(s, epoch);
      } else {
        x.stoppedLeading(s, epoch);
      }
    } catch (RuntimeException e) {
      log.error("gpusched replica {}: leadership listener {} failed", name, x, e);
    }
  }

  private void stepDown(long epoch) {
    Leading l = leading;
    if (l != null && l.epoch == epoch) {
      leading = null;
      for (LeadershipListener x : listeners) {
        tell(x, false, l.scheduler, l.epoch);
      }
      l.scheduler.close();
    }
  }

  /**
   * Applies the inbox rows (work thread, while leading). Every poll reads the rows from the first:
   * an applied row is deleted by its commit, and a high-water mark of row ids would skip a row
   * whose transaction committed after a row with a higher id (ids are taken at insert, not at
   * commit).
   */
  private void consumeInbox() {
    Leading l = leading;
    if (l == null || l.fence.isDeposed() || closed) {
      return;
    }
    try {
      for (Inbox.Row row : inbox.poll(0, 500)) {
        if (l.fence.waiting(row.jobId(), row.id())) {
          continue; // applied; its commit is still to come (kept by the journal)
        }
        if (!apply(l, row)) {
          return; // the store failed: this row again at the next poll
        }
      }
    } catch (StoreException e) {
      log.debug("gpusched replica {}: inbox poll failed", name, e);
    } catch (RuntimeException e) {
      log.error("gpusched replica {}: inbox poll failed", name, e);
    }
  }

  /** Applies one row; false if the store failed and the row must be tried again. */
  private boolean apply(Leading l, Inbox.Row row) {
    LeaderFence f = l.fence;
    if (Inbox.SUBMIT.equals(row.kind())) {
      JobSpec spec;
      try {
        spec = SpecCodec.job(Objects.requireNonNull(row.spec(), "spec"));
      } catch (RuntimeException e) {
        inbox.reject(f, row.id(), "unreadable spec: " + e);
        return true;
      }
      f.consumeWith(spec.id(), row.id(), false);
      try {
        l.scheduler.submit(spec);
      } catch (IllegalArgumentException e) {
        f.forget(spec.id(), row.id());
        inbox.reject(f, row.id(), e.getMessage() == null ? e.toString() : e.getMessage());
      } catch (StoreException | IllegalStateException e) {
        f.forget(spec.id(), row.id());
        return false;
      }
      return true;
    }
    Optional<JobHandle> h = l.scheduler.job(row.jobId());
    if (h.isPresent() && !h.get().state().isFinal()) {
      f.consumeWith(row.jobId(), row.id(), true);
      try {
        if (h.get().cancel()) {
          return true; // the row went with the cancel's commit
        }
      } catch (StoreException e) {
        return true; // the cancel stands in memory; its commit, with the row, comes later
      }
      f.forget(row.jobId(), row.id());
    }
    try {
      l.scheduler.flushStore(); // the job's final state (if any) is committed before the row goes
      inbox.discard(f, row.id());
    } catch (StoreException e) {
      return false;
    }
    return true;
  }

  // ---- API ----

  @Override
  public void submit(JobSpec spec) {
    Objects.requireNonNull(spec, "spec");
    checkOpen();
    Leading l = leading;
    if (l != null) {
      try {
        l.scheduler.submit(spec);
        return;
      } catch (IllegalStateException e) {
        if (!l.scheduler.isClosed()) {
          throw e;
        }
        throw new StoreException(
            "job " + spec.id() + " was not accepted: this replica stopped leading during the call; retry", e);
      }
    }
    inbox.offerSubmit(spec, queues, name);
  }

  @Override
  public boolean cancel(String jobId) {
    Objects.requireNonNull(jobId, "jobId");
    checkOpen();
    Leading l = leading;
    if (l != null) {
      return l.scheduler.job(jobId).map(JobHandle::cancel).orElse(false);
    }
    return inbox.offerCancel(jobId, name);
  }

  @Override
  public Optional<JobState> state(String jobId) {
    Objects.requireNonNull(jobId, "jobId");
    Leading l = leading;
    if (l != null) {
      Optional<JobHandle> h = l.scheduler.job(jobId);
      if (h.isPresent()) {
        return Optional.of(h.get().state());
      }
    }
    return inbox.state(jobId);
  }

  @Override
  public Optional<CommittedJob> job(String jobId) {
    Objects.requireNonNull(jobId, "jobId");
    return reads.job(jobId);
  }

  @Override
  public List<CommittedJob> pending(String queue, int limit) {
    Objects.requireNonNull(queue, "queue");
    return reads.pending(queue, limit);
  }

  @Override
  public Map<JobState, Long> jobCounts() {
    return reads.jobCounts();
  }

  @Override
  public List<io.gpusched.store.StoredQueue> queues() {
    return reads.queues();
  }

  @Override
  public List<io.gpusched.store.StoredNode> nodes() {
    return reads.nodes();
  }

  @Override
  public void addLeadershipListener(LeadershipListener listener) {
    Objects.requireNonNull(listener, "listener");
    checkOpen();
    try {
      workThread.execute(
          () -> {
            listeners.add(listener);
            Leading l = leading;
            if (l != null) {
              tell(listener, true, l.scheduler, l.epoch);
            }
          });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      throw new IllegalStateException("replica " + name + " is closed", e);
    }
  }

  @Override
  public ReplicaStatus status() {
    Leading l = leading;
    return l != null
        ? new ReplicaStatus(ReplicaStatus.Role.LEADER, l.epoch, reachable, takeovers.get(), name)
        : new ReplicaStatus(
            ReplicaStatus.Role.FOLLOWER, seenEpoch, reachable, takeovers.get(), holderName(seenHolder));
  }

  /** The name part of a holder token ({@code name/uuid}), or null. */
  static @Nullable String holderName(@Nullable String token) {
    if (token == null) {
      return null;
    }
    int slash = token.lastIndexOf('/');
    return slash < 0 ? token : token.substring(0, slash);
  }

  @Override
  public Optional<GpuScheduler> leader() {
    Leading l = leading;
    return l == null ? Optional.empty() : Optional.of(l.scheduler);
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("replica " + name + " is closed");
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    electionThread.shutdownNow();
    try {
      workThread
          .submit(
              () -> {
                Leading l = leading;
                long h = held.getAndSet(0);
                if (l != null) {
                  leading = null;
                  for (LeadershipListener x : listeners) {
                    tell(x, false, l.scheduler, l.epoch);
                  }
                  l.scheduler.close();
                }
                if (h != 0) {
                  try {
                    election.release(h);
                  } catch (StoreException e) {
                    log.warn("gpusched replica {} could not release its lease; it runs out", name, e);
                  }
                }
              })
          .get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      log.warn("gpusched replica {} did not close cleanly", name, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      workThread.shutdownNow();
    }
  }
}
