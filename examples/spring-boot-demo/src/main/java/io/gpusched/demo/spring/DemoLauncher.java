package io.gpusched.demo.spring;

import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.StopReason;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

/**
 * Pretends to run jobs: each one completes after its spec's expected duration (never blocking the
 * scheduler's thread), and stops at once when the scheduler asks (preemption, drain, cancel).
 * Replacing the starter's no-op launcher is all it takes to plug in real work.
 */
@Component
class DemoLauncher implements JobLauncher, DisposableBean {
  private static final Logger LOG = LoggerFactory.getLogger(DemoLauncher.class);
  private static final Duration DEFAULT_RUN = Duration.ofSeconds(10);

  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "demo-launcher");
            t.setDaemon(true);
            return t;
          });
  private final Map<String, ScheduledFuture<?>> running = new ConcurrentHashMap<>();

  @Override
  public void start(JobHandle job) {
    Duration d = job.spec().expectedDuration() != null ? job.spec().expectedDuration() : DEFAULT_RUN;
    LOG.info("start {} on {} for {}", job.id(), job.allocations(), d);
    running.put(
        job.id(),
        timer.schedule(
            () -> {
              running.remove(job.id());
              job.complete();
            },
            d.toMillis(),
            TimeUnit.MILLISECONDS));
  }

  @Override
  public void stop(JobHandle job, StopReason reason, Instant deadline) {
    ScheduledFuture<?> f = running.remove(job.id());
    if (f != null) {
      f.cancel(false);
    }
    LOG.info("stop {}: {}", job.id(), reason);
    // a real host would checkpoint here; the demo stops at once
    timer.execute(job::stopped);
  }

  @Override
  public void destroy() {
    timer.shutdownNow();
  }
}
