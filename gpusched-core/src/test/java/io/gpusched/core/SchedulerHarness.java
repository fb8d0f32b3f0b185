package io.gpusched.core;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/** Manual clock, recording launcher and listener for scheduler tests. */
final class SchedulerHarness {

  static final class ManualClock implements InstantSource {
    final AtomicLong millis = new AtomicLong(1_700_000_000_000L);

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis.get());
    }

    @Override
    public long millis() {
      return millis.get();
    }

    void advance(Duration d) {
      millis.addAndGet(d.toMillis());
    }
  }

  /** Records starts and stops; fails the test thread's invariant if a job starts twice at once. */
  static final class RecordingLauncher implements JobLauncher {
    final List<String> started = new CopyOnWriteArrayList<>();
    final List<String> stops = new CopyOnWriteArrayList<>();
    final Map<String, AtomicInteger> active = new ConcurrentHashMap<>();
    final List<String> doubleStarts = new CopyOnWriteArrayList<>();
    volatile Consumer<JobHandle> onStart = j -> {};

    @Override
    public void start(JobHandle job) {
      started.add(job.id());
      if (active.computeIfAbsent(job.id(), k -> new AtomicInteger()).incrementAndGet() > 1) {
        doubleStarts.add(job.id());
      }
      onStart.accept(job);
    }

    @Override
    public void stop(JobHandle job, StopReason reason, Instant deadline) {
      stops.add(job.id() + ":" + reason);
    }

    /** Call when the job's run ended (complete/fail/stop) to re-arm the double-start check. */
    void ended(String id) {
      AtomicInteger a = active.get(id);
      if (a != null) {
        a.decrementAndGet();
      }
    }
  }

  final ManualClock clock = new ManualClock();
  final RecordingLauncher launcher = new RecordingLauncher();
  final List<SchedulerEvent> events = new CopyOnWriteArrayList<>();

  GpuSchedulers.Builder builder() {
    return GpuSchedulers.newBuilder()
        .clock(clock)
        .manualTicks()
        .eventExecutor(Runnable::run)
        .launcher(launcher)
        .listener(events::add);
  }

  /** GPU-equivalents the named queue's running jobs hold, as its snapshot says. */
  static double usedGpus(GpuScheduler s, String queue) {
    return s.snapshot().queues().stream()
        .filter(q -> q.spec().name().equals(queue))
        .findFirst()
        .orElseThrow()
        .usedGpus();
  }

  static NodeSpec whole(String id, int gpus) {
    return NodeSpec.builder(id).gpus(gpus, GpuModels.H100_80GB, GpuMode.WHOLE).build();
  }

  static NodeSpec mig(String id, int gpus) {
    return NodeSpec.builder(id).gpus(gpus, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build();
  }

  static JobSpec.Builder job(String id, int gpus) {
    return JobSpec.builder(PlacementRequest.wholeGpus(gpus)).id(id);
  }

  <T extends SchedulerEvent> List<T> events(Class<T> type) {
    var out = new ArrayList<T>();
    for (SchedulerEvent e : events) {
      if (type.isInstance(e)) {
        out.add(type.cast(e));
      }
    }
    return out;
  }

  void advance(GpuScheduler s, Duration d) {
    clock.advance(d);
    s.tick();
  }
}
