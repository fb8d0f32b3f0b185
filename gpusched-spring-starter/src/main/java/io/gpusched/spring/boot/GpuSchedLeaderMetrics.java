package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.store.SchedulerReplica;
import io.micrometer.core.instrument.MeterRegistry;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler's meters ({@link GpuSchedMetrics}: {@code gpusched.gpus}, {@code gpusched.jobs},
 * the queue gauges and the job counters) on a replica: bound to the leader's scheduler when this
 * replica starts leading, and removed from the registry when it stops (deposed, or closed), so a
 * follower shows none of them and each new epoch registers them afresh on its own scheduler,
 * without clashing with the last epoch's. Counters therefore start from zero at each takeover (a
 * counter reset, which Prometheus' {@code rate} and {@code increase} allow for). Called on the
 * replica's work thread.
 */
public final class GpuSchedLeaderMetrics implements SchedulerReplica.LeadershipListener {
  private static final Logger LOG = LoggerFactory.getLogger(GpuSchedLeaderMetrics.class);

  private final MeterRegistry registry;
  /** The meters of the epoch this replica leads (strongly held: gauges keep weak references). */
  private @Nullable GpuSchedMetrics current;

  private long epoch;

  /**
   * Meters of a replica's leader in {@code registry}; add it with {@link
   * SchedulerReplica#addLeadershipListener}.
   *
   * @param registry where
   */
  public GpuSchedLeaderMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public synchronized void leading(GpuScheduler scheduler, long epoch) {
    GpuSchedMetrics old = current;
    if (old != null) { // not expected: the replica ends one epoch before it starts the next
      old.unbind(registry);
    }
    GpuSchedMetrics m = new GpuSchedMetrics(scheduler);
    m.bindTo(registry);
    current = m;
    this.epoch = epoch;
    LOG.debug("gpusched: scheduler meters bound for epoch {}", epoch);
  }

  @Override
  public synchronized void stoppedLeading(GpuScheduler scheduler, long epoch) {
    GpuSchedMetrics m = current;
    if (m != null && this.epoch == epoch) {
      m.unbind(registry);
      current = null;
      LOG.debug("gpusched: scheduler meters of epoch {} removed", epoch);
    }
  }
}
