package io.gpusched.store;

import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.StopReason;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A job as a store keeps it. Times are milliseconds of the scheduler's clock, -1 for "never".
 *
 * @param spec the spec it was submitted with (metadata included)
 * @param sequence its submission number: pending jobs are queued again in this order, and it
 *     breaks ties of the job order (positive)
 * @param state its state
 * @param attempts how many times it was started (its current run number)
 * @param stopReason why its current or last stop happened (for {@link JobState#PREEMPTING}: the stop
 *     in progress; with a {@code stopDeadlineMillis} on a job in another state: the stop not yet
 *     handed to the launcher), or {@code null}
 * @param endReason the text of {@code JobHandle.endReason()}, or {@code null}
 * @param submittedAtMillis when it was submitted
 * @param queuedAtMillis when it last entered its queue (submission or requeue)
 * @param startedAtMillis when its current or last run started, or -1
 * @param endedAtMillis when it reached its final state, or -1
 * @param stopDeadlineMillis for {@link JobState#PREEMPTING}: when its GPUs are released anyway;
 *     for a job in another state: the deadline of a stop that was committed but perhaps not yet
 *     handed to the launcher (of its current run; for a RUNNING job, of its previous run), which
 *     a scheduler recovered from the store sends again; else -1
 * @param startOrder the scheduler's start counter at its latest start (running jobs are booked
 *     again in this order), 0 if never started
 * @param accruedCost the cost of its ended runs
 * @param checkpointRef the host's last checkpoint reference as of this record, or {@code null}
 * @param allocations for a job that holds GPUs ({@link JobState#holdsGpus()}): exactly what each
 *     gang member holds, one entry per member; empty otherwise
 */
public record StoredJob(
    JobSpec spec,
    long sequence,
    JobState state,
    int attempts,
    @Nullable StopReason stopReason,
    @Nullable String endReason,
    long submittedAtMillis,
    long queuedAtMillis,
    long startedAtMillis,
    long endedAtMillis,
    long stopDeadlineMillis,
    long startOrder,
    double accruedCost,
    @Nullable String checkpointRef,
    List<StoredAllocation> allocations) {

  /**
   * Validates: a job that holds GPUs has one allocation per gang member, any other has none.
   *
   * @throws IllegalArgumentException naming the job and the bad value
   */
  public StoredJob {
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(state, "state of job " + spec.id());
    allocations = List.copyOf(Objects.requireNonNull(allocations, "allocations"));
    if (sequence <= 0) {
      throw new IllegalArgumentException("sequence of job " + spec.id() + " must be > 0, was " + sequence);
    }
    if (attempts < 0) {
      throw new IllegalArgumentException("attempts of job " + spec.id() + " must be >= 0, was " + attempts);
    }
    int expected = state.holdsGpus() ? spec.gangSize() : 0;
    if (allocations.size() != expected) {
      throw new IllegalArgumentException(
          "job " + spec.id() + " in state " + state + " must have " + expected
              + " stored allocations, has " + allocations.size());
    }
  }

  /** Returns the job id. */
  public String id() {
    return spec.id();
  }
}
