package io.gpusched.core;

import io.gpusched.SchedulerEvent;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A listener for stress tests that counts starts and records a job id started again without an end
 * in between (a double start). Events come from the serialized dispatcher, so the running map needs
 * no lock; the counters are read by the test thread.
 */
final class StartTracker {
  final List<String> doubleStarts = new CopyOnWriteArrayList<>();
  final AtomicInteger startEvents = new AtomicInteger();
  private final Map<String, Boolean> running = new HashMap<>();

  void on(SchedulerEvent e) {
    if (e instanceof SchedulerEvent.JobStarted st) {
      startEvents.incrementAndGet();
      if (Boolean.TRUE.equals(running.put(st.jobId(), true))) {
        doubleStarts.add(st.jobId());
      }
    } else if (e instanceof SchedulerEvent.JobPreempted
        || e instanceof SchedulerEvent.JobCompleted
        || e instanceof SchedulerEvent.JobFailed
        || e instanceof SchedulerEvent.JobCancelled) {
      running.put(((SchedulerEvent.JobEvent) e).jobId(), false);
    }
  }
}
