package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.JobState;
import io.gpusched.NodeState;
import io.gpusched.NodeUsage;
import io.gpusched.PendingReason;
import io.gpusched.QueueSpec;
import io.gpusched.QueueStats;
import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.StopReason;
import io.gpusched.UsageSummary;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters of a {@link GpuScheduler}; every tag has a bounded set of values (queues from
 * the configuration, GPU models of the nodes present when bound, enum constants). Every meter has a
 * description (the Prometheus {@code HELP} text) and, where it measures a quantity, a base unit;
 * counters count events and have none (Prometheus names them {@code <name>_total}). The Prometheus
 * name of each meter is in brackets; {@code docs/operations.md} lists them with their meaning.
 *
 * <ul>
 *   <li>gauges {@code gpusched.gpus{state=free|allocated|idle, model}} [{@code gpusched_gpus}]
 *       (idle: allocated GPUs whose every holder telemetry shows idle, a subset of allocated),
 *       {@code gpusched.nodes{state}} [{@code gpusched_nodes}] (a lost node leaves the list, so
 *       DOWN reads 0 outside the instant of a loss), {@code
 *       gpusched.queue.pending|running{queue}} [{@code gpusched_queue_pending_jobs}, ...], {@code
 *       gpusched.queue.waiting{queue, reason}} (pending jobs by {@link PendingReason}), {@code
 *       gpusched.queue.share{queue}} (weighted dominant share, {@code
 *       gpusched_queue_share_ratio}), {@code gpusched.queue.used|entitled{queue}}
 *       (GPU-equivalents), {@code gpusched.jobs{state}}, {@code gpusched.capacity}
 *       [{@code gpusched_capacity_gpus}], {@code gpusched.fragmentation} (the fragmented share of
 *       the free capacity, 0 to 1, {@code gpusched_fragmentation_ratio});
 *   <li>counters, all registered at zero when bound: {@code gpusched.jobs.submitted|started{queue}},
 *       {@code gpusched.jobs.finished{queue, state}}, {@code gpusched.preemptions{reason}} (every
 *       {@link StopReason}), {@code gpusched.nodes.lost} (nodes marked lost, {@code
 *       gpusched_nodes_lost_total}), and {@code gpusched.cost{queue}} (cost accrued, in the currency of the
 *       nodes' {@code pricePerGpuHour}, read from the snapshot: {@code
 *       gpusched_cost_currency_total});
 *   <li>timers with histogram buckets (so that Prometheus can compute percentiles), registered
 *       when bound: {@code gpusched.queue.wait{queue}} (time from queueing to start, {@code
 *       gpusched_queue_wait_seconds}) and, registered by {@link GpuSchedMetricsAutoConfiguration}
 *       before the scheduler is built, {@code gpusched.placement.latency{kind=whole|mig|share,
 *       outcome=placed|no_capacity}}.
 * </ul>
 *
 * <p>Gauges read one scheduler snapshot, taken at most once per second however many gauges a scrape
 * reads. A queue that appears after binding (none does today: queues come from the configuration)
 * gets its counters and timer on its first event.
 */
public final class GpuSchedMetrics implements MeterBinder {
  private static final long SNAPSHOT_TTL_MILLIS = 1000;

  private final GpuScheduler scheduler;
  private final Clock clock;
  private volatile SchedulerSnapshot snapshot;
  private volatile long takenAt;
  private final java.util.List<Meter> meters = new java.util.concurrent.CopyOnWriteArrayList<>();
  private volatile boolean unbound;

  /**
   * Meters of a scheduler.
   *
   * @param scheduler the scheduler
   */
  public GpuSchedMetrics(GpuScheduler scheduler) {
    this(scheduler, Clock.systemUTC());
  }

  GpuSchedMetrics(GpuScheduler scheduler, Clock clock) {
    this.scheduler = scheduler;
    this.clock = clock;
    this.snapshot = scheduler.snapshot();
    this.takenAt = clock.millis();
  }

  private SchedulerSnapshot snapshot() {
    long now = clock.millis();
    if (now - takenAt >= SNAPSHOT_TTL_MILLIS) {
      snapshot = scheduler.snapshot();
      takenAt = now;
    }
    return snapshot;
  }

  /** Histogram buckets of {@code gpusched.queue.wait}: from a second to a day. */
  static final Duration[] WAIT_BUCKETS = {
    Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(15), Duration.ofSeconds(30),
    Duration.ofMinutes(1), Duration.ofMinutes(2), Duration.ofMinutes(5), Duration.ofMinutes(10),
    Duration.ofMinutes(15), Duration.ofMinutes(30), Duration.ofHours(1), Duration.ofHours(2),
    Duration.ofHours(4), Duration.ofHours(8), Duration.ofHours(24)
  };

  /** The job states {@code gpusched.jobs.finished} counts. */
  private static final JobState[] FINISHED = {
    JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.PREEMPTED
  };

  @Override
  public void bindTo(MeterRegistry registry) {
    Set<String> models = new TreeSet<>(snapshot.cluster().byModel().keySet());
    for (String model : models) {
      gpus(registry, "free", model, UsageSummary::freeGpus);
      gpus(registry, "allocated", model, UsageSummary::allocatedGpus);
      keep(Gauge.builder("gpusched.gpus", this, m -> m.snapshot().idleGpusByModel().getOrDefault(model, 0))
          .tags("state", "idle", "model", model)
          .description("GPUs by state (free, allocated, idle: allocated and every holder idle)")
          .baseUnit("gpus")
          .register(registry));
    }
    for (NodeState st : NodeState.values()) {
      keep(Gauge.builder("gpusched.nodes", this, m -> nodes(m.snapshot(), st))
          .tag("state", st.name())
          .description("Nodes per scheduling state (READY, CORDONED, DRAINING, DOWN)")
          .baseUnit("nodes")
          .register(registry));
    }
    for (QueueSpec q : scheduler.queues()) {
      String name = q.name();
      queue(registry, "gpusched.queue.pending", name, "jobs", "Jobs waiting in the queue",
          QueueStats::pendingJobs);
      queue(registry, "gpusched.queue.running", name, "jobs",
          "Jobs of the queue holding GPUs (running or being preempted)", QueueStats::runningJobs);
      queue(registry, "gpusched.queue.share", name, "ratio",
          "Weighted dominant share of the queue (running plus decayed usage, over its weight)",
          QueueStats::dominantShare);
      queue(registry, "gpusched.queue.used", name, "gpus",
          "GPU-equivalents the queue's running jobs hold", QueueStats::usedGpus);
      queue(registry, "gpusched.queue.entitled", name, "gpus",
          "The queue's fair share of the cluster now, in GPU-equivalents", QueueStats::entitledGpus);
      keep(FunctionCounter.builder("gpusched.cost", this, m -> queueValue(m, name, QueueStats::cost))
          .tag("queue", name)
          .description("Cost accrued by the queue's jobs, in the currency of pricePerGpuHour")
          .baseUnit("currency")
          .register(registry));
      for (PendingReason reason : PendingReason.values()) {
        queue(registry, "gpusched.queue.waiting", name, "jobs",
            "Pending jobs of the queue by the reason they wait",
            s -> s.pendingByReason().getOrDefault(reason, 0), Tags.of("reason", reason.name()));
      }
      keep(submitted(registry, name));
      keep(started(registry, name));
      keep(waitTimer(registry, name));
      for (JobState st : FINISHED) {
        keep(finishedCounter(registry, name, st));
      }
    }
    for (StopReason reason : StopReason.values()) {
      keep(preemptions(registry, reason));
    }
    keep(nodesLost(registry));
    for (JobState st : JobState.values()) {
      keep(Gauge.builder("gpusched.jobs", this, m -> m.snapshot().jobsByState().getOrDefault(st, 0))
          .tag("state", st.name())
          .description("Known jobs per state")
          .baseUnit("jobs")
          .register(registry));
    }
    keep(Gauge.builder("gpusched.capacity", this, m -> m.snapshot().capacityGpus())
        .description("Schedulable capacity of READY nodes in GPU-equivalents")
        .baseUnit("gpus")
        .register(registry));
    keep(Gauge.builder(
            "gpusched.fragmentation",
            this,
            m -> m.snapshot().cluster().total().fragmentationPercent() / 100.0)
        .description("Share of the free capacity the expected request mix cannot use, 0 to 1")
        .baseUnit("ratio")
        .register(registry));
    scheduler.addListener(
        event -> {
          if (!unbound) {
            count(registry, event);
          }
        });
  }

  private void keep(Meter m) {
    meters.add(m);
  }

  /**
   * Removes every meter {@link #bindTo} registered from {@code registry}, and stops counting the
   * scheduler's events: for a replica's leader when it stops leading (the next leader's meters are
   * then registered afresh, on its scheduler, without clashing with these).
   *
   * @param registry the registry it was bound to
   */
  void unbind(MeterRegistry registry) {
    unbound = true;
    for (Meter m : meters) {
      registry.remove(m);
    }
    meters.clear();
  }

  private static int nodes(SchedulerSnapshot s, NodeState state) {
    int n = 0;
    for (NodeUsage u : s.cluster().nodes()) {
      if (u.state() == state) {
        n++;
      }
    }
    return n;
  }

  private void gpus(
      MeterRegistry registry, String state, String model, ToDoubleFunction<UsageSummary> f) {
    keep(Gauge.builder(
            "gpusched.gpus",
            this,
            m -> {
              UsageSummary u = m.snapshot().cluster().byModel().get(model);
              return u == null ? 0 : f.applyAsDouble(u);
            })
        .tags("state", state, "model", model)
        .description("GPUs by state (free, allocated, idle: allocated and every holder idle)")
        .baseUnit("gpus")
        .register(registry));
  }

  private static double queueValue(GpuSchedMetrics m, String queue, ToDoubleFunction<QueueStats> f) {
    for (QueueStats q : m.snapshot().queues()) {
      if (q.spec().name().equals(queue)) {
        return f.applyAsDouble(q);
      }
    }
    return Double.NaN;
  }

  private void queue(
      MeterRegistry registry,
      String name,
      String queue,
      String unit,
      String description,
      ToDoubleFunction<QueueStats> f) {
    queue(registry, name, queue, unit, description, f, Tags.empty());
  }

  private void queue(
      MeterRegistry registry,
      String name,
      String queue,
      String unit,
      String description,
      ToDoubleFunction<QueueStats> f,
      Tags more) {
    keep(Gauge.builder(name, this, m -> queueValue(m, queue, f))
        .tag("queue", queue)
        .tags(more)
        .description(description)
        .baseUnit(unit)
        .register(registry));
  }

  private static Counter submitted(MeterRegistry registry, String queue) {
    return Counter.builder("gpusched.jobs.submitted")
        .tag("queue", queue)
        .description("Jobs submitted to the queue")
        .register(registry);
  }

  private static Counter started(MeterRegistry registry, String queue) {
    return Counter.builder("gpusched.jobs.started")
        .tag("queue", queue)
        .description("Job starts in the queue (a requeued job counts again)")
        .register(registry);
  }

  private static Timer waitTimer(MeterRegistry registry, String queue) {
    return Timer.builder("gpusched.queue.wait")
        .tag("queue", queue)
        .description("Time from (re)queueing to start, per queue")
        .serviceLevelObjectives(WAIT_BUCKETS)
        .register(registry);
  }

  private static Counter finishedCounter(MeterRegistry registry, String queue, JobState state) {
    return Counter.builder("gpusched.jobs.finished")
        .tags("queue", queue, "state", state.name())
        .description("Jobs of the queue that ended, by final state")
        .register(registry);
  }

  private static Counter preemptions(MeterRegistry registry, StopReason reason) {
    return Counter.builder("gpusched.preemptions")
        .tag("reason", reason.name())
        .description("Jobs that lost their GPUs to preemption, drain, node loss or idle reclaim")
        .register(registry);
  }

  private static Counter nodesLost(MeterRegistry registry) {
    return Counter.builder("gpusched.nodes.lost")
        .description("Nodes marked lost (nodeDown); a lost node leaves the node list at once")
        .register(registry);
  }

  private static void count(MeterRegistry registry, SchedulerEvent event) {
    if (event instanceof SchedulerEvent.NodeStateChanged e) {
      if (e.to() == NodeState.DOWN) {
        nodesLost(registry).increment();
      }
    } else if (event instanceof SchedulerEvent.JobSubmitted e) {
      submitted(registry, e.queue()).increment();
    } else if (event instanceof SchedulerEvent.JobStarted e) {
      started(registry, e.queue()).increment();
      waitTimer(registry, e.queue()).record(e.waited());
    } else if (event instanceof SchedulerEvent.JobCompleted e) {
      finishedCounter(registry, e.queue(), JobState.COMPLETED).increment();
    } else if (event instanceof SchedulerEvent.JobFailed e) {
      finishedCounter(registry, e.queue(), JobState.FAILED).increment();
    } else if (event instanceof SchedulerEvent.JobCancelled e) {
      finishedCounter(registry, e.queue(), JobState.CANCELLED).increment();
    } else if (event instanceof SchedulerEvent.JobPreempted e) {
      preemptions(registry, e.reason()).increment();
      if (!e.requeued()) {
        finishedCounter(registry, e.queue(), JobState.PREEMPTED).increment();
      }
    }
  }
}
