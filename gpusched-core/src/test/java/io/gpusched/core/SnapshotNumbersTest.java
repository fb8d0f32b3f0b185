package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeState;
import io.gpusched.NodeUsage;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.QueueStats;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Numbers in the scheduler's snapshot that read as a person expects (issue 15, item 8). */
class SnapshotNumbersTest {
  private static GpuSchedulers.Builder builder() {
    return GpuSchedulers.newBuilder()
        .nodes(List.of(
            NodeSpec("a", 2), NodeSpec("b", 2)))
        .queue(QueueSpec.builder("research").guaranteedGpus(2).build())
        .queue(QueueSpec.of("interns"))
        .manualTicks();
  }

  private static io.gpusched.NodeSpec NodeSpec(String id, int gpus) {
    return io.gpusched.NodeSpec.builder(id).gpus(gpus, GpuModels.H100_80GB, GpuMode.WHOLE).build();
  }

  private static QueueStats queue(GpuScheduler s, String name) {
    return s.snapshot().queues().stream().filter(q -> q.spec().name().equals(name)).findFirst().orElseThrow();
  }

  private static NodeUsage node(GpuScheduler s, String id) {
    return s.snapshot().cluster().nodes().stream().filter(n -> n.nodeId().equals(id)).findFirst().orElseThrow();
  }

  @Test
  void anIdleQueueIsEntitledToItsGuarantee() {
    try (GpuScheduler s = builder().build()) {
      assertThat(queue(s, "research").entitledGpus()).as("guaranteed 2, no work yet").isEqualTo(2.0);
      assertThat(queue(s, "interns").entitledGpus()).as("no guarantee, no work").isZero();
      s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).queue("interns").build());
      assertThat(queue(s, "research").entitledGpus()).isEqualTo(2.0);
      assertThat(queue(s, "interns").entitledGpus()).as("alone with work: all").isEqualTo(4.0);
    }
  }

  @Test
  void aDrainThatIsDoneReadsDrained() {
    try (GpuScheduler s = builder().build()) {
      JobHandle j = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(2, true)).queue("research")
          .gracePeriod(Duration.ofMinutes(5)).build());
      assertThat(j.state()).isEqualTo(JobState.RUNNING);
      String on = j.allocations().get(0).nodeId();
      String other = on.equals("a") ? "b" : "a";
      s.drain(on, Duration.ofMinutes(5));
      s.drain(other, Duration.ofMinutes(5));
      assertThat(node(s, on).state()).as("its job still holds GPUs").isEqualTo(NodeState.DRAINING);
      assertThat(node(s, other).state()).as("nothing on it: done at once").isEqualTo(NodeState.DRAINED);
      assertThat(j.stopped()).isTrue(); // the host reports the job stopped
      assertThat(node(s, on).state()).isEqualTo(NodeState.DRAINED);
      s.uncordon(on);
      assertThat(node(s, on).state()).isEqualTo(NodeState.READY);
      assertThatThrownBy(() -> s.cluster().setNodeState(other, NodeState.DRAINED))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("DRAINED is reported");
    }
  }
}
