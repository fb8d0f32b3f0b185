package io.gpusched.core;

import java.util.List;

/**
 * Fair-share usage: each queue's exponentially weighted share of every GPU model's capacity and
 * its dominant share, which orders queues in a FAIR_SHARE dispatch pass.
 *
 * <p>Owns the decay clock ({@link #decay}'s last time) and writes {@link QueueState#ewmaShare} and
 * {@link QueueState#dominantShare}. Touched only by the dispatching thread (the command loop
 * decays before the first command of a batch; the ledger updates a queue's dominant share when its
 * usage changes); snapshots read the volatile {@code dominantShare} from any thread.
 */
final class FairShare {

  private final Capacity capacity;
  private final List<QueueState> queueList;
  private final long halfLifeMillis;
  private long lastDecayMillis = Long.MIN_VALUE;

  FairShare(Capacity capacity, List<QueueState> queueList, long halfLifeMillis) {
    this.capacity = capacity;
    this.queueList = queueList;
    this.halfLifeMillis = halfLifeMillis;
  }

  /** When usage was last decayed, or {@code Long.MIN_VALUE} before the first decay. */
  long lastDecayMillis() {
    return lastDecayMillis;
  }

  /** Recovery: usage was last decayed at {@code millis} (constructor thread). */
  void restoreLastDecay(long millis) {
    lastDecayMillis = millis;
  }

  /**
   * Updates each queue's exponentially weighted usage share per model (half-life {@code
   * halfLife}; with a zero half-life the weighted share is the current share, so fairness then
   * works on current usage alone) and its dominant share.
   */
  void decay(long now) {
    if (lastDecayMillis == Long.MIN_VALUE) {
      lastDecayMillis = now;
    }
    long dt = now - lastDecayMillis;
    if (dt <= 0) {
      return;
    }
    lastDecayMillis = now;
    double keep = halfLifeMillis <= 0 ? 0 : Math.exp(-Math.log(2) * dt / halfLifeMillis);
    int models = capacity.models.size();
    for (QueueState q : queueList) {
      q.ensureModels(models);
      for (int m = 0; m < models; m++) {
        q.ewmaShare[m] = q.ewmaShare[m] * keep + currentShare(q, m) * (1 - keep);
      }
      updateDominant(q);
    }
  }

  /** The queue's share of model {@code m}'s READY capacity now, 0..1 (0 without capacity). */
  private double currentShare(QueueState q, int m) {
    return capacity.modelCap[m] > 0 ? (double) q.modelMilli[m] / capacity.modelCap[m] : 0;
  }

  /** Recomputes the queue's dominant share from its current and weighted usage. */
  void updateDominant(QueueState q) {
    int models = capacity.models.size();
    q.ensureModels(models);
    double d = 0;
    for (int m = 0; m < models; m++) {
      double cur = currentShare(q, m);
      double ewma = halfLifeMillis <= 0 ? cur : q.ewmaShare[m];
      d = Math.max(d, 0.5 * (cur + ewma));
    }
    q.dominantShare = Math.min(d / q.spec.weight(), Double.MAX_VALUE); // finite for subnormal weights
  }
}
