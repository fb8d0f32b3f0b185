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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job id used again on the same log folder (a new scheduler after a restart numbers attempts
 * from 1 again) must not overwrite the log, record or exit status of an earlier run of that id.
 * Real processes, real schedulers.
 */
class ProcessLauncherLogReuseTest {
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
}
