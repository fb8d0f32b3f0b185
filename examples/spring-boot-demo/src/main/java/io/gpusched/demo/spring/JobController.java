package io.gpusched.demo.spring;

import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.MigProfile;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.nvml.ProcessJob;
import io.gpusched.nvml.ProcessLauncher;
import io.gpusched.spring.boot.SchedulerViews;
import jakarta.validation.Valid;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** REST API: jobs, nodes, and the dashboard's state. Errors are RFC 9457 problem details. */
@RestController
@RequestMapping("/api")
class JobController {
  /** The job table shows the newest this many jobs. */
  static final int JOB_LIMIT = 200;

  /** The newest this many jobs carry their log tail in the dashboard's state. */
  static final int LOG_JOBS = 30;

  /** Log lines per job in the dashboard's state. */
  static final int LOG_LINES = 6;

  private final GpuScheduler scheduler;
  private final UtilizationHistory history;
  private final ProcessLauncher launcher;
  private final JobActivity activity;
  private final DemoInventory inventory;

  JobController(
      GpuScheduler scheduler,
      UtilizationHistory history,
      ProcessLauncher launcher,
      JobActivity activity,
      DemoInventory inventory) {
    this.scheduler = scheduler;
    this.history = history;
    this.launcher = launcher;
    this.activity = activity;
    this.inventory = inventory;
  }

  @PostMapping("/jobs")
  @ResponseStatus(HttpStatus.CREATED)
  DemoJob submit(@Valid @RequestBody JobRequest r) {
    if (Boolean.TRUE.equals(r.withoutStranding()) && !"mig".equals(r.kind())) {
      throw new InvalidRequest(
          "withoutStranding", true, "applies to mig jobs only (a MIG instance's compute slices)");
    }
    PlacementRequest request =
        switch (r.kind()) {
          case "whole" ->
              PlacementRequest.wholeGpus(
                  r.count() == null ? 1 : r.count(), Boolean.TRUE.equals(r.sameNode()));
          case "mig" -> {
            if (r.profile() == null || r.profile().isBlank()) {
              throw new InvalidRequest("profile", r.profile(), "a mig job needs a MIG profile, e.g. 3g.40gb");
            }
            String profile = r.profile().trim();
            List<String> known = migProfiles();
            if (!known.contains(profile)) {
              throw new InvalidRequest(
                  "profile", profile, "no MIG GPU in the cluster has this profile; known: " + known);
            }
            PlacementRequest mig = PlacementRequest.mig(profile);
            yield Boolean.TRUE.equals(r.withoutStranding()) ? mig.withoutStranding() : mig;
          }
          default -> {
            if (r.milliGpu() == null) {
              throw new InvalidRequest("milliGpu", null, "a share job needs milliGpu (1..1000)");
            }
            yield PlacementRequest.share(r.milliGpu(), r.memoryMiB() == null ? 0 : r.memoryMiB());
          }
        };
    List<String> queues = scheduler.queues().stream().map(QueueSpec::name).toList();
    String queue = r.queue() == null || r.queue().isBlank() ? queues.get(0) : r.queue();
    if (!queues.contains(queue)) {
      throw new InvalidRequest("queue", queue, "unknown queue; known: " + queues);
    }
    JobSpec.Builder spec =
        JobSpec.builder(request)
            .queue(queue)
            .priority(r.priority() == null ? 0 : r.priority())
            .preemptible(Boolean.TRUE.equals(r.preemptible()))
            .gracePeriod(Duration.ofSeconds(5));
    if (r.durationSeconds() != null) {
      spec.expectedDuration(Duration.ofMillis(Math.round(r.durationSeconds() * 1000)));
    }
    process(r).applyTo(spec);
    return view(scheduler.submit(spec.build()), LOG_LINES);
  }

  /** The job's process: its command, or {@code sleep} for its duration. */
  private static ProcessJob process(JobRequest r) {
    boolean hasLine = r.commandLine() != null && !r.commandLine().isBlank();
    if (r.command() != null && hasLine) {
      throw new InvalidRequest("commandLine", r.commandLine(), "give command or commandLine, not both");
    }
    if (r.command() != null) {
      if (r.command().stream().anyMatch(a -> a == null || a.isEmpty()) || r.command().get(0).isBlank()) {
        throw new InvalidRequest("command", r.command(), "arguments must not be empty");
      }
      return ProcessJob.command(r.command());
    }
    String line = r.commandLine();
    if (hasLine && line != null) {
      try {
        return ProcessJob.command(CommandLine.split(line));
      } catch (IllegalArgumentException e) {
        throw new InvalidRequest("commandLine", line, String.valueOf(e.getMessage()));
      }
    }
    if (r.durationSeconds() == null) {
      throw new InvalidRequest(
          "durationSeconds", null, "give a command, or durationSeconds for a job that only sleeps");
    }
    return ProcessJob.command("sleep", String.format(Locale.ROOT, "%.3f", r.durationSeconds()));
  }

  @GetMapping("/jobs")
  List<DemoJob> jobs() {
    return newestJobs(0);
  }

  @GetMapping("/jobs/{id}")
  DemoJob job(@PathVariable String id, @RequestParam(defaultValue = "" + LOG_LINES) int logLines) {
    if (logLines < 0 || logLines > 10_000) {
      throw new InvalidRequest("logLines", logLines, "must be in 0..10000");
    }
    return view(find(id), logLines);
  }

  @DeleteMapping("/jobs/{id}")
  DemoJob cancel(@PathVariable String id) {
    JobHandle j = find(id);
    j.cancel();
    return view(j, LOG_LINES);
  }

  @GetMapping("/nodes")
  List<Map<String, Object>> nodes() {
    return scheduler.snapshot().cluster().nodes().stream().map(SchedulerViews::node).toList();
  }

  @PostMapping("/nodes/{id}/{action}")
  Map<String, Object> node(
      @PathVariable String id,
      @PathVariable String action,
      @RequestParam(defaultValue = "0") long deadlineSeconds) {
    if (nodes().stream().noneMatch(n -> id.equals(n.get("id")))) {
      throw new NoSuchElementException("no node " + id);
    }
    switch (action) {
      case "cordon" -> scheduler.cordon(id);
      case "uncordon" -> scheduler.uncordon(id);
      case "drain" -> scheduler.drain(id, Duration.ofSeconds(deadlineSeconds));
      default -> throw new InvalidRequest("action", action, "use cordon, uncordon or drain");
    }
    return nodes().stream()
        .filter(n -> id.equals(n.get("id")))
        .findFirst()
        .orElseThrow(() -> new NoSuchElementException("no node " + id));
  }

  @GetMapping("/state")
  Map<String, Object> state() {
    return DashboardState.of(scheduler, history, inventory, newestJobs(LOG_JOBS));
  }

  /** MIG profiles of the MIG GPUs in the cluster (catalog models). */
  private List<String> migProfiles() {
    return scheduler.snapshot().cluster().nodes().stream()
        .flatMap(n -> n.gpus().stream())
        .filter(g -> g.mode() == GpuMode.MIG_DYNAMIC || g.mode() == GpuMode.MIG_STATIC)
        .map(g -> GpuModels.byName(g.model()).map(GpuModel::mig).orElse(null))
        .filter(Objects::nonNull)
        .flatMap(m -> m.profiles().stream().map(MigProfile::name))
        .distinct()
        .toList();
  }

  private JobHandle find(String id) {
    return scheduler.job(id).orElseThrow(() -> new NoSuchElementException("no job " + id));
  }

  /**
   * Process facts of finished jobs, read once: they no longer change, and the dashboard redraws
   * up to {@link #JOB_LIMIT} jobs several times a second.
   */
  private final Map<String, DemoJob.ProcessFacts> finished =
      new java.util.LinkedHashMap<>(16, 0.75f, false) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, DemoJob.ProcessFacts> eldest) {
          return size() > 2 * JOB_LIMIT;
        }
      };

  private DemoJob view(JobHandle j, int logLines) {
    DemoJob.ProcessFacts facts;
    if (j.state().isFinal() && logLines == LOG_LINES) {
      synchronized (finished) {
        facts = finished.get(j.id());
      }
      if (facts == null) {
        facts = DemoJob.ProcessFacts.read(j, launcher, logLines);
        if (facts.exitCode() != null || j.startedAt().isEmpty()) { // its process has been reported
          synchronized (finished) {
            finished.put(j.id(), facts);
          }
        }
      }
    } else {
      facts = DemoJob.ProcessFacts.read(j, launcher, logLines);
    }
    return DemoJob.of(j, facts, activity);
  }

  /**
   * The newest {@link #JOB_LIMIT} jobs, newest first; the first {@code withLogs} of them with their
   * log tail.
   */
  List<DemoJob> newestJobs(int withLogs) {
    List<JobHandle> newest =
        scheduler.jobs().stream()
            .sorted(Comparator.comparing(JobHandle::submittedAt).reversed())
            .limit(JOB_LIMIT)
            .toList();
    java.util.ArrayList<DemoJob> out = new java.util.ArrayList<>(newest.size());
    for (int i = 0; i < newest.size(); i++) {
      JobHandle j = newest.get(i);
      // log tails for the newest few, and for every finished job (read once, then cached)
      out.add(view(j, i < withLogs || j.state().isFinal() ? LOG_LINES : 0));
    }
    return out;
  }
}
