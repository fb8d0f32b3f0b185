package io.gpusched.bench;

import io.gpusched.GpuMode;
import io.gpusched.GpuSample;
import io.gpusched.GpuScheduler;
import io.gpusched.GpuSpec;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import io.gpusched.core.GpuSchedulers;
import io.gpusched.nvml.Nvml;
import io.gpusched.nvml.NvmlAvailability;
import io.gpusched.nvml.NvmlInventory;
import io.gpusched.nvml.NvmlTelemetry;
import java.io.PrintStream;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The demo's live part on a machine with NVIDIA GPUs: the local node as NVML reports it (models,
 * MIG mode and geometry), NVML telemetry, and the real scheduler in real time on it. Demo jobs
 * hold their GPUs (or MIG slices, or shares) for a few seconds without touching the device; a
 * notebook-style job marked reclaimable loses its GPU when NVML shows the GPU idle. Nothing on the
 * GPU is changed (the NVML binding is read-only).
 *
 * <p>{@link #run} takes the node and the telemetry as arguments, so it is tested here with a
 * scripted telemetry; {@link #runIfAvailable} is the NVML wiring.
 */
public final class LocalGpuDemo {
  private LocalGpuDemo() {}

  /**
   * Runs the live demo if NVML is available, else prints why not and returns false.
   *
   * @param out where to print
   * @return whether it ran
   */
  public static boolean runIfAvailable(PrintStream out) throws InterruptedException {
    NvmlAvailability a = Nvml.availability();
    if (!a.available()) {
      out.println("no local NVIDIA GPU (" + a.shortCause() + "): simulated cluster only");
      return false;
    }
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      host = "local";
    }
    NodeSpec node = NvmlInventory.local().readNode(host);
    try (NvmlTelemetry telemetry =
        NvmlTelemetry.builder().period(Duration.ofMillis(250)).build()) {
      run(node, telemetry, Duration.ofSeconds(3), out);
    }
    return true;
  }

  /**
   * Schedules demo jobs on {@code node} in real time and prints what happens.
   *
   * @param node the local node
   * @param telemetry telemetry of its GPUs (idle detection)
   * @param jobLength how long each demo job holds its GPUs
   * @param out where to print
   * @return the jobs, all final on return
   */
  public static List<JobHandle> run(
      NodeSpec node, GpuTelemetry telemetry, Duration jobLength, PrintStream out)
      throws InterruptedException {
    out.printf(Locale.ROOT, "local node %s: %d GPU(s) %s%n", node.id(), node.gpus().size(), node.labels());
    for (GpuSpec g : node.gpus()) {
      out.printf(Locale.ROOT, "  GPU %d %s %s %s%s%n", g.index(), g.uuid(), g.model().name(), g.mode(),
          g.mode() == GpuMode.MIG_STATIC ? " instances " + g.staticInstances() : "");
      telemetry.latest(g.uuid(), GpuSample.WHOLE_GPU).ifPresent(s -> out.printf(Locale.ROOT,
          "    now: utilization %s %%, memory %s / %s MiB, power %s mW, %s °C%n",
          s.utilizationPercent(), s.memoryUsedMiB(), s.memoryTotalMiB(), s.powerMilliwatts(),
          s.temperatureCelsius()));
    }
    ScheduledExecutorService hosts = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "demo-hosts");
      t.setDaemon(true);
      return t;
    });
    long t0 = System.nanoTime();
    JobLauncher launcher = new JobLauncher() {
      @Override
      public void start(JobHandle job) {
        if (!job.spec().reclaimWhenIdle()) {
          var unused = hosts.schedule(job::complete, jobLength.toMillis(), TimeUnit.MILLISECONDS);
        }
      }

      @Override
      public void stop(JobHandle job, StopReason reason, Instant deadline) {
        hosts.execute(job::stopped);
      }
    };
    IdlePolicy idle = new IdlePolicy(5, jobLength, false, 1024, Duration.ofSeconds(5));
    GpuScheduler s = GpuSchedulers.newBuilder()
        .nodes(List.of(node))
        .queue(QueueSpec.builder("training").weight(2).build())
        .queue(QueueSpec.of("notebooks"))
        .launcher(launcher)
        .telemetry(telemetry, idle)
        .idleReclaimGrace(Duration.ofMillis(500))
        .tickInterval(Duration.ofMillis(200))
        .listener(e -> out.printf(Locale.ROOT, "  %5.1fs %s%n", (System.nanoTime() - t0) / 1e9, describe(e)))
        .build();
    var jobs = new ArrayList<JobHandle>();
    try {
      jobs.add(s.submit(JobSpec.builder(unit(node)).id("notebook").queue("notebooks")
          .reclaimWhenIdle(true).build()));
      for (int i = 0; i < node.gpus().size() + 2; i++) {
        jobs.add(s.submit(JobSpec.builder(unit(node)).id("train-" + i).queue("training").build()));
      }
      long deadline = System.nanoTime() + jobLength.multipliedBy(node.gpus().size() + 8).toNanos()
          + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < deadline && jobs.stream().anyMatch(j -> !j.state().isFinal())) {
        Thread.sleep(50);
      }
      for (JobHandle j : jobs) {
        if (!j.state().isFinal()) {
          j.cancel();
        }
      }
    } finally {
      s.close();
      hosts.shutdownNow();
    }
    Thread.sleep(100); // let the event thread print the last events
    out.printf(Locale.ROOT, "local demo: %d jobs, %d completed, notebook %s%n", jobs.size(),
        jobs.stream().filter(j -> j.state() == JobState.COMPLETED).count(), jobs.get(0).state());
    return jobs;
  }

  /** One GPU, or the smallest MIG profile, or a quarter share, depending on GPU 0's mode. */
  static PlacementRequest unit(NodeSpec node) {
    GpuSpec g = node.gpus().get(0);
    return switch (g.mode()) {
      case MIG_DYNAMIC -> PlacementRequest.mig(
          Objects.requireNonNull(g.model().mig(), "a MIG mode has a MIG model").profiles().stream()
              .filter(p -> !p.isMediaExtension())
              .min(Comparator.comparingInt(MigProfile::memorySlices)).orElseThrow().name());
      case MIG_STATIC -> PlacementRequest.mig(g.staticInstances().get(0).profile());
      case SHARED -> PlacementRequest.share(250, g.model().memoryMiB() / 4);
      default -> PlacementRequest.wholeGpus(1);
    };
  }

  static String describe(SchedulerEvent e) {
    if (e instanceof SchedulerEvent.JobStarted st) {
      return st.jobId() + " started on " + st.gpus().stream()
          .map(g -> "GPU " + g.gpuIndex() + (g.migProfile() != null ? " " + g.migProfile() + "@" + g.migStartSlot() : ""))
          .toList();
    }
    if (e instanceof SchedulerEvent.JobEvent je) {
      return je.jobId() + " " + e.getClass().getSimpleName();
    }
    return e.toString();
  }
}
