package io.gpusched.core;

import io.gpusched.DailyCost;
import io.gpusched.SchedulerSnapshot;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Cost per UTC day and queue, for the last {@link SchedulerSnapshot#COST_DAYS} days: what ended
 * runs cost, each split at midnight UTC (a run's cost is its rate, price &times; GPU-equivalents per
 * millisecond, times the milliseconds it held its GPUs on that day).
 *
 * <p>One writer, the dispatcher ({@link Ledger#unaccount}), which publishes a new immutable table
 * through a volatile field (copy on write: at most {@code COST_DAYS} days &times; queues entries);
 * snapshots read it on any thread without locks and add the running jobs' cost up to their time.
 */
final class CostDays {
  static final long DAY_MS = 86_400_000L;

  /** Ended runs' cost: epoch day (UTC) → queue → cost. Replaced, never changed in place. */
  private volatile TreeMap<Long, Map<String, Double>> ended = new TreeMap<>();

  /** Adds an ended run of a queue: {@code costPerMs} from {@code from} to {@code to} (epoch ms). */
  void addRun(String queue, double costPerMs, long from, long to) {
    if (!(costPerMs > 0) || to <= from) {
      return;
    }
    TreeMap<Long, Map<String, Double>> next = new TreeMap<>();
    ended.forEach((d, m) -> next.put(d, new HashMap<>(m)));
    split(costPerMs, from, to, (day, c) -> next.computeIfAbsent(day, k -> new HashMap<>()).merge(queue, c, Double::sum));
    long keepFrom = next.lastKey() - (SchedulerSnapshot.COST_DAYS - 1);
    next.headMap(keepFrom).clear();
    next.replaceAll((d, m) -> Map.copyOf(m));
    ended = next;
  }

  /** Receives a day's share of a run. */
  interface DayCost {
    void add(long epochDay, double cost);
  }

  /** Splits {@code costPerMs} over [from, to) at midnight UTC. */
  static void split(double costPerMs, long from, long to, DayCost out) {
    long t = from;
    while (t < to) {
      long day = Math.floorDiv(t, DAY_MS);
      long end = Math.min(to, (day + 1) * DAY_MS);
      out.add(day, costPerMs * (end - t));
      t = end;
    }
  }

  /**
   * The per-day report at {@code now}: ended runs plus {@code running} (queue, cost per ms, start)
   * up to {@code now}, for the {@code COST_DAYS} days up to {@code now}'s day, oldest first.
   */
  List<DailyCost> report(long now, List<Running> running) {
    long today = Math.floorDiv(now, DAY_MS);
    long first = today - (SchedulerSnapshot.COST_DAYS - 1);
    TreeMap<Long, Map<String, Double>> days = new TreeMap<>();
    ended.tailMap(first, true).forEach((d, m) -> days.put(d, new HashMap<>(m)));
    for (Running r : running) {
      split(r.costPerMs(), Math.max(r.startedAtMillis(), first * DAY_MS), now,
          (day, c) -> days.computeIfAbsent(day, k -> new HashMap<>()).merge(r.queue(), c, Double::sum));
    }
    var out = new ArrayList<DailyCost>(days.size());
    days.forEach(
        (d, m) -> {
          if (d <= today) {
            double total = 0;
            for (double c : m.values()) {
              total += c;
            }
            out.add(new DailyCost(LocalDate.ofEpochDay(d), m, total));
          }
        });
    return out;
  }

  /** A running job's share of the report: its queue, cost rate and start. */
  record Running(String queue, double costPerMs, long startedAtMillis) {}
}
