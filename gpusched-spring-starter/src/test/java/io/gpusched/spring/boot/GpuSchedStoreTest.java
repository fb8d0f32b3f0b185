package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuScheduler;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.PlacementRequest;
import io.gpusched.store.SchedulerStore;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/**
 * {@code gpusched.store.type}: none by default, an in-memory store, or the application's {@code
 * DataSource} (here an H2 file database), whose jobs a restarted application gets back.
 */
class GpuSchedStoreTest {
  @TempDir Path dir;

  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(GpuSchedAutoConfiguration.class))
          .withPropertyValues(
              "gpusched.nodes[0].id=a", "gpusched.nodes[0].model=h100_80gb", "gpusched.nodes[0].gpus=1");

  private DataSource h2() {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL("jdbc:h2:file:" + dir.resolve("gpusched").toAbsolutePath() + ";MAX_COMPACT_TIME=0;WRITE_DELAY=0");
    return ds;
  }

  @Test
  void noStoreByDefault() {
    runner.run(ctx -> assertThat(ctx).hasNotFailed().doesNotHaveBean(SchedulerStore.class));
  }

  @Test
  void anInMemoryStoreWhenAsked() {
    runner
        .withPropertyValues("gpusched.store.type=memory")
        .run(
            ctx -> {
              assertThat(ctx).hasNotFailed().hasSingleBean(SchedulerStore.class);
              GpuScheduler s = ctx.getBean(GpuScheduler.class);
              s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j").build());
              assertThat(ctx.getBean(SchedulerStore.class).load().jobs())
                  .extracting(j -> j.id())
                  .containsExactly("j");
            });
  }

  @Test
  void jdbcKeepsJobsAcrossARestartOfTheApplication() {
    var jdbc =
        runner
            .withPropertyValues("gpusched.store.type=jdbc")
            .withBean(DataSource.class, this::h2);
    jdbc.run(
        ctx -> {
          assertThat(ctx).hasNotFailed();
          GpuScheduler s = ctx.getBean(GpuScheduler.class);
          assertThat(s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("runs").build()).state())
              .isEqualTo(JobState.RUNNING);
          assertThat(s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("waits").build()).state())
              .isEqualTo(JobState.PENDING);
        });
    assertThat(Files.exists(dir.resolve("gpusched.mv.db"))).isTrue();
    jdbc.run(
        ctx -> {
          assertThat(ctx).hasNotFailed();
          GpuScheduler s = ctx.getBean(GpuScheduler.class);
          assertThat(s.job("runs").orElseThrow().state()).isEqualTo(JobState.RUNNING);
          assertThat(s.job("waits").orElseThrow().state()).isEqualTo(JobState.PENDING);
          assertThat(s.job("runs").orElseThrow().complete()).isTrue();
          assertThat(s.job("waits").orElseThrow().state()).isEqualTo(JobState.RUNNING);
        });
  }

  @Test
  void jdbcWithoutADataSourceFailsNamingWhatIsMissing() {
    runner
        .withPropertyValues("gpusched.store.type=jdbc")
        .run(
            ctx ->
                assertThat(ctx)
                    .hasFailed()
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("gpusched.store.type=jdbc needs exactly one DataSource"));
  }

  @Test
  void theRetentionAndTheNodeRecoveryTimeoutReachTheBuilderWhichChecksThem() {
    runner
        .withPropertyValues("gpusched.store.type=memory", "gpusched.store.node-recovery-timeout=0s")
        .run(
            ctx ->
                assertThat(ctx)
                    .hasFailed()
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("gpusched.store.node-recovery-timeout")
                    .hasMessageContaining("nodeRecoveryTimeout must be positive"));
    runner
        .withPropertyValues("gpusched.store.type=memory", "gpusched.store.finished-job-retention=-1s")
        .run(
            ctx ->
                assertThat(ctx)
                    .hasFailed()
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("gpusched.store.finished-job-retention")
                    .hasMessageContaining("finishedJobRetention must be >= 0"));
    runner
        .withPropertyValues(
            "gpusched.store.type=memory", "gpusched.store.node-recovery-timeout=2m",
            "gpusched.store.finished-job-retention=1h")
        .run(ctx -> assertThat(ctx).hasNotFailed());
  }
}
