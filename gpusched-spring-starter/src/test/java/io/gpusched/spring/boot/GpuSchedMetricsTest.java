package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.StopReason;
import io.gpusched.core.JobNotifier;
import io.gpusched.nvml.NvmlAvailability;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * The meters as Prometheus sees them (issue 15, items 1 and 8 "Prometheus details"): every {@code
 * gpusched.*} meter has HELP text and, where it measures a quantity, a base unit; the names follow
 * Prometheus naming; the counters exist at zero before the first event; fragmentation is a 0-1
 * ratio; the accrued cost has a unit.
 */
class GpuSchedMetricsTest {

  /** Gauges that are a 0/1 state, which Prometheus gives no unit (like {@code up}). */
  private static final Set<String> BOOLEAN_GAUGES = Set.of("gpusched.nvml.failing");

  private static final NodeSpec GPU_BOX =
      NodeSpec.builder("gpu-box").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build();

  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(
                  MetricsAutoConfiguration.class,
                  GpuSchedAutoConfiguration.class,
                  GpuSchedMetricsAutoConfiguration.class,
                  GpuSchedNotifyAutoConfiguration.class))
          .withBean(PrometheusMeterRegistry.class, () -> new PrometheusMeterRegistry(PrometheusConfig.DEFAULT))
          .withPropertyValues(
              "gpusched.queues[0].name=research",
              "gpusched.queues[1].name=prod",
              "gpusched.nodes[0].id=a",
              "gpusched.nodes[0].model=A100-80GB",
              "gpusched.nodes[0].gpus=2",
              "gpusched.nodes[0].price-per-gpu-hour=2",
              "gpusched.nvml.enabled=true",
              "gpusched.nvml.static-nodes=keep");

  private static GpuSchedNvml nvml(boolean failsNow) {
    return new GpuSchedNvml(
        new NvmlAvailability(true, "libnvidia-ml.so.1", null),
        () -> GPU_BOX,
        () -> {
          if (failsNow) {
            throw new IllegalStateException("NVML_ERROR_GPU_IS_LOST");
          }
          return 1;
        },
        1,
        Clock.systemUTC());
  }

  @Test
  void everyMeterHasHelpAndAUnitAndTheCountersStartAtZero() {
    runner
        .withBean(GpuSchedNvml.class, () -> nvml(false))
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed().hasSingleBean(JobNotifier.class);
              MeterRegistry r = ctx.getBean(MeterRegistry.class);
              List<String> problems = new ArrayList<>();
              Set<String> names = new LinkedHashSet<>();
              for (Meter m : r.getMeters()) {
                Meter.Id id = m.getId();
                if (!id.getName().startsWith("gpusched.")) {
                  continue;
                }
                names.add(id.getName());
                if (id.getDescription() == null || id.getDescription().isBlank()) {
                  problems.add(id + ": no description");
                }
                boolean measures =
                    switch (id.getType()) {
                      case COUNTER -> id.getName().equals("gpusched.cost");
                      case GAUGE -> !BOOLEAN_GAUGES.contains(id.getName());
                      default -> true;
                    };
                if (measures && id.getBaseUnit() == null) {
                  problems.add(id + ": no base unit");
                }
              }
              assertThat(problems).isEmpty();
              assertThat(names)
                  .contains(
                      "gpusched.gpus", "gpusched.nodes", "gpusched.queue.waiting", "gpusched.cost",
                      "gpusched.fragmentation", "gpusched.jobs.submitted", "gpusched.jobs.started",
                      "gpusched.jobs.finished", "gpusched.preemptions", "gpusched.queue.wait",
                      "gpusched.placement.latency", "gpusched.notifier.pending",
                      "gpusched.nvml.failing");

              // counters and the wait timers are there before the first event, at zero
              for (String q : List.of("research", "prod")) {
                assertThat(r.get("gpusched.jobs.submitted").tag("queue", q).counter().count()).isZero();
                assertThat(r.get("gpusched.jobs.started").tag("queue", q).counter().count()).isZero();
                assertThat(r.get("gpusched.queue.wait").tag("queue", q).timer().count()).isZero();
                for (JobState st :
                    List.of(JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.PREEMPTED)) {
                  assertThat(r.get("gpusched.jobs.finished").tags("queue", q, "state", st.name()).counter().count())
                      .isZero();
                }
              }
              for (StopReason reason : StopReason.values()) {
                assertThat(r.get("gpusched.preemptions").tag("reason", reason.name()).counter().count())
                    .as(reason.name())
                    .isZero();
              }
              assertThat(r.get("gpusched.nodes.lost").counter().count()).isZero();
              assertThat(r.get("gpusched.nvml.failing").gauge().value()).isZero();

              String scrape = ctx.getBean(PrometheusMeterRegistry.class).scrape();
              checkPrometheusNames(scrape);
              // the sizing formula of docs/operations.md: 125 + 3 per GPU model + 38 per queue
              long samples = scrape.lines().filter(l -> l.startsWith("gpusched_")).count();
              assertThat(samples).isEqualTo(125 + 3 * 2 + 38 * 2);
              assertThat(scrape)
                  .contains("gpusched_jobs_submitted_total{queue=\"research\"} 0.0")
                  .contains("gpusched_preemptions_total{reason=\"NODE_LOST\"} 0.0")
                  .contains("gpusched_cost_currency_total{queue=\"prod\"}")
                  .contains("gpusched_queue_wait_seconds_bucket{queue=\"prod\",le=\"900.0\"} 0")
                  .contains("gpusched_placement_latency_seconds_bucket{kind=\"whole\",outcome=\"placed\",le=\"1.0E-4\"}")
                  .contains("gpusched_nodes{state=\"READY\"} 2.0")
                  .contains("gpusched_nodes_lost_total 0.0")
                  .contains("gpusched_notifier_pending_notifications 0.0");
            });
  }

  /** Every HELP text is there, counters end in _total, and no unit is doubled or misplaced. */
  private static void checkPrometheusNames(String scrape) {
    Pattern help = Pattern.compile("(?m)^# HELP (gpusched_\\w+) ?(.*)$");
    Pattern type = Pattern.compile("(?m)^# TYPE (gpusched_\\w+) (\\w+)$");
    List<String> problems = new ArrayList<>();
    Matcher h = help.matcher(scrape);
    int helps = 0;
    while (h.find()) {
      helps++;
      if (h.group(2).isBlank()) {
        problems.add(h.group(1) + ": empty HELP");
      }
    }
    Matcher t = type.matcher(scrape);
    while (t.find()) {
      String name = t.group(1);
      String kind = t.group(2);
      if (kind.equals("counter") && !name.endsWith("_total")) {
        problems.add(name + ": a counter without _total");
      }
      if (!kind.equals("counter") && name.endsWith("_total")) {
        problems.add(name + ": _total on a " + kind);
      }
      if (name.matches(".*_(gpus|jobs|nodes|seconds|ratio)_\\1.*")) {
        problems.add(name + ": unit doubled");
      }
      if (kind.equals("histogram") && !name.endsWith("_seconds")) {
        problems.add(name + ": a timer not in seconds");
      }
      if (name.contains("percent")) {
        problems.add(name + ": percent (use a 0-1 ratio)");
      }
    }
    assertThat(helps).as("HELP lines").isPositive();
    assertThat(problems).isEmpty();
    assertThat(scrape).containsPattern("(?m)^gpusched_fragmentation_ratio \\d");
  }

  @Test
  void fragmentationIsARatioCostAccruesAndLostNodesAreCounted() {
    runner
        .withBean(GpuSchedNvml.class, () -> nvml(false))
        .run(
            ctx -> {
              MeterRegistry r = ctx.getBean(MeterRegistry.class);
              GpuScheduler s = ctx.getBean(GpuScheduler.class);
              // nothing changes between the two readings: no job yet
              double percent = s.snapshot().cluster().total().fragmentationPercent();
              double ratio = r.get("gpusched.fragmentation").gauge().value();
              assertThat(ratio).isBetween(0.0, 1.0).isCloseTo(percent / 100, org.assertj.core.data.Offset.offset(1e-9));
              JobHandle j =
                  s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).queue("research").build());
              assertThat(j.state()).isEqualTo(JobState.RUNNING);
              assertThat(r.get("gpusched.jobs.submitted").tag("queue", "research").counter().count())
                  .isEqualTo(1);
              assertThat(r.get("gpusched.cost").tag("queue", "research").functionCounter().count())
                  .isEqualTo(s.snapshot().queues().stream()
                      .filter(q -> q.spec().name().equals("research")).findFirst().orElseThrow().cost(),
                      org.assertj.core.data.Offset.offset(1e-3));
              // a lost node leaves the node list; the counter keeps it
              s.nodeDown("a");
              org.awaitility.Awaitility.await()
                  .atMost(java.time.Duration.ofSeconds(10))
                  .until(() -> r.get("gpusched.nodes.lost").counter().count() == 1);
              assertThat(s.snapshot().cluster().nodes()).extracting(n -> n.nodeId()).containsExactly("gpu-box");
            });
  }

  @Test
  void nvmlFailingIsOneWhileNvmlFailsAfterWorking() {
    runner
        .withBean(GpuSchedNvml.class, () -> nvml(true))
        .run(ctx -> assertThat(ctx.getBean(MeterRegistry.class).get("gpusched.nvml.failing").gauge().value())
            .isEqualTo(1));
  }
}
