package io.gpusched.core;

import static io.gpusched.core.SchedulerHarness.job;
import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PendingReason;
import io.gpusched.PlacementRequest;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Backfill must not delay the reservation holder through host resources: spare GPU capacity is
 * no reason to start a job that takes host CPU or memory the holder needs.
 */
class BackfillHostTest {
  private final SchedulerHarness h = new SchedulerHarness();

  private static NodeSpec node() {
    return NodeSpec.builder("n1")
        .gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE)
        .hostResources(2000, NodeSpec.UNTRACKED)
        .build();
  }

  private static JobSpec withCpu(String id, long cpu) {
    return JobSpec.builder(PlacementRequest.wholeGpus(1).withHost(cpu, 0)).id(id).build();
  }

  @Test
  void aJobNeedingTheHoldersHostResourcesIsNotBackfilledIntoSpareGpus() {
    GpuScheduler s = h.builder().nodes(List.of(node())).build();
    JobHandle first = s.submit(job("first", 1).timeLimit(Duration.ofHours(1)).build());
    JobHandle holderCpu = s.submit(withCpu("cpu-1000", 1000));
    JobHandle holder = s.submit(withCpu("holder", 2000));
    assertThat(first.state()).isEqualTo(JobState.RUNNING);
    assertThat(holderCpu.state()).isEqualTo(JobState.RUNNING);
    assertThat(holder.state()).isEqualTo(JobState.PENDING);
    JobHandle later = s.submit(withCpu("later", 1000)); // GPUs spare, but the holder's CPU
    assertThat(later.state()).as("not backfilled").isEqualTo(JobState.PENDING);
    assertThat(later.pendingReason().orElseThrow()).isEqualTo(PendingReason.RESERVED);
    JobHandle noHost = s.submit(job("no-host", 1).build()); // takes no host resources: may go
    assertThat(noHost.state()).isEqualTo(JobState.RUNNING);
    holderCpu.complete();
    assertThat(holder.state()).as("the holder starts once the CPU is back").isEqualTo(JobState.RUNNING);
    ((DefaultScheduler) s).verifyInvariants();
  }
}
