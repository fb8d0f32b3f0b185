package io.gpusched.bench.sim;

import io.gpusched.SchedulingPolicy;
import java.util.Objects;

/**
 * How one simulation runs: which scheduler configuration, and the simulated hosts' behaviour.
 * Times in seconds of simulated time.
 *
 * @param variant the scheduler configuration compared
 * @param tickSeconds period of the scheduler's {@code tick()} (grace deadlines, idle checks)
 * @param sampleSeconds period of the utilization / share samples
 * @param fairnessWindowSeconds window over which Jain's index is computed
 * @param graceSeconds grace period of every job between stop request and forced release
 * @param checkpointing whether preemptible jobs checkpoint: on a stop request (taking {@code
 *     checkpointDelaySeconds}) and every {@code checkpointIntervalSeconds}; requeued jobs then
 *     resume from the checkpoint. Without it, requeued jobs start from scratch.
 * @param checkpointDelaySeconds time a job needs to checkpoint and stop after a stop request
 * @param checkpointIntervalSeconds period of background checkpoints (0: only on stop requests)
 * @param idleWindowSeconds telemetry idle window after which a notebook counts as idle
 * @param idleGraceSeconds time an idle reclaimable job keeps its GPUs after being flagged
 * @param minRunSeconds minimum run time before a job may be preempted
 * @param drainSeconds how long the simulation runs on after the last arrival, at most
 */
public record SimConfig(
    Variant variant,
    long tickSeconds,
    long sampleSeconds,
    long fairnessWindowSeconds,
    long graceSeconds,
    boolean checkpointing,
    long checkpointDelaySeconds,
    long checkpointIntervalSeconds,
    long idleWindowSeconds,
    long idleGraceSeconds,
    long minRunSeconds,
    long drainSeconds) {

  /** Validates. */
  public SimConfig {
    Objects.requireNonNull(variant, "variant");
    if (tickSeconds <= 0 || sampleSeconds <= 0 || fairnessWindowSeconds < sampleSeconds) {
      throw new IllegalArgumentException("tick and sample periods must be positive, window >= sample");
    }
  }

  /**
   * Defaults for a variant: tick 60 s, sample 5 min, fairness window 1 h, grace 5 min,
   * checkpointing on (2 min to checkpoint, background checkpoint every 30 min), idle window 20
   * min, idle grace 10 min, minimum run time 10 min, up to 4 days of drain.
   */
  public static SimConfig defaults(Variant variant) {
    return new SimConfig(variant, 60, 300, 3_600, 300, true, 120, 1_800, 1_200, 600, 600, 4 * 86_400);
  }

  /** Returns a copy for another variant. */
  public SimConfig with(Variant v) {
    return new SimConfig(v, tickSeconds, sampleSeconds, fairnessWindowSeconds, graceSeconds,
        checkpointing, checkpointDelaySeconds, checkpointIntervalSeconds, idleWindowSeconds,
        idleGraceSeconds, minRunSeconds, drainSeconds);
  }

  /** Returns a copy with checkpointing on or off. */
  public SimConfig withCheckpointing(boolean on) {
    return new SimConfig(variant, tickSeconds, sampleSeconds, fairnessWindowSeconds, graceSeconds,
        on, checkpointDelaySeconds, checkpointIntervalSeconds, idleWindowSeconds,
        idleGraceSeconds, minRunSeconds, drainSeconds);
  }

  /** The scheduler configurations the comparison runs, on the same workload. */
  public enum Variant {
    /** Submission order across queues; no preemption, no backfill. */
    FIFO("FIFO", SchedulingPolicy.FIFO, false, false),
    /** Priority order across queues; no preemption, no backfill. */
    PRIORITY("PRIORITY", SchedulingPolicy.PRIORITY, false, false),
    /** Weighted fair share; no preemption, no backfill. */
    FAIR_SHARE("FAIR_SHARE", SchedulingPolicy.FAIR_SHARE, false, false),
    /** Fair share with preemption (priority, quota reclaim). */
    FAIR_SHARE_PREEMPT("FAIR_SHARE+preempt", SchedulingPolicy.FAIR_SHARE, true, false),
    /** Fair share with preemption and backfill (the library's default). */
    FAIR_SHARE_PREEMPT_BACKFILL("FAIR_SHARE+preempt+backfill", SchedulingPolicy.FAIR_SHARE, true, true);

    private final String label;
    private final SchedulingPolicy policy;
    private final boolean preemption;
    private final boolean backfill;

    Variant(String label, SchedulingPolicy policy, boolean preemption, boolean backfill) {
      this.label = label;
      this.policy = policy;
      this.preemption = preemption;
      this.backfill = backfill;
    }

    /** Returns the name printed in reports. */
    public String label() {
      return label;
    }

    /** Returns the scheduling policy. */
    public SchedulingPolicy policy() {
      return policy;
    }

    /** Returns whether preemption is on. */
    public boolean preemption() {
      return preemption;
    }

    /** Returns whether backfill is on. */
    public boolean backfill() {
      return backfill;
    }

    /** Returns a file-name friendly name. */
    public String fileName() {
      return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
    }
  }
}
