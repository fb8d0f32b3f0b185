package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.PendingReason;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * The handle the launcher gets for one run (attempt) of a job. Reads show the job as it is now
 * (except {@link #attempts()} and {@link #allocations()}, which are this run's);
 * the host's reports ({@code complete}, {@code fail}, {@code cancel}, {@code stopped},
 * {@code heartbeat}, {@code checkpoint}) act only while that run is the current one. A late report
 * from the host of an earlier run (say, on a node that was lost and whose job was requeued and
 * started elsewhere) returns {@code false} or does nothing instead of ending the new run.
 */
final class RunView implements JobHandle {

  private final Job job;
  private final int run;

  RunView(Job job, int run) {
    this.job = job;
    this.run = run;
  }

  private boolean current() {
    return job.run() == run;
  }

  @Override
  public String id() {
    return job.id();
  }

  @Override
  public JobSpec spec() {
    return job.spec();
  }

  @Override
  public JobState state() {
    return job.state();
  }

  @Override
  public List<Allocation> allocations() {
    return job.allocations(run);
  }

  @Override
  public Optional<PendingReason> pendingReason() {
    return job.pendingReason();
  }

  /**
   * This run's attempt number (the job's {@code attempts()} when this run started), not the job's
   * current one: a launcher that tells its runs apart by it (a stop sent again after a crash for
   * the run before the current one) must not take it for the current run.
   */
  @Override
  public int attempts() {
    return run;
  }

  @Override
  public Optional<String> checkpointRef() {
    return job.checkpointRef();
  }

  @Override
  public Instant submittedAt() {
    return job.submittedAt();
  }

  @Override
  public Optional<Instant> startedAt() {
    return job.startedAt();
  }

  @Override
  public Optional<Instant> endedAt() {
    return job.endedAt();
  }

  @Override
  public Optional<String> endReason() {
    return job.endReason();
  }

  @Override
  public double cost() {
    return job.cost();
  }

  @Override
  public boolean idle() {
    return job.idle();
  }

  @Override
  public CompletableFuture<JobHandle> whenStarted() {
    return job.whenStarted();
  }

  @Override
  public CompletableFuture<JobState> whenFinished() {
    return job.whenFinished();
  }

  @Override
  public boolean cancel() {
    return job.transitions.cancel(job, run);
  }

  @Override
  public boolean complete() {
    return job.transitions.durable(job.transitions.end(job, JobState.COMPLETED, null, null, run));
  }

  @Override
  public boolean fail(String reason) {
    Objects.requireNonNull(reason, "reason");
    return job.transitions.durable(job.transitions.end(job, JobState.FAILED, reason, null, run));
  }

  @Override
  public boolean stopped() {
    return job.transitions.durable(job.transitions.finishPreemption(job, run));
  }

  @Override
  public void heartbeat() {
    if (current()) {
      job.heartbeat();
    }
  }

  @Override
  public void checkpoint(String ref) {
    Objects.requireNonNull(ref, "ref");
    if (current()) {
      job.checkpoint(ref);
    }
  }

  @Override
  public String toString() {
    return job + " (run " + run + ")";
  }

  @Override
  public long leaderEpoch() {
    return job.leaderEpoch();
  }
}
