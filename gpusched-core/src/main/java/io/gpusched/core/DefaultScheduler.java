package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.NodeState;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerListener;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredNode;
import io.gpusched.store.StoredQueue;
import io.gpusched.store.StoredState;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler: a thin facade that implements {@link GpuScheduler} and wires its collaborators.
 * See {@link GpuSchedulers} for the public description and {@code docs/scheduler.md} for how it
 * works.
 *
 * <h2>Collaborators</h2>
 *
 * <ul>
 *   <li>{@link CommandLoop}: the MPSC command queue and the work-in-progress loop that makes one
 *       thread at a time the dispatcher (no lock), with the hand-off to the timer thread.
 *   <li>{@link JobTransitions}: the one seam for every change of a job's state and allocations;
 *       books it in the {@link Ledger}, tells the host and emits the event.
 *   <li>{@link JobBook}: the live and retained jobs by id.
 *   <li>{@link PendingLanes}: the queues, their lanes of pending jobs and the preemptors.
 *   <li>{@link Ledger}: what the running jobs hold and each queue and pool uses.
 *   <li>{@link DispatchPass}: one pass over the lane heads in policy order, with {@link
 *       QuotaPolicy}, {@link Reservations} (backfill), {@link JobStarter} (placement, spot tries)
 *       and {@link Preemption} (beside {@link VictimPlanner}).
 *   <li>{@link FairShare}: queues' weighted usage and dominant shares.
 *   <li>{@link Timers}: stop deadlines, leases, time limits, idle reclaim.
 *   <li>{@link NodeLifecycle}: nodes added, cordoned, drained and lost.
 *   <li>{@link SnapshotBuilder}: {@link SchedulerSnapshot}s.
 *   <li>With a store: {@link Journal} (write-ahead, group commit), {@link Recovery} (the state the
 *       store holds, rebuilt by the constructor), {@link NodeRecovery} (recovered nodes the host
 *       must confirm) and {@link Pruner} (old final jobs deleted from the store).
 * </ul>
 *
 * <p>Threads: the public calls run on the caller's thread; they validate, change what must change
 * in call order (a job's id, a node's incarnation and engine state) and leave the rest to a command
 * that the dispatcher runs. The timer thread (none with {@code manualTicks()}) enqueues ticks and
 * takes over long command loops.
 */
final class DefaultScheduler implements GpuScheduler {

  private static final Logger log = LoggerFactory.getLogger(DefaultScheduler.class);

  private final GpuCluster cluster;
  private final InstantSource clock;
  private final EventBus events;
  private final @Nullable ScheduledThreadPoolExecutor timer;

  /** The timer's thread once it started (so that {@link #close} run on it does not wait for itself). */
  private volatile @Nullable Thread timerThread;

  /** How long {@link #close} waits for the timer thread's work in progress, in seconds. */
  static final long CLOSE_WAIT_SECONDS = 30;
  private final AtomicLong seq = new AtomicLong();
  private volatile boolean closed;

  private final PendingLanes lanes;
  /** The jobs by id; package-private for tests (its hooks). */
  final JobBook book;
  private final CommandLoop loop;
  private final JobTransitions transitions;
  private final FairShare fairShare;
  private final NodeLifecycle nodes;
  private final DispatchPass dispatch;
  private final Timers timers;
  private final SnapshotBuilder snapshots;
  private final Capacity capacity;
  /** The write-ahead journal with a store, else null (and nothing is journaled). */
  private final @Nullable Journal journal;
  /** The queue records last journaled: decay time, start counter, ended cost (dispatcher). */
  private long journaledDecay = Long.MIN_VALUE;

  private long journaledStarts = -1;
  /** Recovered nodes awaiting the host's confirmation (a store and a node recovery timeout), else null. */
  private final @Nullable NodeRecovery nodeRecovery;

  /** Rebuilds the state a store holds (constructor). */
  private final Recovery recovery;

  /** Deletes old final jobs from the store (durable mode), else null. */
  private final @Nullable Pruner pruner;

  /** Where a job that names no queue goes when there is no queue "default" (may be null). */
  private final @Nullable String defaultQueue;
  /** Whether the scheduler prefers the cheapest nodes (and applies the spot rules). */
  private final boolean preferCheapest;

  private double journaledCost = -1;
  private long journaledUsage = -1;
  private int journaledCapacity = -1;

  /**
   * How often, at most, the queues are journaled when only time moved (their decayed usage): a
   * decay alone needs no write, since recovery charges the decay from the stored time at the usage
   * stored with it, and that usage is what the queues held meanwhile (any change of it, or of
   * capacity, is journaled in its own round). The refresh only keeps the stored values recent.
   */
  static final long QUEUE_REFRESH_MILLIS = 1_000;

  /** The ledger, read for its usage changes when the queues are journaled (dispatcher). */
  private final Ledger ledger;

  DefaultScheduler(
      GpuSchedulers.Builder b, GpuCluster cluster, List<QueueSpec> queueSpecs, StoredState stored) {
    this.cluster = cluster;
    this.defaultQueue = b.defaultQueue;
    this.preferCheapest = b.preferCheapest;
    this.clock = b.clock;
    this.events = b.eventBus();
    this.timer = b.manualTicks ? null : newTimer();
    Capacity capacity = new Capacity();
    this.capacity = capacity;
    this.lanes = new PendingLanes(b.policy, queueSpecs, capacity);
    this.book = new JobBook(b.retainFinished, events);
    this.fairShare = new FairShare(capacity, lanes.queueList, b.halfLife.toMillis());
    this.loop =
        new CommandLoop(
            timer, clock::millis, this::decay, this::pass, this::isClosed,
            b.store == null ? null : this::afterWork);
    Ledger ledger = new Ledger(capacity, fairShare);
    this.ledger = ledger;
    this.transitions =
        new JobTransitions(clock, loop, ledger, lanes, book, events, b.launcher, this::passes, b.leaderEpoch);
    this.nodes =
        new NodeLifecycle(
            cluster, clock, capacity, ledger, transitions, events, loop,
            this::checkOpen);
    QuotaPolicy quota = new QuotaPolicy(capacity, lanes.queueList);
    JobStarter starter =
        new JobStarter(
            cluster, b.placementObserver, b.preferCheapest, b.migStrandingHold.toMillis(), ledger,
            transitions, nodes::learnNode, loop);
    Preemption preemption =
        new Preemption(
            b.preemption, b.minRunTime.toMillis(), cluster, capacity, ledger, quota, lanes, transitions);
    this.dispatch =
        new DispatchPass(
            b.policy, b.backfill, capacity, lanes, quota, new Reservations(capacity, ledger, lanes),
            starter, preemption);
    this.timers =
        new Timers(ledger, transitions, b.telemetry, b.idlePolicy, b.idleGrace.toMillis(), loop, events);
    this.snapshots = new SnapshotBuilder(cluster, capacity, lanes.queueList, book, ledger.costDays);
    SchedulerStore store = b.store;
    this.recovery =
        new Recovery(cluster, clock, nodes, capacity, lanes, fairShare, transitions, book, ledger, loop, seq);
    List<Job> recovered = List.of();
    if (store != null) {
      this.journal = new Journal(store, transitions::stored);
      try {
        recovery.recoverNodes(stored.nodes());
        nodes.bookInitialNodes();
        transitions.attachJournal(journal);
        nodes.attachJournal(journal);
        recovery.recoverQueues(stored.queues());
        recovered = recovery.recoverJobs(stored.jobs());
        recovery.recoverDominantShares(stored.queues());
        for (StoredNode n : nodes.storedNodes()) {
          journal.change(new StoreChange.PutNode(n));
        }
        journalQueues(true);
        journal.flush(); // what this build recovered and configured, before anything runs
        recovery.recovered();
      } catch (RuntimeException | Error e) {
        abandonRecovery(e);
        throw e;
      }
    } else {
      nodes.bookInitialNodes();
      this.journal = null;
    }
    this.nodeRecovery = nodeRecovery(b, stored);
    this.pruner = store == null ? null : new Pruner(store, b.finishedJobRetention.toMillis());
    b.listeners.forEach(events::add);
    events.onFatal(loop::absorb);
    recovery.resendStops(false);
    if (!recovered.isEmpty()) {
      recovery.reconcile(b.launcher, recovered, nodeRecovery);
    }
    recovery.resendStops(true);
    if (timer != null) {
      long every = b.tickInterval.toMillis();
      var unused = timer.scheduleWithFixedDelay(this::tickQuietly, every, every, TimeUnit.MILLISECONDS);
    }
  }

  long nowMillis() {
    return clock.millis();
  }

  /** The number of the latest dispatch pass (any thread). */
  long passes() {
    return dispatch.passes();
  }

  /** Launcher stops that threw and wait to be made again (tests; any thread). */
  int stopRetries() {
    return transitions.stopRetries();
  }

  private void decay(long now) {
    fairShare.decay(now);
  }

  private void pass(long now) {
    dispatch.run(now);
  }

  // =====================================================================================
  // Durable state: journal and recovery
  // =====================================================================================

  /**
   * After each dispatch round (durable mode, dispatcher): journals the queues if their usage
   * changed, commits the round in one batch, then makes the launcher calls that waited for it. A
   * failed commit is logged by the journal and retried with the next round (a tick at the latest).
   */
  private void afterWork() {
    Journal jn = Objects.requireNonNull(journal);
    journalQueues(false);
    try {
      jn.flush();
    } catch (StoreException e) {
      return; // kept for the next round; the deferred launcher calls wait for it
    }
    jn.runDeferred();
  }

  /**
   * Appends every queue's record if its usage, the capacity, the start counter or the ended costs
   * moved since the last time, or if only time moved and the last write is {@link
   * #QUEUE_REFRESH_MILLIS} old (dispatcher).
   */
  private void journalQueues(boolean force) {
    Journal jn = Objects.requireNonNull(journal);
    long decay = fairShare.lastDecayMillis();
    long starts = transitions.starts();
    long usage = ledger.usageChanges;
    int cap = capacity.capacityChanges;
    double cost = 0;
    for (QueueState q : lanes.queueList) {
      cost += q.endedCost;
    }
    boolean moved =
        starts != journaledStarts || cost != journaledCost || usage != journaledUsage || cap != journaledCapacity;
    boolean stale = // only time moved: written once the last write is QUEUE_REFRESH_MILLIS old
        decay != journaledDecay
            && (journaledDecay == Long.MIN_VALUE
                || decay < journaledDecay
                || decay - journaledDecay >= QUEUE_REFRESH_MILLIS);
    if (!force && !moved && !stale) {
      return;
    }
    journaledDecay = decay;
    journaledStarts = starts;
    journaledCost = cost;
    journaledUsage = usage;
    journaledCapacity = cap;
    int models = capacity.models.size();
    for (QueueState q : lanes.queueList) {
      q.ensureModels(models);
      var share = new java.util.LinkedHashMap<String, Double>();
      for (int m = 0; m < models; m++) {
        share.put(capacity.models.get(m).name(), q.ewmaShare[m]);
      }
      jn.change(
          new StoreChange.PutQueue(
              new StoredQueue(
                  q.spec, share, decay == Long.MIN_VALUE ? -1 : decay, q.lastStart, q.endedCost,
                  q.dominantShare)));
    }
  }

  /**
   * The recovered nodes that must be confirmed: those the store held (not removed) that are in
   * the cluster now; null without a store, a timeout or such nodes (constructor).
   */
  private @Nullable NodeRecovery nodeRecovery(GpuSchedulers.Builder b, StoredState stored) {
    Duration timeout = b.nodeRecoveryTimeout;
    if (b.store == null || timeout == null) {
      return null;
    }
    var present = new java.util.HashSet<String>();
    cluster.nodes().forEach(n -> present.add(n.id()));
    var ids = new ArrayList<String>();
    for (StoredNode n : stored.nodes()) {
      if (n.state() != NodeState.DOWN && present.contains(n.spec().id())) {
        ids.add(n.spec().id());
      }
    }
    return ids.isEmpty() ? null : new NodeRecovery(ids, nowMillis(), timeout.toMillis());
  }

  /**
   * A recovery that failed (a corrupt store, a conflict, a store that cannot commit the recovered
   * state): gives back every allocation it restored, so a cluster given with {@code cluster(...)}
   * holds nothing of the store, and stops the threads the constructor made. Nothing was committed:
   * the first commit is the last step of the recovery.
   */
  private void abandonRecovery(Throwable cause) {
    recovery.releaseRestored(cause);
    closed = true;
    if (timer != null) {
      timer.shutdownNow();
    }
    events.close();
  }

  // =====================================================================================
  // Public API
  // =====================================================================================

  @Override
  public JobHandle submit(JobSpec given) {
    Objects.requireNonNull(given, "spec");
    checkOpen();
    boolean leftDefault = given.queue().equals(JobSpec.DEFAULT_QUEUE) && !lanes.queues.containsKey(given.queue());
    JobSpec spec = leftDefault && defaultQueue != null ? given.withQueue(defaultQueue) : given;
    QueueState q = lanes.queues.get(spec.queue());
    if (q == null) {
      throw new IllegalArgumentException(
          "unknown queue " + spec.queue() + " of job " + spec.id() + "; queues: " + lanes.queues.keySet()
              + (leftDefault ? "; a job that names no queue goes to \"default\", which this scheduler"
                  + " does not have: set the job's queue, or a default queue"
                  + " (GpuSchedulers.Builder.defaultQueue, gpusched.default-queue in Spring Boot)" : ""));
    }
    spec = keptOffSpot(spec, q.spec);
    long now = nowMillis();
    Job j = new Job(transitions, spec, seq.incrementAndGet(), q, now);
    j.lastHeartbeatMillis = now;
    Job displaced = book.claim(j);
    Journal jn = journal;
    if (jn != null) { // write-ahead: accepted once committed, not before
      try {
        jn.await(jn.submitted(j));
      } catch (StoreException e) {
        book.unclaim(j, displaced);
        throw new StoreException(
            "job " + spec.id() + " was not accepted: the store failed to commit its submission: "
                + e.getMessage(),
            e);
      }
    }
    transitions.submitted(j, now);
    return j;
  }

  /**
   * The spot rule for jobs that are not preemptible, with {@code preferCheapest}: their request is
   * narrowed to on-demand capacity unless their queue allows spot ({@link QueueSpec#allowSpot()})
   * or the request names capacity classes itself. Narrowed at submit, so that every part of the
   * scheduler (placement, backfill reservations, preemption plans, the never-fits check) and the
   * store see the same request.
   */
  private JobSpec keptOffSpot(JobSpec spec, QueueSpec queue) {
    PlacementRequest r = spec.request();
    if (!preferCheapest || spec.preemptible() || queue.allowSpot()
        || !r.constraints().capacityClasses().isEmpty()) {
      return spec;
    }
    return spec.withRequest(
        r.withConstraints(r.constraints().withCapacityClasses(io.gpusched.CapacityClass.ON_DEMAND)));
  }

  @Override
  public Optional<JobHandle> job(String id) {
    return Optional.ofNullable(book.get(id));
  }

  @Override
  public List<JobHandle> jobs() {
    return book.all();
  }

  @Override
  public List<QueueSpec> queues() {
    return lanes.queueList.stream().map(q -> q.spec).toList();
  }

  @Override
  public void addNode(NodeSpec node) {
    nodes.addNode(node);
    NodeRecovery nr = nodeRecovery;
    if (nr != null) {
      nr.confirm(node.id()); // re-registered after a removal
    }
  }

  @Override
  public void confirmNode(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    checkOpen();
    NodeRecovery nr = nodeRecovery;
    if (nr != null && nr.confirm(nodeId)) {
      return;
    }
    if (cluster.nodes().stream().noneMatch(n -> n.id().equals(nodeId))) {
      throw new IllegalArgumentException("unknown node " + nodeId);
    }
  }

  @Override
  public void cordon(String nodeId) {
    nodes.setState(nodeId, NodeState.CORDONED, "cordoned");
  }

  @Override
  public void uncordon(String nodeId) {
    nodes.setState(nodeId, NodeState.READY, "uncordoned");
  }

  @Override
  public void drain(String nodeId, Duration deadline) {
    nodes.drain(nodeId, deadline);
  }

  @Override
  public void spotInterruption(String nodeId, Instant terminationTime) {
    nodes.spotInterruption(nodeId, terminationTime);
  }

  @Override
  public void nodeDown(String nodeId) {
    NodeRecovery nr = nodeRecovery;
    if (nr != null && nr.waiting(nodeId)) {
      try {
        nodes.nodeDown(nodeId);
      } finally {
        nr.confirm(nodeId); // the host has spoken for it (if it was unknown, nothing waits)
      }
      return;
    }
    nodes.nodeDown(nodeId);
  }

  @Override
  public void addListener(SchedulerListener listener) {
    events.add(Objects.requireNonNull(listener, "listener"));
  }

  @Override
  public boolean removeListener(SchedulerListener listener) {
    return events.remove(listener);
  }

  @Override
  public GpuCluster cluster() {
    return cluster;
  }

  @Override
  public void tick() {
    NodeRecovery nr = nodeRecovery;
    if (nr != null && !closed) {
      nr.expire(nowMillis(), nodes::nodeDown);
    }
    Pruner p = pruner;
    if (p != null && !closed) {
      p.maybePrune(nowMillis());
    }
    loop.command(() -> timers.onTick(nowMillis()));
  }

  /**
   * The timer's periodic task. Catches every throwable, a {@link VirtualMachineError} rethrown by
   * the dispatch loop included: a periodic task that throws is never run again.
   */
  private void tickQuietly() {
    try {
      tick();
    } catch (Throwable e) {
      log.error("gpusched tick failed", e);
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (timer != null) {
      // no interrupt: a drain in progress on the timer thread finishes its commands and its commit
      // (an interrupt in the middle of a store write breaks file-backed databases); queued timer
      // tasks are dropped (the timer's shutdown policy), and close() returns only once that drain
      // is done, so that nothing of this scheduler touches the store after it returned
      timer.shutdown();
      awaitTimer(timer);
      loop.finishHandedOff();
    }
    loop.command(() -> {});
    events.close();
  }

  /** The timer: one daemon thread; its shutdown drops queued tasks (see {@link #close}). */
  private ScheduledThreadPoolExecutor newTimer() {
    ScheduledThreadPoolExecutor t =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread th = new Thread(r, "gpusched-timer");
              th.setDaemon(true);
              timerThread = th;
              return th;
            });
    t.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    t.setContinueExistingPeriodicTasksAfterShutdownPolicy(false);
    return t;
  }

  /**
   * Waits up to {@link #CLOSE_WAIT_SECONDS} for the timer thread to end (not if this is that
   * thread: a listener or command closing the scheduler); if it does not end in time, interrupts it
   * and logs a warning.
   */
  private void awaitTimer(ScheduledThreadPoolExecutor t) {
    if (Thread.currentThread() == timerThread) {
      return;
    }
    try {
      if (!t.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
        log.warn(
            "gpusched: the timer thread's work did not end within {} s of close(); interrupting it",
            CLOSE_WAIT_SECONDS);
        t.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // the caller's interrupt: stop waiting, keep it set
    }
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("scheduler is closed");
    }
  }

  @Override
  public SchedulerSnapshot snapshot() {
    return snapshots.snapshot(nowMillis());
  }

  /**
   * Returns when every change made so far is committed (durable mode; nothing without a store).
   *
   * @throws StoreException if that commit failed
   */
  void flushStore() {
    Journal jn = journal;
    if (jn != null) {
      jn.flush();
    }
  }

  // ---- test support ----

  /** Checks internal accounting against the jobs; dispatcher must be idle. Test use. */
  void verifyInvariants() {
    if (!loop.idle()) {
      throw new IllegalStateException("dispatcher busy");
    }
    for (QueueState q : lanes.queueList) {
      long used = 0;
      int run = 0;
      for (Job j : q.running) {
        used += j.usedMilli;
        run++;
        if (!j.rawState().holdsGpus()) {
          throw new AssertionError(j + " accounted as running");
        }
      }
      if (used != q.usedMilli || run != q.runningJobs) {
        throw new AssertionError(q + " used " + q.usedMilli + " vs " + used);
      }
      for (Job j : q.pendingJobs()) {
        if (j.rawState() != JobState.PENDING) {
          throw new AssertionError(j + " in a lane");
        }
      }
    }
    for (Job j : book.live()) {
      if (j.rawState() == JobState.PENDING && !j.inLane) {
        throw new AssertionError(j + " pending but in no lane");
      }
      if (j.rawState().holdsGpus() && !j.accounted) {
        throw new AssertionError(j + " holds GPUs but is not accounted");
      }
    }
  }
}
