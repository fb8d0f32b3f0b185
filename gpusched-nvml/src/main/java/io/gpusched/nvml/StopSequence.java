package io.gpusched.nvml;

import io.gpusched.StopReason;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stop sequence of {@link ProcessLauncher} (see its class description, "Stop"): an optional
 * checkpoint request, {@code SIGTERM} to the process tree, {@code SIGKILL} at the deadline. Never
 * blocks the caller: the signals go from the timer and executor threads. Thread-safe.
 */
final class StopSequence {
  private static final Logger log = LoggerFactory.getLogger(StopSequence.class);

  private final @Nullable String checkpointSignal;
  private final boolean checkpointFile;
  private final Duration minimumTermGrace;
  private final Executor executor;
  private final ScheduledExecutorService timers;

  StopSequence(
      @Nullable String checkpointSignal,
      boolean checkpointFile,
      Duration minimumTermGrace,
      Executor executor,
      ScheduledExecutorService timers) {
    this.checkpointSignal = checkpointSignal;
    this.checkpointFile = checkpointFile;
    this.minimumTermGrace = minimumTermGrace;
    this.executor = executor;
    this.timers = timers;
  }

  void schedule(ProcessRun run, StopReason reason, Instant now, Instant deadline, boolean first) {
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

  static void cancel(@Nullable ScheduledFuture<?> f) {
    if (f != null) {
      f.cancel(false);
    }
  }

  private void requestCheckpoint(ProcessRun run, StopReason reason, Instant deadline) {
    try {
      if (checkpointFile) {
        Files.writeString(RunFiles.stopFile(run.logFile), reason + " " + deadline + "\n");
        run.log.note("checkpoint requested: created " + RunFiles.stopFile(run.logFile));
      }
      ProcessHandle p = run.handle;
      String signal = checkpointSignal;
      if (signal != null && p != null && p.isAlive()) {
        Process kill =
            new ProcessBuilder("kill", "-s", signal.substring(3), Long.toString(p.pid()))
                .redirectErrorStream(true)
                .start();
        kill.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        kill.waitFor(10, TimeUnit.SECONDS);
        run.log.note("checkpoint requested: sent " + signal + " to " + p.pid());
      }
    } catch (IOException | RuntimeException e) {
      log.warn("job {}: checkpoint request failed", run.job.id(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The process and its descendants, as of now, plus those signalled before. */
  private static List<ProcessHandle> tree(ProcessRun run) {
    List<ProcessHandle> all = new ArrayList<>();
    ProcessHandle root = run.handle;
    if (root != null) {
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

  /**
   * Sends {@code SIGTERM} to the tree and notes it in the log. Both happen under the run's monitor,
   * which whoever reports the exit ({@link ExitReporter}, {@link ProcessReconciler}) takes before
   * writing its own line and telling the job: the exit the signal causes is reported after this
   * note, never before it.
   */
  static void terminate(ProcessRun run) {
    signal(run, false);
  }

  /** Sends {@code SIGKILL} to the tree and notes it, under the run's monitor as {@link #terminate}. */
  static void kill(ProcessRun run) {
    signal(run, true);
  }

  /**
   * Signals every live process of the tree and notes how many, under the run's monitor. A
   * {@code SIGTERM} also remembers the processes it signalled, for the {@code SIGKILL} after it.
   */
  private static void signal(ProcessRun run, boolean forcibly) {
    synchronized (run) {
      int n = 0;
      for (ProcessHandle h : tree(run)) {
        if (!forcibly) {
          run.signalled.add(h);
        }
        if (h.isAlive() && (forcibly ? h.destroyForcibly() : h.destroy())) {
          n++;
        }
      }
      if (n > 0 && run.log != null) {
        run.log.note(
            (forcibly ? "deadline: sent SIGKILL to " : "sent SIGTERM to ") + n + " process(es)");
      }
    }
  }
}
