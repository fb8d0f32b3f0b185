package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuScheduler;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.context.properties.bind.BindException;
import org.springframework.boot.context.properties.bind.UnboundConfigurationPropertiesException;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * What a new user's configuration mistakes get: unknown keys rejected, out-of-range values rejected
 * even where they are not used yet, guarantees the cluster cannot meet warned about, and log lines
 * at the level they deserve.
 */
@ExtendWith(OutputCaptureExtension.class)
class GpuSchedConfigChecksTest {
  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(GpuSchedAutoConfiguration.class, GpuSchedNotifyAutoConfiguration.class))
          .withPropertyValues(
              "gpusched.nodes[0].id=a", "gpusched.nodes[0].model=H100-80GB", "gpusched.nodes[0].gpus=2");

  @Test
  void unknownKeysUnderGpuschedAreRejectedNamingThem() {
    runner
        .withPropertyValues("gpusched.queus[0].name=research")
        .run(ctx -> {
          assertThat(ctx).hasFailed();
          Throwable cause = ctx.getStartupFailure();
          while (cause != null && !(cause instanceof UnboundConfigurationPropertiesException)) {
            cause = cause.getCause();
          }
          assertThat(cause).isNotNull();
          assertThat(((UnboundConfigurationPropertiesException) cause).getUnboundProperties())
              .extracting(p -> p.getName().toString())
              .containsExactly("gpusched.queus[0].name");
        });
    runner
        .withPropertyValues("gpusched.nodes[0].gpu=4")
        .run(ctx -> assertThat(ctx).getFailure().rootCause().hasMessageContaining("gpusched.nodes[0].gpu"));
    // every real key, gpusched.notify.* (bound by its own class) included, is accepted
    runner
        .withPropertyValues(
            "gpusched.notify.queues.default=https://example.com/hook",
            "gpusched.notify.mail.from=a@example.com",
            "gpusched.queues[0].name=default",
            "gpusched.queues[0].model-quotas.H100-80GB.guaranteed-gpus=1",
            "gpusched.nodes[0].labels.zone=eu",
            "gpusched.idle.window=10m",
            "gpusched.store.type=none",
            "gpusched.endpoint.write-enabled=true",
            "gpusched.events.enabled=true")
        .run(ctx -> assertThat(ctx).hasNotFailed().hasSingleBean(GpuScheduler.class));
  }

  @Test
  void aConfiguredDefaultQueueTakesJobsThatNameNoneAndAWrongOneFailsTheStart() {
    runner
        .withPropertyValues(
            "gpusched.queues[0].name=research", "gpusched.queues[1].name=prod", "gpusched.default-queue=prod")
        .run(ctx -> {
          GpuScheduler s = ctx.getBean(GpuScheduler.class);
          var j = s.submit(io.gpusched.JobSpec.builder(io.gpusched.PlacementRequest.wholeGpus(1)).build());
          assertThat(j.spec().queue()).isEqualTo("prod");
        });
    runner
        .withPropertyValues("gpusched.queues[0].name=research")
        .run(ctx -> {
          GpuScheduler s = ctx.getBean(GpuScheduler.class);
          org.assertj.core.api.Assertions.assertThatThrownBy(
                  () -> s.submit(io.gpusched.JobSpec.builder(io.gpusched.PlacementRequest.wholeGpus(1)).build()))
              .hasMessageContaining("gpusched.default-queue");
        });
    runner
        .withPropertyValues("gpusched.queues[0].name=research", "gpusched.default-queue=reserch")
        .run(ctx -> assertThat(ctx).getFailure().rootCause()
            .isInstanceOf(InvalidConfigurationPropertyValueException.class)
            .hasMessageContaining("gpusched.default-queue")
            .hasMessageContaining("reserch")
            .hasMessageContaining("[research]"));
  }

  @Test
  void theMigStrandingHoldIsAppliedAndChecked() {
    runner
        .withPropertyValues(
            "gpusched.nodes[0].id=m",
            "gpusched.nodes[0].model=H100-80GB",
            "gpusched.nodes[0].gpus=1",
            "gpusched.nodes[0].mode=mig-dynamic",
            "gpusched.mig-stranding-hold=1h")
        .run(ctx -> {
          GpuScheduler s = ctx.getBean(GpuScheduler.class);
          var heavy = io.gpusched.PlacementRequest.mig("1g.20gb");
          var a = s.submit(io.gpusched.JobSpec.builder(heavy).build());
          var b = s.submit(io.gpusched.JobSpec.builder(heavy).build());
          assertThat(a.state()).isEqualTo(io.gpusched.JobState.RUNNING);
          assertThat(b.state()).as("held: only a stranding place is free").isEqualTo(io.gpusched.JobState.PENDING);
        });
    runner
        .withPropertyValues("gpusched.mig-stranding-hold=-1s")
        .run(ctx -> assertThat(ctx).getFailure().rootCause()
            .isInstanceOf(InvalidConfigurationPropertyValueException.class)
            .hasMessageContaining("gpusched.mig-stranding-hold"));
  }

  @Test
  void environmentVariablesThatStartWithGpuschedAreNotChecked() {
    // CI sets GPUSCHED_REQUIRE_POSTGRES; such a variable must not stop an application
    runner
        .withSystemProperties("gpusched.not-a-property=true")
        .run(ctx -> assertThat(ctx).hasNotFailed());
  }

  @Test
  void anIdleUtilizationAbove100IsRejectedEvenWithIdleDetectionOff() {
    runner
        .withPropertyValues("gpusched.idle.max-utilization-percent=150")
        .run(ctx -> {
          assertThat(ctx).hasFailed();
          assertThat(ctx.getStartupFailure())
              .rootCause()
              .isInstanceOf(InvalidConfigurationPropertyValueException.class)
              .hasMessageContaining("gpusched.idle.max-utilization-percent")
              .hasMessageContaining("150")
              .hasMessageContaining("0..100");
        });
    runner
        .withPropertyValues("gpusched.idle.reclaim-grace=-1s")
        .run(ctx -> assertThat(ctx).getFailure().rootCause().hasMessageContaining("gpusched.idle.reclaim-grace"));
  }

  @Test
  void aGuaranteeBeyondTheClusterIsWarnedAbout(CapturedOutput out) {
    runner
        .withPropertyValues(
            "gpusched.queues[0].name=research", "gpusched.queues[0].guaranteed-gpus=50",
            "gpusched.queues[1].name=prod", "gpusched.queues[1].guaranteed-gpus=1")
        .run(ctx -> assertThat(ctx).hasNotFailed());
    assertThat(out.getOut())
        .contains("WARN")
        .contains("queue research is guaranteed 50 GPU(s) but the cluster has 2")
        .contains("guarantees add up to 51 GPU(s), more than the cluster's 2")
        .doesNotContain("queue prod is guaranteed");
  }

  @Test
  void aClusterThatFitsItsGuaranteesGetsNoWarning(CapturedOutput out) {
    runner
        .withPropertyValues("gpusched.queues[0].name=research", "gpusched.queues[0].guaranteed-gpus=2")
        .run(ctx -> assertThat(ctx).hasNotFailed());
    assertThat(out.getOut()).doesNotContain("is guaranteed").doesNotContain("has no GPUs");
  }

  @Test
  void noGpusAtAllIsAWarningAndMissingNvmlWithStaticNodesIsNot(CapturedOutput out) {
    new ApplicationContextRunner()
        .withConfiguration(AutoConfigurations.of(GpuSchedAutoConfiguration.class))
        .run(ctx -> assertThat(ctx).hasNotFailed());
    assertThat(out.getOut()).containsPattern("WARN .*the scheduler has no GPUs");

    String jnaError =
        "Unable to load library 'nvidia-ml':\n"
            + "libnvidia-ml.so: cannot open shared object file: No such file or directory\n"
            + "libnvidia-ml.so: cannot open shared object file: No such file or directory\n"
            + "Native library (linux-x86-64/libnvidia-ml.so) not found in resource path";
    var absent = new io.gpusched.nvml.NvmlAvailability(false, "nvidia-ml", jnaError);
    new GpuSchedNvml(absent, () -> { throw new AssertionError(); }, () -> 0, 3, Clock.systemUTC());
    new GpuSchedNvml(absent, () -> { throw new AssertionError(); }, () -> 0, 0, Clock.systemUTC());
    List<String> lines = out.getOut().lines().filter(l -> l.contains("NVML is not available")).toList();
    assertThat(lines).hasSize(2);
    // the cause is a whole sentence, not "Unable to load library 'nvidia-ml':"
    assertThat(lines.get(0))
        .contains(" INFO ")
        .contains("(Unable to load library 'nvidia-ml': libnvidia-ml.so: cannot open shared object file: No such file or directory)")
        .contains("scheduling on the 3 static node(s)");
    assertThat(lines.get(1)).contains(" WARN ").contains("declares no node, so the scheduler has no GPUs");
  }
}
