package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Graceful shutdown: when the application context stops, after the web server stopped taking
 * requests, the scheduler stops its timer and dispatching ({@link GpuScheduler#close()}). Running
 * jobs keep their allocations, so the state stays consistent; NVML telemetry is closed after this,
 * when its bean is destroyed. Also tells the health indicator whether the scheduler runs, which the
 * {@link GpuScheduler} interface cannot.
 */
public final class GpuSchedLifecycle implements SmartLifecycle {
  private static final Logger LOG = LoggerFactory.getLogger(GpuSchedLifecycle.class);

  /** Stops after the web server (whose graceful shutdown phase is higher). */
  static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

  private final GpuScheduler scheduler;
  private volatile boolean running;
  private volatile boolean closed;

  /**
   * Stops {@code scheduler} with the application context; define one for a scheduler of your own
   * to keep the graceful stop and the health indicator's view of it.
   *
   * @param scheduler the scheduler
   */
  public GpuSchedLifecycle(GpuScheduler scheduler) {
    this.scheduler = scheduler;
  }

  @Override
  public void start() {
    running = !closed;
  }

  @Override
  public void stop() {
    running = false;
    closed = true;
    LOG.info("gpusched: stopping the scheduler (running jobs keep their GPUs)");
    scheduler.close();
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  /** Returns whether the scheduler was closed through this lifecycle. */
  public boolean isClosed() {
    return closed;
  }

  @Override
  public int getPhase() {
    return PHASE;
  }
}
