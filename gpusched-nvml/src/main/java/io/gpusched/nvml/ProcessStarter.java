package io.gpusched.nvml;

import io.gpusched.JobHandle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts one attempt's process for {@link ProcessLauncher} (see its class description, "Life of a
 * run"), on the launcher's executor: opens the log, reads the job's command, works out the visible
 * devices, starts the process, writes its record, copies its output into the log and hands its
 * exit to the {@link ExitReporter}. A run that cannot start fails the job with the reason.
 * Thread-safe.
 */
final class ProcessStarter {
  private static final Logger log = LoggerFactory.getLogger(ProcessStarter.class);

  private final RunFiles files;
  private final @Nullable MigInstanceManager migs;
  private final long logCapBytes;
  private final int logRotations;
  private final ProcessEnvironment environment;
  private final Executor executor;
  private final ExitReporter exits;
  private final Consumer<ProcessRun> finish;

  /**
   * @param migs makes MIG_DYNAMIC instances before the process starts; null without an inventory
   * @param finish forgets a run that ended (or never started), releasing its MIG instances
   */
  ProcessStarter(
      RunFiles files,
      @Nullable MigInstanceManager migs,
      long logCapBytes,
      int logRotations,
      ProcessEnvironment environment,
      Executor executor,
      ExitReporter exits,
      Consumer<ProcessRun> finish) {
    this.files = files;
    this.migs = migs;
    this.logCapBytes = logCapBytes;
    this.logRotations = logRotations;
    this.environment = environment;
    this.executor = executor;
    this.exits = exits;
    this.finish = finish;
  }

  void launch(ProcessRun run) {
    JobHandle job = run.job;
    try {
      run.logFile = files.claimLog(job.id(), run.attempt);
      run.log = new ProcessLog(run.logFile, logCapBytes, logRotations);
    } catch (IOException | RuntimeException e) {
      log.warn("job {}: cannot open a log for attempt {} in {}", job.id(), run.attempt,
          files.jobDir(job.id()), e);
      finish.accept(run);
      job.fail("cannot open a log in " + files.jobDir(job.id()) + ": " + e);
      return;
    }
    ProcessBuilder pb;
    ProcessJob pj;
    try {
      pj = ProcessJob.from(job.spec());
    } catch (RuntimeException e) {
      startFailed(run, "bad process metadata: " + e.getMessage());
      return;
    }
    if (migs != null) {
      try {
        migs.prepare(run, job.allocations());
      } catch (RuntimeException e) {
        startFailed(run, "cannot start " + pj + ": " + e.getMessage());
        return;
      }
    }
    List<String> devices;
    try {
      devices = environment.visibleDevices(job.allocations());
    } catch (RuntimeException e) {
      startFailed(run, "cannot start " + pj + ": " + e.getMessage());
      return;
    }
    run.devices = List.copyOf(devices);
    try {
      pb = environment.processBuilder(run, pj, devices);
    } catch (RuntimeException e) {
      startFailed(run, "cannot start " + pj + ": " + e);
      return;
    }
    Path wd = pj.workingDirectory();
    if (wd != null && !Files.isDirectory(wd)) {
      startFailed(run, "cannot start " + pj + ": working directory " + wd + " does not exist");
      return;
    }
    Process process;
    synchronized (run) {
      if (run.stopRequested) {
        process = null;
      } else {
        try {
          process = pb.start();
        } catch (IOException | RuntimeException e) {
          run.log.note("cannot start " + pj + ": " + e.getMessage());
          finishQuietly(run);
          job.fail("cannot start " + pj + ": " + e.getMessage());
          return;
        }
        run.process = process;
        run.handle = process.toHandle();
      }
    }
    if (process == null) {
      run.log.note("stopped before it started");
      finishQuietly(run);
      job.stopped();
      return;
    }
    RunFiles.writeRecord(run, process);
    Process p = process;
    executor.execute(
        () -> {
          try {
            run.log.pump(p.getInputStream());
          } catch (IOException e) {
            log.warn("job {}: log copy failed", job.id(), e);
          } finally {
            run.pumped.complete(null);
          }
        });
    // a stop() from now on sees the process and signals it itself
    var unused = p.onExit().thenRunAsync(() -> exits.exited(run, p), executor);
  }

  private void startFailed(ProcessRun run, String reason) {
    run.log.note(reason);
    finishQuietly(run);
    run.job.fail(reason);
  }

  private void finishQuietly(ProcessRun run) {
    try {
      run.log.close();
    } catch (IOException e) {
      log.debug("job {}: closing its log", run.job.id(), e);
    }
    finish.accept(run);
  }
}
