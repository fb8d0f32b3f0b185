package io.gpusched.nvml;

import io.gpusched.JobHandle;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reports the exit of a process {@link ProcessLauncher} started (see its class description, "Life
 * of a run"): records the exit status beside the log, notes it in the log, and completes, fails or
 * stops the job. Thread-safe.
 */
final class ExitReporter {
  private static final Logger log = LoggerFactory.getLogger(ExitReporter.class);

  private final Duration outputDrainWait;
  private final int failureTailLines;
  private final Consumer<ProcessRun> finish;

  /**
   * @param finish forgets the run (called before the job is reported on)
   */
  ExitReporter(Duration outputDrainWait, int failureTailLines, Consumer<ProcessRun> finish) {
    this.outputDrainWait = outputDrainWait;
    this.failureTailLines = failureTailLines;
    this.finish = finish;
  }

  void exited(ProcessRun run, Process p) {
    try {
      run.pumped.get(outputDrainWait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      // a descendant still holds the output open; report now, the copy goes on until it closes
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
    }
    int status = p.exitValue();
    String how = describe(status);
    boolean stopRequested;
    synchronized (run) {
      stopRequested = run.stopRequested;
      StopSequence.cancel(run.termTask); // a kill still scheduled stays: it ends leftover descendants
    }
    List<String> tail = List.of();
    try {
      Files.writeString(RunFiles.exitFile(run.logFile), status + "\n");
    } catch (IOException e) {
      log.warn("job {}: cannot record its exit status", run.job.id(), e);
    }
    try {
      run.log.note("process " + p.pid() + " ended: " + how);
      tail = failureTail(run);
    } catch (RuntimeException e) { // the report below must happen whatever the log does
      log.warn("job {}: cannot write its log", run.job.id(), e);
    }
    finish.accept(run);
    JobHandle job = run.job;
    if (stopRequested) {
      job.stopped();
    } else if (status == 0) {
      job.complete();
    } else {
      job.fail(how + (tail.isEmpty() ? "" : "; last log lines:\n" + String.join("\n", tail)));
    }
  }

  /** An exit status as a shell reads it: above 128, death by signal {@code status - 128}. */
  static String describe(int status) {
    return status > 128 && status < 128 + 32
        ? "killed by " + Signals.name(status - 128) + " (exit status " + status + ")"
        : "exit status " + status;
  }

  private List<String> failureTail(ProcessRun run) {
    try {
      List<String> lines = ProcessLog.tail(run.logFile, failureTailLines + 1);
      // the last line is the launcher's own "ended" note
      List<String> out = new ArrayList<>(lines.subList(0, Math.max(0, lines.size() - 1)));
      out.replaceAll(s -> s.length() > 500 ? s.substring(0, 500) + "..." : s);
      return out;
    } catch (IOException e) {
      return List.of();
    }
  }
}
