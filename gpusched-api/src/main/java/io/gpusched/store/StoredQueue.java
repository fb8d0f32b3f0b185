package io.gpusched.store;

import io.gpusched.QueueSpec;
import java.util.Map;
import java.util.Objects;

/**
 * A queue and its fair-share history.
 *
 * @param spec the queue's spec
 * @param decayedShare its exponentially decayed share of each GPU model's READY capacity, by model
 *     name, each finite and {@code >= 0} (above 1 while the queue's jobs run on cordoned or draining
 *     nodes)
 * @param decayedAtMillis when {@code decayedShare} was last decayed (the scheduler's clock), or -1
 * @param lastStart the scheduler's start counter at this queue's last start (round-robin among
 *     queues of equal share), 0 if none
 * @param endedCost cost of the queue's ended runs, in the nodes' price unit
 * @param dominantShare its weighted dominant share as the scheduler last computed it (it orders
 *     queues in a FAIR_SHARE pass; recovered as it was, so the order after a restart is the order
 *     before it), finite and {@code >= 0}
 */
public record StoredQueue(
    QueueSpec spec,
    Map<String, Double> decayedShare,
    long decayedAtMillis,
    long lastStart,
    double endedCost,
    double dominantShare) {
  /** Validates and copies. */
  public StoredQueue {
    Objects.requireNonNull(spec, "spec");
    decayedShare = Map.copyOf(Objects.requireNonNull(decayedShare, "decayedShare"));
    if (!(dominantShare >= 0 && dominantShare < Double.POSITIVE_INFINITY)) {
      throw new IllegalArgumentException(
          "dominant share of queue " + spec.name() + " must be finite and >= 0, was " + dominantShare);
    }
    decayedShare.forEach(
        (m, s) -> {
          if (!(s >= 0 && s < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException(
                "decayed share of model " + m + " in queue " + spec.name() + " must be finite and >= 0, was "
                    + s);
          }
        });
  }
}
