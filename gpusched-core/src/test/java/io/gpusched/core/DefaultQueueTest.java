package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A job that names no queue goes to {@code default}; once queues are configured there is none, so
 * either a configured default queue takes it, or the submit fails saying what to set.
 */
class DefaultQueueTest {
  private static GpuSchedulers.Builder builder() {
    return GpuSchedulers.newBuilder()
        .nodes(List.of(NodeSpec.builder("n").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
        .queue(QueueSpec.of("research"))
        .queue(QueueSpec.of("prod"))
        .manualTicks();
  }

  @Test
  void withoutADefaultQueueAPlainSubmitFailsSayingWhatToSet() {
    try (GpuScheduler s = builder().build()) {
      assertThatThrownBy(() -> s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j").build()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("unknown queue default of job j")
          .hasMessageContaining("[research, prod]")
          .hasMessageContaining("GpuSchedulers.Builder.defaultQueue")
          .hasMessageContaining("gpusched.default-queue");
      assertThat(s.jobs()).isEmpty();
      // a job naming a wrong queue is not told about the default
      assertThatThrownBy(() -> s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).queue("nope").build()))
          .hasMessageContaining("unknown queue nope")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain("defaultQueue"));
    }
  }

  @Test
  void aDefaultQueueTakesJobsThatNameNone() {
    try (GpuScheduler s = builder().defaultQueue("prod").build()) {
      JobHandle j = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j").build());
      assertThat(j.spec().queue()).isEqualTo("prod");
      assertThat(j.state()).isEqualTo(JobState.RUNNING);
      JobHandle r = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).queue("research").build());
      assertThat(r.spec().queue()).isEqualTo("research");
    }
    // with a queue really named "default", that one is used
    try (GpuScheduler s = builder().queue(QueueSpec.of("default")).defaultQueue("prod").build()) {
      assertThat(s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).build()).spec().queue()).isEqualTo("default");
    }
  }

  @Test
  void aDefaultQueueThatIsNoQueueIsRejectedAtBuild() {
    assertThatThrownBy(() -> builder().defaultQueue("prdo").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("defaultQueue prdo is not a queue; queues: [research, prod]");
  }
}
