package io.gpusched.nvml;

import io.gpusched.JobHandle;
import io.gpusched.Reconciliation;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * After a restart: whether the recorded process of a job's attempt still runs, and re-attaching
 * one that does (see {@link ProcessLauncher#reconcile}): the run is registered with the launcher
 * as if it had started it, its log is re-opened for the launcher's notes (so {@code tail} goes on
 * from the lines written before), {@code stop} signals its tree, and its exit is seen through
 * {@link ProcessHandle#onExit()}. Thread-safe.
 */
final class ProcessReconciler {
  private static final Logger log = LoggerFactory.getLogger(ProcessReconciler.class);

  private final RunFiles files;
  private final BooleanSupplier closed;
  private final long logCapBytes;
  private final int logRotations;
  private final Executor executor;
  private final ScheduledExecutorService timers;
  private final Predicate<ProcessRun> register;
  private final Consumer<ProcessRun> finish;
  private final @Nullable MigInstanceManager migs;

  /**
   * @param closed whether the launcher is closed (exits are then not reported)
   * @param register registers a re-attached run unless the job already has one; whether it did
   * @param finish forgets a run that ended (and destroys the MIG instances it holds)
   * @param migs takes over the MIG instances recorded for a run; null without an inventory
   */
  ProcessReconciler(
      RunFiles files,
      BooleanSupplier closed,
      long logCapBytes,
      int logRotations,
      Executor executor,
      ScheduledExecutorService timers,
      Predicate<ProcessRun> register,
      Consumer<ProcessRun> finish,
      @Nullable MigInstanceManager migs) {
    this.files = files;
    this.closed = closed;
    this.logCapBytes = logCapBytes;
    this.logRotations = logRotations;
    this.executor = executor;
    this.timers = timers;
    this.register = register;
    this.finish = finish;
    this.migs = migs;
  }

  Reconciliation reconcile(JobHandle job) {
    ProcessLauncher.ProcessState found = reconcileProcess(job);
    if (found == ProcessLauncher.ProcessState.GONE) {
      releaseRecordedMig(job);
      return Reconciliation.GONE;
    }
    if (found != ProcessLauncher.ProcessState.RUNNING) {
      return Reconciliation.UNKNOWN;
    }
    Optional<Path> logFile = files.latestLog(job.id(), job.attempts());
    long pid;
    try {
      Map<String, String> rec =
          RunFiles.readRecord(RunFiles.recordOf(logFile.orElseThrow(IOException::new)));
      pid = Long.parseLong(rec.getOrDefault("pid", ""));
    } catch (IOException | NumberFormatException e) {
      return Reconciliation.UNKNOWN;
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty()) {
      releaseRecordedMig(job); // exited since it was checked
      return Reconciliation.GONE;
    }
    return reattach(job, logFile.get(), h.get()) ? Reconciliation.RUNNING : Reconciliation.UNKNOWN;
  }

  /**
   * Registers a run for a process this JVM did not start and watches its exit. The exit status of
   * such a process is unknown (only a parent is told it), so an exit not asked for fails the job
   * saying so; one after a stop request reports {@link JobHandle#stopped()}.
   *
   * @return false when no log could be opened for it (the answer is then UNKNOWN)
   */
  private boolean reattach(JobHandle job, Path logFile, ProcessHandle process) {
    ProcessRun run = new ProcessRun(job, job.attempts());
    run.logFile = logFile;
    try {
      run.log = ProcessLog.reopen(logFile, logCapBytes, logRotations);
    } catch (IOException e) {
      try { // the notes go to a new log of the attempt instead
        run.logFile = files.claimLog(job.id(), job.attempts());
        run.log = new ProcessLog(run.logFile, logCapBytes, logRotations);
        log.warn("job {}: cannot re-open its log {}; writing to {}", job.id(), logFile,
            run.logFile, e);
      } catch (IOException | RuntimeException again) {
        log.warn("job {}: cannot re-open its log {} nor start one", job.id(), logFile, again);
        return false;
      }
    }
    run.handle = process;
    if (!register.test(run)) {
      log.warn("job {}: already has a run here; process {} not re-attached", job.id(), process.pid());
      closeLog(run);
      return true;
    }
    note(run, "re-attached to process " + process.pid() + " after a restart (its output after"
        + " the earlier launcher ended is not in this log)");
    if (migs != null) {
      migs.adopt(run);
    }
    AtomicBoolean ended = new AtomicBoolean();
    Runnable onEnd =
        () -> {
          if (ended.compareAndSet(false, true)) {
            exited(run, process);
          }
        };
    // the exit of a process this JVM did not start: ProcessHandle.onExit; the slow check below
    // only guarantees the report should that notice be late (seen late under load in tests)
    var unused = process.onExit().thenRunAsync(onEnd, executor);
    run.watchTask =
        timers.scheduleWithFixedDelay(
            () -> {
              if (!process.isAlive()) {
                executor.execute(onEnd);
              }
            },
            5,
            5,
            TimeUnit.SECONDS);
    return true;
  }

  private void exited(ProcessRun run, ProcessHandle process) {
    boolean stopRequested;
    synchronized (run) {
      stopRequested = run.stopRequested;
      StopSequence.cancel(run.termTask);
    }
    StopSequence.cancel(run.watchTask);
    String how = "process " + process.pid() + " ended after a scheduler restart; its exit status"
        + " is unknown";
    note(run, how);
    closeLog(run);
    finish.accept(run);
    if (closed.getAsBoolean()) {
      return;
    }
    if (stopRequested) {
      run.job.stopped();
    } else {
      run.job.fail(how);
    }
  }

  /**
   * A job whose process is gone: the MIG instances recorded for its attempt are destroyed before
   * the scheduler hears GONE and frees its GPUs.
   */
  private void releaseRecordedMig(JobHandle job) {
    MigInstanceManager m = migs;
    if (m == null) {
      return;
    }
    Optional<Path> logFile = files.latestLog(job.id(), job.attempts());
    if (logFile.isEmpty()) {
      return;
    }
    ProcessRun gone = new ProcessRun(job, job.attempts());
    gone.logFile = logFile.get();
    if (m.adopt(gone) > 0) {
      m.release(gone);
    }
  }

  private static void note(ProcessRun run, String line) {
    ProcessLog l = run.log;
    if (l == null) {
      return;
    }
    try {
      l.note(line);
    } catch (RuntimeException e) {
      log.warn("job {}: cannot write its log", run.job.id(), e);
    }
  }

  private static void closeLog(ProcessRun run) {
    ProcessLog l = run.log;
    if (l == null) {
      return;
    }
    try {
      l.close();
    } catch (IOException e) {
      log.debug("job {}: closing its log", run.job.id(), e);
    }
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
