package io.gpusched.core;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.CapacityClass;
import io.gpusched.ClusterSnapshot;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.GpuSample;
import io.gpusched.GpuScheduler;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeState;
import io.gpusched.PendingReason;
import io.gpusched.PlacementObserver;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.QueueStats;
import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerListener;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.SchedulingPolicy;
import io.gpusched.StopReason;
import io.gpusched.core.QueueState.ModelLimits;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jctools.queues.MpscUnboundedArrayQueue;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler. See {@link GpuSchedulers} for the public description; this comment is about how
 * it works.
 *
 * <h2>Threads</h2>
 *
 * Every change that needs a scheduling decision is a <em>command</em> on a JCTools MPSC queue.
 * Whoever enqueues a command increments {@link #wip}; the thread that moves it from 0 becomes the
 * dispatcher and runs commands and dispatch passes until the counter drains back to 0 (the classic
 * work-in-progress "trampoline"). So decisions are serialized without a lock, and nobody waits: a
 * thread that finds a dispatcher active leaves its command to it. Job state transitions themselves
 * are CAS on the job (see {@link Job}); GPU placement and release go straight to the lock-free
 * engine from whichever thread makes them.
 *
 * <p>Nothing a callback throws leaves the loop with the counter above 0: launcher, listener,
 * observer and telemetry calls, commands and passes catch every throwable. A {@link
 * VirtualMachineError} is kept and rethrown only after the loop gave up its ownership.
 *
 * <h2>A dispatch pass</h2>
 *
 * <ol>
 *   <li>Jobs waiting for their preemption victims ("preemptors") are tried first: the capacity
 *       their victims free is theirs.
 *   <li>Then lane heads in policy order (FAIR_SHARE: queues under guarantee first, then by
 *       weighted dominant share, ties round-robin; FIFO/PRIORITY: one global order). A job starts
 *       if its queue's borrow and lend limits allow it, if it passes the backfill test against the
 *       reservation, and if the engine places it (gangs all-or-nothing). The first job found
 *       blocked for capacity holds the pass's reservation (recomputed every pass, so it follows
 *       the policy order; a job within its queue's guarantee takes it over from one beyond). A
 *       blocked job may trigger preemption planning. Without backfill the first blocked job ends
 *       the pass (strict order).
 * </ol>
 */
final class DefaultScheduler implements GpuScheduler {

  private static final Logger log = LoggerFactory.getLogger(DefaultScheduler.class);
  static final String PRICE_LABEL = "gpusched.io/price";

  private final GpuCluster cluster;
  private final InstantSource clock;
  private final SchedulingPolicy policy;
  private final boolean backfill;
  private final boolean preemption;
  private final boolean preferCheapest;
  private final long minRunMillis;
  private final long halfLifeMillis;
  private final JobLauncher launcher;
  private final PlacementObserver placementObserver;
  private final EventBus events;
  private final GpuTelemetry telemetry;
  private final @Nullable IdlePolicy idlePolicy;
  private final long idleGraceMillis;
  private final @Nullable ScheduledExecutorService timer;

  private final Map<String, QueueState> queues = new LinkedHashMap<>();
  private final List<QueueState> queueList = new ArrayList<>();
  private final boolean anyLendLimit;
  /** Whether some queue limits lending of its guarantee on one GPU model. */
  private final boolean anyModelLendLimit;
  private final ConcurrentHashMap<String, Job> live = new ConcurrentHashMap<>();
  private final Cache<String, Job> finished;
  private final MpscUnboundedArrayQueue<Runnable> commands = new MpscUnboundedArrayQueue<>(256);
  private final AtomicInteger wip = new AtomicInteger();
  private final AtomicLong seq = new AtomicLong();
  private volatile boolean closed;

  // ---- dispatcher-owned ----
  private final Capacity capacity = new Capacity();
  private final TreeSet<Job> globalHeads;
  private final LinkedHashSet<Job> running = new LinkedHashSet<>();
  private final TreeSet<Job> runningByEnd =
      new TreeSet<>(Comparator.<Job>comparingLong(j -> j.endBoundMillis).thenComparingLong(j -> j.seq));
  private final LinkedHashSet<Job> preempting = new LinkedHashSet<>();
  private final LinkedHashSet<Job> preemptors = new LinkedHashSet<>();
  /**
   * Node id → incarnation, in call order: written by {@code addNode} and {@code nodeDown} at call
   * time under {@link #nodeMgmt}, together with the engine change and the command that books it.
   * Node calls validate against it, and their commands act only on the incarnation they were made
   * for: "node down, node back under the same id, cordon" ends the same however the dispatcher
   * interleaves.
   */
  private final ConcurrentHashMap<String, Long> nodeGens = new ConcurrentHashMap<>();

  /** Serializes node additions and removals with their commands (never taken by placement). */
  private final Object nodeMgmt = new Object();

  private long nextGen;

  /** Allocation id → job; written by the dispatcher, read by callers (drain) too. */
  private final Map<Long, Job> owners = new ConcurrentHashMap<>();
  /** Whole GPUs held by the scheduler's running jobs, per node. */
  private final Map<String, Integer> wholeUsed = new HashMap<>();
  /** Shapes no known node could ever host beyond what the engine refuses (dispatcher only). */
  private final NeverFits neverFits = new NeverFits();
  private final TreeSet<Double> priceTiers = new TreeSet<>();
  private boolean dirty;
  private long runningVersion;
  private long starts;
  private long lastDecayMillis = Long.MIN_VALUE;

  DefaultScheduler(GpuSchedulers.Builder b, GpuCluster cluster) {
    this.cluster = cluster;
    this.clock = b.clock;
    this.policy = b.policy;
    this.backfill = b.backfill;
    this.preemption = b.preemption;
    this.preferCheapest = b.preferCheapest;
    this.minRunMillis = b.minRunTime.toMillis();
    this.halfLifeMillis = b.halfLife.toMillis();
    this.launcher = b.launcher;
    this.placementObserver = b.placementObserver;
    this.events = b.eventBus();
    this.telemetry = b.telemetry;
    this.idlePolicy = b.idlePolicy;
    this.idleGraceMillis = b.idleGrace.toMillis();
    Comparator<Job> order =
        policy == SchedulingPolicy.FIFO
            ? Comparator.comparingLong(j -> j.seq)
            : Comparator.<Job>comparingInt(j -> j.spec.priority())
                .reversed()
                .thenComparingLong(j -> j.seq);
    this.globalHeads = new TreeSet<>(order);
    boolean lend = false;
    boolean modelLend = false;
    for (QueueSpec q : b.queues.values()) {
      QueueState s = new QueueState(q, queueList.size(), order);
      queues.put(q.name(), s);
      queueList.add(s);
      lend |= !Double.isInfinite(q.lendLimitGpus());
      for (var mq : q.modelQuotas().values()) {
        modelLend |= !Double.isInfinite(mq.lendLimitGpus());
      }
    }
    this.anyLendLimit = lend;
    this.anyModelLendLimit = modelLend;
    this.finished =
        Caffeine.newBuilder().maximumSize(b.retainFinished).executor(Runnable::run).build();
    Map<String, NodeState> states = new HashMap<>();
    cluster.snapshot().nodes().forEach(n -> states.put(n.nodeId(), n.state()));
    for (NodeSpec n : cluster.nodes()) {
      capacity.add(n, states.getOrDefault(n.id(), NodeState.READY));
      priceTiers.add(n.pricePerGpuHour());
      nodeGens.put(n.id(), nextGen++);
    }
    b.listeners.forEach(events::add);
    events.onFatal(this::absorb);
    if (b.manualTicks) {
      this.timer = null;
    } else {
      this.timer =
          java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "gpusched-timer");
                t.setDaemon(true);
                return t;
              });
      long every = b.tickInterval.toMillis();
      timer.scheduleWithFixedDelay(this::tickQuietly, every, every, TimeUnit.MILLISECONDS);
    }
  }

  long nowMillis() {
    return clock.millis();
  }

  private Instant at(long millis) {
    return Instant.ofEpochMilli(millis);
  }

  // =====================================================================================
  // Public API
  // =====================================================================================

  @Override
  public JobHandle submit(JobSpec spec) {
    Objects.requireNonNull(spec, "spec");
    checkOpen();
    QueueState q = queues.get(spec.queue());
    if (q == null) {
      throw new IllegalArgumentException(
          "unknown queue " + spec.queue() + " of job " + spec.id() + "; queues: " + queues.keySet());
    }
    long now = nowMillis();
    Job j = new Job(this, spec, seq.incrementAndGet(), q, now);
    j.lastHeartbeatMillis = now;
    // A job already final may still be listed until the dispatcher retires it (another thread may
    // be dispatching): its id is free for a new submission all the same. If the dispatcher retires
    // it between the two calls, the id is free: claim it again.
    for (; ; ) {
      Job prev = live.putIfAbsent(spec.id(), j);
      if (prev == null) {
        break;
      }
      var hook = afterIdTaken;
      if (hook != null) {
        hook.accept(prev);
      }
      JobState ps = prev.state();
      if (!ps.isFinal()) {
        throw new IllegalArgumentException(
            "a job with id " + spec.id() + " is " + ps + "; ids are unique among jobs not yet final");
      }
      if (live.replace(spec.id(), prev, j)) {
        break;
      }
    }
    finished.invalidate(spec.id());
    command(
        () -> {
          events.publish(
              new SchedulerEvent.JobSubmitted(at(now), spec.id(), spec.queue(), spec.priority()));
          enqueuePending(j);
        });
    return j;
  }

  @Override
  public Optional<JobHandle> job(String id) {
    Job j = live.get(id);
    if (j == null) {
      j = finished.getIfPresent(id);
    }
    return Optional.ofNullable(j);
  }

  @Override
  public List<JobHandle> jobs() {
    var out = new ArrayList<JobHandle>(live.values());
    out.addAll(finishedNotLive(out));
    return out;
  }

  /**
   * The retained finished jobs whose ids are not among {@code liveJobs} (read just before) nor
   * live now: a job being retired is in both maps for a moment, and a resubmitted id belongs to
   * the new job.
   */
  private List<Job> finishedNotLive(List<? extends JobHandle> liveJobs) {
    var ids = new HashSet<String>();
    liveJobs.forEach(j -> ids.add(j.id()));
    var out = new ArrayList<Job>();
    for (Job j : finished.asMap().values()) {
      if (!ids.contains(j.id()) && !live.containsKey(j.id())) {
        out.add(j);
      }
    }
    return out;
  }

  @Override
  public List<QueueSpec> queues() {
    return queueList.stream().map(q -> q.spec).toList();
  }

  @Override
  public void addNode(NodeSpec node) {
    Objects.requireNonNull(node, "node");
    checkOpen();
    NodeSpec n = preferCheapest ? withPriceLabel(node) : node;
    synchronized (nodeMgmt) {
      cluster.addNode(n);
      nodeGens.put(n.id(), nextGen++);
      commands.offer(
          () -> {
            capacity.add(n, NodeState.READY);
            priceTiers.add(n.pricePerGpuHour());
            events.publish(
                new SchedulerEvent.NodeStateChanged(
                    at(nowMillis()), n.id(), null, NodeState.READY, "added"));
          });
    }
    runCommands();
  }

  static NodeSpec withPriceLabel(NodeSpec n) {
    var labels = new LinkedHashMap<>(n.labels());
    labels.put(PRICE_LABEL, Double.toString(n.pricePerGpuHour()));
    return new NodeSpec(
        n.id(), labels, n.gpus(), n.cpuMillis(), n.memoryMiB(), n.pricePerGpuHour(), n.capacityClass());
  }

  @Override
  public void cordon(String nodeId) {
    setState(nodeId, NodeState.CORDONED, "cordoned");
  }

  @Override
  public void uncordon(String nodeId) {
    setState(nodeId, NodeState.READY, "uncordoned");
  }

  private void setState(String nodeId, NodeState to, String why) {
    long gen = requireNode(nodeId);
    command(() -> changeState(nodeId, gen, to, why));
  }

  /**
   * Changes a node's state in the engine and in the books together, on the dispatcher, so that
   * racing cordon/uncordon/drain calls end in the same state in both; nothing if the incarnation
   * {@code gen} the call was made for is gone (removed, perhaps back under the same id).
   *
   * @return whether it changed anything
   */
  private boolean changeState(String nodeId, long gen, NodeState to, String why) {
    NodeState from = capacity.states.get(nodeId);
    if (from == null) {
      return false;
    }
    synchronized (nodeMgmt) {
      if (!Long.valueOf(gen).equals(nodeGens.get(nodeId))) {
        return false;
      }
      cluster.setNodeState(nodeId, to);
    }
    capacity.setState(nodeId, to);
    events.publish(new SchedulerEvent.NodeStateChanged(at(nowMillis()), nodeId, from, to, why));
    return true;
  }

  @Override
  public void drain(String nodeId, Duration deadline) {
    Objects.requireNonNull(deadline, "deadline");
    if (deadline.isNegative()) {
      throw new IllegalArgumentException("drain deadline of node " + nodeId + " must be >= 0, was " + deadline);
    }
    GpuSchedulers.Builder.atMostMax(deadline, "drain deadline of node " + nodeId);
    drain(nodeId, deadline.toMillis(), StopReason.NODE_DRAIN, "drain");
  }

  @Override
  public void spotInterruption(String nodeId, Instant terminationTime) {
    Objects.requireNonNull(terminationTime, "terminationTime");
    long left;
    try {
      left = Math.max(0, Math.subtractExact(terminationTime.toEpochMilli(), nowMillis()));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "terminationTime of node " + nodeId + " is out of range: " + terminationTime);
    }
    if (left > JobSpec.MAX_DURATION.toMillis()) {
      throw new IllegalArgumentException(
          "terminationTime of node " + nodeId + " is too far ahead: " + terminationTime + " (at most "
              + JobSpec.MAX_DURATION + " from now)");
    }
    drain(nodeId, left, StopReason.SPOT_INTERRUPTION, "spot interruption at " + terminationTime);
  }

  private void drain(String nodeId, long deadlineMillis, StopReason why, String text) {
    long gen = requireNode(nodeId);
    // Stops already in progress take the drain's reason now, in the caller's program order: a
    // host reporting one of them stopped right after this call sees it requeued, even while
    // another thread holds the dispatcher and the command below runs later.
    for (Job j : jobsOn(nodeId)) {
      j.escalate(why);
    }
    command(
        () -> {
          if (!changeState(nodeId, gen, NodeState.DRAINING, text)) {
            return; // that node is gone; its jobs were requeued with it
          }
          long now = nowMillis();
          for (Job j : jobsOn(nodeId)) {
            long grace = Math.min(j.spec.gracePeriod().toMillis(), deadlineMillis);
            if (j.escalate(why)) { // a drain always requeues, whatever began the stop
              if (now + grace < j.stopDeadlineMillis) {
                j.stopDeadlineMillis = now + grace;
                safeStop(j, why, j.stopDeadlineMillis); // the host learns the earlier deadline
                if (grace == 0) {
                  commands.offer(j::finishPreemption);
                }
              }
            } else {
              requestStop(j, why, grace, null, now);
            }
          }
        });
  }

  @Override
  public void nodeDown(String nodeId) {
    synchronized (nodeMgmt) {
      requireNode(nodeId);
      // Out of the engine and its jobs stopped now, in call order: the id is free when this
      // returns (the node may come back at once), and a host report racing it sees the job
      // requeued, never completed after its node was lost. The books follow on the dispatcher.
      NodeRemoval removal = cluster.removeNode(nodeId, true);
      nodeGens.remove(nodeId);
      var stopped = new LinkedHashSet<Job>();
      for (Allocation a : removal.lost()) {
        Job j = owners.get(a.id());
        if (j != null && !stopped.contains(j) && j.stopNow(StopReason.NODE_LOST, true) != null) {
          stopped.add(j);
        }
      }
      commands.offer(() -> onNodeDown(nodeId, stopped));
    }
    runCommands();
  }

  private void onNodeDown(String nodeId, Set<Job> stopped) {
    NodeState from = capacity.states.get(nodeId);
    long now = nowMillis();
    capacity.remove(nodeId);
    for (Job j : stopped) {
      safeStop(j, StopReason.NODE_LOST, now);
      onPreempted(j, StopReason.NODE_LOST, true);
    }
    events.publish(new SchedulerEvent.NodeStateChanged(at(now), nodeId, from, NodeState.DOWN, "lost"));
  }

  /** The scheduler's jobs holding a part of the node; none once the node left the engine. */
  private List<Job> jobsOn(String nodeId) {
    List<Allocation> held;
    try {
      held = cluster.allocations(nodeId);
    } catch (IllegalArgumentException gone) {
      return List.of();
    }
    var out = new LinkedHashSet<Job>();
    for (Allocation a : held) {
      Job j = owners.get(a.id());
      if (j != null) {
        out.add(j);
      }
    }
    return new ArrayList<>(out);
  }

  /** Checks the node exists as of this call; returns its incarnation. */
  private long requireNode(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    checkOpen();
    Long gen = nodeGens.get(nodeId);
    if (gen == null) {
      throw new IllegalArgumentException("unknown node " + nodeId);
    }
    return gen;
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
    command(this::onTick);
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
      Runnable continuation = handedOff.get();
      if (continuation != null) {
        continuation.run(); // handed off but dropped by the shutdown: finish it here
      }
    }
    command(() -> {});
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
    long now = nowMillis();
    ClusterSnapshot cs = cluster.snapshot();
    double cap = capacity.totalCap / 1000.0;
    // Weights are summed relative to the largest active one, so weights up to Double.MAX_VALUE
    // never make the sum infinite (and the split NaN).
    double maxWeight = 0;
    for (QueueState q : queueList) {
      if (q.pending > 0 || q.runningJobs > 0) {
        maxWeight = Math.max(maxWeight, q.spec.weight());
      }
    }
    double active = 0;
    for (QueueState q : queueList) {
      if (q.pending > 0 || q.runningJobs > 0) {
        active += q.spec.weight() / maxWeight;
      }
    }
    Map<String, Double> runningCost = new HashMap<>();
    Map<JobState, Integer> counts = new EnumMap<>(JobState.class);
    Map<QueueState, Map<PendingReason, Integer>> waiting = new HashMap<>();
    Map<String, String> idleGpuModel = new HashMap<>(); // GPU uuid → model, while all holders idle
    Set<String> busyGpus = new HashSet<>();
    var liveJobs = new ArrayList<>(live.values());
    for (Job j : liveJobs) {
      counts.merge(j.state(), 1, Integer::sum);
      j.pendingReason()
          .ifPresent(
              r -> waiting.computeIfAbsent(j.queue, k -> new EnumMap<>(PendingReason.class)).merge(r, 1, Integer::sum));
      if (j.state().holdsGpus()) {
        runningCost.merge(j.queue.spec.name(), j.cost() - j.accruedCost, Double::sum);
        boolean idle = j.idle;
        for (Allocation a : j.allocations()) {
          for (AllocatedGpu g : a.gpus()) {
            if (idle) {
              idleGpuModel.put(g.gpuUuid(), g.model());
            } else {
              busyGpus.add(g.gpuUuid());
            }
          }
        }
      }
    }
    Map<String, Integer> idleByModel = new TreeMap<>();
    idleGpuModel.forEach(
        (uuid, model) -> {
          if (!busyGpus.contains(uuid)) {
            idleByModel.merge(model, 1, Integer::sum);
          }
        });
    for (Job j : finishedNotLive(liveJobs)) {
      counts.merge(j.state(), 1, Integer::sum);
    }
    var stats = new ArrayList<QueueStats>();
    for (QueueState q : queueList) {
      boolean isActive = q.pending > 0 || q.runningJobs > 0;
      double entitled =
          isActive ? Math.min(cap, Math.max(q.spec.guaranteedGpus(), cap * (q.spec.weight() / maxWeight) / active)) : 0;
      stats.add(
          new QueueStats(
              q.spec,
              q.pending,
              q.runningJobs,
              q.usedMilli / 1000.0,
              entitled,
              q.dominantShare,
              q.endedCost + runningCost.getOrDefault(q.spec.name(), 0.0),
              waiting.getOrDefault(q, Map.of())));
    }
    return new SchedulerSnapshot(at(now), stats, counts, cs, cap, idleByModel);
  }

  // =====================================================================================
  // Commands and the dispatch loop
  // =====================================================================================

  private void command(Runnable c) {
    commands.offer(c);
    runCommands();
  }

  /**
   * How long one caller keeps dispatching work that other threads keep enqueuing before the
   * scheduler's own thread takes over, in nanoseconds (only with a timer thread, i.e. not with
   * {@code manualTicks()}, which stays on the callers' threads for determinism).
   */
  static final long HANDOFF_NANOS = 1_000_000;

  /** A command loop handed to the timer thread and not yet started by it. */
  private final AtomicReference<@Nullable Runnable> handedOff = new AtomicReference<>();

  private void runCommands() {
    if (wip.getAndIncrement() != 0) {
      return;
    }
    commandLoop(1);
  }

  /**
   * The dispatcher loop; the caller owns the work-in-progress count {@code missed}. A caller held
   * longer than {@link #HANDOFF_NANOS} by commands other threads keep adding hands the loop (and
   * the ownership) to the timer thread and returns, so no call is held hostage indefinitely.
   */
  private void commandLoop(int missed) {
    long since = timer == null ? 0 : System.nanoTime();
    for (; ; ) {
      Runnable c;
      boolean decayed = false;
      while ((c = commands.poll()) != null) {
        try {
          if (!decayed) {
            decay(nowMillis()); // charge the time since the last change at the old usage
            decayed = true;
          }
          c.run();
          dirty = true;
        } catch (Throwable e) {
          log.error("gpusched command failed", e);
          absorb(e);
        }
      }
      if (dirty && !closed) {
        dirty = false;
        try {
          dispatch(nowMillis());
        } catch (Throwable e) {
          log.error("gpusched dispatch pass failed", e);
          absorb(e);
          dirty = true; // the pass was cut short: run another one
        }
      }
      if (!commands.isEmpty()) {
        if (timer != null && System.nanoTime() - since > HANDOFF_NANOS && handOff(missed)) {
          rethrowFatal();
          return;
        }
        continue;
      }
      missed = wip.addAndGet(-missed);
      if (missed == 0) {
        rethrowFatal();
        return;
      }
    }
  }

  /**
   * A {@link VirtualMachineError} caught from a callback or a command, kept until the dispatch
   * loop has given up its ownership (work counter back to 0, or handed to the timer thread) and
   * then rethrown by whichever thread ends the loop: the error is not swallowed, and the loop's
   * state is whole when it propagates, so the next call dispatches again.
   */
  private final AtomicReference<@Nullable VirtualMachineError> fatal = new AtomicReference<>();

  /** Keeps a {@link VirtualMachineError} for {@link #rethrowFatal}; other throwables are done with. */
  private void absorb(Throwable t) {
    if (t instanceof VirtualMachineError e) {
      fatal.compareAndSet(null, e);
    }
  }

  private void rethrowFatal() {
    VirtualMachineError e = fatal.getAndSet(null);
    if (e != null) {
      throw e;
    }
  }

  private boolean handOff(int missed) {
    Continuation next = new Continuation(missed);
    handedOff.set(next);
    try {
      Objects.requireNonNull(timer).execute(next);
      return true;
    } catch (RejectedExecutionException closing) {
      handedOff.set(null);
      return false;
    }
  }

  /** The rest of a drain loop, run once: by the timer thread, or by {@code close()} if dropped. */
  private final class Continuation implements Runnable {
    private final int missed;

    Continuation(int missed) {
      this.missed = missed;
    }

    @Override
    public void run() {
      if (handedOff.compareAndSet(this, null)) {
        commandLoop(missed);
      }
    }
  }

  /** Called by a job after a CAS out of PENDING or a GPU-holding state to a final state. */
  void ended(Job j, JobState from, JobState to, @Nullable StopReason why) {
    command(() -> onEnded(j, from, to, why));
  }

  /** Called by a job on the cancelling thread, after its CAS and before it releases its GPUs. */
  void stopBeforeRelease(Job j, StopReason why) {
    safeStop(j, why, nowMillis());
  }

  /** Called by a job after PREEMPTING → PENDING/PREEMPTED and release. */
  void preempted(Job j, @Nullable StopReason why, boolean requeued) {
    command(() -> onPreempted(j, why, requeued));
  }

  private void enqueuePending(Job j) {
    if (j.rawState() == JobState.PENDING && !j.inLane) {
      j.queue.add(j, globalHeads);
      refreshDemand(j);
    }
  }

  private void refreshDemand(Job j) {
    if (j.poolsVersion != capacity.version) {
      j.poolsVersion = capacity.version;
      j.demandMilli = capacity.estimate(j.spec.request()) * j.spec.gangSize();
      j.compatPools = capacity.compatiblePools(j.spec.request());
    }
  }

  private void onEnded(Job j, JobState from, JobState to, @Nullable StopReason why) {
    long now = nowMillis();
    String qn = j.queue.spec.name();
    if (from == JobState.PENDING) {
      leavePending(j);
      if (j.accounted) {
        // Cancelled after a stop requeued it and before the stop's own command ran (the stopping
        // thread was between its CAS and that command): the stop's command books and reports the
        // preemption, then this cancel, so the events keep the order things happened in.
        j.cancelAfterStop = true;
        return;
      }
    } else {
      long runTime = Math.max(0, now - j.startedAtMillis);
      unaccount(j, now);
      if (why != null) {
        safeStop(j, why, now);
      }
      if (to == JobState.COMPLETED) {
        events.publish(
            new SchedulerEvent.JobCompleted(at(now), j.id(), qn, Duration.ofMillis(runTime), j.accruedCost));
      }
    }
    if (to == JobState.FAILED) {
      events.publish(
          new SchedulerEvent.JobFailed(at(now), j.id(), qn, String.valueOf(j.endReason)));
    } else if (to == JobState.CANCELLED) {
      events.publish(new SchedulerEvent.JobCancelled(at(now), j.id(), qn, from));
    }
    retire(j, to, now);
  }

  private void leavePending(Job j) {
    j.queue.remove(j, globalHeads);
    if (preemptors.remove(j)) {
      for (Job v : j.victims) {
        v.stopFor = null;
      }
      j.victims.clear();
    }
  }

  private void onPreempted(Job j, @Nullable StopReason why, boolean requeued) {
    long now = nowMillis();
    long lost = j.lostWorkMillis(now);
    unaccount(j, now);
    String qn = j.queue.spec.name();
    StopReason reason = why == null ? StopReason.PRIORITY : why;
    // A cancel may have overtaken the requeue (PENDING -> CANCELLED before this command ran): then
    // the job is not back in its queue, and the cancel is reported and the job retired after this
    // preemption, by the cancel's command or (if that one ran first) below.
    boolean back = requeued && j.rawState() == JobState.PENDING;
    events.publish(
        new SchedulerEvent.JobPreempted(at(now), j.id(), qn, reason, Duration.ofMillis(lost), back));
    if (back) {
      j.queuedAtMillis = now;
      events.publish(new SchedulerEvent.JobRequeued(at(now), j.id(), qn, j.attempts, j.checkpointRef));
      enqueuePending(j);
    } else if (!requeued) {
      retire(j, JobState.PREEMPTED, now);
    } else if (j.cancelAfterStop) { // the cancel's command came first and left the rest to this one
      j.cancelAfterStop = false;
      events.publish(new SchedulerEvent.JobCancelled(at(now), j.id(), qn, JobState.PENDING));
      retire(j, JobState.CANCELLED, now);
    }
  }

  private void retire(Job j, JobState to, long now) {
    // Retained first, then out of the live map: a reader never misses it (jobs() drops the copy it
    // may see in both). If a resubmission took the id meanwhile (or before), the old job is not
    // kept: the new one owns the id, and submit dropped the retained entry only if it was there.
    finished.put(j.id(), j);
    var hook = betweenLiveAndFinished;
    if (hook != null) {
      hook.accept(j);
    }
    if (!live.remove(j.id(), j)) {
      finished.asMap().remove(j.id(), j);
    }
    j.endedAtMillis = now;
    events.run(() -> j.settle(to, now));
  }

  /** What a start will add to the books, computed before the job's state changes. */
  private record Accounting(long[] poolMilli, long[] modelMilli, long total, double costPerMs) {}

  /**
   * Computes a start's accounting. May learn nodes the engine placed on but the books do not know
   * yet (added to the cluster on another thread, or directly on the cluster underneath). Returns
   * {@code null} when such a node is already gone again (its allocations died with it), and throws
   * nothing that the caller cannot undo: the job is still PENDING.
   */
  private @Nullable Accounting prepare(Job j, List<Allocation> allocs) {
    for (Allocation a : allocs) {
      for (AllocatedGpu g : a.gpus()) {
        if (!capacity.nodes.containsKey(g.nodeId()) && !learnNode(g.nodeId())) {
          return null;
        }
        capacity.poolOf(g); // creates the pool (and model) if new, before the arrays are sized
      }
    }
    long[] poolMilli = new long[capacity.poolMode.size()];
    long[] modelMilli = new long[capacity.models.size()];
    long total = 0;
    double costPerMs = 0;
    for (Allocation a : allocs) {
      for (AllocatedGpu g : a.gpus()) {
        long m = capacity.milli(g);
        int p = capacity.poolOf(g);
        poolMilli[p] += m;
        modelMilli[capacity.poolModel[p]] += m;
        total += m;
        NodeSpec n = capacity.nodes.get(g.nodeId());
        if (n != null) {
          costPerMs += n.pricePerGpuHour() * capacity.fraction(g) / 3_600_000.0;
        }
      }
    }
    return new Accounting(poolMilli, modelMilli, total, costPerMs);
  }

  /** Books a node the engine placed on; false if the cluster no longer lists it (removed since). */
  private boolean learnNode(String nodeId) {
    for (NodeSpec n : cluster.nodes()) {
      if (n.id().equals(nodeId)) {
        capacity.add(n, NodeState.READY);
        priceTiers.add(n.pricePerGpuHour());
        synchronized (nodeMgmt) {
          nodeGens.computeIfAbsent(nodeId, k -> nextGen++);
        }
        return true;
      }
    }
    return false;
  }

  /** Books a started job. Plain arithmetic on sized arrays: cannot fail after the transition. */
  private void account(Job j, List<Allocation> allocs, Accounting acct, long now) {
    j.poolMilli = acct.poolMilli();
    j.modelMilli = acct.modelMilli();
    j.usedMilli = acct.total();
    j.costPerMs = acct.costPerMs();
    for (Allocation a : allocs) {
      owners.put(a.id(), j);
      for (AllocatedGpu g : a.gpus()) {
        if (g.mode() == GpuMode.WHOLE) {
          wholeUsed.merge(g.nodeId(), 1, Integer::sum);
        }
      }
    }
    QueueState q = j.queue;
    q.ensureModels(j.modelMilli.length);
    for (int p = 0; p < j.poolMilli.length; p++) {
      capacity.poolUsed[p] += j.poolMilli[p];
    }
    for (int m = 0; m < j.modelMilli.length; m++) {
      q.modelMilli[m] += j.modelMilli[m];
    }
    capacity.totalUsed += j.usedMilli;
    q.usedMilli += j.usedMilli;
    q.runningJobs++;
    q.running.add(j);
    running.add(j);
    Duration bound = j.spec.runTimeBound(); // at most JobSpec.MAX_DURATION: no overflow
    j.endBoundMillis = bound == null ? Long.MAX_VALUE : now + bound.toMillis();
    runningByEnd.add(j);
    j.accounted = true;
    runningVersion++;
    updateDominant(q);
  }

  private void unaccount(Job j, long now) {
    if (!j.accounted) {
      return;
    }
    j.accounted = false;
    QueueState q = j.queue;
    for (int p = 0; p < j.poolMilli.length; p++) {
      capacity.poolUsed[p] -= j.poolMilli[p];
    }
    for (int m = 0; m < j.modelMilli.length; m++) {
      q.modelMilli[m] -= j.modelMilli[m];
    }
    capacity.totalUsed -= j.usedMilli;
    q.usedMilli -= j.usedMilli;
    q.runningJobs--;
    q.running.remove(j);
    running.remove(j);
    runningByEnd.remove(j);
    preempting.remove(j);
    double runCost = j.costPerMs * Math.max(0, now - j.startedAtMillis);
    j.accruedCost += runCost;
    q.endedCost += runCost;
    for (Allocation a : j.allocations) {
      owners.remove(a.id());
      for (AllocatedGpu g : a.gpus()) {
        if (g.mode() == GpuMode.WHOLE) {
          wholeUsed.computeIfPresent(g.nodeId(), (k, v) -> v > 1 ? v - 1 : null);
        }
      }
    }
    if (j.stopFor != null) {
      j.stopFor.victims.remove(j);
      j.stopFor = null;
    }
    j.idle = false;
    runningVersion++;
    updateDominant(q);
  }

  // =====================================================================================
  // Dispatch
  // =====================================================================================

  private enum Outcome {
    STARTED,
    SKIPPED,
    BACKFILL_SKIPPED,
    STOP
  }

  /**
   * How long a job whose preemption freed capacity it then could not use (the victim simulation
   * disagreed with the engine) waits before it may preempt again: keeps a mismatch from cycling.
   */
  static final long PREEMPTION_BACKOFF_MILLIS = 60_000;

  /** How many jobs behind a lane head held back by the reservation are tried per pass. */
  static final int BACKFILL_DEPTH = 64;

  /** Per-pass memo. */
  private final class Pass {
    final long now;
    final Set<Shape> failed = new HashSet<>();
    final Set<Job> tried = new HashSet<>();
    final Set<QueueState> planned = new HashSet<>();
    final Set<Integer> held = new HashSet<>();
    /** Shapes no current node could ever host (the engine said so). */
    final Set<Shape> impossible = new HashSet<>();
    /**
     * Set by the last {@link #tryStart}: no current node could host the job's request as its
     * quotas narrow it, although nodes of the models they keep it from could.
     */
    boolean narrowedNever;
    /** The first job of this pass found blocked for capacity: backfill protects it. */
    @Nullable Job holder;

    boolean reservationKnown;
    long shadow;
    long extra;

    /** This pass's number, for {@link Job#waiting}. */
    final long number;

    Pass(long now, long number) {
      this.now = now;
      this.number = number;
    }

    /** Records why {@code j} did not start and returns {@code o}. */
    Outcome waits(Job j, PendingReason why, Outcome o) {
      j.waiting(why, number);
      return o;
    }
  }

  /** Dispatch passes run so far; written by the dispatcher, read by handles. */
  private volatile long passes;

  long passes() {
    return passes;
  }

  private void dispatch(long now) {
    Pass ps = new Pass(now, ++passes);
    for (Job p : new ArrayList<>(preemptors)) {
      if (p.rawState() != JobState.PENDING) {
        leavePending(p);
        continue;
      }
      refreshDemand(p);
      if (quotaAllows(p) && tryStart(p, ps)) {
        continue;
      }
      p.waiting(PendingReason.PREEMPTION, ps.number);
      if (p.victims.isEmpty()) {
        preemptors.remove(p);
        p.noPreemptionBeforeMillis = now + PREEMPTION_BACKOFF_MILLIS;
        log.info(
            "gpusched: {} did not fit in the capacity its preemption freed; it will not preempt"
                + " again for {} ms",
            p,
            PREEMPTION_BACKOFF_MILLIS);
      }
    }
    for (Job p : preemptors) {
      for (int pool : p.compatPools) {
        ps.held.add(pool);
      }
    }
    if (policy == SchedulingPolicy.FAIR_SHARE) {
      fairLoop(ps);
    } else {
      globalLoop(ps);
    }
  }

  private boolean belowAGuarantee(QueueState q) {
    if (q.usedMilli < q.guaranteeMilli) {
      return true;
    }
    for (int m = 0; m < capacity.models.size(); m++) {
      ModelLimits quota = modelQuota(q, m);
      if (quota != null && modelUse(q, m) < quota.guaranteeMilli()) {
        return true;
      }
    }
    return false;
  }

  private void fairLoop(Pass ps) {
    Set<QueueState> exhausted = new HashSet<>();
    for (; ; ) {
      var order = new ArrayList<QueueState>();
      for (QueueState q : queueList) {
        if (!q.heads.isEmpty() && !exhausted.contains(q)) {
          order.add(q);
        }
      }
      if (order.isEmpty()) {
        return;
      }
      order.sort(
          Comparator.<QueueState>comparingInt(q -> belowAGuarantee(q) ? 0 : 1)
              .thenComparingDouble(q -> q.dominantShare)
              .thenComparingLong(q -> q.lastStart)
              .thenComparingInt(q -> q.index));
      boolean started = false;
      for (QueueState q : order) {
        Outcome o = startFirst(q.heads, ps);
        if (o == Outcome.STOP) {
          return;
        }
        if (o == Outcome.STARTED) {
          started = true;
          break;
        }
        exhausted.add(q);
      }
      if (!started) {
        return;
      }
    }
  }

  private void globalLoop(Pass ps) {
    while (startFirst(globalHeads, ps) == Outcome.STARTED) {
      // heads changed: walk them again from the first not yet tried
    }
  }

  /**
   * Walks lane heads in order and starts the first job that can start: STARTED (the heads changed,
   * the caller walks again), STOP (strict order blocked), or SKIPPED (none could start).
   */
  private Outcome startFirst(TreeSet<Job> heads, Pass ps) {
    for (Job j : heads) {
      if (ps.tried.contains(j)) {
        continue;
      }
      Outcome o = attemptLane(j, ps);
      if (o == Outcome.STARTED || o == Outcome.STOP) {
        return o;
      }
      ps.tried.add(j);
    }
    return Outcome.SKIPPED;
  }

  private Outcome attempt(Job j, Pass ps) {
    if (j.rawState() != JobState.PENDING || preemptors.contains(j)) {
      return Outcome.SKIPPED;
    }
    refreshDemand(j);
    if (!quotaAllows(j)) {
      return ps.waits(j, PendingReason.QUOTA, Outcome.SKIPPED);
    }
    if (heldForPreemptor(j, ps)) {
      return ps.waits(j, PendingReason.RESERVED, Outcome.SKIPPED);
    }
    Job h = ps.holder;
    // Guaranteed capacity outranks a reservation held for a queue beyond its guarantee.
    boolean outranks =
        h != null
            && (withinGuarantee(j) || modelWithinGuarantee(j) >= 0)
            && !(withinGuarantee(h) || modelWithinGuarantee(h) >= 0);
    if (h != null && !outranks && !backfillAllows(j, ps)) {
      return ps.waits(j, PendingReason.RESERVED, Outcome.BACKFILL_SKIPPED);
    }
    if (ps.impossible.contains(j.shape)) {
      return ps.waits(j, PendingReason.UNSCHEDULABLE, Outcome.SKIPPED);
    }
    boolean restricted = j.allowedModels != null; // a failure then says nothing about the shape
    if ((restricted || !ps.failed.contains(j.shape)) && tryStart(j, ps)) {
      ps.reservationKnown = false;
      return Outcome.STARTED;
    }
    if (j.rawState() != JobState.PENDING) {
      return Outcome.SKIPPED; // cancelled while it was being placed
    }
    if (!restricted
        && !ps.impossible.contains(j.shape)
        && neverFits.test(j.shape, capacity.nodes.values(), capacity.nodeSetVersion)) {
      ps.impossible.add(j.shape); // labels, capacity class, host or gang size no node meets
    }
    if (ps.impossible.contains(j.shape)) {
      // no node could ever host it: no reservation, no preemption
      return ps.waits(j, PendingReason.UNSCHEDULABLE, Outcome.SKIPPED);
    }
    if (restricted && ps.narrowedNever) {
      // Only models its quotas keep it from could host it: freed capacity would not help, so it
      // waits on its quota holding no reservation and preempting nobody.
      return ps.waits(j, PendingReason.QUOTA, Outcome.SKIPPED);
    }
    if (!restricted) {
      ps.failed.add(j.shape);
    }
    if (considerPreemption(j, ps)) {
      for (int pool : j.compatPools) {
        ps.held.add(pool); // what its victims free is the preemptor's, within this pass too
      }
      return ps.waits(j, PendingReason.PREEMPTION, Outcome.SKIPPED);
    }
    // capacity it could not use for quota reasons had room: say so
    PendingReason why = restricted && j.quotaKeptItFromRoom ? PendingReason.QUOTA : PendingReason.CAPACITY;
    if (!backfill) {
      return ps.waits(j, why, Outcome.STOP);
    }
    if (h == null || outranks) {
      ps.holder = j;
      ps.reservationKnown = false;
    }
    return ps.waits(j, why, Outcome.SKIPPED);
  }

  /**
   * Tries a lane head; if the reservation held it back, walks up to {@link #BACKFILL_DEPTH} later
   * jobs of its lane, which may end sooner.
   */
  private Outcome attemptLane(Job head, Pass ps) {
    Outcome r = attempt(head, ps);
    if (r != Outcome.BACKFILL_SKIPPED) {
      return r;
    }
    Job k = head;
    for (int depth = 0; depth < BACKFILL_DEPTH && (k = k.queue.after(k)) != null; depth++) {
      Outcome r2 = attempt(k, ps);
      if (r2 == Outcome.STARTED || r2 == Outcome.STOP) {
        return r2;
      }
      if (ps.failed.contains(k.shape)) {
        break;
      }
    }
    return Outcome.SKIPPED;
  }

  /**
   * Whether {@code j} could use capacity that victims are freeing for a preemptor: victims leave
   * one by one (at their deadlines or acknowledgements), and what the first ones free must still
   * be there when the last one leaves.
   */
  private static boolean heldForPreemptor(Job j, Pass ps) {
    if (ps.held.isEmpty()) {
      return false;
    }
    for (int pool : j.compatPools) {
      if (ps.held.contains(pool)) {
        return true;
      }
    }
    return false;
  }

  private static boolean withinGuarantee(Job j) {
    return j.queue.usedMilli + j.demandMilli <= j.queue.guaranteeMilli;
  }

  /**
   * Borrow limit of the job's queue, lend limits of the others, and the queue's per-model limits:
   * models where the job would pass its queue's model limit are excluded from its placement
   * ({@link Job#allowedModels}); if that leaves none, the job waits.
   */
  private boolean quotaAllows(Job j) {
    QueueState q = j.queue;
    j.allowedModels = null;
    j.quotaKeptItFromRoom = false;
    long after = q.usedMilli + j.demandMilli;
    if (after > QueueState.plus(q.guaranteeMilli, q.borrowLimitMilli)) {
      return false;
    }
    if (anyLendLimit && after > q.guaranteeMilli) {
      long free = capacity.totalCap - capacity.totalUsed - j.demandMilli;
      long kept = 0;
      for (QueueState o : queueList) {
        if (o != q && o.lendLimitMilli != QueueState.UNLIMITED) {
          kept = QueueState.plus(kept, unlent(o.guaranteeMilli, o.usedMilli, o.lendLimitMilli));
        }
      }
      if (free < kept) {
        return false;
      }
    }
    if ((q.modelQuotas.isEmpty() && !anyModelLendLimit) || j.compatPools.length == 0) {
      // No pool could host it (a MIG profile or model no node offers): no model quota applies,
      // and the placement says UNSCHEDULABLE rather than this saying QUOTA.
      return true;
    }
    Set<String> allowed = new java.util.LinkedHashSet<>();
    boolean excluded = false;
    for (int p : j.compatPools) {
      int m = capacity.poolModel[p];
      ModelLimits quota = modelQuota(q, m);
      String name = capacity.models.get(m).name();
      if ((quota != null && modelUse(q, m) + j.demandMilli > quota.capMilli())
          || (anyModelLendLimit && !modelLendAllows(q, m, j.demandMilli))) {
        excluded = true;
        j.quotaKeptItFromRoom |= capacity.poolCap[p] - capacity.poolUsed[p] >= j.demandMilli;
      } else {
        allowed.add(name);
      }
    }
    if (allowed.isEmpty()) {
      return false;
    }
    if (excluded) {
      j.allowedModels = Set.copyOf(allowed);
    }
    return true;
  }

  /**
   * The GPU models the job's queue quotas let it use now (as {@link #quotaAllows} computes them
   * for its start), {@code null} for any model it is compatible with, or an empty set if the
   * quotas keep it from starting at all. Leaves the job's per-pass fields as they were.
   */
  private @Nullable Set<String> quotaModels(Job j) {
    Set<String> savedModels = j.allowedModels;
    boolean savedKept = j.quotaKeptItFromRoom;
    try {
      return quotaAllows(j) ? j.allowedModels : Set.of();
    } finally {
      j.allowedModels = savedModels;
      j.quotaKeptItFromRoom = savedKept;
    }
  }

  /** Unused guarantee that may not be lent, {@code max(0, guarantee - used - lend)}, saturating. */
  private static long unlent(long guarantee, long used, long lend) {
    return Math.max(0, QueueState.minus(QueueState.minus(guarantee, used), lend));
  }

  /**
   * Per-model lend limits: {@code q} may take {@code demand} of model {@code m} beyond its own
   * guarantee there only if what stays free of {@code m} covers the unused guarantee other queues
   * do not lend on it.
   */
  private boolean modelLendAllows(QueueState q, int m, long demand) {
    ModelLimits own = modelQuota(q, m);
    if (modelUse(q, m) + demand <= (own == null ? 0 : own.guaranteeMilli())) {
      return true;
    }
    long kept = 0;
    for (QueueState o : queueList) {
      ModelLimits oq = o == q ? null : modelQuota(o, m);
      if (oq != null && oq.lendLimitMilli() != QueueState.UNLIMITED) {
        kept = QueueState.plus(kept, unlent(oq.guaranteeMilli(), modelUse(o, m), oq.lendLimitMilli()));
      }
    }
    if (kept == 0) {
      return true;
    }
    long used = 0;
    for (int p = 0; p < capacity.poolModel.length; p++) {
      if (capacity.poolModel[p] == m) {
        used += capacity.poolUsed[p];
      }
    }
    return capacity.modelCap[m] - used - demand >= kept;
  }

  /**
   * EASY-style backfill test against the reservation holder, on pool capacity: a job whose pools
   * do not overlap the holder's always passes; otherwise it must end (by its time limit or
   * estimate) before the holder's shadow time, or fit in the capacity the holder will not need.
   */
  private boolean backfillAllows(Job j, Pass ps) {
    Job h = ps.holder;
    if (h == null) {
      return true;
    }
    refreshDemand(h);
    if (!overlaps(j.compatPools, h.compatPools)) {
      return true;
    }
    if (!ps.reservationKnown) {
      reserve(h, ps);
    }
    Duration bound = j.spec.runTimeBound();
    if (ps.shadow != Long.MAX_VALUE && bound != null && ps.now + bound.toMillis() <= ps.shadow) {
      return true;
    }
    if (j.demandMilli <= ps.extra) {
      if (ps.extra != Long.MAX_VALUE) {
        ps.extra -= j.demandMilli;
      }
      return true;
    }
    return restrictAwayFrom(j, h);
  }

  /**
   * A job held back by the reservation may still start on models the holder cannot use: its
   * placement is then restricted to them ({@link Job#allowedModels}), so it cannot delay the
   * holder.
   */
  private boolean restrictAwayFrom(Job j, Job h) {
    Set<String> away = new java.util.LinkedHashSet<>();
    Set<String> shared = new HashSet<>();
    for (int p : j.compatPools) {
      String model = capacity.models.get(capacity.poolModel[p]).name();
      (contains(h.compatPools, p) ? shared : away).add(model);
    }
    away.removeAll(shared);
    if (j.allowedModels != null) {
      away.retainAll(j.allowedModels);
    }
    if (away.isEmpty()) {
      return false;
    }
    j.allowedModels = Set.copyOf(away);
    return true;
  }

  private void reserve(Job h, Pass ps) {
    ps.reservationKnown = true;
    if (h.spec.request().gpus() instanceof GpuDemand.Whole w && w.sameNode() && w.count() > 1) {
      reserveOnNodes(h, w, ps);
      return;
    }
    long need = h.demandMilli;
    long all = 0;
    for (int p : h.compatPools) {
      all += capacity.poolCap[p];
    }
    if (all < need) {
      reserveNothing(ps); // it cannot fit even on an empty cluster: it must not block others
      return;
    }
    long acc = capacity.free(h.compatPools);
    if (acc >= need) {
      ps.shadow = ps.now;
      ps.extra = acc - need;
      return;
    }
    for (Job r : runningByEnd) {
      long c = 0;
      for (int p : h.compatPools) {
        if (p < r.poolMilli.length) {
          c += r.poolMilli[p];
        }
      }
      if (c == 0) {
        continue;
      }
      if (r.endBoundMillis == Long.MAX_VALUE) {
        break;
      }
      acc += c;
      if (acc >= need) {
        ps.shadow = r.endBoundMillis;
        ps.extra = acc - need;
        return;
      }
    }
    ps.shadow = Long.MAX_VALUE;
    ps.extra = 0;
  }

  /**
   * Shadow time for a holder whose members each need {@code w.count()} whole GPUs on one node:
   * replays the running jobs' expected ends node by node until enough nodes have room for every
   * member. Capacity counted in aggregate would be met by scattered free GPUs and let small jobs
   * starve the gang, so here only jobs that end before the shadow time may backfill.
   */
  private void reserveOnNodes(Job h, GpuDemand.Whole w, Pass ps) {
    PlacementRequest r = h.spec.request();
    Map<String, Integer> free = new HashMap<>();
    Map<String, Integer> empty = new HashMap<>();
    for (NodeSpec n : capacity.nodes.values()) {
      if (capacity.states.get(n.id()) != NodeState.READY
          || !r.constraints().allowsNode(n.labels(), n.capacityClass())) {
        continue;
      }
      int usable = 0;
      for (GpuSpec g : n.gpus()) {
        if (g.mode() == GpuMode.WHOLE && r.constraints().allowsModel(g.model().name())) {
          usable++;
        }
      }
      if (usable >= w.count()) {
        free.put(n.id(), usable - wholeUsed.getOrDefault(n.id(), 0));
        empty.put(n.id(), usable);
      }
    }
    if (members(empty, w.count()) < h.spec.gangSize()) {
      reserveNothing(ps); // no set of nodes could ever host it
      return;
    }
    ps.extra = 0;
    if (members(free, w.count()) >= h.spec.gangSize()) {
      ps.shadow = ps.now;
      return;
    }
    for (Job run : runningByEnd) {
      if (run.endBoundMillis == Long.MAX_VALUE) {
        break;
      }
      boolean touched = false;
      for (Allocation a : run.allocations) {
        for (AllocatedGpu g : a.gpus()) {
          if (g.mode() == GpuMode.WHOLE && free.containsKey(g.nodeId())) {
            free.merge(g.nodeId(), 1, Integer::sum);
            touched = true;
          }
        }
      }
      if (touched && members(free, w.count()) >= h.spec.gangSize()) {
        ps.shadow = run.endBoundMillis;
        return;
      }
    }
    ps.shadow = Long.MAX_VALUE;
  }

  private static void reserveNothing(Pass ps) {
    ps.shadow = ps.now;
    ps.extra = Long.MAX_VALUE;
  }

  private static int members(Map<String, Integer> free, int perMember) {
    int m = 0;
    for (int f : free.values()) {
      m += Math.max(0, f) / perMember;
    }
    return m;
  }

  private static boolean overlaps(int[] a, int[] b) {
    for (int x : a) {
      if (contains(b, x)) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(int[] a, int x) {
    for (int y : a) {
      if (y == x) {
        return true;
      }
    }
    return false;
  }

  /** Places every gang member or none, then starts the job. */
  private boolean tryStart(Job j, Pass ps) {
    long now = ps.now;
    ps.narrowedNever = false;
    List<Allocation> allocs;
    try {
      allocs = place(j);
    } catch (IllegalArgumentException e) {
      // The engine says no node could ever host this request: leave it pending (a node may be
      // added), but it must not hold a reservation or abort the pass. A request narrowed to the
      // models the job's quotas allow says nothing about the shape (other queues' jobs of the same
      // shape may fit elsewhere), so only the job's own request marks the shape impossible.
      if (j.allowedModels == null) {
        ps.impossible.add(j.shape);
      } else {
        ps.narrowedNever = true;
      }
      log.debug("gpusched: {} cannot be placed on the current nodes: {}", j, e.getMessage());
      return false;
    }
    if (allocs == null) {
      return false;
    }
    @Nullable Accounting acct;
    try {
      acct = prepare(j, allocs);
    } catch (Throwable e) {
      allocs.forEach(Allocation::release);
      throw e;
    }
    if (acct == null) { // placed on a node removed before it was booked: try again next pass
      allocs.forEach(Allocation::release);
      return false;
    }
    j.allocations = allocs;
    long prevStart = j.startedAtMillis;
    j.startedAtMillis = now;
    int run = j.startRun();
    if (run < 0) {
      for (Allocation a : allocs) {
        a.release();
      }
      j.allocations = List.of();
      j.startedAtMillis = prevStart;
      return false;
    }
    j.queue.remove(j, globalHeads);
    if (ps.holder == j) {
      ps.holder = null;
    }
    preemptors.remove(j);
    j.victims.clear();
    j.attempts = run;
    j.queue.lastStart = ++starts;
    j.lastHeartbeatMillis = now;
    j.idle = false;
    j.idleReclaimAtMillis = -1;
    j.idleRunStart = Long.MIN_VALUE;
    account(j, allocs, acct, now);
    var gpus = new ArrayList<AllocatedGpu>();
    allocs.forEach(a -> gpus.addAll(a.gpus()));
    events.publish(
        new SchedulerEvent.JobStarted(
            at(now), j.id(), j.queue.spec.name(), j.attempts, gpus,
            Duration.ofMillis(Math.max(0, now - j.queuedAtMillis))));
    events.run(j::markStarted);
    try {
      launcher.start(j.view(run));
    } catch (Throwable e) { // an Error, or a checked exception thrown sneakily, too
      log.warn("gpusched launcher failed to start {}", j, e);
      j.end(JobState.FAILED, "launcher failed: " + e);
      absorb(e);
    }
    // A nodeDown between the engine's place and account() above found no owner for the lost
    // allocation and left the job to us. It marks the allocation lost before it reads the owners,
    // and account() wrote the owner before this check reads the allocation: one of the two sees
    // the other, and stopNow lets only one of them requeue the job.
    for (Allocation a : allocs) {
      if (!a.isActive()) {
        if (j.stopNow(StopReason.NODE_LOST, true) != null) {
          safeStop(j, StopReason.NODE_LOST, now);
          onPreempted(j, StopReason.NODE_LOST, true);
        }
        break;
      }
    }
    return true;
  }

  private @Nullable List<Allocation> place(Job j) {
    List<PlacementRequest> tiers = tiers(j.spec);
    Set<String> allowed = j.allowedModels;
    if (allowed != null) {
      var restricted = new ArrayList<PlacementRequest>();
      for (PlacementRequest r : tiers) {
        restricted.add(r.withConstraints(r.constraints().withGpuModels(allowed)));
      }
      tiers = restricted;
    }
    var got = new ArrayList<Allocation>(j.spec.gangSize());
    try {
      for (int m = 0; m < j.spec.gangSize(); m++) {
        Allocation a = null;
        for (int t = 0; t < tiers.size(); t++) {
          try {
            a = placeTimed(tiers.get(t));
          } catch (IllegalArgumentException never) {
            if (t == tiers.size() - 1) {
              throw never; // the job's own request (as quotas narrow it): no node could host it
            }
            continue; // a cheaper tier no node could host: try the next one
          }
          if (a != null) {
            break;
          }
        }
        if (a == null) {
          got.forEach(Allocation::release);
          return null;
        }
        got.add(a);
      }
    } catch (Throwable e) { // the members placed so far are given back, whatever the engine threw
      got.forEach(Allocation::release);
      throw e;
    }
    return List.copyOf(got);
  }

  /** One engine placement, timed for the observer when there is one. */
  private @Nullable Allocation placeTimed(PlacementRequest r) {
    if (placementObserver == PlacementObserver.NONE) {
      return cluster.place(r).orElse(null);
    }
    long t0 = System.nanoTime();
    Allocation a = cluster.place(r).orElse(null);
    long elapsed = System.nanoTime() - t0;
    try {
      placementObserver.placed(r.gpus(), a != null, Math.max(0, elapsed));
    } catch (Throwable e) { // logged and ignored, as PlacementObserver says: the placement stands
      log.warn("gpusched placement observer failed", e);
      absorb(e);
    }
    return a;
  }

  private List<PlacementRequest> tiers(JobSpec spec) {
    PlacementRequest r = spec.request();
    if (!preferCheapest) {
      return List.of(r);
    }
    var out = new ArrayList<PlacementRequest>();
    var cc = r.constraints().capacityClasses();
    if (spec.preemptible() && (cc.isEmpty() || cc.contains(CapacityClass.SPOT))) {
      out.add(r.withConstraints(r.constraints().withCapacityClasses(CapacityClass.SPOT)));
    }
    if (priceTiers.size() > 1 && !r.constraints().labels().containsKey(PRICE_LABEL)) {
      for (double p : priceTiers) {
        out.add(r.withConstraints(r.constraints().withLabel(PRICE_LABEL, Double.toString(p))));
      }
    }
    out.add(r);
    return out;
  }

  // =====================================================================================
  // Preemption
  // =====================================================================================

  /**
   * Plans and starts preemption for a blocked job if policy allows: (1) lower-priority preemptible
   * jobs of its own queue; (2) if the job keeps its queue within its guarantee, preemptible jobs
   * of queues above theirs. Victims must have run {@code minRunTime}; they are chosen by {@link
   * VictimPlanner} so that the job then fits under every constraint it will start under (its
   * request, and the models its queue's quotas allow now: {@link #quotaModels}). A plan that would
   * take a victim queue below its guarantee is made again without the victim that broke it (up to
   * {@link #MAX_REPLANS} times). At most one plan per queue per pass, and a job is not re-planned
   * until the set of running jobs changes (or a tick passes).
   */
  private boolean considerPreemption(Job j, Pass ps) {
    if (!preemption || preemptors.contains(j) || ps.planned.contains(j.queue)) {
      return false;
    }
    if (j.lastPlanVersion == runningVersion || ps.now < j.noPreemptionBeforeMillis) {
      return false;
    }
    j.lastPlanVersion = runningVersion;
    long now = ps.now;
    var candidates = new ArrayList<Job>();
    Map<Job, StopReason> reason = new HashMap<>();
    for (Job v : j.queue.running) {
      if (victimEligible(v, now) && v.spec.priority() < j.spec.priority()) {
        candidates.add(v);
        reason.put(v, StopReason.PRIORITY);
      }
    }
    QueueState q = j.queue;
    // Plan under every constraint the job will start under: the models its queue's quotas (and
    // other queues' model lend limits) let it use now. Victims leaving can only widen that set
    // (usage falls), so a plan on it never frees capacity the job may not take.
    Set<String> models = quotaModels(j);
    if (models != null && models.isEmpty()) {
      return false;
    }
    int reclaimModel = -1;
    if (withinGuarantee(j)) {
      for (QueueState o : queueList) {
        if (o != q && o.usedMilli > o.guaranteeMilli) {
          for (Job v : o.running) {
            // Only borrowed capacity is reclaimed: the victim's queue stays at or above its
            // guarantee, so it is never entitled to reclaim straight back (no ping-pong).
            if (victimEligible(v, now) && o.usedMilli - v.usedMilli >= o.guaranteeMilli) {
              candidates.add(v);
              reason.put(v, StopReason.QUOTA_RECLAIM);
            }
          }
        }
      }
    } else {
      reclaimModel = modelWithinGuarantee(j);
      if (reclaimModel >= 0) {
        // Reclaim of a per-model guarantee: victims on that model whose queues borrowed it.
        for (QueueState o : queueList) {
          if (o == q) {
            continue;
          }
          for (Job v : o.running) {
            if (victimEligible(v, now) && borrowedOn(o, v, reclaimModel)) {
              candidates.add(v);
              reason.put(v, StopReason.QUOTA_RECLAIM);
            }
          }
        }
        String on = capacity.models.get(reclaimModel).name();
        if (models != null && !models.contains(on)) {
          return false; // another queue's model lend limit keeps it from that model
        }
        models = Set.of(on);
      }
    }
    if (candidates.isEmpty()) {
      return false;
    }
    PlacementRequest planFor = j.spec.request();
    if (models != null) {
      planFor = planFor.withConstraints(planFor.constraints().withGpuModels(models));
    }
    candidates.sort(
        Comparator.<Job>comparingInt(v -> v.spec.priority())
            .thenComparingLong(v -> v.lostWorkMillis(now))
            .thenComparingLong(v -> -v.seq));
    var planner = new VictimPlanner(cluster, capacity, owners);
    List<Job> victims = null;
    // Each candidate alone keeps its queue at or above its guarantee, but several of one queue
    // together may not: then the victim that broke it leaves the candidates and the plan is made
    // again (the plan is never dropped while other victims would do).
    for (int tries = 0; tries <= MAX_REPLANS; tries++) {
      List<Job> plan = planner.plan(planFor, j.spec.gangSize(), candidates, now);
      if (plan == null) {
        return false;
      }
      Job breaking = breaksAGuarantee(plan, reason, reclaimModel);
      if (breaking == null) {
        victims = plan;
        break;
      }
      candidates.remove(breaking);
    }
    if (victims == null) {
      return false;
    }
    ps.planned.add(j.queue);
    preemptors.add(j);
    for (Job v : victims) {
      j.victims.add(v);
      if (!requestStop(v, reason.get(v), v.spec.gracePeriod().toMillis(), j, now)) {
        j.victims.remove(v);
      }
    }
    log.debug("gpusched: preempting {} for {}", victims, j);
    return true;
  }

  /**
   * How many times one preemption plan is made again without a victim that would have taken its
   * queue below its guarantee; bounds the dispatcher's work per blocked job and pass.
   */
  static final int MAX_REPLANS = 16;

  /**
   * The first reclaim victim (in plan order) with which the victims take its queue below its
   * guarantee: the total one, or for a per-model reclaim the one on that model (its model quota,
   * else its total); {@code null} if every victim queue stays at or above its guarantee.
   */
  private @Nullable Job breaksAGuarantee(List<Job> victims, Map<Job, StopReason> reason, int model) {
    Map<QueueState, Long> taken = new HashMap<>();
    for (Job v : victims) {
      if (reason.get(v) != StopReason.QUOTA_RECLAIM) {
        continue;
      }
      ModelLimits quota = model < 0 ? null : modelQuota(v.queue, model);
      if (quota != null) {
        long t = taken.merge(v.queue, modelUse(v, model), Long::sum);
        if (modelUse(v.queue, model) - t < quota.guaranteeMilli()) {
          return v;
        }
      } else {
        long t = taken.merge(v.queue, v.usedMilli, Long::sum);
        if (v.queue.usedMilli - t < v.queue.guaranteeMilli) {
          return v;
        }
      }
    }
    return null;
  }

  /** Whether {@code v} of queue {@code o} holds capacity of {@code model} that {@code o} borrowed. */
  private boolean borrowedOn(QueueState o, Job v, int model) {
    long on = modelUse(v, model);
    if (on == 0) {
      return false;
    }
    ModelLimits quota = modelQuota(o, model);
    if (quota != null) {
      return modelUse(o, model) - on >= quota.guaranteeMilli();
    }
    return o.usedMilli > o.guaranteeMilli && o.usedMilli - v.usedMilli >= o.guaranteeMilli;
  }

  private static long modelUse(Job j, int model) {
    return model < j.modelMilli.length ? j.modelMilli[model] : 0;
  }

  private static long modelUse(QueueState q, int model) {
    return model < q.modelMilli.length ? q.modelMilli[model] : 0;
  }

  /** {guarantee, guarantee + borrow limit} in milli for the queue's quota on a model, or null. */
  private @Nullable ModelLimits modelQuota(QueueState q, int model) {
    return q.modelQuotas.isEmpty() ? null : q.modelQuotas.get(capacity.models.get(model).name());
  }

  /** A model the job could run on where its queue stays within its per-model guarantee, or -1. */
  private int modelWithinGuarantee(Job j) {
    if (j.queue.modelQuotas.isEmpty()) {
      return -1;
    }
    for (int p : j.compatPools) {
      int m = capacity.poolModel[p];
      ModelLimits quota = modelQuota(j.queue, m);
      if (quota != null && modelUse(j.queue, m) + j.demandMilli <= quota.guaranteeMilli()) {
        return m;
      }
    }
    return -1;
  }

  private boolean victimEligible(Job v, long now) {
    return v.spec.preemptible()
        && v.rawState() == JobState.RUNNING
        && v.stopFor == null
        && now - v.startedAtMillis >= minRunMillis;
  }

  private boolean requestStop(Job v, StopReason why, long graceMillis, @Nullable Job forJob, long now) {
    if (!v.beginPreemption(why)) {
      return false;
    }
    v.stopDeadlineMillis = now + graceMillis;
    v.stopFor = forJob;
    preempting.add(v);
    events.publish(
        new SchedulerEvent.PreemptionRequested(
            at(now), v.id(), v.queue.spec.name(), why, at(v.stopDeadlineMillis),
            forJob == null ? null : forJob.id()));
    safeStop(v, why, v.stopDeadlineMillis);
    if (graceMillis == 0) {
      // Released after this pass, so that the next pass offers the capacity to the preemptor
      // before anyone else (a release inside the pass would let later jobs take it).
      commands.offer(v::finishPreemption);
    }
    return true;
  }

  private void safeStop(Job j, StopReason why, long deadlineMillis) {
    try {
      launcher.stop(j.view(j.run()), why, at(deadlineMillis));
    } catch (Throwable e) {
      log.warn("gpusched launcher failed to stop {} ({})", j, why, e);
      absorb(e);
    }
  }

  // =====================================================================================
  // Timers
  // =====================================================================================

  private void onTick() {
    long now = nowMillis(); // (the command loop decayed fair-share usage before this command)
    runningVersion++; // time passed: minimum run times may have elapsed, plan again
    for (Job v : new ArrayList<>(preempting)) {
      if (v.rawState() != JobState.PREEMPTING) {
        preempting.remove(v);
      } else if (now >= v.stopDeadlineMillis) {
        v.finishPreemption();
      }
    }
    for (Job j : new ArrayList<>(running)) {
      Duration ttl = j.spec.leaseTtl();
      if (ttl != null && now - j.lastHeartbeatMillis > ttl.toMillis()) {
        long last = j.lastHeartbeatMillis;
        if (j.rawState() == JobState.PREEMPTING && j.finishPreemption()) {
          continue; // already being stopped: finish that stop (requeue as its reason says)
        }
        if (j.end(JobState.FAILED, "lease expired", StopReason.LEASE_EXPIRED)) {
          events.publish(
              new SchedulerEvent.LeaseExpired(at(now), j.id(), j.queue.spec.name(), at(last)));
        }
        continue;
      }
      Duration limit = j.spec.timeLimit();
      if (limit != null
          && j.rawState() == JobState.RUNNING
          && now - j.startedAtMillis >= limit.toMillis()) {
        j.end(JobState.FAILED, "time limit " + limit + " reached", StopReason.TIME_LIMIT);
        continue;
      }
      if (idlePolicy != null) {
        checkIdle(j, idlePolicy, now);
      }
    }
  }

  private void checkIdle(Job j, IdlePolicy p, long now) {
    if (j.rawState() != JobState.RUNNING) {
      return;
    }
    long since = Long.MIN_VALUE;
    boolean all = true;
    // A telemetry source may keep no history (the SPI's default serves the latest sample only),
    // so the scheduler remembers the start of the idle-looking run across its checks. If every
    // device's history reaches back to that start ("covered"), the history alone decides and a
    // busy sample since then breaks the run; otherwise the run carries over from the previous
    // check, unless the checks were further apart than maxSampleAge.
    boolean covered = true;
    long from = now - p.window().toMillis() - p.maxSampleAge().toMillis();
    outer:
    for (Allocation a : j.allocations) {
      for (AllocatedGpu g : a.gpus()) {
        int slot = g.migProfile() != null ? g.migStartSlot() : GpuSample.WHOLE_GPU;
        OptionalLong s;
        try {
          List<GpuSample> history = telemetry.history(g.gpuUuid(), slot, from);
          if (history.isEmpty() || history.get(0).timestampMillis() > j.idleRunStart) {
            covered = false;
          }
          s = p.idleSince(history, now);
        } catch (Throwable e) {
          log.warn("gpusched telemetry failed for {}", g.gpuUuid(), e);
          absorb(e);
          s = OptionalLong.empty();
        }
        if (s.isEmpty()) {
          all = false;
          break outer;
        }
        since = Math.max(since, s.getAsLong());
      }
    }
    if (all && since != Long.MIN_VALUE) {
      if (!covered
          && j.idleRunStart != Long.MIN_VALUE
          && now - j.lastIdleCheckMillis <= p.maxSampleAge().toMillis()) {
        since = Math.min(since, j.idleRunStart);
      }
      j.idleRunStart = since;
    } else {
      j.idleRunStart = Long.MIN_VALUE;
    }
    j.lastIdleCheckMillis = now;
    boolean idleNow = j.idleRunStart != Long.MIN_VALUE && now - j.idleRunStart >= p.window().toMillis();
    if (idleNow && !j.idle) {
      j.idle = true;
      j.idleReclaimAtMillis = j.spec.reclaimWhenIdle() ? now + idleGraceMillis : -1;
      events.publish(
          new SchedulerEvent.IdleDetected(
              at(now), j.id(), j.queue.spec.name(), at(j.idleRunStart),
              j.idleReclaimAtMillis < 0 ? null : at(j.idleReclaimAtMillis)));
    } else if (!idleNow && j.idle) {
      j.idle = false;
      j.idleReclaimAtMillis = -1;
    }
    if (j.idle && j.idleReclaimAtMillis >= 0 && now >= j.idleReclaimAtMillis) {
      if (j.stopNow(StopReason.IDLE_RECLAIM, false) != null) {
        safeStop(j, StopReason.IDLE_RECLAIM, now);
        events.publish(new SchedulerEvent.IdleReclaimed(at(now), j.id(), j.queue.spec.name()));
        onPreempted(j, StopReason.IDLE_RECLAIM, false);
      }
    }
  }

  /**
   * Updates each queue's exponentially weighted usage share per model (half-life {@code
   * halfLife}; with a zero half-life the weighted share is the current share, so fairness then
   * works on current usage alone) and its dominant share.
   */
  private void decay(long now) {
    if (lastDecayMillis == Long.MIN_VALUE) {
      lastDecayMillis = now;
    }
    long dt = now - lastDecayMillis;
    if (dt <= 0) {
      return;
    }
    lastDecayMillis = now;
    double keep = halfLifeMillis <= 0 ? 0 : Math.exp(-Math.log(2) * dt / halfLifeMillis);
    int models = capacity.models.size();
    for (QueueState q : queueList) {
      q.ensureModels(models);
      for (int m = 0; m < models; m++) {
        q.ewmaShare[m] = q.ewmaShare[m] * keep + currentShare(q, m) * (1 - keep);
      }
      updateDominant(q);
    }
  }

  /** The queue's share of model {@code m}'s READY capacity now, 0..1 (0 without capacity). */
  private double currentShare(QueueState q, int m) {
    return capacity.modelCap[m] > 0 ? (double) q.modelMilli[m] / capacity.modelCap[m] : 0;
  }

  private void updateDominant(QueueState q) {
    int models = capacity.models.size();
    q.ensureModels(models);
    double d = 0;
    for (int m = 0; m < models; m++) {
      double cur = currentShare(q, m);
      double ewma = halfLifeMillis <= 0 ? cur : q.ewmaShare[m];
      d = Math.max(d, 0.5 * (cur + ewma));
    }
    q.dominantShare = Math.min(d / q.spec.weight(), Double.MAX_VALUE); // finite for subnormal weights
  }

  // ---- test support ----

  /**
   * Test seam: called by {@code submit} with the job that holds the id being submitted, between
   * finding it and taking its place; null (nothing) in production.
   */
  volatile java.util.function.@Nullable Consumer<Job> afterIdTaken;

  /**
   * Test seam: called by the dispatcher while it moves a final job from the live map to the
   * retained finished jobs, between the two steps; null (nothing) in production.
   */
  volatile java.util.function.@Nullable Consumer<Job> betweenLiveAndFinished;

  /** Checks internal accounting against the jobs; dispatcher must be idle. Test use. */
  void verifyInvariants() {
    if (wip.get() != 0) {
      throw new IllegalStateException("dispatcher busy");
    }
    for (QueueState q : queueList) {
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
    for (Job j : live.values()) {
      if (j.rawState() == JobState.PENDING && !j.inLane) {
        throw new AssertionError(j + " pending but in no lane");
      }
      if (j.rawState().holdsGpus() && !j.accounted) {
        throw new AssertionError(j + " holds GPUs but is not accounted");
      }
    }
  }
}
