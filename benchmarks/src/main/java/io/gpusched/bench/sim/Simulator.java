package io.gpusched.bench.sim;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.IdlePolicy;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobState;
import io.gpusched.MigGeometry;
import io.gpusched.NodeSpec;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import io.gpusched.bench.sim.SimCluster.Disruption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A discrete-event simulation that drives a real {@link GpuScheduler} with a virtual clock.
 *
 * <p>The simulator owns time: a priority queue of events (arrivals, job ends, checkpoint-and-stop
 * acknowledgements, node failures and returns, spot notices, scheduler ticks, metric samples) is
 * processed in time order; before each event the {@link SimClock} is set to its time. The
 * scheduler is built with manual ticks and a same-thread event executor, so a run is deterministic:
 * the same cluster, workload and configuration give the same result.
 *
 * <p>The simulated hosts are the {@link JobLauncher}: {@code start} schedules the job's end at the
 * start time plus its remaining work; {@code stop} (preemption, drain, spot notice) makes a
 * checkpointing job checkpoint ({@link JobHandle#checkpoint}) and acknowledge with {@link
 * JobHandle#stopped()} after the checkpoint delay, or stop at once without saving its work. A
 * requeued job resumes from its last checkpoint; whatever ran after it is counted as lost
 * GPU-seconds. The scheduler is never called from inside a callback: every reaction is an event.
 *
 * <p>The simulator keeps its own ledger of which job holds what (from the allocations the launcher
 * sees) for utilization, shares and cost, and at the end checks it against the scheduler's job
 * states: a job whose state the ledger cannot explain is <b>lost</b>.
 */
public final class Simulator {
  private static final Logger log = LoggerFactory.getLogger(Simulator.class);

  private final SimCluster cluster;
  private final Workload workload;
  private final SimConfig cfg;
  private final SchedulerFactory factory;
  private final SimClock clock = new SimClock();
  private final SimTelemetry telemetry;
  private final PriorityQueue<Event> events = new PriorityQueue<>();
  private final Map<String, Run> runs = new LinkedHashMap<>();
  private final Set<Run> live = new LinkedHashSet<>();
  private final Set<Run> stopping = new LinkedHashSet<>();
  private final Map<String, NodeSpec> nodeSpecs = new HashMap<>();
  private final Set<String> upNodes = new LinkedHashSet<>();
  private final List<String> queues = new ArrayList<>();
  private final double[] weights;
  private final double[] usedByQueue;
  private final double[] costByQueue;
  private final Map<StopReason, Integer> stops = new EnumMap<>(StopReason.class);
  private final Map<String, Integer> eventCounts = new TreeMap<>();
  private final List<String> anomalies = new ArrayList<>();
  private final List<SimResult.Sample> samples = new ArrayList<>();
  private @Nullable GpuScheduler sched;
  private long seq;
  private int arrivalsLeft;
  private double capacity;
  private double lostGpuSeconds;
  private double reclaimedGpuSeconds;
  private double busyGpuSeconds;
  private long eventsProcessed;
  private long horizon;

  /**
   * A simulation of a workload on a cluster.
   *
   * @param cluster nodes, queues and disruptions
   * @param workload the arrivals
   * @param cfg the variant and timings
   * @param factory builds the scheduler under test
   */
  public Simulator(SimCluster cluster, Workload workload, SimConfig cfg, SchedulerFactory factory) {
    this.cluster = cluster;
    this.workload = workload;
    this.cfg = cfg;
    this.factory = factory;
    this.telemetry = new SimTelemetry(clock, 60_000);
    for (QueueSpec q : cluster.queues()) {
      queues.add(q.name());
    }
    for (String q : workload.queues()) {
      if (!queues.contains(q)) {
        throw new IllegalArgumentException("workload queue " + q + " is not a cluster queue " + queues);
      }
    }
    weights = new double[queues.size()];
    for (int i = 0; i < weights.length; i++) {
      weights[i] = cluster.queues().get(i).weight();
    }
    usedByQueue = new double[queues.size()];
    costByQueue = new double[queues.size()];
  }

  /** Runs one simulation with the real scheduler ({@link CoreSchedulerFactory}). */
  public static SimResult run(SimCluster cluster, Workload workload, SimConfig cfg) {
    return new Simulator(cluster, workload, cfg, new CoreSchedulerFactory()).run();
  }

  /** Runs the simulation to the end; call once. */
  public SimResult run() {
    long wall0 = System.nanoTime();
    IdlePolicy idle =
        new IdlePolicy(5, Duration.ofSeconds(cfg.idleWindowSeconds()), false, 1024, Duration.ofMinutes(3));
    sched =
        factory.create(
            new SchedulerFactory.Setup(
                cluster, cfg, new Launcher(), this::onEvent, clock, telemetry, idle));
    try {
      for (NodeSpec n : cluster.nodes()) {
        nodeSpecs.put(n.id(), n);
        upNodes.add(n.id());
        capacity += n.gpus().size();
      }
      for (SimJob j : workload.jobs()) {
        Run r = new Run(j, queues.indexOf(j.queue()));
        runs.put(j.id(), r);
        push(j.arrivalSeconds() * 1000, Kind.ARRIVAL, r, 0, null);
      }
      arrivalsLeft = workload.jobs().size();
      horizon = (workload.lastArrivalSeconds() + cfg.drainSeconds()) * 1000;
      for (Disruption d : cluster.disruptions()) {
        push(d.atSeconds() * 1000, d.spot() ? Kind.SPOT_NOTICE : Kind.NODE_FAIL, null, 0, d);
      }
      push(0, Kind.TICK, null, 0, null);
      push(0, Kind.SAMPLE, null, 0, null);
      Event e;
      while ((e = events.poll()) != null) {
        if (e.at > horizon) {
          break;
        }
        clock.set(e.at);
        handle(e);
        eventsProcessed++;
      }
      return result(System.nanoTime() - wall0);
    } finally {
      sched.close();
    }
  }

  // ------------------------------------------------------------------ events

  private enum Kind {
    END, STOP_ACK, NODE_BACK, NODE_FAIL, SPOT_NOTICE, NODE_GONE, ARRIVAL, TICK, SAMPLE
  }

  private final class Event implements Comparable<Event> {
    final long at;
    final Kind kind;
    final long order = seq++;
    final @Nullable Run run;
    final int token;
    final @Nullable Disruption disruption;

    Event(long at, Kind kind, @Nullable Run run, int token, @Nullable Disruption d) {
      this.at = at;
      this.kind = kind;
      this.run = run;
      this.token = token;
      this.disruption = d;
    }

    @Override
    public int compareTo(Event o) {
      int c = Long.compare(at, o.at);
      if (c == 0) {
        c = kind.compareTo(o.kind);
      }
      return c != 0 ? c : Long.compare(order, o.order);
    }
  }

  private void push(long at, Kind kind, @Nullable Run run, int token, @Nullable Disruption d) {
    events.add(new Event(at, kind, run, token, d));
  }

  private GpuScheduler sched() {
    GpuScheduler s = sched;
    if (s == null) {
      throw new IllegalStateException("not running");
    }
    return s;
  }

  private void handle(Event e) {
    long now = clock.nowMillis();
    Run r = e.run;
    switch (e.kind) {
      case ARRIVAL -> arrive(r);
      case END -> {
        if (r != null && r.running && r.token == e.token) {
          JobHandle h = r.handle;
          if (h != null && h.complete()) {
            r.completed = true;
            r.endMillis = now;
            closeRun(r, r.job.durationSeconds() * 1000, null);
          } else {
            anomaly("complete() refused for " + r.job.id() + " in state " + (h == null ? "?" : h.state()));
          }
        }
      }
      case STOP_ACK -> {
        if (r != null && r.running && r.stopRequested && r.token == e.token && r.handle != null) {
          if (e.token == r.token && r.checkpointOnAck) {
            r.handle.checkpoint("ckpt/" + r.job.id() + "/" + r.starts);
            r.acked = true;
          }
          r.handle.stopped();
        }
      }
      case NODE_FAIL -> nodeGone(e.disruption, "failure");
      case SPOT_NOTICE -> {
        Disruption d = e.disruption;
        if (d != null && upNodes.contains(d.nodeId())) {
          sched().spotInterruption(d.nodeId(), clock.instant().plusSeconds(d.noticeSeconds()));
          push(now + d.noticeSeconds() * 1000, Kind.NODE_GONE, null, 0, d);
        }
      }
      case NODE_GONE -> nodeGone(e.disruption, "spot termination");
      case NODE_BACK -> {
        Disruption d = e.disruption;
        if (d != null && !upNodes.contains(d.nodeId())) {
          NodeSpec spec = Objects.requireNonNull(nodeSpecs.get(d.nodeId()), "a disrupted node is known");
          try {
            sched().addNode(spec);
            upNodes.add(spec.id());
            capacity += spec.gpus().size();
          } catch (RuntimeException ex) {
            anomaly("addNode(" + d.nodeId() + ") after " + (d.spot() ? "spot" : "failure") + ": " + ex);
          }
        }
      }
      case TICK -> {
        sched().tick();
        if (arrivalsLeft > 0 || !live.isEmpty()) {
          push(now + cfg.tickSeconds() * 1000, Kind.TICK, null, 0, null);
        }
      }
      case SAMPLE -> {
        sample(now);
        if (arrivalsLeft > 0 || !live.isEmpty()) {
          push(now + cfg.sampleSeconds() * 1000, Kind.SAMPLE, null, 0, null);
        }
      }
    }
    reconcileStopping();
  }

  private void arrive(@Nullable Run r) {
    if (r == null) {
      return;
    }
    arrivalsLeft--;
    r.submitted = true;
    live.add(r);
    try {
      JobHandle h = sched().submit(r.job.toSpec(Duration.ofSeconds(cfg.graceSeconds())));
      if (r.handle == null) {
        r.handle = h;
      }
    } catch (IllegalArgumentException ex) {
      r.rejected = ex.getMessage();
      live.remove(r);
      anomaly("submit rejected " + r.job.id() + ": " + ex.getMessage());
    }
  }

  private void nodeGone(@Nullable Disruption d, String why) {
    if (d == null || !upNodes.contains(d.nodeId())) {
      return;
    }
    try {
      sched().nodeDown(d.nodeId());
    } catch (RuntimeException ex) {
      anomaly("nodeDown(" + d.nodeId() + ") on " + why + ": " + ex);
      return;
    }
    upNodes.remove(d.nodeId());
    capacity -= Objects.requireNonNull(nodeSpecs.get(d.nodeId()), "a known node").gpus().size();
    push(clock.nowMillis() + d.downSeconds() * 1000, Kind.NODE_BACK, null, 0, d);
    // every job the ledger still has on that node must have been stopped by now
    for (Run r : runs.values()) {
      if (r.running && r.nodes.contains(d.nodeId()) && r.handle != null
          && !r.handle.state().holdsGpus()) {
        anomaly("node " + d.nodeId() + " down but no stop(NODE_LOST) for " + r.job.id());
        closeRun(r, r.periodicSaved(clock.nowMillis()), StopReason.NODE_LOST);
      }
    }
  }

  /** Closes the ledger entry of jobs that were asked to stop and no longer hold GPUs. */
  private void reconcileStopping() {
    if (stopping.isEmpty()) {
      return;
    }
    for (Run r : new ArrayList<>(stopping)) {
      JobHandle h = r.handle;
      if (!r.running || h == null) {
        stopping.remove(r);
      } else if (!h.state().holdsGpus()) {
        closeRun(r, r.releasedSaved(clock.nowMillis()), r.stopReason);
      }
    }
  }

  private void onEvent(SchedulerEvent e) {
    eventCounts.merge(e.getClass().getSimpleName(), 1, Integer::sum);
  }

  private void anomaly(String what) {
    if (anomalies.size() < 1_000) {
      anomalies.add(String.format("t=%ds %s", clock.nowMillis() / 1000, what));
    }
    log.warn("[{}] t={}s {}", cfg.variant().label(), clock.nowMillis() / 1000, what);
  }

  // ------------------------------------------------------------------ the simulated hosts

  private final class Launcher implements JobLauncher {
    @Override
    public void start(JobHandle job) {
      long now = clock.nowMillis();
      Run r = runs.get(job.id());
      if (r == null) {
        anomaly("start of unknown job " + job.id());
        return;
      }
      if (r.running) {
        if (r.stopRequested) { // released and restarted within one scheduler call
          closeRun(r, r.releasedSaved(now), r.stopReason);
        } else {
          anomaly("double start of " + job.id());
          closeRun(r, r.periodicSaved(now), null);
        }
      }
      if (r.completed) {
        anomaly("start of completed job " + job.id());
      }
      r.handle = job;
      r.running = true;
      r.runStart = now;
      r.workAtStart = r.savedWork;
      r.token++;
      r.stopRequested = false;
      r.acked = false;
      r.stopReason = null;
      r.starts++;
      if (r.firstStart < 0) {
        r.firstStart = now;
      }
      r.gpus = new ArrayList<>();
      for (var a : job.allocations()) {
        r.gpus.addAll(a.gpus());
      }
      r.nodes = new LinkedHashSet<>();
      double eq = 0;
      double pricePerSecond = 0;
      for (AllocatedGpu g : r.gpus) {
        double ge = gpuEquivalent(g);
        eq += ge;
        r.nodes.add(g.nodeId());
        NodeSpec n = nodeSpecs.get(g.nodeId());
        pricePerSecond += ge * (n == null ? 0 : n.pricePerGpuHour()) / 3_600;
      }
      if (r.gpus.isEmpty()) {
        anomaly("start of " + job.id() + " without allocations");
        eq = r.job.gpuEquivalents();
      }
      r.gpuEq = eq;
      r.pricePerSecond = pricePerSecond;
      usedByQueue[r.queue] += eq;
      telemetry.attach(r, r.gpus);
      long remaining = Math.max(1, r.job.durationSeconds() * 1000 - r.workAtStart);
      push(now + remaining, Kind.END, r, r.token, null);
    }

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      long now = clock.nowMillis();
      Run r = runs.get(job.id());
      stops.merge(reason, 1, Integer::sum);
      if (r == null || !r.running) {
        return;
      }
      if (reason == StopReason.CANCELLED || reason == StopReason.NODE_LOST) {
        closeRun(r, r.periodicSaved(now), reason); // GPUs are gone already
        return;
      }
      r.stopRequested = true;
      r.stopReason = reason;
      r.stopAt = now;
      stopping.add(r);
      long deadlineMillis = deadline.toEpochMilli() - SimClock.EPOCH.toEpochMilli();
      boolean saves = cfg.checkpointing() && r.job.preemptible()
          && reason != StopReason.IDLE_RECLAIM && reason != StopReason.TIME_LIMIT
          && reason != StopReason.LEASE_EXPIRED;
      if (saves) {
        long ack = now + cfg.checkpointDelaySeconds() * 1000;
        if (ack <= deadlineMillis) {
          r.checkpointOnAck = true;
          push(ack, Kind.STOP_ACK, r, r.token, null);
        } // else: the scheduler releases it at the deadline; work since the last checkpoint is lost
      } else {
        r.checkpointOnAck = false;
        push(now, Kind.STOP_ACK, r, r.token, null);
      }
    }
  }

  static double gpuEquivalent(AllocatedGpu g) {
    if (g.migProfile() != null) {
      GpuModel m = GpuModels.byName(g.model()).orElse(GpuModels.H100_80GB);
      MigGeometry geo = m.mig();
      return geo == null ? 0 : (double) m.migProfile(g.migProfile()).computeSlices() / geo.computeSlices();
    }
    return g.milliGpu() / 1000.0;
  }

  private void closeRun(Run r, long saved, @Nullable StopReason reason) {
    if (!r.running) {
      return;
    }
    long now = clock.nowMillis();
    r.running = false;
    r.token++;
    stopping.remove(r);
    double held = (now - r.runStart) / 1000.0;
    double cost = r.pricePerSecond * held;
    r.cost += cost;
    costByQueue[r.queue] += cost;
    usedByQueue[r.queue] -= r.gpuEq;
    if (Math.abs(usedByQueue[r.queue]) < 1e-9) {
      usedByQueue[r.queue] = 0;
    }
    busyGpuSeconds += r.gpuEq * held;
    telemetry.detach(r, r.gpus);
    if (!r.completed) {
      long progress = r.progress(now);
      long lost = Math.max(0, progress - saved);
      if (reason == StopReason.IDLE_RECLAIM) {
        reclaimedGpuSeconds += r.gpuEq * held;
      } else {
        r.lostGpuSeconds += r.gpuEq * lost / 1000.0;
        lostGpuSeconds += r.gpuEq * lost / 1000.0;
      }
      r.savedWork = Math.min(saved, progress);
    }
  }

  // ------------------------------------------------------------------ measurement

  private void sample(long now) {
    int nq = queues.size();
    double[] demand = new double[nq];
    double[] used = usedByQueue.clone();
    int pending = 0;
    for (Run r : new ArrayList<>(live)) {
      JobHandle h = r.handle;
      if (h != null && h.state().isFinal() && !r.running) {
        live.remove(r);
        if (r.endMillis < 0) {
          r.endMillis = now;
        }
        continue;
      }
      if (r.running) {
        demand[r.queue] += r.gpuEq;
      } else {
        demand[r.queue] += r.job.gpuEquivalents();
        pending++;
      }
    }
    double totalUsed = 0;
    for (double u : used) {
      totalUsed += u;
    }
    double[] entitled = waterFill(capacity, demand, weights);
    samples.add(new SimResult.Sample(now / 1000, capacity, totalUsed, pending, used, demand, entitled));
  }

  /**
   * Weighted max-min fair split of {@code capacity} over the demands: each queue with demand gets
   * capacity in proportion to its weight, capped by its demand, the excess going to the others.
   */
  static double[] waterFill(double capacity, double[] demand, double[] weights) {
    int n = demand.length;
    double[] out = new double[n];
    boolean[] done = new boolean[n];
    double left = capacity;
    while (true) {
      double w = 0;
      for (int i = 0; i < n; i++) {
        if (!done[i] && demand[i] > 1e-9) {
          w += weights[i];
        }
      }
      if (w == 0 || left <= 1e-9) {
        return out;
      }
      boolean capped = false;
      for (int i = 0; i < n; i++) {
        if (!done[i] && demand[i] > 1e-9 && demand[i] <= left * weights[i] / w) {
          out[i] = demand[i];
          left -= demand[i];
          done[i] = true;
          capped = true;
        }
      }
      if (!capped) {
        for (int i = 0; i < n; i++) {
          if (!done[i] && demand[i] > 1e-9) {
            out[i] = left * weights[i] / w;
          }
        }
        return out;
      }
    }
  }

  private SimResult result(long wallNanos) {
    long now = clock.nowMillis();
    List<SimResult.JobOutcome> outcomes = new ArrayList<>();
    int lost = 0;
    for (Run r : runs.values()) {
      JobHandle h = r.handle;
      JobState state = h == null ? null : h.state();
      String problem = null;
      if (r.rejected != null) {
        problem = null; // rejected at submit: reported as an anomaly, not lost
      } else if (h == null) {
        problem = "never submitted";
      } else if (!Objects.requireNonNull(state).isFinal() && sched().job(r.job.id()).isEmpty()) {
        problem = "scheduler no longer knows it, state " + state;
      } else if (state.holdsGpus() != r.running) {
        problem = "scheduler says " + state + ", simulated host " + (r.running ? "runs it" : "does not");
      } else if (state == JobState.COMPLETED && !r.completed) {
        problem = "COMPLETED but never completed by its host";
      } else if (r.completed && state != JobState.COMPLETED) {
        problem = "completed by its host but " + state;
      }
      if (problem != null) {
        lost++;
        anomaly("job " + r.job.id() + " lost: " + problem);
      }
      if (r.running) { // still running at the horizon: charge it up to now
        double held = (now - r.runStart) / 1000.0;
        r.cost += r.pricePerSecond * held;
        costByQueue[r.queue] += r.pricePerSecond * held;
        busyGpuSeconds += r.gpuEq * held;
      }
      outcomes.add(
          new SimResult.JobOutcome(
              r.job, state, r.firstStart < 0 ? -1 : r.firstStart / 1000,
              r.endMillis < 0 ? -1 : r.endMillis / 1000, r.starts, r.lostGpuSeconds, r.cost,
              problem != null));
    }
    return new SimResult(
        cfg.variant(), queues, weights, outcomes, List.copyOf(samples), new EnumMap<>(stops),
        new TreeMap<>(eventCounts), lostGpuSeconds, reclaimedGpuSeconds, busyGpuSeconds,
        costByQueue.clone(), lost, List.copyOf(anomalies), now / 1000,
        workload.lastArrivalSeconds(), cfg.fairnessWindowSeconds(), eventsProcessed, wallNanos / 1_000_000);
  }

  // ------------------------------------------------------------------ ledger

  /** The simulator's record of one job. Package-private for the telemetry. */
  final class Run {
    final SimJob job;
    final int queue;
    @Nullable JobHandle handle;
    @Nullable String rejected;
    boolean submitted;
    boolean running;
    boolean completed;
    long runStart;
    long workAtStart;
    long savedWork;
    int token;
    int starts;
    long firstStart = -1;
    long endMillis = -1;
    boolean stopRequested;
    boolean checkpointOnAck;
    boolean acked;
    @Nullable StopReason stopReason;
    long stopAt;
    double gpuEq;
    double pricePerSecond;
    double cost;
    double lostGpuSeconds;
    List<AllocatedGpu> gpus = List.of();
    Set<String> nodes = Set.of();

    Run(SimJob job, int queue) {
      this.job = job;
      this.queue = queue;
    }

    /** Work done (ms) at {@code now} in the current run, capped at the job's duration. */
    long progress(long now) {
      return Math.min(job.durationSeconds() * 1000, workAtStart + (now - runStart));
    }

    /** Work saved by background checkpoints at {@code now}; 0 when the job does not checkpoint. */
    long periodicSaved(long now) {
      if (!cfg.checkpointing() || !job.preemptible() || cfg.checkpointIntervalSeconds() <= 0) {
        return cfg.checkpointing() && job.preemptible() ? workAtStart : 0;
      }
      long interval = cfg.checkpointIntervalSeconds() * 1000;
      long ran = now - runStart;
      return Math.min(progress(now), workAtStart + ran / interval * interval);
    }

    /** Work saved when the scheduler took the GPUs after a stop request. */
    long releasedSaved(long now) {
      return acked ? progress(stopAt) : periodicSaved(now);
    }

    /** When (absolute epoch millis) the job's GPUs go idle, or {@code Long.MAX_VALUE}. */
    long idleAtMillis() {
      if (!job.interactive() || job.idleAfterSeconds() <= 0 || !running) {
        return Long.MAX_VALUE;
      }
      return SimClock.EPOCH.toEpochMilli() + runStart + job.idleAfterSeconds() * 1000;
    }
  }
}
