package io.gpusched.demo.spring;

import io.gpusched.SchedulerEvent;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.EventListener;
import org.springframework.http.MediaType;
import org.springframework.scheduling.annotation.Scheduled;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

/**
 * Server-sent events for the dashboard: a {@code state} event with the whole {@link
 * DashboardState} at most every 250 ms while scheduler events arrive (they come in as Spring events
 * from the starter), and once a second regardless (for the chart).
 */
@RestController
class DashboardStream {
  private final JobController jobs;
  private final List<SseEmitter> emitters = new CopyOnWriteArrayList<>();
  private final AtomicBoolean dirty = new AtomicBoolean(true);
  private volatile long lastPush;

  DashboardStream(JobController jobs) {
    this.jobs = jobs;
  }

  @GetMapping(path = "/api/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
  SseEmitter events() throws IOException {
    SseEmitter e = new SseEmitter(0L);
    e.onCompletion(() -> emitters.remove(e));
    e.onTimeout(() -> emitters.remove(e));
    e.onError(t -> emitters.remove(e));
    emitters.add(e);
    e.send(SseEmitter.event().name("state").data(jobs.state()));
    return e;
  }

  /** Ends the streams first, so that a graceful shutdown does not wait for open dashboards. */
  @EventListener(ContextClosedEvent.class)
  void close() {
    emitters.forEach(SseEmitter::complete);
    emitters.clear();
  }

  @EventListener
  void on(SchedulerEvent event) {
    dirty.set(true);
  }

  @Scheduled(fixedRate = 250)
  @SuppressWarnings("ModifyCollectionInEnhancedForLoop") // copy-on-write: the loop sees a snapshot
  void push() {
    long now = System.currentTimeMillis();
    if (!dirty.getAndSet(false) && now - lastPush < 1000) {
      return;
    }
    lastPush = now;
    if (emitters.isEmpty()) {
      return;
    }
    Map<String, Object> state = jobs.state();
    for (SseEmitter e : emitters) {
      try {
        e.send(SseEmitter.event().name("state").data(state));
      } catch (IOException | IllegalStateException ex) {
        emitters.remove(e);
      }
    }
  }
}
