package io.gpusched.nvml;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where {@link ProcessLauncher} keeps each attempt's files under its log directory, one folder per
 * job: the log ({@code attempt-<n>.log} and its rotations), the process record ({@code .process}),
 * the exit status ({@code .exit}) and the stop file ({@code .stop}), all named after the log.
 * Stateless apart from the directory; thread-safe.
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

  /** The log file of a job's attempt. */
  Path logFile(String jobId, int attempt) {
    return jobDir(jobId).resolve("attempt-" + attempt + ".log");
  }

  /** The process record of a job's attempt. */
  Path recordFile(String jobId, int attempt) {
    return jobDir(jobId).resolve("attempt-" + attempt + ".process");
  }

  /** The newest log of a job found on disk, if any. */
  Optional<Path> latestLog(String jobId) {
    Path dir = jobDir(jobId);
    for (int attempt = 64; attempt >= 1; attempt--) {
      Path f = dir.resolve("attempt-" + attempt + ".log");
      if (Files.exists(f)) {
        return Optional.of(f);
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
