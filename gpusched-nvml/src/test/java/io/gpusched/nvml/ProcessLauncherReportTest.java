package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.core.GpuSchedulers;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@link ProcessLauncher} reports besides the job's state: the exit status of each attempt
 * ({@link ProcessLauncher#exitStatus}), and labels instead of devices on a simulated inventory
 * ({@link ProcessLauncher.Builder#simulatedGpus}). Real processes, a real scheduler.
 */
class ProcessLauncherReportTest {
  @TempDir Path tmp;

  private ProcessLauncher launcher;
  private GpuScheduler scheduler;

  @AfterEach
  void tearDown() {
    if (scheduler != null) {
      scheduler.close();
    }
    if (launcher != null) {
      launcher.close();
    }
  }

  private void setUp(NodeSpec node, UnaryOperator<ProcessLauncher.Builder> config) {
    launcher = config.apply(ProcessLauncher.builder(tmp.resolve("logs"))).build();
    scheduler = GpuSchedulers.newBuilder().nodes(List.of(node)).launcher(launcher).build();
  }

  private JobHandle submit(String id, ProcessJob pj, PlacementRequest request) {
    return scheduler.submit(pj.applyTo(JobSpec.builder(request).id(id)).build());
  }

  private static JobState finished(JobHandle job) throws Exception {
    return job.whenFinished().get(30, TimeUnit.SECONDS);
  }

  @Test
  void theExitStatusOfEachFinishedProcessIsKeptAndEmptyWhileItRunsOrNeverRan() throws Exception {
    setUp(NodeSpec.builder("host").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build(), b -> b);
    JobHandle ok = submit("ok", ProcessJob.shell("echo fine"), PlacementRequest.wholeGpus(1));
    JobHandle three = submit("three", ProcessJob.shell("exit 3"), PlacementRequest.wholeGpus(1));
    JobHandle killed = submit("killed", ProcessJob.shell("kill -KILL $$"), PlacementRequest.wholeGpus(1));
    JobHandle missing =
        submit("missing", ProcessJob.command("/no/such/program-gpusched"), PlacementRequest.wholeGpus(1));

    assertThat(finished(ok)).isEqualTo(JobState.COMPLETED);
    assertThat(finished(three)).isEqualTo(JobState.FAILED);
    assertThat(finished(killed)).isEqualTo(JobState.FAILED);
    assertThat(finished(missing)).isEqualTo(JobState.FAILED);
    assertThat(launcher.exitStatus("ok")).contains(0);
    assertThat(launcher.exitStatus("three")).contains(3);
    assertThat(launcher.exitStatus("killed")).contains(137);
    assertThat(launcher.exitStatus("missing")).as("never started: no status").isEmpty();
    assertThat(launcher.exitStatus("no-such-job")).isEmpty();
    assertThat(launcher.visibleDevices("ok")).hasValueSatisfying(v -> assertThat(v).matches("GPU-host-\\d"));
    assertThat(launcher.visibleDevices("missing")).as("never started").isEmpty();

    JobHandle running = submit("running", ProcessJob.command("sleep", "30"), PlacementRequest.wholeGpus(1));
    running.whenStarted().get(30, TimeUnit.SECONDS);
    for (int i = 0; i < 3000 && launcher.pid("running").isEmpty(); i++) {
      Thread.sleep(10);
    }
    assertThat(launcher.pid("running")).isPresent();
    assertThat(launcher.exitStatus("running")).as("still running").isEmpty();
    running.cancel();
    for (int i = 0; i < 3000 && launcher.exitStatus("running").isEmpty(); i++) {
      Thread.sleep(10);
    }
    assertThat(launcher.exitStatus("running")).as("SIGTERM on cancel").contains(143);

    // a second launcher on the same folder (as after a restart) reads the same
    ProcessLauncher again = ProcessLauncher.builder(tmp.resolve("logs")).build();
    try {
      assertThat(again.exitStatus("three")).contains(3);
    } finally {
      again.close();
    }
  }

  @Test
  void anEarlierJobsExitStatusIsNotReadAsANewJobsWithTheSameId() throws Exception {
    NodeSpec node = NodeSpec.builder("host").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build();
    setUp(node, b -> b);
    assertThat(finished(submit("same", ProcessJob.shell("exit 3"), PlacementRequest.wholeGpus(1))))
        .isEqualTo(JobState.FAILED);
    assertThat(launcher.exitStatus("same")).contains(3);
    tearDown();

    // a new scheduler and launcher on the same folder (a restart): a new job named "same" runs
    setUp(node, b -> b);
    JobHandle again = submit("same", ProcessJob.command("sleep", "30"), PlacementRequest.wholeGpus(1));
    again.whenStarted().get(30, TimeUnit.SECONDS);
    for (int i = 0; i < 3000 && launcher.pid("same").isEmpty(); i++) {
      Thread.sleep(10);
    }
    assertThat(launcher.pid("same")).isPresent();
    assertThat(launcher.exitStatus("same")).as("running: no status, not the old job's 3").isEmpty();
    again.cancel();
    for (int i = 0; i < 3000 && launcher.exitStatus("same").isEmpty(); i++) {
      Thread.sleep(10);
    }
    assertThat(launcher.exitStatus("same")).contains(143);
  }

  @Test
  void onSimulatedGpusAMigJobRunsWithALabelNotADevice() throws Exception {
    NodeSpec node = NodeSpec.builder("sim").gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build();
    setUp(node, b -> b.simulatedGpus(true));
    JobHandle job =
        submit("mig", ProcessJob.shell("echo \"cvd=$CUDA_VISIBLE_DEVICES\""), PlacementRequest.mig("3g.40gb"));

    assertThat(finished(job)).as("%s", job.endReason()).isEqualTo(JobState.COMPLETED);
    String uuid = node.gpus().get(0).uuid();
    String label = launcher.visibleDevices("mig").orElseThrow();
    assertThat(label).matches("MIG-" + java.util.regex.Pattern.quote(uuid) + "-3g\\.40gb@\\d");
    assertThat(launcher.tail("mig", 5)).contains("cvd=" + label);
  }
}
