package io.gpusched.core;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import java.util.List;
import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.junit.jupiter.api.Test;

/**
 * Linearizability of the job handle's transitions under races: two running jobs, each completed,
 * cancelled, failed and read from two threads at once; a third job waits for their GPUs. Every
 * concurrent history must match some sequential order of the same calls (exactly one terminal
 * transition wins per job, states never go backwards). What the dispatcher does with the freed GPU
 * (starting the third job) is not observed here: when another thread is dispatching, it happens
 * on that thread, after the releasing call returned (see docs/scheduler.md).
 */
public class JobTransitionsLincheckTest {

  private final Object token = new Object();

  private JobHandle a() {
    return LincheckClusters.get(token, JobHandle[].class)[0];
  }

  private JobHandle b() {
    return LincheckClusters.get(token, JobHandle[].class)[1];
  }

  public JobTransitionsLincheckTest() {
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .nodes(List.of(NodeSpec.builder("n").gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
            .manualTicks()
            .eventExecutor(Runnable::run)
            .build();
    JobHandle a = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("a").build());
    JobHandle b = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("b").build());
    s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("c").build());
    LincheckClusters.put(token, new JobHandle[] {a, b});
  }

  @Operation
  public boolean completeA() {
    return a().complete();
  }

  @Operation
  public boolean cancelA() {
    return a().cancel();
  }

  @Operation
  public boolean failA() {
    return a().fail("x");
  }

  @Operation
  public JobState stateA() {
    return a().state();
  }

  @Operation
  public boolean completeB() {
    return b().complete();
  }

  @Operation
  public boolean cancelB() {
    return b().cancel();
  }

  @Operation
  public int gpusOfB() {
    return b().allocations().size();
  }

  @Test
  void stress() {
    LinChecker.check(
        JobTransitionsLincheckTest.class,
        LincheckClusters.stress(0, 8, 400));
  }
}
