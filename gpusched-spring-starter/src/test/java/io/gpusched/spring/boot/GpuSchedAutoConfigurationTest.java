package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuScheduler;
import io.gpusched.GpuTelemetry;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulingPolicy;
import io.gpusched.core.GpuSchedulers;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.actuate.autoconfigure.endpoint.EndpointAutoConfiguration;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.health.autoconfigure.contributor.HealthContributorAutoConfiguration;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.EventListener;

class GpuSchedAutoConfigurationTest {

  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(
                  GpuSchedAutoConfiguration.class,
                  GpuSchedMetricsAutoConfiguration.class,
                  GpuSchedEndpointAutoConfiguration.class,
                  GpuSchedHealthAutoConfiguration.class))
          .withPropertyValues(
              "gpusched.nodes[0].id=a",
              "gpusched.nodes[0].model=h100_80gb",
              "gpusched.nodes[0].gpus=2",
              "gpusched.nodes[1].id=m",
              "gpusched.nodes[1].model=A100-80GB",
              "gpusched.nodes[1].mode=mig-dynamic",
              "gpusched.nodes[1].labels.zone=eu",
              "gpusched.nodes[1].price-per-gpu-hour=1.5",
              "gpusched.nodes[1].capacity-class=spot");

  @Test
  void defaultsGiveASchedulerOnTheStaticNodes() {
    runner.run(
        ctx -> {
          assertThat(ctx).hasNotFailed().hasSingleBean(GpuScheduler.class);
          assertThat(ctx).hasSingleBean(JobLauncher.class).hasSingleBean(GpuSchedLifecycle.class);
          GpuScheduler s = ctx.getBean(GpuScheduler.class);
          var nodes = s.snapshot().cluster().nodes();
          assertThat(nodes).extracting(n -> n.nodeId()).containsExactly("a", "m");
          assertThat(nodes.get(1).gpus().get(0).mode()).isEqualTo(GpuMode.MIG_DYNAMIC);
          assertThat(nodes.get(1).labels()).containsEntry("zone", "eu");
          assertThat(nodes.get(1).capacityClass().name()).isEqualTo("SPOT");
          assertThat(s.queues()).extracting(q -> q.name()).containsExactly("default");
          JobHandle j = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(2)).build());
          assertThat(j.state()).isEqualTo(JobState.RUNNING);
          assertThat(j.complete()).isTrue();
        });
  }

  @Test
  void queuesAndSchedulingPropertiesAreApplied() {
    runner
        .withPropertyValues(
            "gpusched.queues[0].name=research",
            "gpusched.queues[0].weight=3",
            "gpusched.queues[0].guaranteed-gpus=1",
            "gpusched.queues[0].borrow-limit-gpus=2",
            "gpusched.queues[1].name=adhoc",
            "gpusched.queues[1].lend-limit-gpus=0",
            "gpusched.policy=priority",
            "gpusched.strategy=best-fit",
            "gpusched.backfill=false",
            "gpusched.preemption.enabled=false",
            "gpusched.preemption.min-run-time=5m",
            "gpusched.fair-share-half-life=10m",
            "gpusched.tick-interval=250ms",
            "gpusched.retain-finished-jobs=5",
            "gpusched.prefer-cheapest=true")
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed();
              GpuSchedProperties p = ctx.getBean(GpuSchedProperties.class);
              assertThat(p.getPolicy()).isEqualTo(SchedulingPolicy.PRIORITY);
              assertThat(p.getTickInterval()).isEqualTo(Duration.ofMillis(250));
              assertThat(p.getPreemption().getMinRunTime()).isEqualTo(Duration.ofMinutes(5));
              var queues = ctx.getBean(GpuScheduler.class).queues();
              assertThat(queues).extracting(q -> q.name()).containsExactly("research", "adhoc");
              assertThat(queues.get(0).weight()).isEqualTo(3);
              assertThat(queues.get(0).guaranteedGpus()).isEqualTo(1);
              assertThat(queues.get(0).borrowLimitGpus()).isEqualTo(2);
              assertThat(queues.get(0).lendLimitGpus()).isInfinite();
              assertThat(queues.get(1).lendLimitGpus()).isZero();
            });
  }

  @Test
  void staticMigLayout() {
    runner
        .withPropertyValues(
            "gpusched.nodes[2].id=s",
            "gpusched.nodes[2].model=H100-80GB",
            "gpusched.nodes[2].mode=MIG_STATIC",
            "gpusched.nodes[2].mig-instances=3g.40gb@0,3g.40gb@4")
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed();
              GpuScheduler s = ctx.getBean(GpuScheduler.class);
              JobHandle j = s.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).build());
              assertThat(j.state()).isEqualTo(JobState.RUNNING);
            });
  }

  @Test
  void perModelQuotas() {
    runner
        .withPropertyValues(
            "gpusched.queues[0].name=research",
            "gpusched.queues[0].model-quotas[H100-80GB].guaranteed-gpus=2",
            "gpusched.queues[0].model-quotas[H100-80GB].borrow-limit-gpus=1",
            "gpusched.queues[0].model-quotas[H100-80GB].lend-limit-gpus=0.5",
            "gpusched.queues[0].model-quotas.a100-80gb.guaranteed-gpus=1")
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed();
              var q = ctx.getBean(GpuScheduler.class).queues().get(0);
              assertThat(q.modelQuotas()).containsOnlyKeys("H100-80GB", "A100-80GB");
              assertThat(q.modelQuotas().get("H100-80GB").guaranteedGpus()).isEqualTo(2);
              assertThat(q.modelQuotas().get("H100-80GB").borrowLimitGpus()).isEqualTo(1);
              assertThat(q.modelQuotas().get("H100-80GB").lendLimitGpus()).isEqualTo(0.5);
              assertThat(q.modelQuotas().get("A100-80GB").borrowLimitGpus()).isInfinite();
              assertThat(q.modelQuotas().get("A100-80GB").lendLimitGpus()).isInfinite();
            });
    failsWith(
        "gpusched.queues[0].model-quotas[H999]", "H999", "unknown GPU model",
        "gpusched.queues[0].name=q", "gpusched.queues[0].model-quotas[H999].guaranteed-gpus=1");
    failsWith(
        "gpusched.queues[0].model-quotas[H100-80GB].lend-limit-gpus", "-1.0", ">= 0",
        "gpusched.queues[0].name=q", "gpusched.queues[0].model-quotas[H100-80GB].lend-limit-gpus=-1");
  }

  @Test
  void invalidModelFailsNamingPropertyAndValue() {
    failsWith(
        "gpusched.nodes[0].model", "H999", "unknown GPU model", "gpusched.nodes[0].model=H999");
  }

  @Test
  void invalidValuesFailNamingPropertyAndValue() {
    failsWith("gpusched.nodes[0].gpus", "0", "1..64", "gpusched.nodes[0].gpus=0");
    failsWith("gpusched.strategy", "TIGHTEST", "unknown placement strategy", "gpusched.strategy=TIGHTEST");
    failsWith("gpusched.queues[0].weight", "-1.0", "positive", "gpusched.queues[0].name=q", "gpusched.queues[0].weight=-1");
    failsWith("gpusched.queues[0].name", "null", "must be set", "gpusched.queues[0].weight=2");
    failsWith("gpusched.queues[1].name", "q", "duplicate", "gpusched.queues[0].name=q", "gpusched.queues[1].name=q");
    failsWith("gpusched.nodes[1].id", "a", "duplicate", "gpusched.nodes[1].id=a");
    failsWith("gpusched.tick-interval", "PT0S", "positive", "gpusched.tick-interval=0s");
    failsWith("gpusched.nodes[0].mig-instances", "3g.40gb@0", "MIG_STATIC", "gpusched.nodes[0].mig-instances=3g.40gb@0");
    failsWith(
        "gpusched.nodes[0].mig-instances", "3g.40gb@1", "cannot start at slot 1",
        "gpusched.nodes[0].mode=MIG_STATIC", "gpusched.nodes[0].mig-instances=3g.40gb@1");
    failsWith("gpusched.nodes[0].price-per-gpu-hour", "-2.0", ">= 0",
        "gpusched.nodes[0].price-per-gpu-hour=-2");
    failsWith(
        "gpusched.idle.window", "PT0S", "positive",
        "gpusched.idle.enabled=true", "gpusched.idle.window=0s");
  }

  private void failsWith(String property, String value, String reason, String... props) {
    ApplicationContextRunner r = runner.withPropertyValues(props);
    if (property.startsWith("gpusched.idle")) {
      r = r.withBean(GpuTelemetry.class, () -> (uuid, slot) -> java.util.Optional.empty());
    }
    r.run(
        ctx -> {
          assertThat(ctx).hasFailed();
          Throwable t = ctx.getStartupFailure();
          while (t != null && !(t instanceof InvalidConfigurationPropertyValueException)) {
            t = t.getCause();
          }
          assertThat(t).as("cause naming the property").isNotNull();
          var e = (InvalidConfigurationPropertyValueException) t;
          assertThat(e.getName()).isEqualTo(property);
          assertThat(String.valueOf(e.getValue())).isEqualTo(value);
          assertThat(e.getMessage()).contains(property).contains(value).contains(reason);
        });
  }

  @Test
  void badEnumFailsAtBindingNamingPropertyAndValue() {
    runner
        .withPropertyValues("gpusched.policy=ROUND_ROBIN")
        .run(
            ctx -> {
              assertThat(ctx).hasFailed();
              Throwable t = ctx.getStartupFailure();
              while (t != null && !(t instanceof BindException)) {
                t = t.getCause();
              }
              assertThat(t).isNotNull();
              var e = (BindException) t;
              assertThat(e.getProperty().getName().toString()).isEqualTo("gpusched.policy");
              assertThat(e.getProperty().getValue()).isEqualTo("ROUND_ROBIN");
            });
  }

  @Test
  void disabledCreatesNothing() {
    runner
        .withPropertyValues("gpusched.enabled=false")
        .withBean(SimpleMeterRegistry.class)
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed();
              assertThat(ctx).doesNotHaveBean(GpuScheduler.class);
              assertThat(ctx).doesNotHaveBean(JobLauncher.class);
              assertThat(ctx).doesNotHaveBean(GpuSchedProperties.class);
              assertThat(ctx).doesNotHaveBean(GpuSchedMetrics.class);
              assertThat(ctx).doesNotHaveBean(GpuSchedEndpoint.class);
              assertThat(ctx).doesNotHaveBean(GpuSchedHealthIndicator.class);
            });
  }

  @Test
  void backsOffFromUserBeans() {
    JobLauncher mine = job -> {};
    runner
        .withUserConfiguration(UserBeans.class)
        .withBean("myLauncher", JobLauncher.class, () -> mine)
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed();
              assertThat(ctx).getBean(GpuScheduler.class).isSameAs(UserBeans.SCHEDULER);
              assertThat(ctx).getBean(JobLauncher.class).isSameAs(mine);
              assertThat(ctx).getBean(GpuSchedLifecycle.class).isSameAs(UserBeans.LIFECYCLE);
            });
  }

  @Test
  void userLauncherAndCustomizerAreUsed() {
    List<String> started = new CopyOnWriteArrayList<>();
    runner
        .withBean(JobLauncher.class, () -> job -> started.add(job.id()))
        .withBean(GpuSchedulerBuilderCustomizer.class, () -> b -> b.retainFinishedJobs(0))
        .run(
            ctx -> {
              GpuScheduler s = ctx.getBean(GpuScheduler.class);
              JobHandle j = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j1").build());
              assertThat(started).containsExactly("j1");
              j.complete();
              assertThat(s.job("j1")).isEmpty(); // the customizer's retainFinishedJobs(0)
            });
  }

  @Test
  void schedulerEventsArriveAsSpringEvents() {
    runner
        .withUserConfiguration(Listener.class)
        .run(
            ctx -> {
              GpuScheduler s = ctx.getBean(GpuScheduler.class);
              JobHandle j = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("e1").build());
              j.complete();
              Listener l = ctx.getBean(Listener.class);
              l.completed.get(5, TimeUnit.SECONDS);
              assertThat(l.started).containsExactly("e1");
            });
  }

  @Test
  void closingTheContextStopsTheSchedulerGracefully() {
    GpuScheduler[] s = new GpuScheduler[1];
    JobHandle[] running = new JobHandle[1];
    runner.run(
        ctx -> {
          s[0] = ctx.getBean(GpuScheduler.class);
          running[0] = s[0].submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).build());
        });
    // the context is closed now: no more submissions, the running job kept its GPU
    assertThat(running[0].state()).isEqualTo(JobState.RUNNING);
    assertThat(running[0].allocations()).isNotEmpty();
    org.assertj.core.api.Assertions.assertThatIllegalStateException()
        .isThrownBy(() -> s[0].submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).build()));
  }

  @Test
  void eventsCanBeTurnedOff() {
    runner
        .withPropertyValues("gpusched.events.enabled=false")
        .run(ctx -> assertThat(ctx).doesNotHaveBean("gpuschedSpringEventBridge"));
  }

  @Test
  void metricsWhenARegistryIsPresent() {
    runner
        .withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class))
        .withPropertyValues("gpusched.queues[0].name=research")
        .withBean(SimpleMeterRegistry.class)
        .run(
            ctx -> {
              assertThat(ctx).hasSingleBean(GpuSchedMetrics.class);
              MeterRegistry r = ctx.getBean(MeterRegistry.class);
              GpuScheduler s = ctx.getBean(GpuScheduler.class);
              JobHandle j =
                  s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).queue("research").build());
              assertThat(r.get("gpusched.gpus").tags("state", "free", "model", "H100-80GB").gauge())
                  .isNotNull();
              assertThat(r.get("gpusched.queue.pending").tag("queue", "research").gauge()).isNotNull();
              assertThat(r.get("gpusched.queue.waiting").tags("queue", "research", "reason", "CAPACITY").gauge().value())
                  .isZero();
              assertThat(r.find("gpusched.queue.waiting").tag("queue", "research").gauges())
                  .hasSize(io.gpusched.PendingReason.values().length);
              assertThat(r.get("gpusched.queue.share").tag("queue", "research").gauge()).isNotNull();
              assertThat(r.get("gpusched.cost").tag("queue", "research").functionCounter()).isNotNull();
              assertThat(r.get("gpusched.jobs").tag("state", "RUNNING").gauge()).isNotNull();
              j.complete();
              org.awaitility.Awaitility.await()
                  .atMost(Duration.ofSeconds(5))
                  .until(() -> r.get("gpusched.jobs.finished").tags("queue", "research", "state", "COMPLETED").counter().count() == 1);
              assertThat(r.get("gpusched.jobs.started").tag("queue", "research").counter().count()).isEqualTo(1);
              assertThat(r.get("gpusched.queue.wait").tag("queue", "research").timer().count()).isEqualTo(1);
              assertThat(r.get("gpusched.gpus").tags("state", "idle", "model", "H100-80GB").gauge().value())
                  .isZero();
              var placed = r.get("gpusched.placement.latency").tags("kind", "whole", "outcome", "placed").timer();
              assertThat(placed.count()).as("one engine call placed the job").isEqualTo(1);
              assertThat(placed.totalTime(java.util.concurrent.TimeUnit.NANOSECONDS)).isPositive();
              assertThat(r.get("gpusched.placement.latency").tags("kind", "mig", "outcome", "no_capacity").timer().count())
                  .isZero();
            });
  }

  @Test
  void noMetricsWithoutARegistryOrMicrometer() {
    runner.run(ctx -> assertThat(ctx).doesNotHaveBean(GpuSchedMetrics.class));
    runner
        .withBean(SimpleMeterRegistry.class)
        .withClassLoader(new FilteredClassLoader("io.micrometer.core"))
        .run(ctx -> assertThat(ctx).hasNotFailed().doesNotHaveBean(GpuSchedMetrics.class));
  }

  @Test
  void endpointIsReadOnlyByDefaultAndWritableOnRequest() {
    ApplicationContextRunner r =
        runner
            .withConfiguration(AutoConfigurations.of(EndpointAutoConfiguration.class))
            .withPropertyValues("management.endpoints.web.exposure.include=gpusched");
    r.run(
        ctx -> {
          assertThat(ctx).hasSingleBean(GpuSchedEndpoint.class);
          assertThat(ctx).doesNotHaveBean(GpuSchedWritableEndpoint.class);
          Map<String, Object> snap = ctx.getBean(GpuSchedEndpoint.class).snapshot();
          assertThat(snap).containsKeys("queues", "nodes", "jobs", "capacityGpus");
          assertThat(ctx.getBean(GpuSchedEndpoint.class).node("a")).containsEntry("state", "READY");
          assertThat(ctx.getBean(GpuSchedEndpoint.class).node("zz")).isNull();
        });
    r.withPropertyValues("gpusched.endpoint.write-enabled=true")
        .run(
            ctx -> {
              GpuSchedWritableEndpoint e = ctx.getBean(GpuSchedWritableEndpoint.class);
              assertThat(e.change("a", "cordon", null)).containsEntry("state", "CORDONED");
              assertThat(e.change("a", "uncordon", null)).containsEntry("state", "READY");
              // nothing runs on it, so its drain is done at once
              assertThat(e.change("a", "drain", "PT1S")).containsEntry("state", "DRAINED");
            });
    r.withPropertyValues("management.endpoint.gpusched.access=NONE")
        .run(ctx -> assertThat(ctx).doesNotHaveBean(GpuSchedEndpoint.class));
  }

  @Test
  void endpointReportsCostPerQueueAndPerUtcDayAndTheSpotRules() {
    // a clock the test moves: one hour of running, two UTC days
    java.util.concurrent.atomic.AtomicLong now =
        new java.util.concurrent.atomic.AtomicLong(java.time.Instant.parse("2026-12-06T23:30:00Z").toEpochMilli());
    java.time.InstantSource clock = () -> java.time.Instant.ofEpochMilli(now.get());
    runner
        .withConfiguration(AutoConfigurations.of(EndpointAutoConfiguration.class))
        .withBean(GpuSchedulerBuilderCustomizer.class, () -> b -> b.clock(clock))
        .withPropertyValues(
            "management.endpoints.web.exposure.include=gpusched",
            "gpusched.prefer-cheapest=true",
            "gpusched.strategy=best-fit+cheapest",
            "gpusched.nodes[0].price-per-gpu-hour=4",
            "gpusched.nodes[2].id=cheap",
            "gpusched.nodes[2].model=H100-80GB",
            "gpusched.nodes[2].gpus=1",
            "gpusched.nodes[2].price-per-gpu-hour=2",
            "gpusched.queues[0].name=train",
            "gpusched.queues[1].name=batch",
            "gpusched.queues[1].allow-spot=true")
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed();
              GpuScheduler s = ctx.getBean(GpuScheduler.class);
              assertThat(s.queues().get(1).allowSpot()).isTrue();
              // whole GPUs: the cheaper on-demand node "cheap" before "a"
              var j =
                  s.submit(
                      io.gpusched.JobSpec.builder(io.gpusched.PlacementRequest.wholeGpus(1))
                          .id("t1").queue("train").build());
              assertThat(j.allocations().get(0).nodeId()).isEqualTo("cheap");
              // a MIG slice: only the spot A100 node has MIG; "train" may not use spot
              var t2 =
                  s.submit(
                      io.gpusched.JobSpec.builder(io.gpusched.PlacementRequest.mig("1g.10gb"))
                          .id("t2").queue("train").build());
              assertThat(t2.state()).isEqualTo(io.gpusched.JobState.PENDING);
              var b1 =
                  s.submit(
                      io.gpusched.JobSpec.builder(io.gpusched.PlacementRequest.mig("1g.10gb"))
                          .id("b1").queue("batch").build());
              assertThat(b1.allocations().get(0).nodeId()).isEqualTo("m");
              now.addAndGet(3_600_000); // 00:30 the next day
              Map<String, Object> snap = ctx.getBean(GpuSchedEndpoint.class).snapshot();
              @SuppressWarnings("unchecked") // the view's documented shape
              List<Map<String, Object>> days = (List<Map<String, Object>>) snap.get("costByDay");
              assertThat(days).extracting(d -> d.get("day")).containsExactly("2026-12-06", "2026-12-07");
              // half an hour each day: train 2.0/h on one GPU, batch 1.5/h x 1/7 of an A100
              for (Map<String, Object> d : days) {
                assertThat(d).containsOnlyKeys("day", "total", "byQueue");
                assertThat((Double) d.get("total")).isCloseTo(1.0 + 0.75 / 7, org.assertj.core.data.Offset.offset(1e-9));
                @SuppressWarnings("unchecked") // the view's documented shape
                Map<String, Double> byQueue = (Map<String, Double>) d.get("byQueue");
                assertThat(byQueue.get("train")).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-9));
                assertThat(byQueue.get("batch")).isCloseTo(0.75 / 7, org.assertj.core.data.Offset.offset(1e-9));
              }
              @SuppressWarnings("unchecked") // the view's documented shape
              List<Map<String, Object>> queues = (List<Map<String, Object>>) snap.get("queues");
              assertThat(queues).extracting(q -> q.get("allowSpot")).containsExactly(false, true);
              assertThat(queues.get(0)).containsKey("cost");
            });
  }

  @Test
  void noEndpointOrHealthWithoutActuator() {
    runner
        .withClassLoader(
            new FilteredClassLoader(
                "org.springframework.boot.actuate", "org.springframework.boot.health"))
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed().hasSingleBean(GpuScheduler.class);
              assertThat(ctx).doesNotHaveBean(GpuSchedEndpoint.class);
              assertThat(ctx).doesNotHaveBean(GpuSchedHealthIndicator.class);
            });
  }

  @Test
  void healthUpWithNodesThenDownWhenStopped() {
    runner
        .withConfiguration(AutoConfigurations.of(HealthContributorAutoConfiguration.class))
        .run(
            ctx -> {
              GpuSchedHealthIndicator h = ctx.getBean("gpuschedHealthIndicator", GpuSchedHealthIndicator.class);
              Health up = h.health(true);
              assertThat(up.getStatus()).isEqualTo(Status.UP);
              assertThat(up.getDetails()).containsKeys("nodes", "capacityGpus", "jobs");
              ctx.getBean(GpuSchedLifecycle.class).stop();
              assertThat(h.health(true).getStatus()).isEqualTo(Status.DOWN);
            });
    runner
        .withConfiguration(AutoConfigurations.of(HealthContributorAutoConfiguration.class))
        .withPropertyValues("management.health.gpusched.enabled=false")
        .run(ctx -> assertThat(ctx).doesNotHaveBean(GpuSchedHealthIndicator.class));
  }

  @Test
  void healthDownWhenNvmlFailsAfterWorking() {
    NodeSpec node = NodeSpec.builder("gpu-box").gpus(1, io.gpusched.GpuModels.H100_80GB, GpuMode.WHOLE).build();
    int[] devices = {1};
    GpuSchedNvml nvml =
        new GpuSchedNvml(
            new io.gpusched.nvml.NvmlAvailability(true, "libnvidia-ml.so.1", null),
            () -> node,
            () -> {
              if (devices[0] < 0) {
                throw new IllegalStateException("NVML_ERROR_GPU_IS_LOST");
              }
              return devices[0];
            },
            0,
            java.time.Clock.offset(java.time.Clock.systemUTC(), Duration.ZERO));
    runner
        .withConfiguration(AutoConfigurations.of(HealthContributorAutoConfiguration.class))
        .withPropertyValues("gpusched.nvml.enabled=true", "gpusched.nvml.static-nodes=fallback")
        .withBean(GpuSchedNvml.class, () -> nvml)
        .run(
            ctx -> {
              assertThat(ctx.getBean(GpuScheduler.class).snapshot().cluster().nodes())
                  .extracting(n -> n.nodeId())
                  .containsExactly("gpu-box");
              GpuSchedHealthIndicator h = ctx.getBean(GpuSchedHealthIndicator.class);
              assertThat(h.health(true).getStatus()).isEqualTo(Status.UP);
            });
    GpuSchedNvml failing =
        new GpuSchedNvml(
            new io.gpusched.nvml.NvmlAvailability(true, "libnvidia-ml.so.1", null),
            () -> node,
            () -> {
              throw new IllegalStateException("NVML_ERROR_GPU_IS_LOST");
            },
            0,
            java.time.Clock.systemUTC());
    assertThat(failing.check()).hasValueSatisfying(s -> assertThat(s).contains("GPU_IS_LOST"));
  }

  @Test
  void healthShowsWhatNvmlRefusedForLackOfPrivilege() {
    NodeSpec node = NodeSpec.builder("gpu-box").gpus(1, io.gpusched.GpuModels.H100_80GB, GpuMode.WHOLE).build();
    List<String> refused = new java.util.ArrayList<>();
    GpuSchedNvml nvml =
        new GpuSchedNvml(
            new io.gpusched.nvml.NvmlAvailability(true, "libnvidia-ml.so.1", null),
            () -> node,
            () -> 1,
            () -> refused,
            0,
            java.time.Clock.systemUTC());
    runner
        .withConfiguration(AutoConfigurations.of(HealthContributorAutoConfiguration.class))
        .withPropertyValues("gpusched.nvml.enabled=true", "gpusched.nvml.static-nodes=fallback")
        .withBean(GpuSchedNvml.class, () -> nvml)
        .run(
            ctx -> {
              GpuSchedHealthIndicator h = ctx.getBean(GpuSchedHealthIndicator.class);
              assertThat(h.health(true).getDetails()).doesNotContainKey("nvmlNeedsPrivilege");
              refused.add("GPU 0 (GPU-x): idle detection is off for this GPU");
              var health = h.health(true);
              assertThat(health.getStatus()).isEqualTo(Status.UP);
              assertThat(health.getDetails())
                  .containsEntry("nvmlNeedsPrivilege", List.of(refused.get(0)));
            });
  }

  @Test
  void nvmlAbsentFallsBackToStaticNodes() {
    runner
        .withPropertyValues("gpusched.nvml.enabled=true", "gpusched.nvml.static-nodes=fallback")
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed();
              GpuSchedNvml nvml = ctx.getBean(GpuSchedNvml.class);
              if (nvml.node().isEmpty()) {
                assertThat(nvml.status()).contains("scheduling on the 2 static node(s)").doesNotContain("\n");
                assertThat(ctx.getBean(GpuScheduler.class).snapshot().cluster().nodes()).hasSize(2);
                // no local GPU: the telemetry bean is the one that knows no device
                assertThat(ctx.getBean(GpuTelemetry.class)).isSameAs(GpuTelemetry.NONE);
              } else {
                assertThat(ctx.getBean(GpuTelemetry.class))
                    .isInstanceOf(io.gpusched.nvml.NvmlTelemetry.class);
              }
            });
    runner.run(ctx -> assertThat(ctx).doesNotHaveBean(GpuSchedNvml.class));
  }

  @Test
  void idleDetectionUsesAnApplicationTelemetry() {
    runner
        .withPropertyValues("gpusched.idle.enabled=true", "gpusched.idle.window=1m")
        .withBean(GpuTelemetry.class, () -> (uuid, slot) -> java.util.Optional.empty())
        .run(ctx -> assertThat(ctx).hasNotFailed().hasSingleBean(GpuScheduler.class));
    runner
        .withPropertyValues("gpusched.idle.enabled=true")
        .run(ctx -> assertThat(ctx).hasNotFailed().hasSingleBean(GpuScheduler.class));
  }

  @Configuration(proxyBeanMethods = false)
  static class UserBeans {
    static final GpuScheduler SCHEDULER =
        GpuSchedulers.newBuilder()
            .nodes(List.of(NodeSpec.builder("mine").gpus(1, io.gpusched.GpuModels.A30_24GB, GpuMode.WHOLE).build()))
            .manualTicks()
            .build();
    static final GpuSchedLifecycle LIFECYCLE = new GpuSchedLifecycle(SCHEDULER);

    @Bean
    GpuScheduler myScheduler() {
      return SCHEDULER;
    }

    @Bean
    GpuSchedLifecycle myLifecycle() {
      return LIFECYCLE;
    }
  }

  static class Listener {
    final List<String> started = new CopyOnWriteArrayList<>();
    final java.util.concurrent.CompletableFuture<String> completed = new java.util.concurrent.CompletableFuture<>();

    @EventListener
    void on(SchedulerEvent.JobStarted e) {
      started.add(e.jobId());
    }

    @EventListener
    void on(SchedulerEvent.JobCompleted e) {
      completed.complete(e.jobId());
    }
  }
}
