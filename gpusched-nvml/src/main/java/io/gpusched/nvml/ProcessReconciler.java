package io.gpusched.nvml;

import io.gpusched.JobHandle;
import io.gpusched.Reconciliation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * After a restart: whether the recorded process of a job's attempt still runs, and watching one
 * that does (see {@link ProcessLauncher#reconcile}). Thread-safe.
 */
final class ProcessReconciler {
  private final RunFiles files;
  private final BooleanSupplier closed;

  ProcessReconciler(RunFiles files, BooleanSupplier closed) {
    this.files = files;
    this.closed = closed;
  }

  Reconciliation reconcile(JobHandle job) {
    ProcessLauncher.ProcessState found = reconcileProcess(job);
    if (found == ProcessLauncher.ProcessState.RUNNING) {
      Optional<Path> record = files.recordFile(job.id(), job.attempts());
      try {
        Map<String, String> rec = RunFiles.readRecord(record.orElseThrow(IOException::new));
        watch(job, Long.parseLong(rec.getOrDefault("pid", "")), rec.get("start"));
      } catch (IOException | NumberFormatException e) {
        return Reconciliation.UNKNOWN;
      }
      return Reconciliation.RUNNING;
    }
    return found == ProcessLauncher.ProcessState.GONE ? Reconciliation.GONE : Reconciliation.UNKNOWN;
  }

  /**
   * Watches a process this JVM did not start (found by {@link #reconcile}) once a second until it
   * is gone (or its PID names another process), then fails the job. Polling, since only a parent
   * is told of a child's exit; these are few and only after a restart.
   */
  private void watch(JobHandle job, long pid, @Nullable String start) {
    var unused = CompletableFuture.runAsync(
        () -> {
          if (closed.getAsBoolean() || job.state().isFinal()) {
            return;
          }
          Optional<ProcessHandle> h = ProcessHandle.of(pid);
          boolean same =
              h.isPresent()
                  && h.get().isAlive()
                  && (start == null
                      || h.get().info().startInstant().map(i -> i.toString().equals(start)).orElse(true));
          if (same) {
            watch(job, pid, start);
          } else {
            job.fail("process " + pid + " exited after a scheduler restart; its exit status is unknown");
          }
        },
        CompletableFuture.delayedExecutor(1, TimeUnit.SECONDS));
  }

  /** See {@link ProcessLauncher#reconcileProcess}. */
  ProcessLauncher.ProcessState reconcileProcess(JobHandle job) {
    Optional<Path> found = files.recordFile(job.id(), job.attempts());
    if (found.isEmpty()) {
      return ProcessLauncher.ProcessState.GONE;
    }
    Path record = found.get();
    Map<String, String> rec;
    try {
      rec = RunFiles.readRecord(record);
    } catch (IOException e) {
      return Files.exists(record)
          ? ProcessLauncher.ProcessState.UNKNOWN
          : ProcessLauncher.ProcessState.GONE;
    }
    long pid;
    try {
      pid = Long.parseLong(rec.getOrDefault("pid", ""));
    } catch (NumberFormatException e) {
      return ProcessLauncher.ProcessState.UNKNOWN;
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty() || !h.get().isAlive()) {
      return ProcessLauncher.ProcessState.GONE;
    }
    ProcessHandle.Info info = h.get().info();
    String start = info.startInstant().map(Instant::toString).orElse(null);
    String cmd = info.commandLine().orElse(null);
    if (start == null || cmd == null || !rec.containsKey("start")) {
      return ProcessLauncher.ProcessState.UNKNOWN;
    }
    return start.equals(rec.get("start")) && cmd.equals(rec.get("commandLine"))
        ? ProcessLauncher.ProcessState.RUNNING
        : ProcessLauncher.ProcessState.GONE;
  }
}
