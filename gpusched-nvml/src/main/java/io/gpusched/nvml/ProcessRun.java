package io.gpusched.nvml;

import io.gpusched.JobHandle;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import org.jspecify.annotations.Nullable;

/**
 * One attempt of one job run by {@link ProcessLauncher}. Its monitor guards the mutable fields
 * that are not volatile ({@code stopRequested}, {@code deadline}, the timer tasks).
 */
final class ProcessRun {
  final JobHandle job;
  final int attempt;
  /** The attempt's log, claimed by the starter ({@link RunFiles#claimLog}); null until then. */
  @SuppressWarnings("NullAway.Init") // set by launch() before anything but logFile() reads it
  volatile Path logFile;

  /** The attempt's log; set by the starter before the process starts, or at re-attachment. */
  @SuppressWarnings("NullAway.Init") // set by launch() before the process; read once one exists
  volatile ProcessLog log;

  /** The process, when this JVM started it. */
  volatile @Nullable Process process;

  /**
   * The process's handle once it runs: of {@link #process}, or of a process an earlier launcher
   * started, re-attached after a restart ({@link ProcessReconciler}).
   */
  volatile @Nullable ProcessHandle handle;
  volatile List<String> devices = List.of();
  boolean stopRequested;
  @Nullable Instant deadline;
  @Nullable ScheduledFuture<?> termTask;
  @Nullable ScheduledFuture<?> killTask;
  /** A re-attached run's slow liveness check ({@link ProcessReconciler}). */
  volatile @Nullable ScheduledFuture<?> watchTask;
  final Set<ProcessHandle> signalled = ConcurrentHashMap.newKeySet();
  final CompletableFuture<Void> pumped = new CompletableFuture<>();
  /** The MIG instances this run holds ({@link MigInstanceManager} keys). */
  final List<String> migInstances = new java.util.concurrent.CopyOnWriteArrayList<>();

  ProcessRun(JobHandle job, int attempt) {
    this.job = job;
    this.attempt = attempt;
  }
}
