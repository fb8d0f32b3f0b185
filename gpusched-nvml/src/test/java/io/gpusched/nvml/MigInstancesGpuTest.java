package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.StopReason;
import io.gpusched.core.GpuSchedulers;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real MIG sequence on GPU 0 (run by {@code run-gpu-tests.sh} as root, MIG mode on, phase
 * {@code mig}): a {@code 3g.40gb} made at slot 4 for a job, the job ({@code nvidia-smi -L}) given
 * its MIG device, and the instance destroyed when the job ends. Changes MIG state, so it runs only
 * with {@code -Dgpusched.gpu.phase=mig}; tag {@code gpu-mig}, never in the read-only {@code gpu}
 * runs. Not yet run on hardware (no GPU machine was lent when it was written).
 */
@Tag("gpu-mig")
@EnabledIf("io.gpusched.nvml.Nvml#isAvailable")
@EnabledIfSystemProperty(named = "gpusched.gpu.phase", matches = "mig")
class MigInstancesGpuTest {
  @TempDir Path tmp;

  @Test
  void a3g40gbAtSlot4IsMadeForAJobAndDestroyedAfterIt() throws Exception {
    NvmlInventory inventory = NvmlInventory.local();
    NvmlDevice gpu = inventory.readDevices().get(0);
    assumeTrue(gpu.migEnabled(), "GPU 0 has MIG mode off");
    assumeTrue(gpu.migInstances().isEmpty(), "GPU 0 has MIG instances already: " + gpu.migInstances());
    assertThat(gpu.mode()).isEqualTo(GpuMode.MIG_DYNAMIC);
    NodeSpec node = NodeSpec.builder("local").gpu(gpu.toGpuSpec()).build();

    CompletableFuture<AllocatedGpu> startedOn = new CompletableFuture<>();
    try (ProcessLauncher launcher =
            ProcessLauncher.builder(tmp.resolve("logs")).inventory(inventory).build();
        GpuScheduler scheduler =
            GpuSchedulers.newBuilder()
                .nodes(List.of(node))
                .launcher(
                    new JobLauncher() {
                      @Override
                      public void start(JobHandle job) {
                        startedOn.complete(job.allocations().get(0).gpus().get(0));
                        launcher.start(job);
                      }

                      @Override
                      public void stop(JobHandle job, StopReason reason, Instant deadline) {
                        launcher.stop(job, reason, deadline);
                      }
                    })
                .build()) {
      assertThat(launcher.migInstances().disabledReason()).as("MIG instances disabled").isNull();
      // slots 0-3 held by a bare allocation (no job, so no instance): the 3g can only go to slot 4
      Allocation hold = scheduler.cluster().place(PlacementRequest.mig("4g.40gb")).orElseThrow();
      assertThat(hold.gpus().get(0).migStartSlot()).isZero();

      JobHandle job =
          scheduler.submit(
              ProcessJob.command("nvidia-smi", "-L")
                  .applyTo(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id("mig-3g"))
                  .build());
      JobState end = job.whenFinished().get(120, TimeUnit.SECONDS);

      AllocatedGpu at = startedOn.get(1, TimeUnit.SECONDS);
      String devices = launcher.visibleDevices("mig-3g").orElse("");
      List<String> log = launcher.tail("mig-3g", 40);
      System.out.println("GPU-CHECK mig slot=" + at.migStartSlot() + " CUDA_VISIBLE_DEVICES="
          + devices + " state=" + end + " " + job.endReason().orElse(""));
      log.forEach(l -> System.out.println("GPU-CHECK mig log: " + l));
      assertThat(end).as("%s", job.endReason()).isEqualTo(JobState.COMPLETED);
      assertThat(at.migStartSlot()).isEqualTo(4);
      assertThat(devices).startsWith("MIG-");
      assertThat(String.join("\n", log)).contains(devices);

      List<NvmlMigInstance> left = inventory.readDevices().get(0).migInstances();
      System.out.println("GPU-CHECK mig instances after the job: " + left);
      assertThat(left).isEmpty();
    }
  }
}
