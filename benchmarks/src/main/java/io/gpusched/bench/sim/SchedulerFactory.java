package io.gpusched.bench.sim;

import io.gpusched.GpuScheduler;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobLauncher;
import io.gpusched.SchedulerListener;
import java.time.InstantSource;

/**
 * Builds the scheduler a simulation drives. The real one is {@link CoreSchedulerFactory}; tests
 * may plug in others (the locked baseline).
 */
@FunctionalInterface
public interface SchedulerFactory {

  /**
   * Builds a scheduler for a simulation: manual ticks, events delivered on the calling thread.
   *
   * @param s everything the simulator provides
   * @return a scheduler over {@code s.cluster().nodes()} with its queues
   */
  GpuScheduler create(Setup s);

  /**
   * What the simulator hands to the factory.
   *
   * @param cluster nodes and queues
   * @param config the variant and timings
   * @param launcher the simulated hosts
   * @param listener the simulator's event counter
   * @param clock the virtual clock
   * @param telemetry scripted telemetry of the simulated GPUs
   * @param idlePolicy when a device counts as idle
   */
  record Setup(
      SimCluster cluster,
      SimConfig config,
      JobLauncher launcher,
      SchedulerListener listener,
      InstantSource clock,
      GpuTelemetry telemetry,
      IdlePolicy idlePolicy) {}
}
