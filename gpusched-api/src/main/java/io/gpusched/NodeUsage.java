package io.gpusched;

import java.util.List;
import java.util.Map;

/**
 * One node in a {@link ClusterSnapshot}.
 *
 * @param nodeId node id
 * @param state scheduling state
 * @param capacityClass on-demand or spot
 * @param labels node labels
 * @param gpus per-GPU usage
 * @param summary totals over {@code gpus}
 * @param allocations active allocations on the node
 */
public record NodeUsage(
    String nodeId,
    NodeState state,
    CapacityClass capacityClass,
    Map<String, String> labels,
    List<GpuUsage> gpus,
    UsageSummary summary,
    int allocations) {}
