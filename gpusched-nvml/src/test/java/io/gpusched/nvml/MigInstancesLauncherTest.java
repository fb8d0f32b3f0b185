package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
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
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * MIG instances made to order by {@link ProcessLauncher} for {@code MIG_DYNAMIC} GPUs, through the
 * fake NVML seam ({@link FakeNvmlApi}, an H100 with MIG on and no instance), with real processes
 * under a real scheduler: the instance made at the allocated placement, its MIG device passed,
 * both destroyed before the job is reported; every error path; reuse; foreign instances; the
 * fallback without privilege or MIG mode.
 */
class MigInstancesLauncherTest {
  private static final String NODE = "host";
  private static final ProcessJob SHOW_DEVICES =
      ProcessJob.shell("echo \"cvd=$CUDA_VISIBLE_DEVICES\"");

  @TempDir Path tmp;

  private FakeNvmlApi api;
  private ProcessLauncher launcher;
  private GpuScheduler scheduler;
  /** Each job's MIG allocation as the scheduler gave it at start. */
  private final Map<String, AllocatedGpu> startedOn = new ConcurrentHashMap<>();

  @AfterEach
  void tearDown() {
    if (scheduler != null) {
      scheduler.close();
    }
    if (launcher != null) {
      launcher.close();
    }
  }

  /** An H100 with MIG enabled and no instance: MIG_DYNAMIC. */
  private void setUp(FakeNvmlApi.Device gpu, Runnable beforeLauncher) {
    setUp(gpu, beforeLauncher, b -> b);
  }

  private void setUp(
      FakeNvmlApi.Device gpu,
      Runnable beforeLauncher,
      java.util.function.UnaryOperator<ProcessLauncher.Builder> config) {
    api = new FakeNvmlApi().add(gpu);
    NvmlInventory inventory = new NvmlInventory(api, Map.of());
    NodeSpec node = inventory.readNode(NODE);
    beforeLauncher.run();
    launcher =
        config.apply(ProcessLauncher.builder(tmp.resolve("logs")).inventory(inventory)).build();
    ProcessLauncher l = launcher;
    scheduler =
        GpuSchedulers.newBuilder()
            .nodes(List.of(node))
            .launcher(
                new JobLauncher() {
                  @Override
                  public void start(JobHandle job) {
                    startedOn.put(job.id(), job.allocations().get(0).gpus().get(0));
                    l.start(job);
                  }

                  @Override
                  public void stop(JobHandle job, StopReason reason, Instant deadline) {
                    l.stop(job, reason, deadline);
                  }
                })
            .build();
  }

  private void setUp() {
    setUp(FakeGpus.h100(1, 1), () -> {});
  }

  private JobHandle submit(String id, String profile) throws Exception {
    JobHandle job =
        scheduler.submit(SHOW_DEVICES.applyTo(JobSpec.builder(PlacementRequest.mig(profile)).id(id)).build());
    job.whenFinished().get(30, TimeUnit.SECONDS);
    return job;
  }

  private String cvd(String jobId) {
    return launcher.tail(jobId, 20).stream()
        .filter(l -> l.startsWith("cvd="))
        .findFirst()
        .orElse("(no process output)");
  }

  private FakeNvmlApi.Device gpu() {
    return api.devices.get(0);
  }

  private List<NvmlApi.GpuInstance> instances() {
    return gpu().instances.values().stream().flatMap(List::stream).toList();
  }

  @Test
  void theInstanceIsMadeAtTheAllocatedPlacementItsMigDeviceIsPassedAndBothGoBeforeTheReport()
      throws Exception {
    setUp();
    assertThat(launcher.migInstances().disabledReason()).isNull();
    assertThat(scheduler.cluster().nodes().get(0).gpus().get(0).mode())
        .isEqualTo(GpuMode.MIG_DYNAMIC);
    List<NvmlApi.GpuInstance> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    api.onCall =
        fn -> {
          if (fn.equals("nvmlGpuInstanceCreateComputeInstance")) {
            seen.addAll(instances()); // the GPU instance, as made
          }
        };

    JobHandle job = submit("mig", "3g.40gb");

    assertThat(job.state()).as("%s", job.endReason()).isEqualTo(JobState.COMPLETED);
    AllocatedGpu at = startedOn.get("mig");
    assertThat(seen).singleElement().satisfies(gi -> {
      assertThat(gi.profileId()).isEqualTo(9); // 3g.40gb
      assertThat(gi.start()).isEqualTo(at.migStartSlot());
      assertThat(gi.size()).isEqualTo(4);
    });
    int gi = seen.get(0).id();
    assertThat(cvd("mig")).isEqualTo("cvd=" + String.format("MIG-fake0000-0000-0000-0000-%012d", gi));
    // destroyed before the job was reported: the report is what whenFinished waited for
    assertThat(api.destroyed).containsExactly("ci 0/" + gi + "/0", "gi 0/" + gi);
    assertThat(instances()).isEmpty();
    assertThat(launcher.migInstances().owns(FakeGpus.H100_UUID, gi)).isFalse();
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @ParameterizedTest
  @EnumSource(
      value = NvmlReturn.class,
      names = {"ERROR_INSUFFICIENT_RESOURCES", "ERROR_NO_PERMISSION", "ERROR_NOT_SUPPORTED"})
  void aGpuInstanceThatCannotBeMadeFailsTheJobWithNvmlsErrorAndFreesItsGpu(NvmlReturn code)
      throws Exception {
    setUp();
    api.fail("nvmlDeviceCreateGpuInstanceWithPlacement", code);

    JobHandle job = submit("refused", "3g.40gb");

    assertThat(job.state()).isEqualTo(JobState.FAILED);
    assertThat(job.endReason().orElseThrow())
        .contains("NVML_" + code.name())
        .contains("nvmlDeviceCreateGpuInstanceWithPlacement")
        .contains("3g.40gb");
    assertThat(cvd("refused")).isEqualTo("(no process output)");
    assertThat(scheduler.cluster().allocations(NODE)).isEmpty();
    assertThat(instances()).isEmpty();
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void aComputeInstanceThatCannotBeMadeDestroysTheGpuInstanceAgainAndFailsTheJob() throws Exception {
    setUp();
    api.fail("nvmlGpuInstanceCreateComputeInstance", NvmlReturn.ERROR_INSUFFICIENT_RESOURCES);

    JobHandle job = submit("no-ci", "2g.20gb");

    assertThat(job.state()).isEqualTo(JobState.FAILED);
    assertThat(job.endReason().orElseThrow())
        .contains("NVML_ERROR_INSUFFICIENT_RESOURCES")
        .contains("compute instance");
    assertThat(api.created).hasSize(1);
    assertThat(api.destroyed).containsExactly("gi " + api.created.get(0));
    assertThat(instances()).isEmpty();
    assertThat(scheduler.cluster().allocations(NODE)).isEmpty();
  }

  @Test
  void aDestroyThatFailsLeavesTheInstanceOwnedAndTheNextJobThereReusesAndDestroysIt()
      throws Exception {
    setUp();
    api.fail("nvmlGpuInstanceDestroy", NvmlReturn.ERROR_IN_USE);

    JobHandle first = submit("first", "7g.80gb"); // 7g: one placement, 0:8
    assertThat(first.state()).as("%s", first.endReason()).isEqualTo(JobState.COMPLETED);
    int gi = instances().get(0).id();
    assertThat(api.destroyed).containsExactly("ci 0/" + gi + "/0");
    assertThat(launcher.migInstances().owns(FakeGpus.H100_UUID, gi)).isTrue();

    api.heal();
    JobHandle second = submit("second", "7g.80gb");

    assertThat(second.state()).as("%s", second.endReason()).isEqualTo(JobState.COMPLETED);
    assertThat(api.created).as("reused, not made again").hasSize(1);
    assertThat(cvd("second")).startsWith("cvd=MIG-fake");
    assertThat(api.destroyed).endsWith("ci 0/" + gi + "/0", "gi 0/" + gi);
    assertThat(instances()).isEmpty();
    assertThat(launcher.migInstances().owns(FakeGpus.H100_UUID, gi)).isFalse();
  }

  @Test
  void anInstanceGpuschedDidNotMakeIsUsedAndNeverDestroyed() throws Exception {
    FakeNvmlApi.Device h100 = FakeGpus.h100(1, 1);
    String foreign = "MIG-f0000000-0000-0000-0000-000000000009";
    // made by someone else after the node was read (so the GPU is still MIG_DYNAMIC here)
    setUp(h100, () -> h100.instance(new NvmlApi.GpuInstance(9, 0, 0, 8))
        .mig(new FakeNvmlApi.MigDevice(foreign, 9, 80L << 30, 0).attributes(7, 81152)));

    JobHandle job = submit("guest", "7g.80gb");

    assertThat(job.state()).as("%s", job.endReason()).isEqualTo(JobState.COMPLETED);
    assertThat(cvd("guest")).isEqualTo("cvd=" + foreign);
    assertThat(api.created).isEmpty();
    assertThat(api.destroyed).isEmpty();
    assertThat(instances()).containsExactly(new NvmlApi.GpuInstance(9, 0, 0, 8));
    assertThat(launcher.migInstances().owns(FakeGpus.H100_UUID, 9)).isFalse();
  }

  @Test
  void withoutPrivilegeTheLauncherSaysSoAndUsesExistingInstancesOnly() throws Exception {
    setUp(FakeGpus.h100(1, 1), () -> api.fail(
        "nvmlDeviceGetGpuInstancePossiblePlacements_v2", NvmlReturn.ERROR_NO_PERMISSION));

    assertThat(launcher.migInstances().disabledReason())
        .contains("NVML_ERROR_NO_PERMISSION")
        .contains("root");
    JobHandle job = submit("static", "3g.40gb");

    assertThat(job.state()).isEqualTo(JobState.FAILED);
    assertThat(job.endReason().orElseThrow()).contains("no such GPU instance");
    assertThat(api.callsByFunction).doesNotContainKey("nvmlDeviceCreateGpuInstanceWithPlacement");
    assertThat(scheduler.cluster().allocations(NODE)).isEmpty();
  }

  @Test
  void withoutMigModeNothingIsMadeAndTheReasonIsKept() {
    api = new FakeNvmlApi().add(FakeGpus.h100(0, 0));
    try (ProcessLauncher l =
        ProcessLauncher.builder(tmp.resolve("logs"))
            .inventory(new NvmlInventory(api, Map.of()))
            .build()) {
      assertThat(l.migInstances().disabledReason()).isEqualTo("no GPU has MIG mode enabled");
    }
    api.fail("nvmlInit_v2", NvmlReturn.ERROR_DRIVER_NOT_LOADED);
    try (ProcessLauncher l =
        ProcessLauncher.builder(tmp.resolve("logs"))
            .inventory(new NvmlInventory(api, Map.of()))
            .build()) {
      assertThat(l.migInstances().disabledReason()).contains("NVML_ERROR_DRIVER_NOT_LOADED");
    }
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  private static void await(String what, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    ProcessLauncherTest.await(what, condition);
  }

  /**
   * After a restart the reconciling launcher takes over the instances the earlier one made (listed
   * beside the log): it destroys them when the re-attached process ends, and at once for a job
   * whose process is gone, before answering GONE. The earlier launcher is made deaf (its executor
   * shut down once the processes run), as a JVM that died would be.
   */
  @Test
  void afterARestartTheReconcilingLauncherDestroysTheInstancesTheEarlierOneMade() throws Exception {
    java.util.concurrent.ExecutorService firstPool = java.util.concurrent.Executors.newCachedThreadPool();
    setUp(FakeGpus.h100(1, 1), () -> {}, b -> b.executor(firstPool));
    try {
      Path ready = tmp.resolve("ready");
      for (String id : List.of("alive", "dead")) {
        scheduler.submit(
            ProcessJob.shell("touch '" + ready + "-" + id + "'; while :; do sleep 0.05; done")
                .applyTo(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id(id))
                .build());
      }
      await("both started", () -> java.nio.file.Files.exists(tmp.resolve("ready-alive"))
          && java.nio.file.Files.exists(tmp.resolve("ready-dead")));
      JobHandle alive = scheduler.job("alive").orElseThrow();
      JobHandle dead = scheduler.job("dead").orElseThrow();
      await("the records", () -> launcher.reconcileProcess(alive) == ProcessLauncher.ProcessState.RUNNING
          && launcher.reconcileProcess(dead) == ProcessLauncher.ProcessState.RUNNING);
      assertThat(instances()).hasSize(2);
      int aliveGi = instances().stream().filter(g -> g.start() == startedOn.get("alive").migStartSlot())
          .findFirst().orElseThrow().id();
      int deadGi = instances().stream().filter(g -> g.id() != aliveGi).findFirst().orElseThrow().id();
      long deadPid = launcher.pid("dead").orElseThrow();
      firstPool.shutdownNow(); // the first launcher hears of no exit from now on
      ProcessHandle deadProcess = ProcessHandle.of(deadPid).orElseThrow();
      deadProcess.destroyForcibly();
      deadProcess.onExit().get(30, TimeUnit.SECONDS);

      CompletableFuture<String> reported = new CompletableFuture<>();
      JobHandle reconciled =
          (JobHandle)
              java.lang.reflect.Proxy.newProxyInstance(
                  JobHandle.class.getClassLoader(),
                  new Class<?>[] {JobHandle.class},
                  (proxy, m, args) ->
                      m.getName().equals("stopped") || m.getName().equals("fail")
                          ? reported.complete(m.getName())
                          : m.invoke(alive, args));
      try (ProcessLauncher second =
          ProcessLauncher.builder(tmp.resolve("logs"))
              .inventory(new NvmlInventory(api, Map.of()))
              .build()) {
        assertThat(second.reconcile(dead)).isEqualTo(io.gpusched.Reconciliation.GONE);
        assertThat(api.destroyed).containsExactly("ci 0/" + deadGi + "/0", "gi 0/" + deadGi);

        assertThat(second.reconcile(reconciled)).isEqualTo(io.gpusched.Reconciliation.RUNNING);
        assertThat(second.migInstances().owns(FakeGpus.H100_UUID, aliveGi)).isTrue();
        second.stop(reconciled, StopReason.CANCELLED, Instant.now());
        assertThat(reported.get(30, TimeUnit.SECONDS)).isEqualTo("stopped");
        assertThat(api.destroyed).endsWith("ci 0/" + aliveGi + "/0", "gi 0/" + aliveGi);
        assertThat(instances()).isEmpty();
      }
    } finally {
      firstPool.shutdownNow();
    }
  }
}
