package io.gpusched.core;

import io.gpusched.PendingReason;
import java.util.HashSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * One dispatch pass's memo: shapes that failed or can never fit, jobs tried, queues that planned a
 * preemption, pools held for preemptors, and the pass's reservation (its holder, shadow time and
 * spare capacity). Made by {@link DispatchPass} for each pass and dropped after it; touched only
 * by the dispatcher.
 */
final class Pass {

  /** What an attempt to start a job came to. */
  enum Outcome {
    STARTED,
    SKIPPED,
    BACKFILL_SKIPPED,
    STOP
  }

  final long now;
  final Set<Shape> failed = new HashSet<>();
  /**
   * Shapes a job inside the MIG stranding hold failed to place (places that strand no compute
   * only): other held jobs of the shape skip their try; jobs past their hold still try.
   */
  final Set<Shape> failedHeld = new HashSet<>();
  final Set<Job> tried = new HashSet<>();
  final Set<QueueState> planned = new HashSet<>();
  final Set<Integer> held = new HashSet<>();
  /** Shapes no current node could ever host (the engine said so). */
  final Set<Shape> impossible = new HashSet<>();
  /**
   * Set by the last {@link JobStarter#tryStart}: no current node could host the job's request as
   * its quotas narrow it, although nodes of the models they keep it from could.
   */
  boolean narrowedNever;
  /** The first job of this pass found blocked for capacity: backfill protects it. */
  @Nullable Job holder;

  boolean reservationKnown;
  long shadow;
  long extra;

  /** This pass's number, for {@link Job#waiting}. */
  final long number;

  Pass(long now, long number) {
    this.now = now;
    this.number = number;
  }

  /** Records why {@code j} did not start and returns {@code o}. */
  Outcome waits(Job j, PendingReason why, Outcome o) {
    j.waiting(why, number);
    return o;
  }
}
