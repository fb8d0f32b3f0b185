package io.gpusched.nvml;

import io.gpusched.JobSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The command a {@link ProcessLauncher} runs for a job, kept in the job's {@link
 * JobSpec#metadata() metadata} under these keys:
 *
 * <ul>
 *   <li>{@value #COMMAND}: the program and its arguments as a JSON array of strings, e.g. {@code
 *       ["python","train.py","--epochs","3"]}. No shell reads it: each element is one argument.
 *   <li>{@value #SHELL}: instead of {@value #COMMAND}, a command line run by {@code /bin/sh -c}, for
 *       callers who ask for a shell (pipes, redirections, {@code &&}).
 *   <li>{@value #WORKING_DIRECTORY}: the working directory (default: the launcher's).
 *   <li>{@value #ENV_PREFIX}{@code NAME}: an environment variable {@code NAME} added to the
 *       launcher's environment.
 * </ul>
 *
 * <p>Immutable and thread-safe.
 *
 * <pre>{@code
 * JobSpec spec = ProcessJob.command("python", "train.py", "--epochs", "3")
 *     .workingDirectory(Path.of("/srv/runs/42"))
 *     .env("WANDB_MODE", "offline")
 *     .applyTo(JobSpec.builder(PlacementRequest.wholeGpus(1)))
 *     .build();
 * }</pre>
 */
public final class ProcessJob {

  /** Metadata key of the command: a JSON array of strings. */
  public static final String COMMAND = "process.command";

  /** Metadata key of a shell command line, run by {@code /bin/sh -c}. */
  public static final String SHELL = "process.shell";

  /** Metadata key of the working directory. */
  public static final String WORKING_DIRECTORY = "process.workdir";

  /** Prefix of the metadata keys of environment variables. */
  public static final String ENV_PREFIX = "process.env.";

  private final List<String> command;
  private final boolean shell;
  private final @Nullable Path workingDirectory;
  private final Map<String, String> env;

  private ProcessJob(
      List<String> command, boolean shell, @Nullable Path workingDirectory, Map<String, String> env) {
    this.command = List.copyOf(command);
    this.shell = shell;
    this.workingDirectory = workingDirectory;
    this.env = Map.copyOf(env);
  }

  /**
   * Returns a job that runs {@code program} with {@code args}, each one argument, no shell.
   *
   * @throws IllegalArgumentException if the program is blank
   */
  public static ProcessJob command(String program, String... args) {
    List<String> all = new ArrayList<>();
    all.add(program);
    all.addAll(List.of(args));
    return command(all);
  }

  /**
   * Returns a job that runs {@code argv} (program first), no shell.
   *
   * @throws IllegalArgumentException if it is empty or the program blank
   */
  public static ProcessJob command(List<String> argv) {
    Objects.requireNonNull(argv, "argv");
    if (argv.isEmpty() || argv.get(0).isBlank()) {
      throw new IllegalArgumentException("command must name a program, was " + argv);
    }
    for (String a : argv) {
      Objects.requireNonNull(a, "argument of " + argv);
    }
    return new ProcessJob(argv, false, null, Map.of());
  }

  /**
   * Returns a job that runs {@code commandLine} through {@code /bin/sh -c}; use only when the line
   * needs a shell, and never with text from someone who may not run commands.
   *
   * @throws IllegalArgumentException if the line is blank
   */
  public static ProcessJob shell(String commandLine) {
    Objects.requireNonNull(commandLine, "commandLine");
    if (commandLine.isBlank()) {
      throw new IllegalArgumentException("shell command line must not be blank");
    }
    return new ProcessJob(List.of(commandLine), true, null, Map.of());
  }

  /** Returns a copy that runs in {@code dir}. */
  public ProcessJob workingDirectory(Path dir) {
    return new ProcessJob(command, shell, Objects.requireNonNull(dir, "dir"), env);
  }

  /**
   * Returns a copy with one more environment variable.
   *
   * @throws IllegalArgumentException if the name is blank or holds {@code '='}
   */
  public ProcessJob env(String name, String value) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(value, "value of " + name);
    if (name.isBlank() || name.indexOf('=') >= 0 || name.indexOf('\0') >= 0) {
      throw new IllegalArgumentException("bad environment variable name " + Json.quote(name));
    }
    Map<String, String> e = new LinkedHashMap<>(env);
    e.put(name, value);
    return new ProcessJob(command, shell, workingDirectory, e);
  }

  /** Returns the command as given: argv, or one shell command line if {@link #isShell()}. */
  public List<String> command() {
    return command;
  }

  /** Returns whether the command is a shell command line. */
  public boolean isShell() {
    return shell;
  }

  /** Returns the program and arguments to execute (with {@code /bin/sh -c} for a shell line). */
  public List<String> argv() {
    return shell ? List.of("/bin/sh", "-c", command.get(0)) : command;
  }

  /** Returns the working directory, or {@code null} for the launcher's. */
  public @Nullable Path workingDirectory() {
    return workingDirectory;
  }

  /** Returns the added environment variables. */
  public Map<String, String> env() {
    return env;
  }

  /** Returns the metadata entries that describe this job. */
  public Map<String, String> metadata() {
    Map<String, String> m = new LinkedHashMap<>();
    if (shell) {
      m.put(SHELL, command.get(0));
    } else {
      m.put(COMMAND, Json.stringArray(command));
    }
    if (workingDirectory != null) {
      m.put(WORKING_DIRECTORY, workingDirectory.toString());
    }
    env.forEach((k, v) -> m.put(ENV_PREFIX + k, v));
    return m;
  }

  /** Writes {@link #metadata()} into {@code builder} and returns it. */
  public JobSpec.Builder applyTo(JobSpec.Builder builder) {
    metadata().forEach(builder::metadata);
    return builder;
  }

  /**
   * Reads the process description from a job's metadata.
   *
   * @throws IllegalArgumentException naming the job and the bad entry: neither or both of {@value
   *     #COMMAND} and {@value #SHELL}, a command that is not a JSON array of strings, a bad
   *     variable name
   */
  public static ProcessJob from(JobSpec spec) {
    Map<String, String> md = spec.metadata();
    String cmd = md.get(COMMAND);
    String sh = md.get(SHELL);
    ProcessJob job;
    try {
      if (cmd != null && sh != null) {
        throw new IllegalArgumentException("has both " + COMMAND + " and " + SHELL);
      } else if (cmd != null) {
        job = command(Json.parseStringArray(cmd, COMMAND));
      } else if (sh != null) {
        job = shell(sh);
      } else {
        throw new IllegalArgumentException("has no " + COMMAND + " or " + SHELL + " metadata");
      }
      String wd = md.get(WORKING_DIRECTORY);
      if (wd != null) {
        job = job.workingDirectory(Path.of(wd));
      }
      for (Map.Entry<String, String> e : new java.util.TreeMap<>(md).entrySet()) {
        if (e.getKey().startsWith(ENV_PREFIX)) {
          job = job.env(e.getKey().substring(ENV_PREFIX.length()), e.getValue());
        }
      }
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("job " + spec.id() + ": " + e.getMessage(), e);
    }
    return job;
  }

  @Override
  public String toString() {
    return (shell ? "sh -c " + Json.quote(command.get(0)) : Json.stringArray(command))
        + (workingDirectory != null ? " in " + workingDirectory : "");
  }
}
