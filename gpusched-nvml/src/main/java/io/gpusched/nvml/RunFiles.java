package io.gpusched.nvml;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where {@link ProcessLauncher} keeps each attempt's files under its log directory, one folder per
 * job: the log and its rotations, the process record ({@code .process}), the exit status ({@code
 * .exit}) and the stop file ({@code .stop}), all named after the log, plus {@code latest}, the name
 * of the newest log.
 *
 * <p>A log is {@code attempt-<n>.log}, or {@code attempt-<n>_<k>.log} (k = 2, 3, ...) when a file
 * of that attempt already exists: a job id used again (the same id submitted anew, or attempts
 * numbered from 1 again by a scheduler after a restart) never overwrites an earlier run's files.
 * The name is claimed by creating the file ({@link Files#createFile}, atomic), so two launchers on
 * one folder never share one. Thread-safe.
 */
final class RunFiles {
  private static final Logger log = LoggerFactory.getLogger(RunFiles.class);

  private final Path logDirectory;

  RunFiles(Path logDirectory) {
    this.logDirectory = logDirectory;
  }

  Path jobDir(String jobId) {
    return logDirectory.resolve(safeName(jobId));
  }

  /** The most logs one attempt number of one job may have (runs of a job id used again). */
  static final int MAX_RUNS_PER_ATTEMPT = 10_000;

  private static String logName(int attempt, int k) {
    return "attempt-" + attempt + (k == 1 ? "" : "_" + k) + ".log";
  }

  /**
   * Creates a new, empty log file for a job's attempt under a name no earlier run used (see the
   * class description) and records it as the job's newest.
   *
   * @throws IOException if the folder or file cannot be created, or the attempt has {@link
   *     #MAX_RUNS_PER_ATTEMPT} logs already
   */
  Path claimLog(String jobId, int attempt) throws IOException {
    Path dir = jobDir(jobId);
    Files.createDirectories(dir);
    for (int k = 1; k <= MAX_RUNS_PER_ATTEMPT; k++) {
      Path f = dir.resolve(logName(attempt, k));
      if (Files.exists(f) || Files.exists(ProcessLog.rotated(f, 1)) || Files.exists(recordOf(f))
          || Files.exists(exitFile(f))) {
        continue;
      }
      try {
        Files.createFile(f);
      } catch (FileAlreadyExistsException e) {
        continue; // another launcher on the folder took it first
      }
      Path tmp = Files.createTempFile(dir, ".latest", ".tmp");
      Files.writeString(tmp, f.getFileName() + "\n");
      Files.move(tmp, dir.resolve(LATEST), StandardCopyOption.REPLACE_EXISTING,
          StandardCopyOption.ATOMIC_MOVE);
      return f;
    }
    throw new IOException(
        "job " + jobId + " attempt " + attempt + " has " + MAX_RUNS_PER_ATTEMPT + " logs in " + dir);
  }

  /** The file in a job's folder naming its newest log. */
  static final String LATEST = "latest";

  /**
   * The newest log of a job's attempt on disk (the highest run number {@code k}), if any: the one
   * a restarted scheduler's current attempt wrote.
   */
  Optional<Path> latestLog(String jobId, int attempt) {
    Path dir = jobDir(jobId);
    Path found = null;
    for (int k = 1; k <= MAX_RUNS_PER_ATTEMPT; k++) {
      Path f = dir.resolve(logName(attempt, k));
      if (!Files.exists(f)) {
        break;
      }
      found = f;
    }
    return Optional.ofNullable(found);
  }

  /** The process record of a job's attempt: beside its newest log; absent when it has none. */
  Optional<Path> recordFile(String jobId, int attempt) {
    return latestLog(jobId, attempt).map(RunFiles::recordOf);
  }

  /**
   * The newest log of a job found on disk, if any: the one {@code latest} names, else (a folder
   * written before {@code latest} existed) the highest attempt's.
   */
  Optional<Path> latestLog(String jobId) {
    Path dir = jobDir(jobId);
    try {
      String name = Files.readString(dir.resolve(LATEST)).strip();
      Path f = dir.resolve(name);
      if (!name.isEmpty() && dir.equals(f.getParent()) && Files.exists(f)) {
        return Optional.of(f);
      }
    } catch (IOException e) {
      // no pointer: scan
    }
    for (int attempt = 64; attempt >= 1; attempt--) {
      Optional<Path> f = latestLog(jobId, attempt);
      if (f.isPresent()) {
        return f;
      }
    }
    return Optional.empty();
  }

  /** A file beside a log, named as the log with another extension. */
  static Path sibling(Path logFile, String extension) {
    String name = logFile.getFileName().toString();
    return logFile.resolveSibling(name.substring(0, name.length() - ".log".length()) + extension);
  }

  static Path exitFile(Path logFile) {
    return sibling(logFile, ".exit");
  }

  static Path recordOf(Path logFile) {
    return sibling(logFile, ".process");
  }

  static Path stopFile(Path logFile) {
    return sibling(logFile, ".stop");
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

  /** Writes the process record of a run: PID, start time, command line, visible devices. */
  static void writeRecord(ProcessRun run, Process p) {
    ProcessHandle.Info info = p.info();
    Map<String, String> rec = new LinkedHashMap<>();
    rec.put("pid", Long.toString(p.pid()));
    info.startInstant().ifPresent(s -> rec.put("start", s.toString()));
    info.commandLine().ifPresent(c -> rec.put("commandLine", c));
    rec.put("cudaVisibleDevices", String.join(",", run.devices));
    StringBuilder text = new StringBuilder();
    rec.forEach((k, v) -> text.append(k).append('=').append(v.replace("\n", " ")).append('\n'));
    try {
      Files.writeString(recordOf(run.logFile), text);
    } catch (IOException e) {
      log.warn("job {}: cannot record its process", run.job.id(), e);
    }
  }

  static Map<String, String> readRecord(Path f) throws IOException {
    Map<String, String> m = new HashMap<>();
    for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
      int eq = line.indexOf('=');
      if (eq > 0) {
        m.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    return m;
  }
}
