package io.gpusched.bench.sim;

import io.gpusched.GpuScheduler;
import io.gpusched.QueueSpec;
import io.gpusched.core.GpuSchedulers;
import java.time.Duration;

/**
 * Builds the library's scheduler ({@link GpuSchedulers}) for a simulation: the variant's policy,
 * preemption and backfill flags, manual ticks, the virtual clock, events on the calling thread
 * ({@code Runnable::run}), scripted telemetry with idle reclaim, cheapest placement first, and all
 * finished jobs retained (the simulator checks every job's final state).
 */
public final class CoreSchedulerFactory implements SchedulerFactory {
  private final boolean preferCheapest;
  private final Duration migStrandingHold;
  private final io.gpusched.PlacementStrategy strategy;

  /** With cost-aware placement ({@code preferCheapest(true)}), as the policy comparison runs. */
  public CoreSchedulerFactory() {
    this(true);
  }

  /**
   * @param preferCheapest whether the scheduler places cost-aware ({@code
   *     GpuSchedulers.Builder.preferCheapest}: cheapest nodes first, preemptible jobs on spot
   *     first, jobs that are not preemptible off spot unless their queue allows it)
   */
  public CoreSchedulerFactory(boolean preferCheapest) {
    this(preferCheapest, Duration.ZERO);
  }

  /**
   * @param preferCheapest as {@link #CoreSchedulerFactory(boolean)}
   * @param migStrandingHold the scheduler's MIG stranding hold ({@code
   *     GpuSchedulers.Builder.migStrandingHold}; zero: off)
   */
  public CoreSchedulerFactory(boolean preferCheapest, Duration migStrandingHold) {
    this(preferCheapest, migStrandingHold, io.gpusched.PlacementStrategy.FRAGMENTATION_AWARE);
  }

  /**
   * @param preferCheapest as {@link #CoreSchedulerFactory(boolean)}
   * @param migStrandingHold as {@link #CoreSchedulerFactory(boolean, Duration)}
   * @param strategy the engine's placement strategy (the library's default: {@code
   *     FRAGMENTATION_AWARE})
   */
  public CoreSchedulerFactory(
      boolean preferCheapest, Duration migStrandingHold, io.gpusched.PlacementStrategy strategy) {
    this.preferCheapest = preferCheapest;
    this.migStrandingHold = migStrandingHold;
    this.strategy = strategy;
  }

  @Override
  public GpuScheduler create(Setup s) {
    SimConfig c = s.config();
    GpuSchedulers.Builder b =
        GpuSchedulers.newBuilder()
            .nodes(s.cluster().nodes())
            .strategy(strategy)
            .policy(c.variant().policy())
            .preemption(c.variant().preemption())
            .backfill(c.variant().backfill())
            .minRunTimeBeforePreemption(Duration.ofSeconds(c.minRunSeconds()))
            .launcher(s.launcher())
            .listener(s.listener())
            .telemetry(s.telemetry(), s.idlePolicy())
            .idleReclaimGrace(Duration.ofSeconds(c.idleGraceSeconds()))
            .clock(s.clock())
            .manualTicks()
            .eventExecutor(Runnable::run)
            .retainFinishedJobs(Integer.MAX_VALUE)
            .preferCheapest(preferCheapest)
            .migStrandingHold(migStrandingHold);
    for (QueueSpec q : s.cluster().queues()) {
      b.queue(q);
    }
    return b.build();
  }
}
