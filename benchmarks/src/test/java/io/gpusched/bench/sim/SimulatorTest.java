package io.gpusched.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.QueueSpec;
import io.gpusched.bench.peer.LockedFifoScheduler;
import io.gpusched.bench.sim.SimConfig.Variant;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The simulator driving the real scheduler. No assertion on wall-clock time. */
class SimulatorTest {

  private static Workload shipped;
  private static SimCluster demo;
  private static List<SimResult> comparison;

  @BeforeAll
  static void runComparison() {
    shipped = Workload.read(Workload.SHIPPED);
    demo = SimCluster.demo().withRandomDisruptions(shipped.lastArrivalSeconds() + 86_400, 24 * 14, 24, 42);
    comparison =
        PolicyComparison.run(demo, shipped, SimConfig.defaults(Variant.FIFO), new CoreSchedulerFactory(), null);
  }

  @Test
  void allFivePoliciesRunAndNoJobIsLost() {
    assertThat(comparison).extracting(SimResult::variant).containsExactly(Variant.values());
    assertThat(demo.disruptions()).anyMatch(SimCluster.Disruption::spot).anyMatch(d -> !d.spot());
    for (SimResult r : comparison) {
      assertThat(r.jobsLost()).as(r.variant().label() + " anomalies " + r.anomalies()).isZero();
      assertThat(r.jobs()).hasSize(shipped.jobs().size());
      // every job is final, or still accounted for as pending/running when the simulation ended
      int accounted = 0;
      for (SimResult.JobOutcome j : r.jobs()) {
        assertThat(j.state()).as(j.job().id()).isNotNull();
        accounted++;
      }
      assertThat(accounted).isEqualTo(shipped.jobs().size());
      assertThat(r.jobsByState().getOrDefault("COMPLETED", 0)).isGreaterThan(shipped.jobs().size() / 2);
      assertThat(r.meanUtilizationPercent()).isBetween(1.0, 100.0);
    }
  }

  @Test
  void sameSeedSameResult() {
    SimConfig cfg = SimConfig.defaults(Variant.FAIR_SHARE_PREEMPT_BACKFILL);
    SimResult a = Simulator.run(demo, shipped, cfg);
    SimResult b = Simulator.run(demo, shipped, cfg);
    assertThat(b.jobs()).isEqualTo(a.jobs());
    assertThat(b.stops()).isEqualTo(a.stops());
    assertThat(b.events()).isEqualTo(a.events());
    assertThat(b.lostGpuSeconds()).isEqualTo(a.lostGpuSeconds());
    assertThat(b.costByQueue()).isEqualTo(a.costByQueue());
    assertThat(b.eventsProcessed()).isEqualTo(a.eventsProcessed());
    // and the comparison's run of the same variant agrees
    assertThat(comparison.get(Variant.FAIR_SHARE_PREEMPT_BACKFILL.ordinal()).jobs()).isEqualTo(a.jobs());
  }

  @Test
  void fairShareGetsCloserToEntitlementThanFifo() {
    SimCluster c = SimFixtures.h100(2, QueueSpec.of("a"), QueueSpec.of("b"));
    Workload w = SimFixtures.twoQueues();
    SimResult fifo = Simulator.run(c, w, SimConfig.defaults(Variant.FIFO));
    SimResult fair = Simulator.run(c, w, SimConfig.defaults(Variant.FAIR_SHARE));
    assertThat(fifo.jobsLost()).isZero();
    assertThat(fair.jobsLost()).isZero();
    double fifoB = fifo.shareOverEntitlement()[1];
    double fairB = fair.shareOverEntitlement()[1];
    assertThat(fairB).as("b's share / entitlement, fair share vs FIFO").isGreaterThan(fifoB + 0.2);
    assertThat(Math.abs(1 - fairB)).isLessThan(Math.abs(1 - fifoB));
    assertThat(fair.meanJain()).isGreaterThan(fifo.meanJain());
  }

  @Test
  void sixteenGpuGangWaitIsBoundedWithBackfill() {
    // 16 one-GPU members, all-or-nothing, anywhere
    assertGangBounded(SimFixtures.gangInStream(3, "gpu:1", 16));
  }

  /**
   * The same with the gang as two members of 8 GPUs on one node each (the generator's 16-GPU
   * gangs). Node-shaped members get a node-by-node reservation in the core, so the stream of
   * 1-GPU jobs cannot keep taking the GPUs the gang waits for.
   */
  @Test
  void sixteenGpuNodeShapedGangWaitIsBoundedWithBackfill() {
    assertGangBounded(SimFixtures.gangInStream(3, "gpu:8:node", 2));
  }

  private static void assertGangBounded(Workload w) {
    SimCluster c = SimFixtures.h100(4, QueueSpec.of("default"));
    SimResult r = Simulator.run(c, w, SimConfig.defaults(Variant.FAIR_SHARE_PREEMPT_BACKFILL));
    assertThat(r.jobsLost()).isZero();
    SimResult.JobOutcome gang =
        r.jobs().stream().filter(j -> j.job().id().equals("gang")).findFirst().orElseThrow();
    assertThat(gang.firstStartSeconds()).as("the gang started").isNotNegative();
    // the stream keeps 32 GPUs busy for 14 h; the gang must not wait for it to end
    assertThat(r.longestWaitOfGangs(16)).isLessThan(3 * 3_600);
  }

  @Test
  void writesCsvAndPng(@TempDir Path dir) throws IOException {
    List<Path> files = SimReport.write(comparison, dir);
    assertThat(files).extracting(p -> p.getFileName().toString())
        .contains("summary.csv", "queues.csv", "utilization.csv", "jain.csv", "jobs-fifo.csv",
            "utilization.png", "wait-p95.png", "share.png", "jain.png");
    for (Path p : files) {
      assertThat(Files.size(p)).as(p.toString()).isPositive();
      if (p.toString().endsWith(".png")) {
        byte[] head = new byte[4];
        System.arraycopy(Files.readAllBytes(p), 0, head, 0, 4);
        assertThat(head).containsExactly(0x89, 'P', 'N', 'G');
      }
    }
    List<String> summary = Files.readAllLines(dir.resolve("summary.csv"), StandardCharsets.UTF_8);
    assertThat(summary).hasSize(1 + Variant.values().length);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    SimReport.printSummary(comparison, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String table = bytes.toString(StandardCharsets.UTF_8);
    for (Variant v : Variant.values()) {
      assertThat(table).contains(v.label());
    }
    assertThat(table).contains("research", "product", "notebooks", "Jain");
  }

  @Test
  void drivesTheLockedBaselineToo() {
    SchedulerFactory baseline =
        s -> new LockedFifoScheduler(s.cluster().nodes(), s.cluster().queues(), s.launcher(), s.clock());
    SimCluster c = SimFixtures.h100(2, QueueSpec.of("a"), QueueSpec.of("b"));
    SimResult r = new Simulator(c, SimFixtures.twoQueues(), SimConfig.defaults(Variant.FIFO), baseline).run();
    assertThat(r.jobsLost()).isZero();
    assertThat(r.anomalies()).isEmpty();
    assertThat(r.jobsByState()).containsEntry("COMPLETED", 240);
    // 240 one-hour jobs on 16 GPUs: at least 15 hours, and a FIFO keeps the GPUs busy
    assertThat(r.busyGpuSeconds()).isEqualTo(240 * 3_600.0);
  }

  @Test
  void waterFillSplitsByWeightAndCapsByDemand() {
    double[] e = Simulator.waterFill(10, new double[] {2, 20, 20}, new double[] {1, 1, 2});
    assertThat(e[0]).isEqualTo(2.0);
    assertThat(e[1]).isCloseTo(8.0 / 3, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(e[2]).isCloseTo(16.0 / 3, org.assertj.core.data.Offset.offset(1e-9));
    assertThat(Simulator.waterFill(10, new double[] {0, 3}, new double[] {1, 1})).containsExactly(0, 3);
  }
}
