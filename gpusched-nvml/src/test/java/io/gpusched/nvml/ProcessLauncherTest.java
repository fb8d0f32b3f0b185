package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.StopReason;
import io.gpusched.core.GpuSchedulers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ProcessLauncher} with real processes ({@code sh}, {@code sleep}, {@code trap}) under a
 * real scheduler on a simulated whole-GPU node. Nothing here mocks a process; no assertion is on
 * time. Waits are bounded (a test that waits in vain fails).
 */
class ProcessLauncherTest {
  private static final String NODE = "host";

  @TempDir Path tmp;

  private ProcessLauncher launcher;
  private GpuScheduler scheduler;
  /** The GPU UUIDs of each job's allocations, as the scheduler gave them at start. */
  private final Map<String, List<String>> startedOn = new ConcurrentHashMap<>();

  @AfterEach
  void tearDown() {
    if (scheduler != null) {
      scheduler.close();
    }
    if (launcher != null) {
      launcher.close();
    }
  }

  private void setUp(int gpus, UnaryOperator<ProcessLauncher.Builder> config) {
    setUp(NodeSpec.builder(NODE).gpus(gpus, GpuModels.H100_80GB, GpuMode.WHOLE).build(), config);
  }

  private void setUp(NodeSpec node, UnaryOperator<ProcessLauncher.Builder> config) {
    launcher = config.apply(ProcessLauncher.builder(tmp.resolve("logs"))).build();
    ProcessLauncher l = launcher;
    JobLauncher recording =
        new JobLauncher() {
          @Override
          public void start(JobHandle job) {
            List<String> uuids = new ArrayList<>();
            for (Allocation a : job.allocations()) {
              a.gpus().stream().map(AllocatedGpu::gpuUuid).forEach(uuids::add);
            }
            startedOn.put(job.id(), uuids);
            l.start(job);
          }

          @Override
          public void stop(JobHandle job, StopReason reason, Instant deadline) {
            l.stop(job, reason, deadline);
          }
        };
    scheduler =
        GpuSchedulers.newBuilder()
            .nodes(List.of(node))
            .launcher(recording)
            .build();
  }

  private void setUp(int gpus) {
    setUp(gpus, b -> b);
  }

  private JobHandle submit(String id, ProcessJob pj, PlacementRequest request) {
    return scheduler.submit(pj.applyTo(JobSpec.builder(request).id(id)).build());
  }

  private JobHandle submit(String id, ProcessJob pj) {
    return submit(id, pj, PlacementRequest.wholeGpus(1));
  }

  private static JobState finished(JobHandle job) throws Exception {
    return job.whenFinished().get(30, TimeUnit.SECONDS);
  }

  /** Polls {@code condition} every 10 ms for up to 30 s (real processes: their timing varies). */
  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    for (int i = 0; i < 3000; i++) {
      if (condition.getAsBoolean()) {
        return;
      }
      Thread.sleep(10);
    }
    throw new AssertionError("timed out waiting for " + what);
  }

  private List<Allocation> held() {
    return scheduler.cluster().allocations(NODE);
  }

  private String log(String jobId) {
    return String.join("\n", launcher.tail(jobId, 1000));
  }

  @Test
  void exitZeroCompletesAndTheProcessSeesItsGpusIdsAndEnvironment() throws Exception {
    setUp(4);
    Path work = Files.createDirectories(tmp.resolve("work dir"));
    ProcessJob pj =
        ProcessJob.command(
                "sh",
                "-c",
                "echo \"cvd=$CUDA_VISIBLE_DEVICES\"; echo \"id=$GPUSCHED_JOB_ID\";"
                    + " echo \"attempt=$GPUSCHED_ATTEMPT\"; echo \"alloc=$GPUSCHED_ALLOCATION\";"
                    + " echo \"mine=$MINE\"; echo \"pwd=$(pwd)\"; echo \"arg=$0\"",
                "one arg; not split")
            .workingDirectory(work)
            .env("MINE", "a b $HOME");
    JobHandle job = submit("env-job", pj, PlacementRequest.wholeGpus(2, true));

    assertThat(finished(job)).isEqualTo(JobState.COMPLETED);
    List<String> uuids = startedOn.get("env-job");
    assertThat(uuids).hasSize(2);
    String log = log("env-job");
    assertThat(log)
        .contains("cvd=" + String.join(",", uuids))
        .contains("id=env-job")
        .contains("attempt=1")
        .contains("\"uuid\":\"" + uuids.get(0) + "\"")
        .contains("\"uuid\":\"" + uuids.get(1) + "\"")
        .contains("\"node\":\"host\"")
        .contains("mine=a b $HOME")
        .contains("pwd=" + work.toRealPath())
        .contains("arg=one arg; not split");
    assertThat(held()).isEmpty();
  }

  @Test
  void nonZeroExitFailsWithTheStatusAndTheLastLogLines() throws Exception {
    setUp(1);
    JobHandle job =
        submit("fails", ProcessJob.shell("echo first; echo 'oops on stderr' >&2; exit 3"));

    assertThat(finished(job)).isEqualTo(JobState.FAILED);
    assertThat(job.endReason().orElseThrow())
        .contains("exit status 3")
        .contains("first")
        .contains("oops on stderr");
    assertThat(held()).isEmpty();
  }

  @Test
  void deathBySignalFailsNamingTheSignal() throws Exception {
    setUp(2);
    JobHandle killed = submit("killed", ProcessJob.shell("echo before; kill -KILL $$"));
    JobHandle usr2 = submit("usr2", ProcessJob.shell("kill -USR2 $$"));

    assertThat(finished(killed)).isEqualTo(JobState.FAILED);
    assertThat(killed.endReason().orElseThrow()).contains("SIGKILL").contains("before");
    assertThat(finished(usr2)).isEqualTo(JobState.FAILED);
    assertThat(usr2.endReason().orElseThrow()).contains("SIGUSR2");
    assertThat(held()).isEmpty();
  }

  @Test
  void aMissingCommandFailsClearlyAndFreesTheGpus() throws Exception {
    setUp(1);
    JobHandle job = submit("missing", ProcessJob.command("/no/such/program-gpusched", "x"));

    assertThat(finished(job)).isEqualTo(JobState.FAILED);
    assertThat(job.endReason().orElseThrow())
        .contains("cannot start")
        .contains("/no/such/program-gpusched");
    assertThat(held()).isEmpty();
    assertThat(log("missing")).contains("cannot start");
    // the GPU really is free: the next job runs on it
    assertThat(finished(submit("next", ProcessJob.command("true")))).isEqualTo(JobState.COMPLETED);
  }

  @Test
  void aMissingWorkingDirectoryFailsClearlyAndFreesTheGpus() throws Exception {
    setUp(1);
    Path nowhere = tmp.resolve("no-such-dir");
    JobHandle job = submit("nowd", ProcessJob.command("true").workingDirectory(nowhere));

    assertThat(finished(job)).isEqualTo(JobState.FAILED);
    assertThat(job.endReason().orElseThrow())
        .contains("working directory")
        .contains(nowhere.toString())
        .contains("does not exist");
    assertThat(held()).isEmpty();
  }

  @Test
  void badProcessMetadataFailsNamingIt() throws Exception {
    setUp(1);
    JobHandle noCommand =
        scheduler.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("nocmd").build());
    JobHandle notJson =
        scheduler.submit(
            JobSpec.builder(PlacementRequest.wholeGpus(1))
                .id("notjson")
                .metadata(ProcessJob.COMMAND, "python train.py")
                .build());

    assertThat(finished(noCommand)).isEqualTo(JobState.FAILED);
    assertThat(noCommand.endReason().orElseThrow()).contains("process.command");
    assertThat(finished(notJson)).isEqualTo(JobState.FAILED);
    assertThat(notJson.endReason().orElseThrow())
        .contains("JSON array of strings")
        .contains("python train.py");
    assertThat(held()).isEmpty();
  }

  @Test
  void cancelKillsTheWholeTreeGrandchildIncluded() throws Exception {
    setUp(1);
    Path pidFile = tmp.resolve("grandchild.pid");
    JobHandle job =
        submit(
            "tree",
            ProcessJob.shell("sleep 300 & echo $! > '" + pidFile + ".tmp'; mv '" + pidFile
                + ".tmp' '" + pidFile + "'; wait"));
    await("the grandchild's pid", () -> Files.exists(pidFile));
    long grandchild = Long.parseLong(Files.readString(pidFile).trim());
    ProcessHandle gc = ProcessHandle.of(grandchild).orElseThrow();
    long root = launcher.pid("tree").orElseThrow();
    assertThat(gc.parent().map(ProcessHandle::pid)).contains(root);

    assertThat(job.cancel()).isTrue();

    gc.onExit().get(20, TimeUnit.SECONDS);
    assertThat(gc.isAlive()).isFalse();
    await("the launcher's exit report", () -> log("tree").contains("ended:"));
    assertThat(job.state()).isEqualTo(JobState.CANCELLED);
    assertThat(held()).isEmpty();
  }

  @Test
  void aStopBeforeTheProcessStartedMeansItNeverStarts() throws Exception {
    // the launcher's executor is held, so start() has only queued the launch when cancel() comes
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool();
    java.util.concurrent.CountDownLatch gate = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.ExecutorService held =
        new java.util.concurrent.AbstractExecutorService() {
          @Override
          public void execute(Runnable r) {
            pool.execute(
                () -> {
                  try {
                    gate.await();
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  r.run();
                });
          }

          @Override
          public void shutdown() {
            pool.shutdown();
          }

          @Override
          public List<Runnable> shutdownNow() {
            return pool.shutdownNow();
          }

          @Override
          public boolean isShutdown() {
            return pool.isShutdown();
          }

          @Override
          public boolean isTerminated() {
            return pool.isTerminated();
          }

          @Override
          public boolean awaitTermination(long t, TimeUnit u) throws InterruptedException {
            return pool.awaitTermination(t, u);
          }
        };
    try {
      setUp(1, b -> b.executor(held));
      Path marker = tmp.resolve("ran");
      JobHandle job = submit("early", ProcessJob.command("touch", marker.toString()));
      assertThat(job.state()).isEqualTo(JobState.RUNNING);

      assertThat(job.cancel()).isTrue();
      gate.countDown();

      await("the launch", () -> log("early").contains("stopped before it started"));
      assertThat(marker).doesNotExist();
      assertThat(launcher.pid("early")).isEmpty();
      assertThat(job.state()).isEqualTo(JobState.CANCELLED);
      assertThat(held()).isEmpty();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aRequeuedJobRunsAgainAsAttemptTwoWithItsOwnLog() throws Exception {
    setUp(1);
    Path ready = tmp.resolve("ready");
    JobHandle job =
        submit(
            "again",
            ProcessJob.shell(
                "echo \"attempt=$GPUSCHED_ATTEMPT\"; trap 'exit 0' TERM;"
                    + " if [ \"$GPUSCHED_ATTEMPT\" = 1 ]; then touch '" + ready + "';"
                    + " while :; do sleep 0.05; done; fi"));
    await("the first run", () -> Files.exists(ready));

    scheduler.drain(NODE, Duration.ofSeconds(60));
    await("the requeue", () -> job.state() == JobState.PENDING);
    scheduler.uncordon(NODE);

    assertThat(finished(job)).isEqualTo(JobState.COMPLETED);
    assertThat(job.attempts()).isEqualTo(2);
    assertThat(launcher.logFile("again").orElseThrow().getFileName().toString())
        .isEqualTo("attempt-2.log");
    assertThat(launcher.tail("again", 2).get(0)).isEqualTo("attempt=2");
    Path first = launcher.logFile("again").orElseThrow().resolveSibling("attempt-1.log");
    // the launcher's own notes and the process's output go to one file from two writers: order free
    assertThat(Files.readString(first)).contains("attempt=1\n").contains("sent SIGTERM");
  }

  @Test
  void aTimeLimitKillsTheProcessAtOnce() throws Exception {
    setUp(1);
    Path pidFile = tmp.resolve("pid");
    JobHandle job =
        scheduler.submit(
            ProcessJob.shell("echo $$ > '" + pidFile + ".tmp'; mv '" + pidFile + ".tmp' '"
                    + pidFile + "'; trap '' TERM; while :; do sleep 0.05; done")
                .applyTo(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("limited"))
                .timeLimit(Duration.ofMillis(300))
                .build());
    await("the pid", () -> Files.exists(pidFile));
    long pid = Long.parseLong(Files.readString(pidFile).trim());
    ProcessHandle process = ProcessHandle.of(pid).orElse(null);

    assertThat(finished(job)).isEqualTo(JobState.FAILED);
    if (process != null) {
      process.onExit().get(20, TimeUnit.SECONDS); // it ignores SIGTERM: only SIGKILL ends it
    }
    await("the exit report", () -> log("limited").contains("ended: killed by SIGKILL"));
    assertThat(log("limited")).contains("stop requested (TIME_LIMIT)");
    assertThat(held()).isEmpty();
  }

  @Test
  void aLogLargerThanTheCapRotatesAndTheTailReadsAcrossFiles() throws Exception {
    setUp(1, b -> b.logCapBytes(4096).logRotations(2));
    // 3000 lines "line-<i>" (about 30 KB): seven times the cap
    JobHandle job =
        submit(
            "chatty",
            ProcessJob.shell("i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done"));
    assertThat(finished(job)).isEqualTo(JobState.COMPLETED);

    Path log = launcher.logFile("chatty").orElseThrow();
    assertThat(Files.size(log)).isLessThanOrEqualTo(4096);
    assertThat(Files.size(ProcessLog.rotated(log, 1))).isEqualTo(4096);
    assertThat(Files.size(ProcessLog.rotated(log, 2))).isEqualTo(4096);
    assertThat(ProcessLog.rotated(log, 3)).doesNotExist();

    List<String> tail = launcher.tail("chatty", 801);
    assertThat(tail.get(800)).startsWith("[gpusched] process").contains("exit status 0");
    List<String> expected = new ArrayList<>();
    for (int i = 2200; i < 3000; i++) {
      expected.add("line-" + i);
    }
    // 800 lines (about 8 KB) span the current file and the one before, rejoined at the cut
    assertThat(tail.subList(0, 800)).isEqualTo(expected);
    assertThat(launcher.tail("chatty", 0)).isEmpty();
    assertThatThrownBy(() -> launcher.tail("chatty", -1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-1");
  }

  @Test
  void aJobThatTrapsSigtermGetsItsGraceAndCheckpoints() throws Exception {
    setUp(1);
    Path ckpt = tmp.resolve("ckpt");
    Path ready = tmp.resolve("ready");
    JobHandle job =
        submit(
            "graceful",
            ProcessJob.shell(
                "trap 'sleep 0.3; echo saved > \"" + ckpt + "\"; exit 0' TERM; touch '" + ready
                    + "'; while :; do sleep 0.05; done"));
    await("the trap", () -> Files.exists(ready));

    scheduler.drain(NODE, Duration.ofSeconds(60)); // NODE_DRAIN, deadline 30 s (the grace)

    // it exits by itself well before the deadline and says so: stopped() requeues it and frees
    // the GPU (had it been released at the deadline instead, this wait would run out)
    await("the requeue", () -> job.state() == JobState.PENDING);
    assertThat(Files.readString(ckpt)).isEqualTo("saved\n");
    String log = log("graceful");
    assertThat(log).contains("stop requested (NODE_DRAIN)").contains("sent SIGTERM");
    assertThat(log).contains("ended: exit status 0").doesNotContain("SIGKILL");
    assertThat(held()).isEmpty();
  }

  @Test
  void aJobThatIgnoresSigtermIsKilledAtTheDeadline() throws Exception {
    setUp(1);
    Path ready = tmp.resolve("ready");
    JobHandle job =
        submit(
            "stubborn",
            ProcessJob.shell(
                "trap '' TERM; touch '" + ready + "'; while :; do sleep 0.05; done"));
    await("the trap", () -> Files.exists(ready));
    ProcessHandle root = ProcessHandle.of(launcher.pid("stubborn").orElseThrow()).orElseThrow();

    scheduler.drain(NODE, Duration.ofMillis(500));

    root.onExit().get(20, TimeUnit.SECONDS);
    await("the exit report", () -> log("stubborn").contains("ended:"));
    String log = log("stubborn");
    int term = log.indexOf("sent SIGTERM");
    int kill = log.indexOf("deadline: sent SIGKILL");
    int end = log.indexOf("ended: killed by SIGKILL");
    assertThat(term).isPositive();
    assertThat(kill).isGreaterThan(term);
    assertThat(end).isGreaterThan(kill);
    await("the requeue", () -> job.state() == JobState.PENDING);
  }

  @Test
  void aCheckpointFileIsCreatedBeforeSigterm() throws Exception {
    setUp(1, b -> b.checkpointFile(true));
    Path ckpt = tmp.resolve("ckpt");
    Path ready = tmp.resolve("ready");
    // ignores SIGTERM: only the stop file can make it leave before the deadline
    JobHandle job =
        submit(
            "watcher",
            ProcessJob.shell(
                "trap '' TERM; touch '" + ready + "'; while [ ! -f \"$GPUSCHED_STOP_FILE\" ];"
                    + " do sleep 0.05; done; cat \"$GPUSCHED_STOP_FILE\" > '" + ckpt + "'"));
    await("the loop", () -> Files.exists(ready));

    scheduler.drain(NODE, Duration.ofSeconds(60));

    await("the requeue", () -> job.state() == JobState.PENDING);
    assertThat(Files.readString(ckpt)).startsWith("NODE_DRAIN ");
    assertThat(log("watcher")).contains("checkpoint requested").doesNotContain("SIGKILL");
  }

  @Test
  void aCheckpointSignalIsSentBeforeSigterm() throws Exception {
    setUp(1, b -> b.checkpointSignal());
    Path ckpt = tmp.resolve("ckpt");
    Path ready = tmp.resolve("ready");
    JobHandle job =
        submit(
            "usr1",
            ProcessJob.shell(
                "trap '' TERM; trap 'echo usr1 > \"" + ckpt + "\"; exit 0' USR1; touch '" + ready
                    + "'; while :; do sleep 0.05; done"));
    await("the trap", () -> Files.exists(ready));

    scheduler.drain(NODE, Duration.ofSeconds(60));

    await("the requeue", () -> job.state() == JobState.PENDING);
    assertThat(Files.readString(ckpt)).isEqualTo("usr1\n");
    assertThat(log("usr1")).contains("sent SIGUSR1").doesNotContain("SIGKILL");
  }

  @Test
  void twoHundredShortJobsOnFourGpusRunOneAtATimePerGpuOnTheirOwnGpu() throws Exception {
    setUp(4);
    Path locks = Files.createDirectories(tmp.resolve("locks"));
    // each process holds a lock named after its GPU while it runs: a second process on the same
    // GPU at the same time cannot take it and fails the job
    ProcessJob pj =
        ProcessJob.shell(
                "mkdir \"$LOCKS/$CUDA_VISIBLE_DEVICES\" || exit 7; echo \"cvd=$CUDA_VISIBLE_DEVICES\";"
                    + " rmdir \"$LOCKS/$CUDA_VISIBLE_DEVICES\"")
            .env("LOCKS", locks.toString());
    List<JobHandle> jobs = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      jobs.add(submit("short-" + i, pj));
    }
    for (JobHandle job : jobs) {
      assertThat(finished(job)).as(job.id() + ": " + job.endReason()).isEqualTo(JobState.COMPLETED);
    }
    Set<String> used = new HashSet<>();
    for (JobHandle job : jobs) {
      List<String> uuids = startedOn.get(job.id());
      assertThat(uuids).hasSize(1);
      assertThat(launcher.tail(job.id(), 2).get(0)).isEqualTo("cvd=" + uuids.get(0));
      used.add(uuids.get(0));
    }
    assertThat(used).hasSize(4);
    assertThat(held()).isEmpty();
    try (var left = Files.list(locks)) {
      assertThat(left.collect(Collectors.toList())).isEmpty();
    }
  }

  @Test
  void reconcileProcessTellsARunningRecordedProcessFromAGoneOne() throws Exception {
    setUp(1);
    Path ready = tmp.resolve("ready");
    JobHandle job = submit("rec", ProcessJob.shell("touch '" + ready + "'; sleep 300"));
    await("the start", () -> Files.exists(ready));
    JobHandle running = scheduler.job("rec").orElseThrow();

    // a second launcher on the same folder, as after a restart
    try (ProcessLauncher restarted = ProcessLauncher.builder(tmp.resolve("logs")).build()) {
      assertThat(restarted.reconcileProcess(running)).isEqualTo(ProcessLauncher.ProcessState.RUNNING);
      assertThat(restarted.tail("rec", 5)).isEmpty(); // nothing written yet besides the touch
      job.cancel();
      await("the exit", () -> launcher.pid("rec").isEmpty());
      assertThat(restarted.reconcileProcess(running)).isEqualTo(ProcessLauncher.ProcessState.GONE);
    }
  }

  /**
   * {@code reconcile} (what the scheduler asks after a restart) answers from the recorded process
   * and, for one still running, fails the job when that process exits (its exit status is unknown
   * to a JVM that did not start it).
   */
  @Test
  void reconcileAnswersRunningAndFailsTheJobWhenTheWatchedProcessExits() throws Exception {
    setUp(1);
    Path ready = tmp.resolve("ready2");
    submit("rec2", ProcessJob.shell("touch '" + ready + "'; sleep 300"));
    await("the start", () -> Files.exists(ready));
    JobHandle running = scheduler.job("rec2").orElseThrow();
    var failed = new java.util.concurrent.CompletableFuture<String>();
    JobHandle watched =
        (JobHandle)
            java.lang.reflect.Proxy.newProxyInstance(
                JobHandle.class.getClassLoader(),
                new Class<?>[] {JobHandle.class},
                (proxy, m, args) ->
                    m.getName().equals("fail")
                        ? failed.complete((String) args[0])
                        : m.invoke(running, args));
    try (ProcessLauncher restarted = ProcessLauncher.builder(tmp.resolve("logs")).build()) {
      // the process may be up (the file touched) a moment before its record is written
      await(
          "the record",
          () -> restarted.reconcileProcess(running) == ProcessLauncher.ProcessState.RUNNING);
      assertThat(restarted.reconcile(watched)).isEqualTo(io.gpusched.Reconciliation.RUNNING);
      long pid = launcher.pid("rec2").orElseThrow();
      ProcessHandle.of(pid).orElseThrow().destroyForcibly();
      assertThat(failed.get(60, java.util.concurrent.TimeUnit.SECONDS)).contains("exit status is unknown");
      await("the exit", () -> launcher.pid("rec2").isEmpty());
      assertThat(restarted.reconcile(running)).isEqualTo(io.gpusched.Reconciliation.GONE);
    }
  }

  @Test
  void processJobRoundTripsThroughMetadataAndRejectsBadInput() throws IOException {
    ProcessJob pj =
        ProcessJob.command("python", "train.py", "--name", "a \"quoted\"\nname\\")
            .workingDirectory(tmp)
            .env("K", "v=1");
    JobSpec spec = pj.applyTo(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j")).build();
    ProcessJob back = ProcessJob.from(spec);
    assertThat(back.argv()).isEqualTo(pj.argv());
    assertThat(back.workingDirectory()).isEqualTo(tmp);
    assertThat(back.env()).isEqualTo(Map.of("K", "v=1"));
    assertThat(ProcessJob.shell("a | b").argv()).containsExactly("/bin/sh", "-c", "a | b");

    assertThatThrownBy(() -> ProcessJob.command(List.of()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ProcessJob.command("true").env("A=B", "x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("A=B");
    JobSpec both =
        JobSpec.builder(PlacementRequest.wholeGpus(1))
            .id("both")
            .metadata(ProcessJob.COMMAND, "[\"true\"]")
            .metadata(ProcessJob.SHELL, "true")
            .build();
    assertThatThrownBy(() -> ProcessJob.from(both))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("both");
    assertThatThrownBy(() -> ProcessLauncher.builder(tmp).checkpointSignal("SIGNOPE"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("SIGNOPE");
  }

  // ---------------------------------------------------------------- MIG (fake NVML)

  private static final ProcessJob SHOW_DEVICES =
      ProcessJob.shell("echo \"cvd=$CUDA_VISIBLE_DEVICES\"");

  @Test
  void aMigJobSeesTheMigDeviceOfItsExistingInstance() throws Exception {
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    NvmlInventory inventory = new NvmlInventory(api, Map.of());
    setUp(inventory.readNode(NODE), b -> b.inventory(inventory));

    JobHandle job = submit("mig", SHOW_DEVICES, PlacementRequest.mig("3g.40gb"));

    assertThat(finished(job)).as("%s", job.endReason()).isEqualTo(JobState.COMPLETED);
    assertThat(launcher.tail("mig", 2).get(0)).isEqualTo("cvd=" + FakeGpus.MIG_3G);
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void aMigJobWithoutItsInstanceOrWithoutNvmlFailsSayingWhyAndFreesTheGpu() throws Exception {
    // MIG_DYNAMIC: no instance exists, and this launcher is told to make none (as without root)
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100(1, 1));
    NvmlInventory inventory = new NvmlInventory(api, Map.of());
    NodeSpec node = inventory.readNode(NODE);
    assertThat(node.gpus().get(0).mode()).isEqualTo(GpuMode.MIG_DYNAMIC);
    setUp(node, b -> b.inventory(inventory).migInstances(false));

    JobHandle none = submit("none", SHOW_DEVICES, PlacementRequest.mig("3g.40gb"));
    assertThat(finished(none)).isEqualTo(JobState.FAILED);
    assertThat(none.endReason().orElseThrow())
        .contains("3g.40gb")
        .contains("no such GPU instance");
    assertThat(held()).isEmpty();
  }

  @Test
  void aMigJobFailsWithoutAnInventoryOrOnAnNvmlError() throws Exception {
    FakeNvmlApi api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    NvmlInventory inventory = new NvmlInventory(api, Map.of());
    NodeSpec node = inventory.readNode(NODE);
    setUp(node, b -> b);
    JobHandle noNvml = submit("no-nvml", SHOW_DEVICES, PlacementRequest.mig("1g.10gb"));
    assertThat(finished(noNvml)).isEqualTo(JobState.FAILED);
    assertThat(noNvml.endReason().orElseThrow()).contains("needs NVML").contains("1g.10gb");
    tearDown();

    api.fail("nvmlDeviceGetGpuInstanceId", 0, 2, NvmlReturn.ERROR_GPU_IS_LOST);
    setUp(node, b -> b.inventory(inventory));
    JobHandle lost = submit("lost", SHOW_DEVICES, PlacementRequest.mig("1g.10gb"));
    assertThat(finished(lost)).isEqualTo(JobState.FAILED);
    assertThat(lost.endReason().orElseThrow()).contains("NVML_ERROR_GPU_IS_LOST");
    assertThat(held()).isEmpty();
  }
}
