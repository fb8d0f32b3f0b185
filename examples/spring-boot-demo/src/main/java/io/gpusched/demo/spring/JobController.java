package io.gpusched.demo.spring;

import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.MigProfile;
import io.gpusched.PlacementRequest;
import io.gpusched.spring.boot.SchedulerViews;
import jakarta.validation.Valid;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
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

  private final GpuScheduler scheduler;
  private final UtilizationHistory history;

  JobController(GpuScheduler scheduler, UtilizationHistory history) {
    this.scheduler = scheduler;
    this.history = history;
  }

  @PostMapping("/jobs")
  @ResponseStatus(HttpStatus.CREATED)
  Map<String, Object> submit(@Valid @RequestBody JobRequest r) {
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
            yield PlacementRequest.mig(profile);
          }
          default -> {
            if (r.milliGpu() == null) {
              throw new InvalidRequest("milliGpu", null, "a share job needs milliGpu (1..1000)");
            }
            yield PlacementRequest.share(r.milliGpu(), r.memoryMiB() == null ? 0 : r.memoryMiB());
          }
        };
    if (scheduler.queues().stream().noneMatch(q -> q.name().equals(r.queue()))) {
      throw new InvalidRequest(
          "queue", r.queue(), "unknown queue; known: " + scheduler.queues().stream().map(q -> q.name()).toList());
    }
    JobSpec spec =
        JobSpec.builder(request)
            .queue(r.queue())
            .priority(r.priority() == null ? 0 : r.priority())
            .preemptible(Boolean.TRUE.equals(r.preemptible()))
            .gracePeriod(Duration.ZERO)
            .expectedDuration(Duration.ofMillis(Math.round(r.durationSeconds() * 1000)))
            .build();
    return SchedulerViews.job(scheduler.submit(spec));
  }

  @GetMapping("/jobs")
  List<Map<String, Object>> jobs() {
    return newestJobs(scheduler);
  }

  @GetMapping("/jobs/{id}")
  Map<String, Object> job(@PathVariable String id) {
    return SchedulerViews.job(find(id));
  }

  @DeleteMapping("/jobs/{id}")
  Map<String, Object> cancel(@PathVariable String id) {
    JobHandle j = find(id);
    j.cancel();
    return SchedulerViews.job(j);
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
    return DashboardState.of(scheduler, history);
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

  /** The newest {@link #JOB_LIMIT} jobs, newest first. */
  static List<Map<String, Object>> newestJobs(GpuScheduler scheduler) {
    return scheduler.jobs().stream()
        .sorted(Comparator.comparing(JobHandle::submittedAt).reversed())
        .limit(JOB_LIMIT)
        .map(SchedulerViews::job)
        .toList();
  }
}
