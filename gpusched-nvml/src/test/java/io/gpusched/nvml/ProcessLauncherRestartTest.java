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
import io.gpusched.Reconciliation;
import io.gpusched.StopReason;
import io.gpusched.core.GpuSchedulers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ProcessLauncher} across a restart, as a second launcher on the same log folder: a job id
 * used again (a new scheduler numbers attempts from 1 again) must not overwrite the log, record or
 * exit status of an earlier run of that id; a process still running when the new launcher
 * reconciles it is re-attached (its log, its PID, stop and exit). Real processes, real schedulers.
 */
class ProcessLauncherRestartTest {
  @TempDir Path tmp;

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  /** A launcher on the shared log folder under a scheduler of its own, as after a restart. */
  private ProcessLauncher launcher() {
    ProcessLauncher l = ProcessLauncher.builder(tmp.resolve("logs")).build();
    open.add(l);
    return l;
  }

  private JobHandle run(ProcessLauncher l, String id, String shell) throws Exception {
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .nodes(List.of(NodeSpec.builder("host").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
            .launcher(l)
            .build();
    open.add(s);
    JobHandle job =
        s.submit(ProcessJob.shell(shell).applyTo(JobSpec.builder(PlacementRequest.wholeGpus(1)).id(id)).build());
    job.whenFinished().get(30, TimeUnit.SECONDS);
    return job;
  }

  private static String readAll(List<Path> files) throws Exception {
    StringBuilder b = new StringBuilder();
    for (Path f : files) {
      b.append(Files.readString(f));
    }
    return b.toString();
  }

  @Test
  void aJobIdUsedAgainAfterARestartKeepsTheEarlierRunsLogAndExitStatus() throws Exception {
    ProcessLauncher first = launcher();
    JobHandle a = run(first, "train", "echo first-run; exit 3");
    assertThat(a.state()).isEqualTo(JobState.FAILED);
    Path firstLog = first.logFile("train").orElseThrow();

    ProcessLauncher second = launcher(); // a restart: attempt numbering starts again at 1
    JobHandle b = run(second, "train", "echo second-run");
    assertThat(b.state()).isEqualTo(JobState.COMPLETED);
    assertThat(b.attempts()).isEqualTo(a.attempts());

    Path secondLog = second.logFile("train").orElseThrow();
    assertThat(secondLog).isNotEqualTo(firstLog);
    assertThat(Files.readString(firstLog)).contains("first-run").doesNotContain("second-run");
    assertThat(Files.readString(secondLog)).contains("second-run").doesNotContain("first-run");
    assertThat(Files.readString(RunFiles.exitFile(firstLog)).strip()).isEqualTo("3");
    // the newest run is what every launcher on the folder reports
    assertThat(second.exitStatus("train")).contains(0);
    assertThat(launcher().exitStatus("train")).contains(0);
    assertThat(launcher().tail("train", 5)).anyMatch(l -> l.equals("second-run"));

    ProcessLauncher third = launcher();
    run(third, "train", "echo third-run");
    try (Stream<Path> logs = Files.list(firstLog.getParent())) {
      List<Path> all =
          logs.filter(p -> p.getFileName().toString().endsWith(".log")).sorted().collect(Collectors.toList());
      assertThat(all).hasSize(3);
      assertThat(readAll(all)).contains("first-run").contains("second-run").contains("third-run");
    }
    assertThat(launcher().tail("train", 5)).anyMatch(l -> l.equals("third-run"));
  }

  private static void await(String what, java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    ProcessLauncherTest.await(what, condition);
  }

  /**
   * A process started by one launcher and reconciled RUNNING by a second (as after a restart) is
   * re-attached: the second reports its PID, writes its notes into the same log (the tail goes on
   * from the first launcher's lines), stops its whole tree on request, and reports its exit (seen
   * through {@code ProcessHandle.onExit}) on the reconciled handle.
   */
  @Test
  void aProcessFoundRunningAtReconcileIsReattachedToItsLogAndCanBeStopped() throws Exception {
    ProcessLauncher first = launcher();
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .nodes(List.of(NodeSpec.builder("host").gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
            .launcher(first)
            .build();
    open.add(s);
    Path ready = tmp.resolve("ready");
    s.submit(
        ProcessJob.shell("echo before-restart; touch '" + ready + "'; while :; do sleep 0.05; done")
            .applyTo(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("long"))
            .build());
    JobHandle running = s.job("long").orElseThrow();
    await("the start", () -> Files.exists(ready));
    // the first launcher's copy is in the file before the second appends to it (after a real
    // restart that first writer is gone)
    await("the first line", () -> first.tail("long", 1).contains("before-restart"));
    long pid = first.pid("long").orElseThrow();

    CompletableFuture<String> reported = new CompletableFuture<>();
    JobHandle reconciled =
        (JobHandle)
            java.lang.reflect.Proxy.newProxyInstance(
                JobHandle.class.getClassLoader(),
                new Class<?>[] {JobHandle.class},
                (proxy, m, args) -> {
                  switch (m.getName()) {
                    case "fail":
                      return reported.complete("fail: " + args[0]);
                    case "stopped":
                      return reported.complete("stopped");
                    case "complete":
                      return reported.complete("complete");
                    default:
                      return m.invoke(running, args);
                  }
                });
    ProcessLauncher second = launcher();
    // the process may be up (the file touched) a moment before its record is written
    await(
        "the record",
        () -> second.reconcileProcess(running) == ProcessLauncher.ProcessState.RUNNING);
    assertThat(second.reconcile(reconciled)).isEqualTo(Reconciliation.RUNNING);

    assertThat(second.pid("long")).contains(pid);
    assertThat(second.logFile("long")).isEqualTo(first.logFile("long"));
    assertThat(second.tail("long", 10))
        .contains("before-restart")
        .anyMatch(l -> l.startsWith("[gpusched] re-attached to process " + pid));

    second.stop(reconciled, StopReason.CANCELLED, Instant.now());
    assertThat(reported.get(30, TimeUnit.SECONDS)).isEqualTo("stopped");
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(second.pid("long")).isEmpty();
    assertThat(second.tail("long", 20))
        .anyMatch(l -> l.startsWith("[gpusched] sent SIGTERM"))
        .anyMatch(l -> l.startsWith("[gpusched] process " + pid + " ended"));
  }
}
