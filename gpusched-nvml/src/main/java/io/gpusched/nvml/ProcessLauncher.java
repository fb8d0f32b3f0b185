package io.gpusched.nvml;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.JobHandle;
import io.gpusched.Reconciliation;
import io.gpusched.JobLauncher;
import io.gpusched.StopReason;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
 *       Builder#inventory}; the instance must exist: this launcher does not create MIG
 *       instances);
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
 * id>/attempt-<n>.log}, kept under a size cap with rotation ({@link #tail}). Its exit is seen
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
 * <p>Thread-safe. No global lock: each run has its own monitor, held only for a few field
 * updates.
 */
public final class ProcessLauncher implements JobLauncher, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ProcessLauncher.class);

  private final Path logDirectory;
  private final long logCapBytes;
  private final int logRotations;
  private final int failureTailLines;
  private final @Nullable String checkpointSignal;
  private final boolean checkpointFile;
  private final Duration minimumTermGrace;
  private final Duration outputDrainWait;
  private final Map<String, String> environment;
  private final @Nullable NvmlInventory inventory;
  private final boolean simulatedGpus;

  /** Set by {@link #close}: reconciled processes are no longer watched. */
  private volatile boolean closed;
  private final ExecutorService executor;
  private final boolean ownsExecutor;
  private final ScheduledExecutorService timers;
  private final ConcurrentHashMap<String, Run> runs = new ConcurrentHashMap<>();

  private ProcessLauncher(Builder b) {
    this.logDirectory = b.logDirectory;
    this.logCapBytes = b.logCapBytes;
    this.logRotations = b.logRotations;
    this.failureTailLines = b.failureTailLines;
    this.checkpointSignal = b.checkpointSignal;
    this.checkpointFile = b.checkpointFile;
    this.minimumTermGrace = b.minimumTermGrace;
    this.outputDrainWait = b.outputDrainWait;
    this.environment = Map.copyOf(b.environment);
    this.inventory = b.inventory;
    this.simulatedGpus = b.simulatedGpus;
    this.ownsExecutor = b.executor == null;
    this.executor =
        b.executor != null ? b.executor : Executors.newCachedThreadPool(daemon("gpusched-process"));
    this.timers = Executors.newSingleThreadScheduledExecutor(daemon("gpusched-process-timer"));
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
    Run run = new Run(job, job.attempts(), logFile(job.id(), job.attempts()));
    runs.put(job.id(), run);
    executor.execute(() -> launch(run));
  }

  /**
   * Stops the job's process tree as the class description says, without blocking: the signals are
   * sent from the launcher's timer and executor threads. A second call (a drain after a
   * preemption) may only bring the deadline forward.
   */
  @Override
  public void stop(JobHandle job, StopReason reason, Instant deadline) {
    Run run = runs.get(job.id());
    if (run == null || run.attempt != job.attempts()) {
      log.debug("stop {} ({}): no process of this run", job.id(), reason);
      return;
    }
    Instant now = Instant.now();
    boolean first;
    @Nullable Process process;
    synchronized (run) {
      first = !run.stopRequested;
      run.stopRequested = true;
      if (!first && run.deadline != null && !deadline.isBefore(run.deadline)) {
        return;
      }
      run.deadline = deadline;
      process = run.process;
    }
    if (process == null) {
      return; // launch() sees the flag and does not start it
    }
    scheduleStop(run, reason, now, deadline, first);
  }

  private void scheduleStop(Run run, StopReason reason, Instant now, Instant deadline, boolean first) {
    Duration left = Duration.between(now, deadline);
    boolean askFirst =
        first
            && !left.isNegative()
            && !left.isZero()
            && (checkpointSignal != null || checkpointFile);
    Duration termAfter = askFirst ? left.dividedBy(2) : Duration.ZERO;
    Duration killAfter = max(left, termAfter.plus(minimumTermGrace));
    run.log.note("stop requested (" + reason + "), deadline " + deadline);
    if (askFirst) {
      executor.execute(() -> requestCheckpoint(run, reason, deadline));
    }
    synchronized (run) {
      cancel(run.termTask);
      cancel(run.killTask);
      run.termTask = timers.schedule(() -> terminate(run), termAfter.toNanos(), TimeUnit.NANOSECONDS);
      run.killTask = timers.schedule(() -> kill(run), killAfter.toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  private static void cancel(@Nullable ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
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
    Run run = runs.get(jobId);
    if (run != null) {
      return Optional.of(run.logFile);
    }
    Path dir = logDirectory.resolve(safeName(jobId));
    for (int attempt = 64; attempt >= 1; attempt--) {
      Path f = dir.resolve("attempt-" + attempt + ".log");
      if (Files.exists(f)) {
        return Optional.of(f);
      }
    }
    return Optional.empty();
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
    Path f = exitFile(log.get());
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
    String name = log.get().getFileName().toString();
    Path record = log.get().resolveSibling(name.substring(0, name.length() - ".log".length()) + ".process");
    try {
      return Optional.ofNullable(readRecord(record).get("cudaVisibleDevices"));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static Path exitFile(Path logFile) {
    String name = logFile.getFileName().toString();
    return logFile.resolveSibling(name.substring(0, name.length() - ".log".length()) + ".exit");
  }

  /** Returns the process id of the job's running process, if the launcher runs one for it now. */
  public Optional<Long> pid(String jobId) {
    Run run = runs.get(jobId);
    Process p = run == null ? null : run.process;
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
   * still runs ({@link #reconcileProcess}). A process found RUNNING is watched through its {@link
   * ProcessHandle} (polled once a second): when it exits the job is failed with "exit status
   * unknown" (a process this JVM did not start gives no exit status). Its output went through the old JVM's pipe, so it is not
   * re-attached to a log (see docs/launcher.md, Limits); a process that writes after the old JVM
   * died usually dies of SIGPIPE, and is then reported that way.
   */
  @Override
  public Reconciliation reconcile(JobHandle job) {
    ProcessState found = reconcileProcess(job);
    if (found == ProcessState.RUNNING) {
      Path record = recordFile(job.id(), job.attempts());
      try {
        Map<String, String> rec = readRecord(record);
        watch(job, Long.parseLong(rec.getOrDefault("pid", "")), rec.get("start"));
      } catch (IOException | NumberFormatException e) {
        return Reconciliation.UNKNOWN;
      }
      return Reconciliation.RUNNING;
    }
    return found == ProcessState.GONE ? Reconciliation.GONE : Reconciliation.UNKNOWN;
  }

  /**
   * Watches a process this JVM did not start (found by {@link #reconcile}) once a second until it
   * is gone (or its PID names another process), then fails the job. Polling, since only a parent
   * is told of a child's exit; these are few and only after a restart.
   */
  private void watch(JobHandle job, long pid, @Nullable String start) {
    var unused = CompletableFuture.runAsync(
        () -> {
          if (closed || job.state().isFinal()) {
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
    Path record = recordFile(job.id(), job.attempts());
    Map<String, String> rec;
    try {
      rec = readRecord(record);
    } catch (IOException e) {
      return Files.exists(record) ? ProcessState.UNKNOWN : ProcessState.GONE;
    }
    long pid;
    try {
      pid = Long.parseLong(rec.getOrDefault("pid", ""));
    } catch (NumberFormatException e) {
      return ProcessState.UNKNOWN;
    }
    Optional<ProcessHandle> h = ProcessHandle.of(pid);
    if (h.isEmpty() || !h.get().isAlive()) {
      return ProcessState.GONE;
    }
    ProcessHandle.Info info = h.get().info();
    String start = info.startInstant().map(Instant::toString).orElse(null);
    String cmd = info.commandLine().orElse(null);
    if (start == null || cmd == null || !rec.containsKey("start")) {
      return ProcessState.UNKNOWN;
    }
    return start.equals(rec.get("start")) && cmd.equals(rec.get("commandLine"))
        ? ProcessState.RUNNING
        : ProcessState.GONE;
  }

  /**
   * Stops every process the launcher runs ({@code SIGTERM}, then {@code SIGKILL} after the {@link
   * Builder#minimumTermGrace}) and shuts its threads down (the executor only if the launcher made
   * it). Jobs are not reported on: the scheduler is closing too, or will reconcile.
   */
  @Override
  public void close() {
    closed = true;
    for (Run run : runs.values()) {
      synchronized (run) {
        run.stopRequested = true;
      }
      terminate(run);
    }
    try {
      Thread.sleep(Math.min(minimumTermGrace.toMillis(), 5_000));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (Run run : runs.values()) {
      kill(run);
    }
    timers.shutdownNow();
    if (ownsExecutor) {
      executor.shutdown();
    }
  }

  // ---------------------------------------------------------------- the run

  /** One attempt of one job. Its monitor guards the mutable fields. */
  private static final class Run {
    final JobHandle job;
    final int attempt;
    final Path logFile;
    @SuppressWarnings("NullAway.Init") // set by launch() before the process; read once one exists
    volatile ProcessLog log;
    volatile @Nullable Process process;
    volatile List<String> devices = List.of();
    boolean stopRequested;
    @Nullable Instant deadline;
    @Nullable ScheduledFuture<?> termTask;
    @Nullable ScheduledFuture<?> killTask;
    final Set<ProcessHandle> signalled = ConcurrentHashMap.newKeySet();
    final CompletableFuture<Void> pumped = new CompletableFuture<>();

    Run(JobHandle job, int attempt, Path logFile) {
      this.job = job;
      this.attempt = attempt;
      this.logFile = logFile;
    }
  }

  private Path jobDir(String jobId) {
    return logDirectory.resolve(safeName(jobId));
  }

  private Path logFile(String jobId, int attempt) {
    return jobDir(jobId).resolve("attempt-" + attempt + ".log");
  }

  private Path recordFile(String jobId, int attempt) {
    return jobDir(jobId).resolve("attempt-" + attempt + ".process");
  }

  /** A file name for a job id: its safe characters, plus a hash when any had to be replaced. */
  static String safeName(String jobId) {
    String s = jobId.replaceAll("[^A-Za-z0-9._-]", "_");
    if (s.equals(jobId) && !s.startsWith(".")) {
      return s;
    }
    return (s.length() > 80 ? s.substring(0, 80) : s).replaceFirst("^\\.", "_")
        + "-"
        + Integer.toHexString(jobId.hashCode());
  }

  private void launch(Run run) {
    JobHandle job = run.job;
    try {
      run.log = new ProcessLog(run.logFile, logCapBytes, logRotations);
    } catch (IOException | RuntimeException e) {
      log.warn("job {}: cannot open its log {}", job.id(), run.logFile, e);
      finish(run);
      job.fail("cannot open log " + run.logFile + ": " + e);
      return;
    }
    try {
      Files.deleteIfExists(exitFile(run.logFile)); // left by an earlier job with the same id
    } catch (IOException e) {
      log.warn("job {}: cannot remove an old exit status file", job.id(), e);
    }
    ProcessBuilder pb;
    ProcessJob pj;
    try {
      pj = ProcessJob.from(job.spec());
    } catch (RuntimeException e) {
      startFailed(run, "bad process metadata: " + e.getMessage());
      return;
    }
    List<String> devices;
    try {
      devices = visibleDevices(job.allocations());
    } catch (RuntimeException e) {
      startFailed(run, "cannot start " + pj + ": " + e.getMessage());
      return;
    }
    run.devices = List.copyOf(devices);
    try {
      pb = processBuilder(run, pj, devices);
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
      }
    }
    if (process == null) {
      run.log.note("stopped before it started");
      finishQuietly(run);
      job.stopped();
      return;
    }
    writeRecord(run, process);
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
    var unused = p.onExit().thenRunAsync(() -> exited(run, p), executor);
  }

  private void startFailed(Run run, String reason) {
    run.log.note(reason);
    finishQuietly(run);
    run.job.fail(reason);
  }

  private ProcessBuilder processBuilder(Run run, ProcessJob pj, List<String> devices) {
    ProcessBuilder pb = new ProcessBuilder(pj.argv()).redirectErrorStream(true);
    if (pj.workingDirectory() != null) {
      pb.directory(pj.workingDirectory().toFile());
    }
    Map<String, String> env = pb.environment();
    env.putAll(environment);
    env.putAll(pj.env());
    JobHandle job = run.job;
    env.put("CUDA_VISIBLE_DEVICES", String.join(",", devices));
    env.put("GPUSCHED_JOB_ID", job.id());
    env.put("GPUSCHED_ATTEMPT", Integer.toString(run.attempt));
    env.put("GPUSCHED_ALLOCATION", allocationJson(job.allocations()));
    env.put("GPUSCHED_LOG", run.logFile.toString());
    env.put("GPUSCHED_STOP_FILE", stopFile(run).toString());
    return pb;
  }

  private static Path stopFile(Run run) {
    return run.logFile.resolveSibling("attempt-" + run.attempt + ".stop");
  }

  /**
   * The device ids the process is given, once each, in allocation order: a whole or shared GPU's
   * UUID; for a MIG allocation, the UUIDs of the MIG devices on the existing GPU instance of that
   * profile at that start slot, which NVML reports (see {@link Builder#inventory}).
   *
   * @throws IllegalStateException naming what is missing: no inventory, no such instance, an
   *     instance without a compute instance, or NVML's error
   */
  List<String> visibleDevices(List<Allocation> allocations) {
    Set<String> ids = new LinkedHashSet<>();
    List<NvmlDevice> devices = null;
    for (Allocation a : allocations) {
      for (AllocatedGpu g : a.gpus()) {
        if (g.migProfile() == null) {
          ids.add(g.gpuUuid());
          continue;
        }
        if (inventory == null && simulatedGpus) {
          ids.add("MIG-" + g.gpuUuid() + "-" + g.migProfile() + "@" + g.migStartSlot());
          continue;
        }
        if (inventory == null) {
          throw new IllegalStateException(
              "MIG " + g.migProfile() + " at slot " + g.migStartSlot() + " on " + g.gpuUuid()
                  + ": finding its MIG device needs NVML (ProcessLauncher.Builder.inventory)");
        }
        if (devices == null) {
          try {
            devices = inventory.readDevices();
          } catch (NvmlException e) {
            throw new IllegalStateException(
                "reading MIG devices failed: " + e.codeName() + " from " + e.function(), e);
          }
        }
        ids.addAll(migDevices(devices, g));
      }
    }
    return new ArrayList<>(ids);
  }

  private static List<String> migDevices(List<NvmlDevice> devices, AllocatedGpu g) {
    String where = g.migProfile() + " at slot " + g.migStartSlot() + " on " + g.gpuUuid();
    NvmlDevice device =
        devices.stream()
            .filter(d -> d.uuid().equals(g.gpuUuid()))
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("MIG " + where + ": NVML has no such GPU"));
    NvmlMigInstance instance =
        device.migInstances().stream()
            .filter(i -> i.profile().equals(g.migProfile()) && i.placementStart() == g.migStartSlot())
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "MIG " + where + ": no such GPU instance exists (this launcher uses"
                            + " existing instances only; make it, or declare the GPU MIG_STATIC"
                            + " with the instances it has)"));
    if (instance.migDeviceUuids().isEmpty()) {
      throw new IllegalStateException(
          "MIG " + where + ": its GPU instance " + instance.gpuInstanceId()
              + " has no compute instance, so no MIG device");
    }
    return instance.migDeviceUuids();
  }

  /** The allocations as JSON (see the class description). */
  static String allocationJson(List<Allocation> allocations) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < allocations.size(); i++) {
      Allocation a = allocations.get(i);
      b.append(i > 0 ? "," : "").append("{\"id\":").append(a.id());
      b.append(",\"node\":").append(Json.quote(a.nodeId())).append(",\"gpus\":[");
      List<AllocatedGpu> gpus = a.gpus();
      for (int k = 0; k < gpus.size(); k++) {
        AllocatedGpu g = gpus.get(k);
        b.append(k > 0 ? "," : "")
            .append("{\"index\":").append(g.gpuIndex())
            .append(",\"uuid\":").append(Json.quote(g.gpuUuid()))
            .append(",\"model\":").append(Json.quote(g.model()))
            .append(",\"mode\":").append(Json.quote(g.mode().name()))
            .append(",\"migProfile\":").append(Json.quote(g.migProfile()))
            .append(",\"migStartSlot\":").append(g.migStartSlot())
            .append(",\"milliGpu\":").append(g.milliGpu())
            .append(",\"memoryMiB\":").append(g.memoryMiB())
            .append('}');
      }
      b.append("]}");
    }
    return b.append(']').toString();
  }

  private void writeRecord(Run run, Process p) {
    ProcessHandle.Info info = p.info();
    Map<String, String> rec = new LinkedHashMap<>();
    rec.put("pid", Long.toString(p.pid()));
    info.startInstant().ifPresent(s -> rec.put("start", s.toString()));
    info.commandLine().ifPresent(c -> rec.put("commandLine", c));
    rec.put("cudaVisibleDevices", String.join(",", run.devices));
    StringBuilder text = new StringBuilder();
    rec.forEach((k, v) -> text.append(k).append('=').append(v.replace("\n", " ")).append('\n'));
    try {
      Files.writeString(recordFile(run.job.id(), run.attempt), text);
    } catch (IOException e) {
      log.warn("job {}: cannot record its process", run.job.id(), e);
    }
  }

  private static Map<String, String> readRecord(Path f) throws IOException {
    Map<String, String> m = new HashMap<>();
    for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        m.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    return m;
  }

  private void requestCheckpoint(Run run, StopReason reason, Instant deadline) {
    try {
      if (checkpointFile) {
        Files.writeString(stopFile(run), reason + " " + deadline + "\n");
        run.log.note("checkpoint requested: created " + stopFile(run));
      }
      Process p = run.process;
      if (checkpointSignal != null && p != null && p.isAlive()) {
        Process kill =
            new ProcessBuilder("kill", "-s", checkpointSignal.substring(3), Long.toString(p.pid()))
                .redirectErrorStream(true)
                .start();
        kill.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        kill.waitFor(10, TimeUnit.SECONDS);
        run.log.note("checkpoint requested: sent " + checkpointSignal + " to " + p.pid());
      }
    } catch (IOException | RuntimeException e) {
      log.warn("job {}: checkpoint request failed", run.job.id(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The process and its descendants, as of now, plus those signalled before. */
  private static List<ProcessHandle> tree(Run run) {
    List<ProcessHandle> all = new ArrayList<>();
    Process p = run.process;
    if (p != null) {
      ProcessHandle root = p.toHandle();
      all.add(root);
      root.descendants().forEach(all::add);
    }
    for (ProcessHandle h : run.signalled) {
      if (!all.contains(h)) {
        all.add(h);
      }
    }
    return all;
  }

  private static void terminate(Run run) {
    List<ProcessHandle> tree = tree(run);
    int n = 0;
    for (ProcessHandle h : tree) {
      run.signalled.add(h);
      if (h.isAlive() && h.destroy()) {
        n++;
      }
    }
    if (n > 0 && run.log != null) {
      run.log.note("sent SIGTERM to " + n + " process(es)");
    }
  }

  private static void kill(Run run) {
    int n = 0;
    for (ProcessHandle h : tree(run)) {
      if (h.isAlive() && h.destroyForcibly()) {
        n++;
      }
    }
    if (n > 0 && run.log != null) {
      run.log.note("deadline: sent SIGKILL to " + n + " process(es)");
    }
  }

  private void exited(Run run, Process p) {
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
    String how =
        status > 128 && status < 128 + 32
            ? "killed by " + Signals.name(status - 128) + " (exit status " + status + ")"
            : "exit status " + status;
    boolean stopRequested;
    synchronized (run) {
      stopRequested = run.stopRequested;
      cancel(run.termTask); // a kill still scheduled stays: it ends leftover descendants
    }
    List<String> tail = List.of();
    try {
      Files.writeString(exitFile(run.logFile), status + "\n");
    } catch (IOException e) {
      log.warn("job {}: cannot record its exit status", run.job.id(), e);
    }
    try {
      run.log.note("process " + p.pid() + " ended: " + how);
      tail = failureTail(run);
    } catch (RuntimeException e) { // the report below must happen whatever the log does
      log.warn("job {}: cannot write its log", run.job.id(), e);
    }
    finish(run);
    JobHandle job = run.job;
    if (stopRequested) {
      job.stopped();
    } else if (status == 0) {
      job.complete();
    } else {
      job.fail(how + (tail.isEmpty() ? "" : "; last log lines:\n" + String.join("\n", tail)));
    }
  }

  private List<String> failureTail(Run run) {
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

  private void finish(Run run) {
    runs.remove(run.job.id(), run);
  }

  private void finishQuietly(Run run) {
    try {
      run.log.close();
    } catch (IOException e) {
      log.debug("job {}: closing its log", run.job.id(), e);
    }
    finish(run);
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
     * existing GPU instance of that profile at that start slot. Without it, a MIG job fails to
     * start, naming this setting.
     */
    public Builder inventory(NvmlInventory inventory) {
      this.inventory = Objects.requireNonNull(inventory, "inventory");
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
