package io.gpusched.nvml;

import io.gpusched.JobHandle;
import io.gpusched.Reconciliation;
import io.gpusched.JobLauncher;
import io.gpusched.StopReason;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link JobLauncher} that runs each job as an operating-system process on this machine, the
 * command read from the job's metadata (see {@link ProcessJob}).
 *
 * <h2>What the process sees</h2>
 *
 * The launcher's environment plus the job's {@code process.env.*} entries, and:
 *
 * <ul>
 *   <li>{@code CUDA_VISIBLE_DEVICES}: the UUIDs of the allocated GPUs, comma-separated, in
 *       allocation order (all gang members' GPUs: a gang runs as one process here); for a MIG
 *       instance, the UUIDs of its MIG devices as NVML reports them ({@link
 *       Builder#inventory}; see "MIG instances" below);
 *   <li>{@code GPUSCHED_JOB_ID}, {@code GPUSCHED_ATTEMPT} (1 for the first run);
 *   <li>{@code GPUSCHED_ALLOCATION}: the allocations as JSON, an array with one object per gang
 *       member ({@code id}, {@code node}, {@code gpus}: {@code index}, {@code uuid}, {@code model},
 *       {@code mode}, {@code migProfile}, {@code migStartSlot}, {@code milliGpu}, {@code
 *       memoryMiB});
 *   <li>{@code GPUSCHED_LOG}: the attempt's log file; {@code GPUSCHED_STOP_FILE}: the file the
 *       launcher creates when it asks for a checkpoint by file.
 * </ul>
 *
 * <h2>Life of a run</h2>
 *
 * {@link #start} only hands the run to the launcher's executor, so the dispatcher never blocks.
 * There the process is started, stdout and stderr going to one log, {@code <logDirectory>/<job
 * id>/attempt-<n>.log} (or {@code attempt-<n>_<k>.log} when a run of that job id and attempt
 * number already left files there: an earlier run's log is never overwritten), kept under a size
 * cap with rotation ({@link #tail}). Its exit is seen
 * through {@link Process#onExit()} (no polling): status 0 completes the job; any other status
 * fails it with the status and the last log lines; a status above 128 is read as death by signal
 * {@code status - 128} (as a shell reads it) and the failure names the signal. A job whose command
 * cannot start (no such program, no such working directory, bad metadata) fails at once with the
 * reason, and the scheduler frees its GPUs.
 *
 * <h2>Stop</h2>
 *
 * On {@link #stop}: when a checkpoint request is configured and the deadline is still ahead, the
 * request goes first (the signal to the job's process, or the stop file created), and {@code
 * SIGTERM} follows halfway to the deadline; otherwise {@code SIGTERM} goes at once. At the
 * deadline (at least {@link Builder#minimumTermGrace} after the {@code SIGTERM}) every process
 * still alive gets {@code SIGKILL}. Both signals go to the whole tree: the process and its
 * descendants ({@link ProcessHandle#descendants()}), as seen when each signal is sent. A process
 * that exits after a stop request reports {@link JobHandle#stopped()} (which releases a preempted
 * job's GPUs before its deadline), never complete or fail.
 *
 * <h2>MIG instances</h2>
 *
 * With an {@link Builder#inventory}, for each {@code MIG_DYNAMIC} GPU of a job's allocations the
 * launcher makes, before the process starts, the GPU instance at exactly the allocated placement
 * and a compute instance filling it, and destroys both when the run ends, before the job is
 * reported (so before its GPUs are freed). An instance already there with that profile is reused;
 * only instances the launcher made are destroyed. A failure fails the job with NVML's error name.
 * Without root or MIG mode it says so once at {@link Builder#build} and uses existing instances
 * only, as for {@code MIG_STATIC} GPUs. See {@code MigInstanceManager} and docs/launcher.md.
 *
 * <p>Thread-safe. No global lock: each run has its own monitor, held only for a few field
 * updates; MIG instance changes are made one at a time.
 */
public final class ProcessLauncher implements JobLauncher, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ProcessLauncher.class);

  private final Duration minimumTermGrace;

  /** Set by {@link #close}: reconciled processes are no longer watched. */
  private volatile boolean closed;
  private final ExecutorService executor;
  private final boolean ownsExecutor;
  private final ScheduledExecutorService timers;
  private final ConcurrentHashMap<String, ProcessRun> runs = new ConcurrentHashMap<>();

  private final RunFiles files;
  private final ProcessEnvironment environment;
  private final StopSequence stops;
  private final ExitReporter exits;
  private final ProcessReconciler reconciler;
  private final ProcessStarter starter;
  private final @Nullable MigInstanceManager migs;

  private ProcessLauncher(Builder b) {
    this.minimumTermGrace = b.minimumTermGrace;
    this.ownsExecutor = b.executor == null;
    this.executor =
        b.executor != null ? b.executor : Executors.newCachedThreadPool(daemon("gpusched-process"));
    this.timers = Executors.newSingleThreadScheduledExecutor(daemon("gpusched-process-timer"));
    this.files = new RunFiles(b.logDirectory);
    NvmlInventory inventory = b.inventory;
    this.migs =
        inventory != null && b.migInstances ? MigInstanceManager.start(inventory.api()) : null;
    this.environment = new ProcessEnvironment(b.environment, b.inventory, b.simulatedGpus);
    this.stops =
        new StopSequence(b.checkpointSignal, b.checkpointFile, b.minimumTermGrace, executor, timers);
    this.exits = new ExitReporter(b.outputDrainWait, b.failureTailLines, this::finish);
    this.reconciler =
        new ProcessReconciler(
            files,
            () -> closed,
            b.logCapBytes,
            b.logRotations,
            executor,
            timers,
            run -> runs.putIfAbsent(run.job.id(), run) == null,
            this::finish,
            migs);
    this.starter =
        new ProcessStarter(
            files, migs, b.logCapBytes, b.logRotations, environment, executor, exits,
            this::finish);
  }

  /**
   * Returns a builder whose logs go under {@code logDirectory} (created when needed).
   *
   * @param logDirectory where each job's logs go, one folder per job
   */
  public static Builder builder(Path logDirectory) {
    return new Builder(Objects.requireNonNull(logDirectory, "logDirectory"));
  }

  private static ThreadFactory daemon(String name) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, name + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  // ---------------------------------------------------------------- JobLauncher

  /**
   * Hands the run to the launcher's executor and returns at once.
   *
   * @throws java.util.concurrent.RejectedExecutionException after {@link #close()} (the scheduler
   *     then fails the job and frees its GPUs)
   */
  @Override
  public void start(JobHandle job) {
    ProcessRun run = new ProcessRun(job, job.attempts());
    runs.put(job.id(), run);
    executor.execute(() -> starter.launch(run));
  }

  /**
   * Stops the job's process tree as the class description says, without blocking: the signals are
   * sent from the launcher's timer and executor threads. A second call (a drain after a
   * preemption) may only bring the deadline forward.
   */
  @Override
  public void stop(JobHandle job, StopReason reason, Instant deadline) {
    ProcessRun run = runs.get(job.id());
    if (run == null || run.attempt != job.attempts()) {
      log.debug("stop {} ({}): no process of this run", job.id(), reason);
      return;
    }
    Instant now = Instant.now();
    boolean first;
    @Nullable ProcessHandle process;
    synchronized (run) {
      first = !run.stopRequested;
      run.stopRequested = true;
      if (!first && run.deadline != null && !deadline.isBefore(run.deadline)) {
        return;
      }
      run.deadline = deadline;
      process = run.handle;
    }
    if (process == null) {
      return; // launch() sees the flag and does not start it
    }
    stops.schedule(run, reason, now, deadline, first);
  }

  // ---------------------------------------------------------------- public reads

  /**
   * Returns the last {@code lines} lines of the job's latest attempt's log (stdout and stderr,
   * and the launcher's own {@code [gpusched]} notes), reading into rotated files as needed; empty
   * when the job has no log here.
   *
   * @throws IllegalArgumentException if {@code lines} is negative
   */
  public List<String> tail(String jobId, int lines) {
    Optional<Path> f = logFile(jobId);
    if (f.isEmpty()) {
      if (lines < 0) {
        throw new IllegalArgumentException("lines must be >= 0, was " + lines);
      }
      return List.of();
    }
    try {
      return ProcessLog.tail(f.get(), lines);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Returns the log file of the job's latest attempt that has one, if any. */
  public Optional<Path> logFile(String jobId) {
    ProcessRun run = runs.get(jobId);
    Path f = run == null ? null : run.logFile;
    if (f != null) {
      return Optional.of(f);
    }
    return files.latestLog(jobId);
  }

  /**
   * Returns the exit status of the process of the job's latest attempt that has a log, once it has
   * exited (kept beside the log as {@code attempt-<n>.exit}, so it survives the launcher); empty
   * while it runs, when it never started, or when the job has no log here. A death by signal reads
   * as 128 + the signal, as in a shell.
   */
  public Optional<Integer> exitStatus(String jobId) {
    if (runs.containsKey(jobId)) {
      return Optional.empty(); // starting or running: no status yet (an old file may be there)
    }
    Optional<Path> log = logFile(jobId);
    if (log.isEmpty()) {
      return Optional.empty();
    }
    Path f = RunFiles.exitFile(log.get());
    try {
      return Optional.of(Integer.parseInt(Files.readString(f).strip()));
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  /**
   * Returns the {@code CUDA_VISIBLE_DEVICES} the process of the job's latest attempt was given
   * (kept in its process record, so it outlives the run), or empty when no process was started.
   * On a simulated inventory these are labels, not devices ({@link Builder#simulatedGpus}).
   */
  public Optional<String> visibleDevices(String jobId) {
    Optional<Path> log = logFile(jobId);
    if (log.isEmpty()) {
      return Optional.empty();
    }
    try {
      return Optional.ofNullable(RunFiles.readRecord(RunFiles.recordOf(log.get())).get("cudaVisibleDevices"));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** Returns the process id of the job's running process, if the launcher runs one for it now. */
  public Optional<Long> pid(String jobId) {
    ProcessRun run = runs.get(jobId);
    ProcessHandle p = run == null ? null : run.handle;
    return p == null ? Optional.empty() : Optional.of(p.pid());
  }

  /** What {@link #reconcileProcess} finds. */
  public enum ProcessState {
    /** The recorded process still runs, with the recorded command line and start time. */
    RUNNING,
    /** No run was recorded, or its process is gone (or the PID now belongs to another process). */
    GONE,
    /** The operating system does not say enough to tell. */
    UNKNOWN
  }

  /**
   * After a restart with a durable store: whether the recorded process of the job's current attempt
   * still runs ({@link #reconcileProcess}). A process found RUNNING is re-attached: the launcher
   * runs it from then on as if it had started it ({@link #pid}, {@link #stop} of its whole tree,
   * {@link #close}), its log is re-opened and the launcher's notes go on in it (so {@link #tail}
   * reads the lines written before the restart and the notes after), and its exit is seen through
   * {@code ProcessHandle.of(pid).onExit()} (backed by a liveness check every 5 s): an exit after a
   * stop request reports {@link JobHandle#stopped()}, any other fails the job with "exit status
   * unknown" (a process this JVM did not start gives no exit status). What the process writes
   * after the earlier launcher ended is not in the log: its output went through that JVM's pipe,
   * so its next write usually kills it with SIGPIPE (see docs/launcher.md, Limits).
   */
  @Override
  public Reconciliation reconcile(JobHandle job) {
    return reconciler.reconcile(job);
  }

  /**
   * Answers, for a job recorded by this launcher or an earlier one with the same log directory
   * (after a restart), whether the process of its current attempt still runs: the PID recorded
   * when it started must be alive with the same start time and command line ({@link #reconcile}
   * answers the scheduler from this).
   *
   * @param job the job
   * @return RUNNING, GONE or UNKNOWN
   */
  public ProcessState reconcileProcess(JobHandle job) {
    return reconciler.reconcileProcess(job);
  }

  /**
   * Stops every process the launcher runs ({@code SIGTERM}, then {@code SIGKILL} after the {@link
   * Builder#minimumTermGrace}) and shuts its threads down (the executor only if the launcher made
   * it). Jobs are not reported on: the scheduler is closing too, or will reconcile.
   */
  @Override
  public void close() {
    closed = true;
    for (ProcessRun run : runs.values()) {
      synchronized (run) {
        run.stopRequested = true;
      }
      StopSequence.terminate(run);
    }
    try {
      Thread.sleep(Math.min(minimumTermGrace.toMillis(), 5_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (ProcessRun run : runs.values()) {
      StopSequence.kill(run);
    }
    timers.shutdownNow();
    if (ownsExecutor) {
      executor.shutdown();
    }
  }

  // ---------------------------------------------------------------- the run

  /** Forgets a run that ended, and destroys the MIG instances it made (before it is reported). */
  private void finish(ProcessRun run) {
    runs.remove(run.job.id(), run);
    MigInstanceManager m = migs;
    if (m != null) {
      m.release(run);
    }
  }

  /** The MIG instance manager, null without an inventory (tests). */
  @Nullable MigInstanceManager migInstances() {
    return migs;
  }

  // ---------------------------------------------------------------- builder

  /** Builder of {@link ProcessLauncher}; not thread-safe. */
  public static final class Builder {
    private final Path logDirectory;
    private long logCapBytes = 10L << 20;
    private int logRotations = 2;
    private int failureTailLines = 10;
    private @Nullable String checkpointSignal;
    private boolean checkpointFile;
    private Duration minimumTermGrace = Duration.ZERO;
    private Duration outputDrainWait = Duration.ofSeconds(2);
    private final Map<String, String> environment = new LinkedHashMap<>();
    private @Nullable ExecutorService executor;
    private @Nullable NvmlInventory inventory;
    private boolean simulatedGpus;
    private boolean migInstances = true;

    private Builder(Path logDirectory) {
      this.logDirectory = logDirectory;
    }

    /**
     * Size of one log file before it rotates. Default 10 MiB.
     *
     * @throws IllegalArgumentException unless positive
     */
    public Builder logCapBytes(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("logCapBytes must be positive, was " + bytes);
      }
      this.logCapBytes = bytes;
      return this;
    }

    /**
     * How many rotated files ({@code .1}, {@code .2}, ...) are kept besides the current one.
     * Default 2.
     *
     * @throws IllegalArgumentException unless in 0..64
     */
    public Builder logRotations(int rotations) {
      if (rotations < 0 || rotations > 64) {
        throw new IllegalArgumentException("logRotations must be in 0..64, was " + rotations);
      }
      this.logRotations = rotations;
      return this;
    }

    /**
     * How many log lines a failure's reason carries. Default 10.
     *
     * @throws IllegalArgumentException unless in 0..1000
     */
    public Builder failureTailLines(int lines) {
      if (lines < 0 || lines > 1000) {
        throw new IllegalArgumentException("failureTailLines must be in 0..1000, was " + lines);
      }
      this.failureTailLines = lines;
      return this;
    }

    /** Asks for a checkpoint with {@code SIGUSR1} before {@code SIGTERM}. Default: no request. */
    public Builder checkpointSignal() {
      return checkpointSignal("SIGUSR1");
    }

    /**
     * Asks for a checkpoint with this signal ({@code USR2}, {@code SIGUSR2} or its number) before
     * {@code SIGTERM}. A process that does not handle it usually dies of it.
     *
     * @throws IllegalArgumentException naming an unknown signal
     */
    public Builder checkpointSignal(String signal) {
      this.checkpointSignal = Signals.canonical(Objects.requireNonNull(signal, "signal"));
      return this;
    }

    /**
     * Asks for a checkpoint by creating the file named in the job's {@code GPUSCHED_STOP_FILE}
     * (holding the stop reason and deadline) before {@code SIGTERM}. Default off.
     */
    public Builder checkpointFile(boolean enabled) {
      this.checkpointFile = enabled;
      return this;
    }

    /**
     * The least time between {@code SIGTERM} and {@code SIGKILL}, even when the deadline is now.
     * Default 0: {@code SIGKILL} exactly at the deadline.
     *
     * @throws IllegalArgumentException if negative or over a day
     */
    public Builder minimumTermGrace(Duration grace) {
      Objects.requireNonNull(grace, "grace");
      if (grace.isNegative() || grace.compareTo(Duration.ofDays(1)) > 0) {
        throw new IllegalArgumentException("minimumTermGrace must be in 0..1 day, was " + grace);
      }
      this.minimumTermGrace = grace;
      return this;
    }

    /**
     * How long after the process exits the launcher waits for its output to end (a descendant
     * may hold it open) before reporting. Default 2 s.
     *
     * @throws IllegalArgumentException if negative or over a minute
     */
    public Builder outputDrainWait(Duration wait) {
      Objects.requireNonNull(wait, "wait");
      if (wait.isNegative() || wait.compareTo(Duration.ofMinutes(1)) > 0) {
        throw new IllegalArgumentException("outputDrainWait must be in 0..1 minute, was " + wait);
      }
      this.outputDrainWait = wait;
      return this;
    }

    /** Adds an environment variable given to every job (a job's own entries win). */
    public Builder environment(String name, String value) {
      environment.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /**
     * Runs launches, output copies and exit handling on {@code executor}. One thread per running
     * process copies its output for as long as it runs, so a bounded pool needs more threads than
     * jobs run at once, or exits are reported late. Default: the launcher's own cached pool of daemon threads,
     * shut down by {@link #close()}; a given executor is not.
     */
    public Builder executor(ExecutorService executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Reads MIG device UUIDs through {@code inventory} (usually {@link NvmlInventory#local()}) when
     * a job is given a MIG instance: the process is then given the UUIDs of the MIG devices on the
     * GPU instance of that profile at that start slot; on a {@code MIG_DYNAMIC} GPU the launcher
     * makes that instance first (see {@link #migInstances}). Without it, a MIG job fails to start,
     * naming this setting.
     */
    public Builder inventory(NvmlInventory inventory) {
      this.inventory = Objects.requireNonNull(inventory, "inventory");
      return this;
    }

    /**
     * Whether MIG instances are made to order for {@code MIG_DYNAMIC} GPUs when an {@link
     * #inventory} is set (see the class description, "MIG instances"). Default on; without root or
     * MIG mode the launcher says so once at {@link #build} and uses existing instances only.
     */
    public Builder migInstances(boolean create) {
      this.migInstances = create;
      return this;
    }

    /**
     * Declares the scheduler's GPUs simulated (a declared inventory on a machine without them, as
     * the example service uses): a MIG job then starts without NVML and its {@code
     * CUDA_VISIBLE_DEVICES} is a label, {@code MIG-<GPU UUID>-<profile>@<slot>}, not a device. It
     * changes nothing when an {@link #inventory} is set. Default off: a MIG job without an
     * inventory fails.
     */
    public Builder simulatedGpus(boolean simulated) {
      this.simulatedGpus = simulated;
      return this;
    }

    /** Builds the launcher. */
    public ProcessLauncher build() {
      return new ProcessLauncher(this);
    }
  }
}
