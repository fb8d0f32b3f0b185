package io.gpusched;

import java.util.List;
import java.util.Map;

/**
 * Usage of a whole cluster for dashboards: per node, per GPU model, per label and in total.
 *
 * <p>Taken without stopping placements (see {@link UsageSummary} for what that means for
 * consistency). The per-model, per-label and total summaries are sums of the same per-GPU readings
 * as the nodes, so they always add up.
 *
 * @param takenAtNanos {@link System#nanoTime()} when the snapshot was started
 * @param nodes every node, in the order they were added
 * @param byModel summaries keyed by GPU model name
 * @param byLabel summaries keyed by {@code key=value} of every node label
 * @param total summary of the whole cluster
 */
public record ClusterSnapshot(
    long takenAtNanos,
    List<NodeUsage> nodes,
    Map<String, UsageSummary> byModel,
    Map<String, UsageSummary> byLabel,
    UsageSummary total) {}
