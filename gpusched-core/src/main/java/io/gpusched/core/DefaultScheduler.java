package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerListener;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.StopReason;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredAllocation;
import io.gpusched.store.StoredJob;
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
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
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
 *       QuotaPolicy}, {@link Reservations} (backfill), {@link JobStarter} (placement, price tiers)
 *       and {@link Preemption} (beside {@link VictimPlanner}).
 *   <li>{@link FairShare}: queues' weighted usage and dominant shares.
 *   <li>{@link Timers}: stop deadlines, leases, time limits, idle reclaim.
 *   <li>{@link NodeLifecycle}: nodes added, cordoned, drained and lost.
 *   <li>{@link SnapshotBuilder}: {@link SchedulerSnapshot}s.
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
  private final @Nullable ScheduledExecutorService timer;
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
  private final Ledger ledger;
  /** The write-ahead journal with a store, else null (and nothing is journaled). */
  private final @Nullable Journal journal;
  /** The queue records last journaled: decay time, start counter, ended cost (dispatcher). */
  private long journaledDecay = Long.MIN_VALUE;

  private long journaledStarts = -1;
  /** Recovered nodes awaiting the host's confirmation (a store and a node recovery timeout), else null. */
  private final @Nullable NodeRecovery nodeRecovery;

  /** Deletes old final jobs from the store (durable mode), else null. */
  private final @Nullable Pruner pruner;

  /** Where a job that names no queue goes when there is no queue "default" (may be null). */
  private final @Nullable String defaultQueue;

  private double journaledCost = -1;
  private double journaledShares = -1;

  DefaultScheduler(
      GpuSchedulers.Builder b, GpuCluster cluster, List<QueueSpec> queueSpecs, StoredState stored) {
    this.cluster = cluster;
    this.defaultQueue = b.defaultQueue;
    this.clock = b.clock;
    this.events = b.eventBus();
    this.timer =
        b.manualTicks
            ? null
            : Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "gpusched-timer");
                  t.setDaemon(true);
                  return t;
                });
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
    TreeSet<Double> priceTiers = new TreeSet<>();
    this.nodes =
        new NodeLifecycle(
            cluster, clock, b.preferCheapest, capacity, ledger, transitions, events, loop, priceTiers,
            this::checkOpen);
    QuotaPolicy quota = new QuotaPolicy(capacity, lanes.queueList);
    JobStarter starter =
        new JobStarter(
            cluster, b.placementObserver, b.preferCheapest, ledger, transitions, nodes::learnNode,
            priceTiers, loop);
    Preemption preemption =
        new Preemption(
            b.preemption, b.minRunTime.toMillis(), cluster, capacity, ledger, quota, lanes, transitions);
    this.dispatch =
        new DispatchPass(
            b.policy, b.backfill, capacity, lanes, quota, new Reservations(capacity, ledger, lanes),
            starter, preemption);
    this.timers =
        new Timers(ledger, transitions, b.telemetry, b.idlePolicy, b.idleGrace.toMillis(), loop, events);
    this.snapshots = new SnapshotBuilder(cluster, capacity, lanes.queueList, book);
    SchedulerStore store = b.store;
    List<Job> recovered = List.of();
    if (store != null) {
      this.journal = new Journal(store, transitions::stored);
      try {
        recoverNodes(stored.nodes());
        nodes.bookInitialNodes();
        transitions.attachJournal(journal);
        nodes.attachJournal(journal);
        recoverQueues(stored.queues());
        recovered = recoverJobs(stored.jobs());
        recoverDominantShares(stored.queues());
        for (StoredNode n : nodes.storedNodes()) {
          journal.change(new StoreChange.PutNode(n));
        }
        journalQueues(true);
        journal.flush(); // what this build recovered and configured, before anything runs
        restoredAllocations.clear();
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
    resendStops(false);
    if (!recovered.isEmpty()) {
      reconcile(b.launcher, recovered);
    }
    resendStops(true);
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

  /** Appends every queue's record if decay, starts or ended costs moved since the last time. */
  private void journalQueues(boolean force) {
    Journal jn = Objects.requireNonNull(journal);
    long decay = fairShare.lastDecayMillis();
    long starts = transitions.starts();
    double cost = 0;
    double shares = 0;
    for (QueueState q : lanes.queueList) {
      cost += q.endedCost;
      shares += q.dominantShare;
    }
    if (!force
        && decay == journaledDecay
        && starts == journaledStarts
        && cost == journaledCost
        && shares == journaledShares) {
      return;
    }
    journaledDecay = decay;
    journaledStarts = starts;
    journaledCost = cost;
    journaledShares = shares;
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

  /** Every allocation {@link #recoverJobs} restored so far (constructor only; then cleared). */
  private final List<io.gpusched.Allocation> restoredAllocations = new ArrayList<>();

  /**
   * A recovery that failed (a corrupt store, a conflict, a store that cannot commit the recovered
   * state): gives back every allocation it restored, so a cluster given with {@code cluster(...)}
   * holds nothing of the store, and stops the threads the constructor made. Nothing was committed:
   * the first commit is the last step of the recovery.
   */
  private void abandonRecovery(Throwable cause) {
    for (io.gpusched.Allocation a : restoredAllocations) {
      try {
        a.release();
      } catch (RuntimeException r) {
        cause.addSuppressed(r);
      }
    }
    restoredAllocations.clear();
    closed = true;
    if (timer != null) {
      timer.shutdownNow();
    }
    events.close();
  }

  /**
   * Applies the stored nodes to the cluster before they are booked (constructor): removed nodes
   * are removed, nodes added at run time are added again in their order (a node of the builder
   * that was removed and added again at run time moves to its place in that order), cordoned and
   * draining nodes get their state back.
   */
  private void recoverNodes(List<StoredNode> stored) {
    var sorted = new ArrayList<>(stored);
    sorted.sort(java.util.Comparator.comparingLong(StoredNode::sequence));
    var present = new java.util.HashSet<String>();
    cluster.nodes().forEach(n -> present.add(n.id()));
    for (StoredNode n : sorted) {
      String id = n.spec().id();
      if (present.contains(id) && (n.state() == NodeState.DOWN || n.addedAtRunTime())) {
        cluster.removeNode(id, false);
        present.remove(id);
      }
    }
    for (StoredNode n : sorted) {
      if (n.addedAtRunTime() && n.state() != NodeState.DOWN) {
        cluster.addNode(n.spec());
        present.add(n.spec().id());
        nodes.recoveredRunTimeNode(n.spec().id());
      }
    }
    for (StoredNode n : sorted) {
      if ((n.state() == NodeState.CORDONED || n.state() == NodeState.DRAINING) && present.contains(n.spec().id())) {
        cluster.setNodeState(n.spec().id(), n.state());
      }
    }
  }

  /** Restores each stored queue's decayed usage, start counter and ended cost (constructor). */
  private void recoverQueues(List<StoredQueue> stored) {
    long decayedAt = Long.MIN_VALUE;
    int models = capacity.models.size();
    for (StoredQueue sq : stored) {
      QueueState q = lanes.queues.get(sq.spec().name());
      if (q == null) {
        continue; // cannot happen: build() adds every stored queue
      }
      q.ensureModels(models);
      sq.decayedShare()
          .forEach(
              (model, share) -> {
                int m = capacity.modelIndexOf(model);
                if (m >= 0) { // a model no node has now: its history does not matter until one comes
                  q.ewmaShare[m] = share;
                }
              });
      q.lastStart = sq.lastStart();
      q.endedCost = sq.endedCost();
      if (sq.decayedAtMillis() >= 0) {
        decayedAt = Math.max(decayedAt, sq.decayedAtMillis());
      }
    }
    if (decayedAt != Long.MIN_VALUE) {
      fairShare.restoreLastDecay(decayedAt);
    }
    for (QueueState q : lanes.queueList) {
      fairShare.updateDominant(q);
    }
  }

  /**
   * Sets each queue's dominant share to the stored one (constructor, after the jobs were booked,
   * which recomputed it): the scheduler refreshes a queue's share when its usage changes or time
   * passes, not when capacity changes, so the stored value may differ from a fresh computation,
   * and the queue order after the restart must be the order before it.
   */
  private void recoverDominantShares(List<StoredQueue> stored) {
    for (StoredQueue sq : stored) {
      QueueState q = lanes.queues.get(sq.spec().name());
      if (q != null) {
        q.dominantShare = sq.dominantShare();
      }
    }
  }

  /**
   * Recreates the stored jobs (constructor): final ones retained, pending ones queued in their
   * submission order, running and preempting ones on exactly their recorded GPUs, booked in their
   * start order. Returns the recovered jobs that hold GPUs.
   *
   * @throws IllegalStateException if a running job's recorded GPUs cannot be restored
   */
  private List<Job> recoverJobs(List<StoredJob> stored) {
    var sorted = new ArrayList<>(stored);
    sorted.sort(java.util.Comparator.comparingLong(StoredJob::sequence));
    long now = nowMillis();
    var holders = new ArrayList<Job>();
    var records = new java.util.IdentityHashMap<Job, StoredJob>();
    long maxSeq = 0;
    long maxStart = 0;
    for (StoredJob sj : sorted) {
      maxSeq = Math.max(maxSeq, sj.sequence());
      maxStart = Math.max(maxStart, sj.startOrder());
      QueueState q = lanes.queues.get(sj.spec().queue());
      if (q == null) {
        throw new IllegalStateException(
            "job " + sj.id() + " of the store is in queue " + sj.spec().queue() + ", which the store does not hold");
      }
      Job j = new Job(transitions, sj.spec(), sj.sequence(), q, sj.submittedAtMillis());
      j.queuedAtMillis = sj.queuedAtMillis();
      j.startedAtMillis = sj.startedAtMillis();
      j.endReason = sj.endReason();
      j.accruedCost = sj.accruedCost();
      j.checkpointRef = sj.checkpointRef();
      j.startOrder = sj.startOrder();
      j.attempts = sj.attempts();
      j.lastHeartbeatMillis = now; // a lease restarts at the recovery
      StopReason unsent = sj.stopReason();
      if (sj.stopDeadlineMillis() >= 0 && unsent != null) {
        // a stop committed and perhaps never handed to the launcher (PREEMPTING: always sent again)
        // RUNNING: the stop of its previous run, which the record of its new run carries
        int run = sj.state() == JobState.RUNNING ? sj.attempts() - 1 : sj.attempts();
        resend.add(new Resend(j, unsent, sj.stopDeadlineMillis(), run));
        if (sj.state() != JobState.PREEMPTING) {
          j.unsentStop = new Job.UnsentStop(unsent, sj.stopDeadlineMillis(), run);
        }
      }
      if (sj.state().isFinal()) {
        transitions.restoreState(j, sj.state(), sj.attempts(), sj.stopReason());
        book.restoreFinished(j, sj.state(), sj.endedAtMillis());
      } else if (sj.state() == JobState.PENDING) {
        transitions.restoreState(j, JobState.PENDING, sj.attempts(), sj.stopReason());
        book.claim(j);
        lanes.enqueuePending(j);
      } else {
        holders.add(j);
        records.put(j, sj);
      }
    }
    seq.set(maxSeq);
    transitions.restoreStarts(maxStart);
    holders.sort(java.util.Comparator.comparingLong((Job j) -> j.startOrder).thenComparingLong(j -> j.seq));
    for (Job j : holders) {
      StoredJob sj = java.util.Objects.requireNonNull(records.get(j), "holders are stored jobs");
      var allocs = new ArrayList<io.gpusched.Allocation>();
      for (StoredAllocation a : sj.allocations()) {
        try {
          allocs.add(cluster.restore(sj.spec().request().withHost(a.cpuMillis(), a.memoryMiB()), a.gpus()));
        } catch (RuntimeException e) {
          allocs.forEach(io.gpusched.Allocation::release);
          throw new IllegalStateException(
              "cannot recover running job " + sj.id() + " on its recorded GPUs " + a.gpus() + ": "
                  + e.getMessage(),
              e);
        }
      }
      restoredAllocations.addAll(allocs);
      Ledger.Accounting acct = ledger.prepare(allocs, nodes::learnNode);
      if (acct == null) {
        throw new IllegalStateException("cannot recover running job " + sj.id() + ": its node is gone");
      }
      transitions.restoreRunning(
          j, allocs, acct, sj.state(), sj.attempts(), sj.stopReason(), sj.startedAtMillis(),
          sj.stopDeadlineMillis());
      book.claim(j);
    }
    return holders;
  }

  /** A stop the store holds as committed but perhaps not sent (constructor). */
  private record Resend(Job job, StopReason why, long deadlineMillis, int run) {}

  /** The stops to send again after recovery (constructor only). */
  private final List<Resend> resend = new ArrayList<>();

  /**
   * Sends recovered stops again (constructor): with {@code preempting} false, before the
   * reconciliation, each stop a record says was committed but perhaps not handed to the launcher
   * (a cancel, a lease or time limit, a node loss, an idle reclaim; for a job that runs again, the
   * stop of its previous run); with {@code preempting} true, after it, the stop of each PREEMPTING
   * job the host did not report GONE. A host may therefore get a stop twice for one run.
   */
  private void resendStops(boolean preempting) {
    for (Resend r : resend) {
      Job j = r.job();
      boolean isPreempting = j.rawState() == JobState.PREEMPTING;
      if (preempting ? isPreempting : j.unsentStop != null) {
        transitions.resendStop(j, r.why(), r.deadlineMillis(), r.run());
      }
    }
    if (preempting) {
      resend.clear();
    }
  }

  /**
   * Asks the launcher about each recovered running job (constructor, before the builder returns):
   * GONE ones are requeued or failed, then their bookings run at once.
   */
  private void reconcile(io.gpusched.JobLauncher launcher, List<Job> recovered) {
    boolean gone = false;
    for (Job j : recovered) {
      io.gpusched.Reconciliation r;
      try {
        r = launcher.reconcile(j.view(j.run()));
      } catch (Throwable e) {
        log.warn("gpusched launcher failed to reconcile {}; taken as UNKNOWN", j, e);
        loop.absorb(e);
        r = null;
      }
      NodeRecovery nr = nodeRecovery;
      if (r == io.gpusched.Reconciliation.RUNNING && nr != null) { // the host says it runs there
        for (io.gpusched.Allocation a : j.view(j.run()).allocations()) {
          a.gpus().forEach(g -> nr.confirm(g.nodeId()));
        }
      }
      if (r == io.gpusched.Reconciliation.GONE) {
        transitions.recoveredGone(j);
        gone = true;
      }
    }
    if (gone) {
      loop.runCommands(); // books them and commits, before the builder returns
    }
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
    long now = nowMillis();
    Job j = new Job(transitions, spec, seq.incrementAndGet(), q, now);
    j.lastHeartbeatMillis = now;
    book.claim(j);
    Journal jn = journal;
    if (jn != null) { // write-ahead: accepted once committed, not before
      try {
        jn.await(jn.submitted(j));
      } catch (StoreException e) {
        book.unclaim(j);
        throw new StoreException(
            "job " + spec.id() + " was not accepted: the store failed to commit its submission: "
                + e.getMessage(),
            e);
      }
    }
    transitions.submitted(j, now);
    return j;
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
      timer.shutdownNow();
      loop.finishHandedOff();
    }
    loop.command(() -> {});
    events.close();
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
