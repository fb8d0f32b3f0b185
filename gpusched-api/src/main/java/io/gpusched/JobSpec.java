package io.gpusched;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * What a user asks the scheduler to run.
 *
 * <p>A job of {@link #gangSize()} {@code n} needs {@code n} placements of {@link #request()}, all
 * started together or none (a gang). Within a gang member, {@code GpuDemand.Whole(count, true)}
 * keeps the member's GPUs on one node.
 *
 * <p>Immutable and thread-safe. Build one with {@link #builder(PlacementRequest)}.
 *
 * <p>The canonical constructor throws {@link IllegalArgumentException} naming the bad value.
 *
 * @param id job id, unique among the scheduler's jobs that are not yet final (non-blank)
 * @param queue name of the queue (tenant) it is charged to
 * @param priority priority inside its queue; higher runs first and may preempt lower
 * @param request what each gang member needs
 * @param gangSize number of members placed all-or-nothing (1..1024)
 * @param preemptible whether the scheduler may preempt it for priority or quota reclaim (node drain
 *     and node loss stop any job)
 * @param gracePeriod time between the stop callback and the forced release when preempted (&ge; 0)
 *     <p>All durations are at most 100 years.
 * @param timeLimit wall-clock limit after which the job is stopped and FAILED, or {@code null}
 * @param expectedDuration the user's estimate of the run time, used for backfill, or {@code null}
 * @param leaseTtl lease that {@link JobHandle#heartbeat()} must renew, or {@code null} for none
 * @param requeueOnPreemption whether a job preempted for priority or quota goes back to PENDING
 * @param reclaimWhenIdle whether the job's GPUs are taken back after they stay idle (interactive
 *     sessions, notebooks)
 * @param metadata user data carried along, never interpreted
 */
public record JobSpec(
    String id,
    String queue,
    int priority,
    PlacementRequest request,
    int gangSize,
    boolean preemptible,
    Duration gracePeriod,
    @Nullable Duration timeLimit,
    @Nullable Duration expectedDuration,
    @Nullable Duration leaseTtl,
    boolean requeueOnPreemption,
    boolean reclaimWhenIdle,
    Map<String, String> metadata) {

  /** Largest gang size. */
  public static final int MAX_GANG_SIZE = 1024;

  /**
   * Longest duration the library accepts anywhere (job durations, idle windows, scheduler
   * settings, drain deadlines): 100 years. Beyond it millisecond arithmetic would overflow; use
   * {@code null} (where allowed) for "no limit".
   */
  public static final Duration MAX_DURATION = Duration.ofDays(36_500);

  /** Queue used when none is set. */
  public static final String DEFAULT_QUEUE = "default";

  /** Validates the components. */
  public JobSpec {
    Checks.requireName(id, "job id");
    Checks.requireName(queue, "queue of job " + id);
    Objects.requireNonNull(request, "request");
    if (gangSize < 1 || gangSize > MAX_GANG_SIZE) {
      throw new IllegalArgumentException(
          "gangSize of job " + id + " must be in 1.." + MAX_GANG_SIZE + ", was " + gangSize);
    }
    nonNegative(gracePeriod, "gracePeriod", id);
    positiveOrNull(timeLimit, "timeLimit", id);
    positiveOrNull(expectedDuration, "expectedDuration", id);
    positiveOrNull(leaseTtl, "leaseTtl", id);
    metadata = Map.copyOf(Objects.requireNonNull(metadata, "metadata"));
  }

  private static void nonNegative(Duration d, String what, String id) {
    Objects.requireNonNull(d, what);
    if (d.isNegative()) {
      throw new IllegalArgumentException(what + " of job " + id + " must be >= 0, was " + d);
    }
    Checks.requireAtMostMax(d, what + " of job " + id);
  }

  private static void positiveOrNull(@Nullable Duration d, String what, String id) {
    if (d != null && (d.isNegative() || d.isZero())) {
      throw new IllegalArgumentException(what + " of job " + id + " must be positive, was " + d);
    }
    Checks.requireAtMostMax(d, what + " of job " + id);
  }

  /**
   * Returns this spec in another queue, everything else the same.
   *
   * @param queue the queue's name
   * @throws IllegalArgumentException if the name is not a valid queue name
   */
  public JobSpec withQueue(String queue) {
    return new JobSpec(
        id, queue, priority, request, gangSize, preemptible, gracePeriod, timeLimit,
        expectedDuration, leaseTtl, requeueOnPreemption, reclaimWhenIdle, metadata);
  }

  /**
   * Returns a copy with another request (the rest unchanged).
   *
   * @throws NullPointerException if request is null
   */
  public JobSpec withRequest(PlacementRequest request) {
    return new JobSpec(
        id, queue, priority, Objects.requireNonNull(request, "request"), gangSize, preemptible,
        gracePeriod, timeLimit, expectedDuration, leaseTtl, requeueOnPreemption, reclaimWhenIdle,
        metadata);
  }

  /**
   * Returns the run time the scheduler may assume for backfill: the time limit if set (a hard
   * bound), else the expected duration, else {@code null} (unknown).
   */
  public @Nullable Duration runTimeBound() {
    return timeLimit != null ? timeLimit : expectedDuration;
  }

  /**
   * Returns a builder for a job needing {@code request}: random id, queue {@value #DEFAULT_QUEUE},
   * priority 0, gang of 1, not preemptible, grace 30 s, requeued on preemption, no limits.
   */
  public static Builder builder(PlacementRequest request) {
    return new Builder(Objects.requireNonNull(request, "request"));
  }

  /** Builder of {@link JobSpec}; not thread-safe, {@link #build()} validates. */
  public static final class Builder {
    private final PlacementRequest request;
    private @Nullable String id;
    private String queue = DEFAULT_QUEUE;
    private int priority;
    private int gangSize = 1;
    private boolean preemptible;
    private Duration gracePeriod = Duration.ofSeconds(30);
    private @Nullable Duration timeLimit;
    private @Nullable Duration expectedDuration;
    private @Nullable Duration leaseTtl;
    private boolean requeueOnPreemption = true;
    private boolean reclaimWhenIdle;
    private final Map<String, String> metadata = new LinkedHashMap<>();

    private Builder(PlacementRequest request) {
      this.request = request;
    }

    /** Sets the id (default: a random UUID). */
    public Builder id(String id) {
      this.id = id;
      return this;
    }

    /** Sets the queue. */
    public Builder queue(String queue) {
      this.queue = queue;
      return this;
    }

    /** Sets the priority (higher first). */
    public Builder priority(int priority) {
      this.priority = priority;
      return this;
    }

    /** Sets the gang size. */
    public Builder gangSize(int gangSize) {
      this.gangSize = gangSize;
      return this;
    }

    /** Sets whether the job may be preempted for priority or quota. */
    public Builder preemptible(boolean preemptible) {
      this.preemptible = preemptible;
      return this;
    }

    /** Sets the grace period between the stop callback and forced release. */
    public Builder gracePeriod(Duration gracePeriod) {
      this.gracePeriod = gracePeriod;
      return this;
    }

    /** Sets a wall-clock time limit. */
    public Builder timeLimit(@Nullable Duration timeLimit) {
      this.timeLimit = timeLimit;
      return this;
    }

    /** Sets the expected run time (for backfill). */
    public Builder expectedDuration(@Nullable Duration expectedDuration) {
      this.expectedDuration = expectedDuration;
      return this;
    }

    /** Sets a lease TTL renewed by heartbeats. */
    public Builder leaseTtl(@Nullable Duration leaseTtl) {
      this.leaseTtl = leaseTtl;
      return this;
    }

    /** Sets whether a job preempted for priority or quota is requeued. */
    public Builder requeueOnPreemption(boolean requeue) {
      this.requeueOnPreemption = requeue;
      return this;
    }

    /** Marks the job's GPUs reclaimable when idle (interactive sessions). */
    public Builder reclaimWhenIdle(boolean reclaim) {
      this.reclaimWhenIdle = reclaim;
      return this;
    }

    /** Adds one metadata entry. */
    public Builder metadata(String key, String value) {
      metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /**
     * Builds the spec.
     *
     * @throws IllegalArgumentException naming the bad value
     */
    public JobSpec build() {
      return new JobSpec(
          id != null ? id : UUID.randomUUID().toString(),
          queue,
          priority,
          request,
          gangSize,
          preemptible,
          gracePeriod,
          timeLimit,
          expectedDuration,
          leaseTtl,
          requeueOnPreemption,
          reclaimWhenIdle,
          metadata);
    }
  }
}
