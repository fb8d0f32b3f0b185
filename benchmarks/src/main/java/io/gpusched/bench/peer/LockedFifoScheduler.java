package io.gpusched.bench.peer;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.GpuDemand;
import io.gpusched.GpuScheduler;
import io.gpusched.GpuSpec;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerListener;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.StopReason;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * The job scheduler a team writes first, as the baseline of the dispatch benchmarks: <b>one
 * lock</b> around everything, one FIFO list of pending jobs, placement by {@link LockedBestFit}
 * (best fit, a scan of the nodes per decision). Every submit and every release scans the pending
 * jobs from the head and starts them while they fit; the first that does not fit blocks the rest
 * (strict FIFO, no backfill). Gangs are placed member by member and rolled back on failure.
 *
 * <p>Only the job life cycle the benchmarks and the simulator's tests need is supported: submit,
 * complete, fail, cancel, lookups. There is no preemption, no fair share, no telemetry and no node
 * management (those methods throw {@link UnsupportedOperationException}); {@link #tick()} does
 * nothing and no events are published. {@link JobLauncher#start} is called after the lock is
 * released, on the thread that made room.
 */
public final class LockedFifoScheduler implements GpuScheduler {

  private final Object lock = new Object();
  private final LockedBestFit placer;
  private final Map<String, NodeSpec> nodes = new HashMap<>();
  private final List<QueueSpec> queues;
  private final JobLauncher launcher;
  private final InstantSource clock;
  private final ArrayDeque<Job> pending = new ArrayDeque<>();
  private final Map<String, Job> jobs = new LinkedHashMap<>();
  private boolean closed;

  /**
   * Builds the baseline.
   *
   * @param nodeSpecs the nodes
   * @param queues the queues (only their names are used: jobs must name one)
   * @param launcher called to start jobs
   * @param clock for timestamps
   */
  public LockedFifoScheduler(
      List<NodeSpec> nodeSpecs, List<QueueSpec> queues, JobLauncher launcher, InstantSource clock) {
    this.placer = new LockedBestFit(nodeSpecs, LockedBestFit.Policy.BEST_FIT);
    for (NodeSpec n : nodeSpecs) {
      nodes.put(n.id(), n);
    }
    this.queues = queues.isEmpty() ? List.of(QueueSpec.of(JobSpec.DEFAULT_QUEUE)) : List.copyOf(queues);
    this.launcher = launcher;
    this.clock = clock;
  }

  @Override
  public JobHandle submit(JobSpec spec) {
    List<Job> started;
    Job j;
    synchronized (lock) {
      if (closed) {
        throw new IllegalStateException("closed");
      }
      if (queues.stream().noneMatch(q -> q.name().equals(spec.queue()))) {
        throw new IllegalArgumentException("unknown queue " + spec.queue());
      }
      Job old = jobs.get(spec.id());
      if (old != null && !old.state.isFinal()) {
        throw new IllegalArgumentException("a live job has id " + spec.id());
      }
      j = new Job(spec, clock.instant());
      jobs.put(spec.id(), j);
      pending.add(j);
      started = dispatchLocked();
    }
    startAll(started);
    return j;
  }

  /** Starts pending jobs from the head while they fit; returns them for the launcher. */
  private List<Job> dispatchLocked() {
    List<Job> started = new ArrayList<>(1);
    while (!pending.isEmpty()) {
      Job head = pending.peek();
      List<LockedBestFit.Grant> grants = new ArrayList<>(head.spec.gangSize());
      for (int i = 0; i < head.spec.gangSize(); i++) {
        LockedBestFit.Grant g = placer.place(head.spec.request());
        if (g == null) {
          for (LockedBestFit.Grant back : grants) {
            placer.release(back);
          }
          return started;
        }
        grants.add(g);
      }
      pending.poll();
      head.grants = grants;
      head.allocations = allocations(head.spec.request(), grants);
      head.state = JobState.RUNNING;
      head.attempts++;
      head.startedAt = clock.instant();
      started.add(head);
    }
    return started;
  }

  private void startAll(List<Job> started) {
    for (Job j : started) {
      j.started.complete(j);
      try {
        launcher.start(j);
      } catch (RuntimeException e) {
        j.fail("launcher failed: " + e);
      }
    }
  }

  /** Ends a running job (or cancels a pending one) and dispatches; false if it could not. */
  private boolean finish(Job j, JobState to, @Nullable String reason) {
    List<Job> started;
    synchronized (lock) {
      if (j.state.isFinal()) {
        return false;
      }
      if (to != JobState.CANCELLED && j.state != JobState.RUNNING) {
        return false;
      }
      if (j.state == JobState.PENDING) {
        pending.remove(j);
      }
      for (LockedBestFit.Grant g : j.grants) {
        placer.release(g);
      }
      j.grants = List.of();
      j.allocations = List.of();
      j.state = to;
      j.endReason = reason;
      j.endedAt = clock.instant();
      started = dispatchLocked();
    }
    j.finished.complete(to);
    startAll(started);
    return true;
  }

  private List<Allocation> allocations(PlacementRequest request, List<LockedBestFit.Grant> grants) {
    List<Allocation> out = new ArrayList<>(grants.size());
    String profile = request.gpus() instanceof GpuDemand.Mig m ? m.profile() : null;
    long shareMem = request.gpus() instanceof GpuDemand.Share s ? s.memoryMiB() : -1;
    for (LockedBestFit.Grant g : grants) {
      List<AllocatedGpu> gpus = new ArrayList<>();
      List<String> ids = g.nodeIds();
      List<Integer> idx = g.gpuIndices();
      for (int i = 0; i < ids.size(); i++) {
        GpuSpec spec = Objects.requireNonNull(nodes.get(ids.get(i)), "a known node").gpus().get(idx.get(i));
        long mem = profile != null ? spec.model().migProfile(profile).memoryMiB()
            : shareMem >= 0 ? shareMem : spec.model().memoryMiB();
        gpus.add(new AllocatedGpu(ids.get(i), spec.index(), spec.uuid(), spec.model().name(),
            spec.mode(), profile, g.migStartSlot(), profile != null ? 0 : g.milliGpu(), mem));
      }
      out.add(new Grant(g, request, List.copyOf(gpus)));
    }
    return List.copyOf(out);
  }

  /** A granted placement seen as an {@link Allocation}; releasing it goes through the job. */
  private final class Grant implements Allocation {
    private final LockedBestFit.Grant grant;
    private final PlacementRequest request;
    private final List<AllocatedGpu> gpus;

    Grant(LockedBestFit.Grant grant, PlacementRequest request, List<AllocatedGpu> gpus) {
      this.grant = grant;
      this.request = request;
      this.gpus = gpus;
    }

    @Override
    public long id() {
      return System.identityHashCode(grant);
    }

    @Override
    public PlacementRequest request() {
      return request;
    }

    @Override
    public List<AllocatedGpu> gpus() {
      return gpus;
    }

    @Override
    public boolean isActive() {
      synchronized (lock) {
        for (Job j : jobs.values()) {
          if (j.grants.contains(grant)) {
            return true;
          }
        }
        return false;
      }
    }

    @Override
    public boolean release() {
      synchronized (lock) {
        return placer.release(grant);
      }
    }
  }

  @Override
  public Optional<JobHandle> job(String id) {
    synchronized (lock) {
      return Optional.ofNullable(jobs.get(id));
    }
  }

  @Override
  public List<JobHandle> jobs() {
    synchronized (lock) {
      return List.copyOf(jobs.values());
    }
  }

  @Override
  public List<QueueSpec> queues() {
    return queues;
  }

  @Override
  public void addNode(NodeSpec node) {
    throw new UnsupportedOperationException("baseline: no node management");
  }

  @Override
  public void cordon(String nodeId) {
    throw new UnsupportedOperationException("baseline: no node management");
  }

  @Override
  public void uncordon(String nodeId) {
    throw new UnsupportedOperationException("baseline: no node management");
  }

  @Override
  public void drain(String nodeId, Duration deadline) {
    throw new UnsupportedOperationException("baseline: no node management");
  }

  @Override
  public void spotInterruption(String nodeId, Instant terminationTime) {
    throw new UnsupportedOperationException("baseline: no node management");
  }

  @Override
  public void nodeDown(String nodeId) {
    throw new UnsupportedOperationException("baseline: no node management");
  }

  @Override
  public void addListener(SchedulerListener listener) {
    // publishes no events
  }

  @Override
  public boolean removeListener(SchedulerListener listener) {
    return false;
  }

  @Override
  public SchedulerSnapshot snapshot() {
    throw new UnsupportedOperationException("baseline: no snapshots");
  }

  @Override
  public GpuCluster cluster() {
    throw new UnsupportedOperationException("baseline: placement is a LockedBestFit, not a GpuCluster");
  }

  @Override
  public void tick() {
    // nothing time-based
  }

  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
    }
  }

  @Override
  public boolean isClosed() {
    synchronized (lock) {
      return closed;
    }
  }

  /** Returns the number of pending jobs. */
  public int pendingJobs() {
    synchronized (lock) {
      return pending.size();
    }
  }

  private final class Job implements JobHandle {
    final JobSpec spec;
    final Instant submittedAt;
    final CompletableFuture<JobHandle> started = new CompletableFuture<>();
    final CompletableFuture<JobState> finished = new CompletableFuture<>();
    // guarded by lock
    JobState state = JobState.PENDING;
    List<LockedBestFit.Grant> grants = List.of();
    List<Allocation> allocations = List.of();
    int attempts;
    @Nullable Instant startedAt;
    @Nullable Instant endedAt;
    @Nullable String endReason;
    @Nullable String checkpoint;

    Job(JobSpec spec, Instant submittedAt) {
      this.spec = spec;
      this.submittedAt = submittedAt;
    }

    @Override
    public String id() {
      return spec.id();
    }

    @Override
    public JobSpec spec() {
      return spec;
    }

    @Override
    public JobState state() {
      synchronized (lock) {
        return state;
      }
    }

    @Override
    public List<Allocation> allocations() {
      synchronized (lock) {
        return allocations;
      }
    }

    /** Strict FIFO: the head waits for capacity, everyone else for the head. */
    @Override
    public Optional<io.gpusched.PendingReason> pendingReason() {
      synchronized (lock) {
        if (state != JobState.PENDING) {
          return Optional.empty();
        }
        return Optional.of(
            pending.peek() == this ? io.gpusched.PendingReason.CAPACITY : io.gpusched.PendingReason.QUEUED);
      }
    }

    @Override
    public int attempts() {
      synchronized (lock) {
        return attempts;
      }
    }

    @Override
    public Optional<String> checkpointRef() {
      synchronized (lock) {
        return Optional.ofNullable(checkpoint);
      }
    }

    @Override
    public Instant submittedAt() {
      return submittedAt;
    }

    @Override
    public Optional<Instant> startedAt() {
      synchronized (lock) {
        return Optional.ofNullable(startedAt);
      }
    }

    @Override
    public Optional<Instant> endedAt() {
      synchronized (lock) {
        return Optional.ofNullable(endedAt);
      }
    }

    @Override
    public Optional<String> endReason() {
      synchronized (lock) {
        return Optional.ofNullable(endReason);
      }
    }

    @Override
    public double cost() {
      return 0;
    }

    @Override
    public boolean idle() {
      return false;
    }

    @Override
    public CompletableFuture<JobHandle> whenStarted() {
      return started;
    }

    @Override
    public CompletableFuture<JobState> whenFinished() {
      return finished;
    }

    @Override
    public boolean cancel() {
      boolean wasRunning = state() == JobState.RUNNING;
      boolean done = finish(this, JobState.CANCELLED, "cancelled");
      if (done && wasRunning) {
        launcher.stop(this, StopReason.CANCELLED, clock.instant());
      }
      return done;
    }

    @Override
    public boolean complete() {
      return finish(this, JobState.COMPLETED, null);
    }

    @Override
    public boolean fail(String reason) {
      return finish(this, JobState.FAILED, reason);
    }

    @Override
    public boolean stopped() {
      return false; // never preempts
    }

    @Override
    public void heartbeat() {
      // no leases
    }

    @Override
    public void checkpoint(String ref) {
      synchronized (lock) {
        checkpoint = ref;
      }
    }
  }
}
