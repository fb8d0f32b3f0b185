package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuSample;
import io.gpusched.GpuTelemetry;
import io.gpusched.JobHandle;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class LocalGpuDemoTest {

  /** An idle GPU, as NVML reports one: 0 % utilization, fresh timestamps. */
  static final GpuTelemetry IDLE =
      (uuid, slot) ->
          Optional.of(
              GpuSample.builder(uuid, System.currentTimeMillis())
                  .migStartSlot(slot)
                  .utilizationPercent(slot == GpuSample.WHOLE_GPU ? 0 : GpuSample.UNAVAILABLE)
                  .processes(List.of())
                  .memory(0, 81_559)
                  .build());

  @Test
  void runsJobsOnTheLocalNodeAndReclaimsTheIdleNotebook() throws Exception {
    for (GpuMode mode : List.of(GpuMode.WHOLE, GpuMode.MIG_DYNAMIC)) {
      NodeSpec node = NodeSpec.builder("gpu-host").gpus(1, GpuModels.H100_80GB, mode).build();
      var buf = new ByteArrayOutputStream();
      List<JobHandle> jobs =
          LocalGpuDemo.run(node, IDLE, Duration.ofMillis(300), new PrintStream(buf, true, StandardCharsets.UTF_8));
      String out = buf.toString(StandardCharsets.UTF_8);
      assertThat(jobs.get(0).state()).as(out).isEqualTo(JobState.PREEMPTED);
      assertThat(jobs.subList(1, jobs.size())).as(out).allMatch(j -> j.state() == JobState.COMPLETED);
      assertThat(out).contains("notebook IdleReclaimed").contains("train-0 started on");
    }
  }

  @Test
  void withoutNvmlItSaysSoAndDoesNothing() throws Exception {
    var buf = new ByteArrayOutputStream();
    boolean ran = LocalGpuDemo.runIfAvailable(new PrintStream(buf, true, StandardCharsets.UTF_8));
    if (!ran) {
      assertThat(buf.toString(StandardCharsets.UTF_8)).contains("simulated cluster only");
    }
  }
}
