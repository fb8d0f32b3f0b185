package io.gpusched.demo.spring;

import io.gpusched.AllocatedGpu;
import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerEvent.JobCancelled;
import io.gpusched.SchedulerEvent.JobCompleted;
import io.gpusched.SchedulerEvent.JobEvent;
import io.gpusched.SchedulerEvent.JobFailed;
import io.gpusched.SchedulerEvent.JobPreempted;
import io.gpusched.SchedulerEvent.JobRequeued;
import io.gpusched.SchedulerEvent.JobStarted;
import io.gpusched.SchedulerEvent.JobSubmitted;
import io.gpusched.SchedulerEvent.PreemptionRequested;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

/**
 * Each job's life as the dashboard shows it on the job's row: submitted, started (attempt n),
 * preemption requested, preempted, requeued, completed, failed, cancelled. Kept for the newest
 * {@link #KEEP_JOBS} jobs, at most {@link #KEEP_EVENTS} events each.
 */
@Component
class JobActivity {
  static final int KEEP_JOBS = 1000;
  static final int KEEP_EVENTS = 20;

  /**
   * One event of a job.
   *
   * @param at when
   * @param kind {@code submitted}, {@code started}, {@code preempted}...
   * @param detail what else there is to say (empty when nothing)
   */
  record Event(Instant at, String kind, String detail) {}

  /** The GPUs of each job's latest start, for the jobs in {@link #byJob}. */
  private final Map<String, List<AllocatedGpu>> lastGpus = new HashMap<>();

  private final Map<String, List<Event>> byJob =
      new LinkedHashMap<>(16, 0.75f, false) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, List<Event>> eldest) {
          if (size() > KEEP_JOBS) {
            lastGpus.remove(eldest.getKey());
            return true;
          }
          return false;
        }
      };

  @EventListener
  void on(SchedulerEvent event) {
    if (!(event instanceof JobEvent e)) {
      return;
    }
    Event ev = describe(e);
    if (ev == null) {
      return;
    }
    synchronized (byJob) {
      if (e instanceof JobStarted s) {
        lastGpus.put(s.jobId(), s.gpus());
      }
      List<Event> list = byJob.computeIfAbsent(e.jobId(), k -> new ArrayList<>());
      list.add(ev);
      if (list.size() > KEEP_EVENTS) {
        list.remove(1); // keep "submitted"
      }
    }
  }

  /** Returns the job's events, oldest first. */
  List<Event> of(String jobId) {
    synchronized (byJob) {
      List<Event> list = byJob.get(jobId);
      return list == null ? List.of() : List.copyOf(list);
    }
  }

  /** Returns the GPUs of the job's latest start (empty if it never started). */
  List<AllocatedGpu> lastGpus(String jobId) {
    synchronized (byJob) {
      return lastGpus.getOrDefault(jobId, List.of());
    }
  }

  private static Event describe(JobEvent e) {
    if (e instanceof JobSubmitted s) {
      return new Event(s.at(), "submitted", "");
    } else if (e instanceof JobStarted s) {
      return new Event(s.at(), "started", "attempt " + s.attempt() + " on " + s.gpus().stream()
          .map(g -> g.nodeId() + " GPU " + g.gpuIndex() + (g.migProfile() == null ? "" : " " + g.migProfile()))
          .collect(Collectors.joining(", ")));
    } else if (e instanceof JobCompleted c) {
      return new Event(c.at(), "completed", "");
    } else if (e instanceof JobFailed f) {
      return new Event(f.at(), "failed", f.reason().lines().findFirst().orElse(""));
    } else if (e instanceof JobCancelled c) {
      return new Event(c.at(), "cancelled", "");
    } else if (e instanceof PreemptionRequested p) {
      return new Event(p.at(), "stop requested", words(p.reason().name()));
    } else if (e instanceof JobPreempted p) {
      return new Event(p.at(), "preempted", words(p.reason().name()));
    } else if (e instanceof JobRequeued r) {
      return new Event(r.at(), "requeued", "");
    }
    return new Event(e.at(), words(e.getClass().getSimpleName()), "");
  }

  private static String words(String name) {
    return name.replaceAll("([a-z])([A-Z])", "$1 $2").replace('_', ' ').toLowerCase(Locale.ROOT);
  }
}
