package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.JobHandle;
import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The stop sequence's signal and its note in the log come before the exit they cause is reported.
 * The window between the signal and the note is held open deterministically: the test holds the
 * log's monitor, so the signalling thread cannot write its note while the process dies and its
 * exit is reported.
 */
class StopSequenceTest {
  @TempDir Path tmp;

  @Test
  void theSigtermNoteIsInTheLogBeforeTheExitItCausesIsReported() throws Exception {
    signalThenReport(StopSequence::terminate, "[gpusched] sent SIGTERM to 1 process(es)");
  }

  @Test
  void theSigkillNoteIsInTheLogBeforeTheExitItCausesIsReported() throws Exception {
    signalThenReport(StopSequence::kill, "[gpusched] deadline: sent SIGKILL to 1 process(es)");
  }

  private void signalThenReport(Consumer<ProcessRun> signal, String note) throws Exception {
    Process p =
        new ProcessBuilder("sleep", "60")
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    CompletableFuture<List<String>> heard = new CompletableFuture<>();
    Path file = tmp.resolve("job.log");
    ProcessRun run = new ProcessRun(recordingJob(file, heard), 1);
    run.logFile = file;
    run.log = new ProcessLog(file, 1 << 20, 1);
    run.process = p;
    run.handle = p.toHandle();
    synchronized (run) {
      run.stopRequested = true;
    }
    ExitReporter exits = new ExitReporter(Duration.ZERO, 5, r -> {});
    Thread reporter =
        new Thread(
            () -> {
              p.onExit().join();
              exits.exited(run, p);
            },
            "exit-reporter");
    Thread signaller = new Thread(() -> signal.accept(run), "signaller");
    try {
      synchronized (run.log) {
        reporter.start();
        signaller.start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the signal ends the process").isTrue();
        // the signaller is stuck writing its note; the exit reporter, woken by the exit, must wait
        // for the signaller (on the run), not race it to the log
        LockInfo waitingOn = blockedOn(reporter);
        assertThat(waitingOn.getIdentityHashCode())
            .as("the exit reporter waits on the run, not on %s", waitingOn)
            .isEqualTo(System.identityHashCode(run));
      }
      assertThat(heard.get(30, TimeUnit.SECONDS))
          .as("the log when the job heard it was stopped")
          .contains(note)
          .anyMatch(l -> l.startsWith("[gpusched] process " + p.pid() + " ended"));
      List<String> lines = Files.readAllLines(file);
      assertThat(lines.indexOf(note))
          .as("the note before the exit's line in %s", lines)
          .isGreaterThanOrEqualTo(0)
          .isLessThan(indexOfPrefix(lines, "[gpusched] process " + p.pid() + " ended"));
    } finally {
      p.destroyForcibly();
      reporter.join(30_000);
      signaller.join(30_000);
    }
  }

  private static int indexOfPrefix(List<String> lines, String prefix) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith(prefix)) {
        return i;
      }
    }
    return -1;
  }

  /** Waits (up to 30 s) until {@code t} is blocked on a monitor, and returns that monitor. */
  private static LockInfo blockedOn(Thread t) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      ThreadInfo info = ManagementFactory.getThreadMXBean().getThreadInfo(t.getId());
      if (info != null && info.getThreadState() == Thread.State.BLOCKED && info.getLockInfo() != null) {
        return info.getLockInfo();
      }
      assertThat(t.isAlive()).as("%s ended without waiting for the signaller", t.getName()).isTrue();
      Thread.sleep(5);
    }
    throw new AssertionError(t.getName() + " never blocked; state " + t.getState());
  }

  /** A job that records the log's lines when it is told how its process ended. */
  private static JobHandle recordingJob(Path file, CompletableFuture<List<String>> heard) {
    return (JobHandle)
        java.lang.reflect.Proxy.newProxyInstance(
            JobHandle.class.getClassLoader(),
            new Class<?>[] {JobHandle.class},
            (proxy, m, args) -> {
              switch (m.getName()) {
                case "stopped":
                case "complete":
                case "fail":
                  heard.complete(Files.readAllLines(file));
                  return m.getReturnType() == boolean.class ? Boolean.TRUE : null;
                case "id":
                  return "job";
                case "toString":
                  return "recordingJob";
                case "hashCode":
                  return System.identityHashCode(proxy);
                case "equals":
                  return proxy == args[0];
                default:
                  throw new UnsupportedOperationException(m.getName());
              }
            });
  }
}
