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
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
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

  DefaultScheduler(GpuSchedulers.Builder b, GpuCluster cluster) {
    this.cluster = cluster;
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
    this.lanes = new PendingLanes(b.policy, b.queues.values(), capacity);
    this.book = new JobBook(b.retainFinished, events);
    this.fairShare = new FairShare(capacity, lanes.queueList, b.halfLife.toMillis());
    this.loop = new CommandLoop(timer, clock::millis, this::decay, this::pass, this::isClosed);
    Ledger ledger = new Ledger(capacity, fairShare);
    this.transitions =
        new JobTransitions(clock, loop, ledger, lanes, book, events, b.launcher, this::passes);
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
    nodes.bookInitialNodes();
    b.listeners.forEach(events::add);
    events.onFatal(loop::absorb);
    if (timer != null) {
      long every = b.tickInterval.toMillis();
      timer.scheduleWithFixedDelay(this::tickQuietly, every, every, TimeUnit.MILLISECONDS);
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
  // Public API
  // =====================================================================================

  @Override
  public JobHandle submit(JobSpec spec) {
    Objects.requireNonNull(spec, "spec");
    checkOpen();
    QueueState q = lanes.queues.get(spec.queue());
    if (q == null) {
      throw new IllegalArgumentException(
          "unknown queue " + spec.queue() + " of job " + spec.id() + "; queues: " + lanes.queues.keySet());
    }
    long now = nowMillis();
    Job j = new Job(transitions, spec, seq.incrementAndGet(), q, now);
    j.lastHeartbeatMillis = now;
    book.claim(j);
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
