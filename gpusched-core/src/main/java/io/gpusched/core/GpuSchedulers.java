package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.GpuScheduler;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobLauncher;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementObserver;
import io.gpusched.PlacementStrategy;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerListener;
import io.gpusched.SchedulingPolicy;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoredQueue;
import io.gpusched.store.StoredState;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jspecify.annotations.Nullable;

/**
 * Builds {@link GpuScheduler}s: job queues with fair share, quotas, priorities, gangs, backfill,
 * preemption, idle reclaim, leases, node drain and cost, on the lock-free placement engine.
 *
 * <pre>{@code
 * GpuScheduler scheduler = GpuSchedulers.newBuilder()
 *     .nodes(List.of(node1, node2))
 *     .queue(QueueSpec.builder("research").weight(2).guaranteedGpus(8).build())
 *     .queue(QueueSpec.of("interactive"))
 *     .launcher(myLauncher)              // starts and stops the real work
 *     .build();
 * JobHandle job = scheduler.submit(JobSpec.builder(PlacementRequest.wholeGpus(4))
 *     .queue("research").preemptible(true).build());
 * }</pre>
 *
 * <h2>Concurrency</h2>
 *
 * All scheduler methods are thread-safe. Job calls and placements <b>never block</b>; node
 * additions and removals serialize briefly among themselves (see {@link GpuScheduler}). Scheduling decisions are
 * serialized without a lock: the calling thread runs the dispatcher unless another thread is
 * already running it, in which case that thread performs the work before it stops (a
 * work-in-progress counter; see the implementation notes in {@code docs/scheduler.md}). Job state
 * transitions are compare-and-set. The placement underneath is the lock-free engine of {@link
 * GpuClusters}. With a durable store (not the default), calls wait for their change to be
 * committed; see {@link Builder#store}.
 */
public final class GpuSchedulers {

  private GpuSchedulers() {}

  /** Returns a new builder with the defaults listed on its methods. */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** Builder of {@link GpuScheduler}; not thread-safe. */
  public static final class Builder {
    @Nullable GpuCluster cluster;
    final List<NodeSpec> nodes = new ArrayList<>();
    PlacementStrategy strategy = PlacementStrategy.FRAGMENTATION_AWARE;
    final Map<String, QueueSpec> queues = new LinkedHashMap<>();
    SchedulingPolicy policy = SchedulingPolicy.FAIR_SHARE;
    boolean backfill = true;
    boolean preemption = true;
    Duration minRunTime = Duration.ZERO;
    Duration halfLife = Duration.ofHours(1);
    JobLauncher launcher = JobLauncher.NONE;
    final List<SchedulerListener> listeners = new ArrayList<>();
    GpuTelemetry telemetry = GpuTelemetry.NONE;
    @Nullable IdlePolicy idlePolicy;
    Duration idleGrace = Duration.ofMinutes(5);
    InstantSource clock = InstantSource.system();
    boolean manualTicks;
    Duration tickInterval = Duration.ofSeconds(1);
    @Nullable Executor eventExecutor;
    int retainFinished = 10_000;
    boolean preferCheapest;
    @org.jspecify.annotations.Nullable String defaultQueue;
    PlacementObserver placementObserver = PlacementObserver.NONE;
    @Nullable SchedulerStore store;
    @Nullable Duration nodeRecoveryTimeout;
    Duration finishedJobRetention = Duration.ofDays(7);
    Duration migStrandingHold = Duration.ZERO;
    /** Set by a replica that won leadership ({@link Replica}); 0 for a plain scheduler. */
    long leaderEpoch;

    private Builder() {}

    /**
     * Makes the scheduler's state durable in {@code store} (see {@code docs/durability.md}).
     * Default: none, and then nothing is journaled at all.
     *
     * <p>{@link #build()} loads the store and recovers what it holds: its queues (a queue of the
     * store that this builder does not name is recreated from its stored spec, so its jobs keep a
     * home; a named one takes this builder's spec and the stored usage), its nodes (nodes added at
     * run time are added again, in their order; removed ones are removed; cordoned and draining
     * states are set again), its pending jobs in their order, and its running jobs on exactly the
     * GPUs, MIG slices and shares they held ({@link GpuCluster#restore}); each recovered running
     * job is then confirmed through {@link JobLauncher#reconcile}. Final jobs are retained as
     * {@link #retainFinishedJobs} says.
     *
     * <p>From then on every change is written ahead, with group commit:
     *
     * <ul>
     *   <li>{@code submit} returns after the job is committed; if the store fails it throws {@link
     *       io.gpusched.store.StoreException} and the job is not accepted.
     *   <li>A start is committed before {@link JobLauncher#start}, a stop before {@link
     *       JobLauncher#stop}; all the changes of one dispatch round (commands and pass) share one
     *       commit, and callers waiting at the same time share the next.
     *   <li>{@code JobHandle.cancel/complete/fail/stopped}, {@code addNode} and {@code nodeDown}
     *       return after their change is committed; if the store fails they throw {@link
     *       io.gpusched.store.StoreException} after making the change in memory, and the change is
     *       written by the next commit that succeeds (the launcher is told only then).
     *   <li>{@code cordon}, {@code uncordon} and {@code drain} are written with the dispatch round
     *       that applies them, before any stop they cause.
     *   <li>Heartbeats and checkpoint references are written with the job's next change, not on
     *       their own.
     * </ul>
     *
     * @throws NullPointerException if {@code store} is null
     */
    public Builder store(SchedulerStore store) {
      this.store = Objects.requireNonNull(store, "store");
      return this;
    }

    /**
     * With a {@link #store}: how long the host has, after a restart, to confirm each node the
     * scheduler recovered from the store, through {@link GpuScheduler#confirmNode} (or a {@link
     * io.gpusched.Reconciliation#RUNNING} answer of {@link JobLauncher#reconcile} for a job on
     * it, or {@code nodeDown}, or {@code addNode} after a removal). A recovered node still
     * unconfirmed when this time has passed is treated as lost at the next tick, as {@link
     * GpuScheduler#nodeDown} does: removed, its jobs requeued, the host told {@code NODE_LOST}.
     * Nodes the store did not hold (a fresh store, nodes new to this build) need no confirmation.
     * Default: none, and recovered nodes are trusted as configured.
     *
     * @throws IllegalArgumentException if not positive or longer than {@link
     *     io.gpusched.JobSpec#MAX_DURATION}
     */
    public Builder nodeRecoveryTimeout(Duration timeout) {
      Objects.requireNonNull(timeout, "nodeRecoveryTimeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("nodeRecoveryTimeout must be positive, was " + timeout);
      }
      this.nodeRecoveryTimeout = atMostMax(timeout, "nodeRecoveryTimeout");
      return this;
    }

    /**
     * With a {@link #store}: how long the store keeps a final job (COMPLETED, FAILED, CANCELLED)
     * after it ended. Older ones are deleted from the store by the scheduler's tick, at most once a
     * minute of its clock, in batches of 1,000 jobs (one transaction each, at most 20 per tick),
     * never on the placement path; so the store holds the live jobs plus about this much history.
     * A pruned job is gone from the store only: {@code job(id)} finds it while {@link
     * #retainFinishedJobs} keeps it in memory, until a restart. Default 7 days.
     *
     * @throws IllegalArgumentException if negative or longer than {@link
     *     io.gpusched.JobSpec#MAX_DURATION} (which keeps them in effect forever)
     */
    public Builder finishedJobRetention(Duration retention) {
      this.finishedJobRetention = nonNegative(retention, "finishedJobRetention");
      return this;
    }

    /**
     * Schedules on an existing cluster (its nodes, strategy and any later changes). Excludes {@link
     * #nodes}.
     */
    public Builder cluster(GpuCluster cluster) {
      this.cluster = Objects.requireNonNull(cluster, "cluster");
      return this;
    }

    /** Adds nodes to a cluster the scheduler builds (with {@link #strategy}). */
    public Builder nodes(Iterable<NodeSpec> nodes) {
      nodes.forEach(n -> this.nodes.add(Objects.requireNonNull(n, "node")));
      return this;
    }

    /** Placement strategy of the cluster the scheduler builds. Default FRAGMENTATION_AWARE. */
    public Builder strategy(PlacementStrategy strategy) {
      this.strategy = Objects.requireNonNull(strategy, "strategy");
      return this;
    }

    /**
     * Adds a queue. Without any, one queue named {@value io.gpusched.JobSpec#DEFAULT_QUEUE}
     * (weight 1, no guarantee) exists.
     *
     * @throws IllegalArgumentException if a queue of that name was added
     */
    public Builder queue(QueueSpec queue) {
      Objects.requireNonNull(queue, "queue");
      if (queues.putIfAbsent(queue.name(), queue) != null) {
        throw new IllegalArgumentException("duplicate queue " + queue.name());
      }
      return this;
    }

    /** Order of pending jobs. Default FAIR_SHARE. */
    public Builder policy(SchedulingPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Whether jobs may start ahead of a blocked job without delaying its reservation. Default true.
     * Without backfill the first job that does not fit stops the pass (strict order).
     */
    public Builder backfill(boolean backfill) {
      this.backfill = backfill;
      return this;
    }

    /** Whether the scheduler preempts for priority and quota reclaim. Default true. */
    public Builder preemption(boolean preemption) {
      this.preemption = preemption;
      return this;
    }

    /**
     * How long a job runs before it may be preempted for priority or quota. Default 0.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder minRunTimeBeforePreemption(Duration d) {
      this.minRunTime = nonNegative(d, "minRunTimeBeforePreemption");
      return this;
    }

    /**
     * How long a pending job whose request is one MIG instance waits for a place that strands no
     * compute ({@link io.gpusched.PlacementRequest#withoutStranding()}) before it takes any place
     * that fits, counted from when it entered the queue (submit or requeue). Meanwhile it waits on
     * {@link io.gpusched.PendingReason#STRANDING}, holds no backfill reservation, preempts no one
     * and stops no pass (with or without backfill). Memory-heavy MIG jobs (an H100's {@code
     * 1g.20gb}, {@code 3g.40gb}) then yield to the others. On streams of jobs that only arrive
     * this raises the compute slices granted; with jobs that finish (the simulator) it does not,
     * and long holds lower utilization: see {@code docs/scheduler.md}. A job whose request already
     * says {@code withoutStranding()} waits without bound. Default {@link Duration#ZERO}: off,
     * every MIG job takes any place that fits.
     *
     * @throws IllegalArgumentException if negative or above {@link io.gpusched.JobSpec#MAX_DURATION}
     */
    public Builder migStrandingHold(Duration d) {
      this.migStrandingHold = atMostMax(nonNegative(d, "migStrandingHold"), "migStrandingHold");
      return this;
    }

    /**
     * Half-life of the usage history fair share weighs. Default 1 hour. {@link Duration#ZERO}
     * means fair share on current usage only (never "no fairness").
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder fairShareHalfLife(Duration d) {
      this.halfLife = nonNegative(d, "fairShareHalfLife");
      return this;
    }

    /** The host's launcher. Default {@link JobLauncher#NONE}. */
    public Builder launcher(JobLauncher launcher) {
      this.launcher = Objects.requireNonNull(launcher, "launcher");
      return this;
    }

    /**
     * Observes each placement call the scheduler makes (outcome and nanoseconds), e.g. for a
     * latency histogram. Default {@link PlacementObserver#NONE}, which costs nothing.
     */
    public Builder placementObserver(PlacementObserver observer) {
      this.placementObserver = Objects.requireNonNull(observer, "observer");
      return this;
    }

    /** Adds a listener. */
    public Builder listener(SchedulerListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /** Enables idle detection (and reclaim of jobs marked {@code reclaimWhenIdle}). */
    public Builder telemetry(GpuTelemetry telemetry, IdlePolicy policy) {
      this.telemetry = Objects.requireNonNull(telemetry, "telemetry");
      this.idlePolicy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Time between idle detection and reclaim of a reclaimable job. Default 5 minutes.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder idleReclaimGrace(Duration d) {
      this.idleGrace = nonNegative(d, "idleReclaimGrace");
      return this;
    }

    /** Clock for all timestamps and deadlines. Default the system clock. */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** No timer thread: the caller drives time-based work through {@code tick()}. */
    public Builder manualTicks() {
      this.manualTicks = true;
      return this;
    }

    /**
     * Period of the timer thread. Default 1 second.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder tickInterval(Duration d) {
      Objects.requireNonNull(d, "tickInterval");
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("tickInterval must be positive, was " + d);
      }
      this.tickInterval = atMostMax(d, "tickInterval");
      return this;
    }

    /**
     * Executor for listener calls and future completions. Default: one daemon thread, so events
     * arrive in order. {@code Runnable::run} delivers inline on the dispatching thread
     * (deterministic simulations; listeners then must be fast).
     */
    public Builder eventExecutor(Executor executor) {
      this.eventExecutor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * How many final jobs {@code job(id)} still finds. Default 10,000.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder retainFinishedJobs(int n) {
      if (n < 0) {
        throw new IllegalArgumentException("retainFinishedJobs must be >= 0, was " + n);
      }
      this.retainFinished = n;
      return this;
    }

    /**
     * The queue a job goes to when its spec leaves the queue at {@value
     * io.gpusched.JobSpec#DEFAULT_QUEUE} and the scheduler has no queue of that name (once queues
     * are configured, there is none unless one is so named). Without it such a submit fails with
     * a message saying what to set. Default: none.
     *
     * @param queue a queue of this scheduler (checked by {@link #build()})
     */
    public Builder defaultQueue(String queue) {
      this.defaultQueue = java.util.Objects.requireNonNull(queue, "queue");
      return this;
    }

    /**
     * Cost-aware placement. Default false. When true:
     *
     * <ul>
     *   <li>the cluster the scheduler builds uses {@link #strategy} {@linkplain
     *       PlacementStrategy#withCheapestFirst() cost first}: each job goes to the cheapest nodes
     *       (lowest {@link NodeSpec#pricePerGpuHour()}) where it fits, the strategy's score decides
     *       among them. With {@link #cluster(GpuCluster)} the given cluster's strategy orders
     *       candidates: give it a cost-first one;
     *   <li>a preemptible job tries spot capacity first (when its request allows both classes);
     *   <li>a job that is not preemptible and names no capacity class is kept off spot (its request
     *       is narrowed to {@link io.gpusched.CapacityClass#ON_DEMAND} at submit, visible in its
     *       spec) unless its queue allows spot ({@link QueueSpec#allowSpot()}).
     * </ul>
     */
    public Builder preferCheapest(boolean prefer) {
      this.preferCheapest = prefer;
      return this;
    }

    private static Duration nonNegative(Duration d, String what) {
      Objects.requireNonNull(d, what);
      if (d.isNegative()) {
        throw new IllegalArgumentException(what + " must be >= 0, was " + d);
      }
      return atMostMax(d, what);
    }

    static Duration atMostMax(Duration d, String what) {
      if (d.compareTo(io.gpusched.JobSpec.MAX_DURATION) > 0) {
        throw new IllegalArgumentException(
            what + " must be at most " + io.gpusched.JobSpec.MAX_DURATION + ", was " + d);
      }
      return d;
    }

    EventBus eventBus() {
      if (eventExecutor != null) {
        return new EventBus(eventExecutor, null);
      }
      ExecutorService ex =
          Executors.newSingleThreadExecutor(
              r -> {
                Thread t = new Thread(r, "gpusched-events");
                t.setDaemon(true);
                return t;
              });
      return new EventBus(ex, ex);
    }

    /**
     * Builds and starts the scheduler (its timer thread unless {@link #manualTicks()}); with a
     * {@link #store}, first recovers what the store holds.
     *
     * @throws IllegalStateException if both {@link #cluster} and {@link #nodes} were given, or if a
     *     recovered running job's GPUs are not free (a conflict; the message names the job and the
     *     GPU)
     * @throws io.gpusched.store.StoreException if the store cannot be read (unreachable, another
     *     schema version, a corrupt record) or cannot commit the recovered state
     */
    public GpuScheduler build() {
      if (cluster != null && !nodes.isEmpty()) {
        throw new IllegalStateException("give either cluster(...) or nodes(...), not both");
      }
      StoredState stored = StoredState.EMPTY;
      Map<String, QueueSpec> qs = new LinkedHashMap<>(queues);
      if (store != null) {
        stored = store.load();
        for (StoredQueue q : stored.queues()) {
          qs.putIfAbsent(q.spec().name(), q.spec());
        }
      }
      if (qs.isEmpty()) {
        qs.put(io.gpusched.JobSpec.DEFAULT_QUEUE, QueueSpec.of(io.gpusched.JobSpec.DEFAULT_QUEUE));
      }
      if (defaultQueue != null && !qs.containsKey(defaultQueue)) {
        throw new IllegalArgumentException(
            "defaultQueue " + defaultQueue + " is not a queue; queues: " + qs.keySet());
      }
      GpuCluster c = cluster;
      if (c == null) {
        var cb = GpuClusters.newBuilder().strategy(preferCheapest ? strategy.withCheapestFirst() : strategy);
        for (NodeSpec n : nodes) {
          cb.node(n);
        }
        c = cb.build();
      }
      return new DefaultScheduler(this, c, List.copyOf(qs.values()), stored);
    }
  }
}
