package io.gpusched;

import java.time.LocalDate;
import java.util.Map;
import java.util.Objects;

/**
 * The cost accrued on one UTC day, per queue: node price &times; GPU-equivalents &times; hours held
 * during that day (a run that spans midnight is split at midnight UTC), in the nodes' currency.
 * Running jobs count up to the moment the snapshot was taken.
 *
 * @param day the day, in UTC
 * @param byQueue cost per queue name; queues with no cost that day are absent
 * @param total the sum over the queues
 */
public record DailyCost(LocalDate day, Map<String, Double> byQueue, double total) {

  /**
   * Copies the map.
   *
   * @throws NullPointerException if the day, the map, or a key or value in it is null
   * @throws IllegalArgumentException if a cost or the total is negative or not finite, naming it
   */
  public DailyCost {
    Objects.requireNonNull(day, "day");
    byQueue = Map.copyOf(Objects.requireNonNull(byQueue, "byQueue"));
    byQueue.forEach((q, c) -> requireCost(c, "cost of queue " + q + " on " + day));
    requireCost(total, "total cost on " + day);
  }

  private static void requireCost(double c, String what) {
    if (!(c >= 0) || Double.isInfinite(c)) {
      throw new IllegalArgumentException(what + " must be >= 0 and finite, was " + c);
    }
  }
}
