package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.JobState;
import io.gpusched.PendingReason;
import io.gpusched.QueueSpec;
import io.gpusched.QueueStats;
import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.UsageSummary;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters of a {@link GpuScheduler}; every tag has a bounded set of values (queues from
 * the configuration, GPU models of the nodes present when bound, enum constants).
 *
 * <ul>
 *   <li>gauges {@code gpusched.gpus{state=free|allocated|idle, model}} (idle: allocated GPUs
 *       whose every holder telemetry shows idle, a subset of allocated), {@code
 *       gpusched.queue.pending|running{queue}}, {@code gpusched.queue.waiting{queue, reason}}
 *       (pending jobs by {@link PendingReason}), {@code gpusched.queue.share{queue}} (weighted
 *       dominant share), {@code gpusched.queue.used|entitled{queue}} (GPU-equivalents), {@code
 *       gpusched.jobs{state}}, {@code gpusched.cost{queue}}, {@code gpusched.capacity}, {@code
 *       gpusched.fragmentation} (percent of free capacity);
 *   <li>counters from the scheduler's events: {@code gpusched.jobs.submitted|started{queue}},
 *       {@code gpusched.jobs.finished{queue, state}}, {@code gpusched.preemptions{reason}};
 *   <li>timers {@code gpusched.queue.wait{queue}} (time from queueing to start) and, registered
 *       by {@link GpuSchedMetricsAutoConfiguration} before the scheduler is built, {@code
 *       gpusched.placement.latency{kind=whole|mig|share, outcome=placed|no_capacity}}.
 * </ul>
 *
 * <p>Gauges read one scheduler snapshot, taken at most once per second however many gauges a scrape
 * reads.
 */
public final class GpuSchedMetrics implements MeterBinder {
  private static final long SNAPSHOT_TTL_MILLIS = 1000;

  private final GpuScheduler scheduler;
  private final Clock clock;
  private volatile SchedulerSnapshot snapshot;
  private volatile long takenAt;

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

  @Override
  public void bindTo(MeterRegistry registry) {
    Set<String> models = new TreeSet<>(snapshot.cluster().byModel().keySet());
    for (String model : models) {
      gpus(registry, "free", model, UsageSummary::freeGpus);
      gpus(registry, "allocated", model, UsageSummary::allocatedGpus);
      Gauge.builder("gpusched.gpus", this, m -> m.snapshot().idleGpusByModel().getOrDefault(model, 0))
          .tags("state", "idle", "model", model)
          .description("Allocated GPUs whose every holder telemetry shows idle")
          .baseUnit("gpus")
          .register(registry);
    }
    for (QueueSpec q : scheduler.queues()) {
      String name = q.name();
      queue(registry, "gpusched.queue.pending", name, "jobs", QueueStats::pendingJobs);
      queue(registry, "gpusched.queue.running", name, "jobs", QueueStats::runningJobs);
      queue(registry, "gpusched.queue.share", name, null, QueueStats::dominantShare);
      queue(registry, "gpusched.queue.used", name, "gpus", QueueStats::usedGpus);
      queue(registry, "gpusched.queue.entitled", name, "gpus", QueueStats::entitledGpus);
      queue(registry, "gpusched.cost", name, null, QueueStats::cost);
      for (PendingReason reason : PendingReason.values()) {
        queue(registry, "gpusched.queue.waiting", name, "jobs",
            s -> s.pendingByReason().getOrDefault(reason, 0), Tags.of("reason", reason.name()));
      }
    }
    for (JobState st : JobState.values()) {
      Gauge.builder("gpusched.jobs", this, m -> m.snapshot().jobsByState().getOrDefault(st, 0))
          .tag("state", st.name())
          .description("Known jobs per state")
          .baseUnit("jobs")
          .register(registry);
    }
    Gauge.builder("gpusched.capacity", this, m -> m.snapshot().capacityGpus())
        .description("Schedulable capacity of READY nodes in GPU-equivalents")
        .baseUnit("gpus")
        .register(registry);
    Gauge.builder(
            "gpusched.fragmentation",
            this,
            m -> m.snapshot().cluster().total().fragmentationPercent())
        .description("Free capacity the expected request mix cannot use, percent of free")
        .baseUnit("percent")
        .register(registry);
    scheduler.addListener(event -> count(registry, event));
  }

  private void gpus(
      MeterRegistry registry, String state, String model, ToDoubleFunction<UsageSummary> f) {
    Gauge.builder(
            "gpusched.gpus",
            this,
            m -> {
              UsageSummary u = m.snapshot().cluster().byModel().get(model);
              return u == null ? 0 : f.applyAsDouble(u);
            })
        .tags("state", state, "model", model)
        .description("GPUs with nothing allocated (free) or something allocated")
        .baseUnit("gpus")
        .register(registry);
  }

  private void queue(
      MeterRegistry registry,
      String name,
      String queue,
      @org.jspecify.annotations.Nullable String unit,
      ToDoubleFunction<QueueStats> f) {
    queue(registry, name, queue, unit, f, Tags.empty());
  }

  private void queue(
      MeterRegistry registry,
      String name,
      String queue,
      @org.jspecify.annotations.Nullable String unit,
      ToDoubleFunction<QueueStats> f,
      Tags more) {
    Gauge.builder(
            name,
            this,
            m -> {
              for (QueueStats q : m.snapshot().queues()) {
                if (q.spec().name().equals(queue)) {
                  return f.applyAsDouble(q);
                }
              }
              return Double.NaN;
            })
        .tag("queue", queue)
        .tags(more)
        .baseUnit(unit)
        .register(registry);
  }

  private static void count(MeterRegistry registry, SchedulerEvent event) {
    if (event instanceof SchedulerEvent.JobSubmitted e) {
      Counter.builder("gpusched.jobs.submitted").tag("queue", e.queue()).register(registry).increment();
    } else if (event instanceof SchedulerEvent.JobStarted e) {
      Counter.builder("gpusched.jobs.started").tag("queue", e.queue()).register(registry).increment();
      Timer.builder("gpusched.queue.wait")
          .tag("queue", e.queue())
          .description("Time from (re)queueing to start, per queue")
          .register(registry)
          .record(e.waited());
    } else if (event instanceof SchedulerEvent.JobCompleted e) {
      finished(registry, e.queue(), JobState.COMPLETED);
    } else if (event instanceof SchedulerEvent.JobFailed e) {
      finished(registry, e.queue(), JobState.FAILED);
    } else if (event instanceof SchedulerEvent.JobCancelled e) {
      finished(registry, e.queue(), JobState.CANCELLED);
    } else if (event instanceof SchedulerEvent.JobPreempted e) {
      Counter.builder("gpusched.preemptions")
          .tag("reason", e.reason().name())
          .description("Jobs that lost their GPUs to preemption, drain, node loss or idle reclaim")
          .register(registry)
          .increment();
      if (!e.requeued()) {
        finished(registry, e.queue(), JobState.PREEMPTED);
      }
    }
  }

  private static void finished(MeterRegistry registry, String queue, JobState state) {
    Counter.builder("gpusched.jobs.finished")
        .tags("queue", queue, "state", state.name())
        .register(registry)
        .increment();
  }
}
