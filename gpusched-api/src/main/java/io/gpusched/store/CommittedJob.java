package io.gpusched.store;

import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.StopReason;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A job as the database of {@link SchedulerReplica replicas} shows it: what the leader last
 * committed of it, or a submission a follower took that still waits in the inbox. Any replica
 * reads it ({@link SchedulerReplica#job}, {@link SchedulerReplica#pending}); see there how stale it
 * can be. Times are milliseconds of the leader's clock, {@code -1} for "never" (and for a
 * submission in the inbox, which the leader has not timed yet).
 *
 * @param spec the spec it was submitted with
 * @param state its committed state; {@code PENDING} for a submission in the inbox
 * @param attempts how many times it was started
 * @param stopReason why its current or last stop happened, or {@code null}
 * @param endReason the text of {@code JobHandle.endReason()}, or {@code null}
 * @param submittedAtMillis when the leader queued it, or -1 while in the inbox
 * @param startedAtMillis when its current or last run started, or -1
 * @param endedAtMillis when it reached its final state, or -1
 * @param allocations for a job that holds GPUs, what each gang member holds; empty otherwise
 * @param inInbox whether this is a submission still waiting in the inbox (the leader has not
 *     queued it yet)
 */
public record CommittedJob(
    JobSpec spec,
    JobState state,
    int attempts,
    @Nullable StopReason stopReason,
    @Nullable String endReason,
    long submittedAtMillis,
    long startedAtMillis,
    long endedAtMillis,
    List<StoredAllocation> allocations,
    boolean inInbox) {

  /** Validates and copies. */
  public CommittedJob {
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(state, "state of job " + spec.id());
    allocations = List.copyOf(Objects.requireNonNull(allocations, "allocations"));
    if (attempts < 0) {
      throw new IllegalArgumentException("attempts of job " + spec.id() + " must be >= 0, was " + attempts);
    }
  }

  /** Returns the job id. */
  public String id() {
    return spec.id();
  }

  /**
   * A committed record as a replica shows it.
   *
   * @param j the record
   * @return its view
   */
  public static CommittedJob of(StoredJob j) {
    return new CommittedJob(
        j.spec(), j.state(), j.attempts(), j.stopReason(), j.endReason(), j.submittedAtMillis(),
        j.startedAtMillis(), j.endedAtMillis(), j.allocations(), false);
  }
}
