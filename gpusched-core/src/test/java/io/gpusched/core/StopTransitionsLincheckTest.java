package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import java.time.Duration;
import java.util.List;
import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.junit.jupiter.api.Test;

/**
 * Linearizability of a stop in progress under races: job {@code a} is PREEMPTING (a higher-priority
 * job asked for its GPU, with an hour of grace) when the host reports it stopped, the node is
 * drained or lost and a user cancels it, from two threads at once. A priority preemption of a job
 * that does not requeue ends PREEMPTED; a drain or node loss that overtakes it must requeue it
 * (PENDING) instead, and no reader may ever see it PREEMPTED first and PENDING after. The stop's
 * reason lives in the same atomic state word as the state, and a drain or node loss changes the
 * job (and, for a node loss, the engine) in the calling thread, which is what this checks.
 *
 * <p>A drain without grace is left out on purpose: it finishes the stop in a follow-up command, so
 * while another thread is dispatching, a host's {@code stopped()} may win over the drain's own
 * finish, which no sequential order reproduces. See docs/scheduler.md, "Threads".
 */
public class StopTransitionsLincheckTest {

  private final Object token = new Object();

  private Object[] graph() {
    return LincheckClusters.get(token, Object[].class);
  }

  private GpuScheduler sched() {
    return (GpuScheduler) graph()[0];
  }

  private JobHandle a() {
    return (JobHandle) graph()[1];
  }

  public StopTransitionsLincheckTest() {
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .nodes(List.of(NodeSpec.builder("n").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
            .preemption(true)
            .manualTicks()
            .eventExecutor(Runnable::run)
            .build();
    JobHandle a =
        s.submit(
            JobSpec.builder(PlacementRequest.wholeGpus(1))
                .id("a")
                .preemptible(true)
                .requeueOnPreemption(false)
                .gracePeriod(Duration.ofHours(1))
                .build());
    s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("p").priority(10).build());
    if (a.state() != JobState.PREEMPTING) {
      throw new IllegalStateException("setup: a should be PREEMPTING, was " + a.state());
    }
    LincheckClusters.put(token, new Object[] {s, a});
  }

  @Operation
  public boolean stoppedA() {
    return a().stopped();
  }

  @Operation
  public boolean cancelA() {
    return a().cancel();
  }

  @Operation
  public JobState stateA() {
    return a().state();
  }

  @Operation
  public void drainN() {
    try {
      sched().drain("n", Duration.ofHours(1));
    } catch (IllegalArgumentException gone) {
      // after nodeDown: "unknown node n", which sequential runs throw too
    }
  }

  @Operation
  public void nodeDownN() {
    try {
      sched().nodeDown("n");
    } catch (IllegalArgumentException gone) {
      // a second nodeDown
    }
  }

  @Test
  void setUpAsDescribed() {
    JobHandle a = new StopTransitionsLincheckTest().a();
    assertThat(a.state()).isEqualTo(JobState.PREEMPTING);
  }

  @Test
  void stress() {
    LinChecker.check(
        StopTransitionsLincheckTest.class,
        LincheckClusters.stress(0, 8, 400));
  }
}
