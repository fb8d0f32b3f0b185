package io.gpusched.bench.sim;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the same workload on the same cluster under every {@link SimConfig.Variant} (FIFO,
 * PRIORITY, FAIR_SHARE, FAIR_SHARE + preemption, FAIR_SHARE + preemption + backfill).
 */
public final class PolicyComparison {
  private PolicyComparison() {}

  /**
   * Runs every variant in declaration order.
   *
   * @param cluster nodes, queues, disruptions (the same for all)
   * @param workload the arrivals (the same for all)
   * @param base timings; its variant is replaced
   * @param factory the scheduler under test
   * @param progress where to print one line per finished run, or null
   */
  public static List<SimResult> run(
      SimCluster cluster,
      Workload workload,
      SimConfig base,
      SchedulerFactory factory,
      PrintStream progress) {
    List<SimResult> out = new ArrayList<>();
    for (SimConfig.Variant v : SimConfig.Variant.values()) {
      SimResult r = new Simulator(cluster, workload, base.with(v), factory).run();
      if (progress != null) {
        progress.printf(java.util.Locale.ROOT, "  %-28s %,8d events, %,6d ms%n", v.label(),
            r.eventsProcessed(), r.wallMillis());
      }
      out.add(r);
    }
    return out;
  }
}
