package io.gpusched.store;

import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import java.util.Objects;

/**
 * A node as the scheduler knows it.
 *
 * @param spec the node's spec as the scheduler added it
 * @param state its state; {@link NodeState#DOWN} for a node removed ({@code nodeDown}) and not
 *     added again
 * @param addedAtRunTime whether it was added through {@code GpuScheduler.addNode} (after the
 *     scheduler was built) rather than given to the builder; a restart adds such nodes again
 * @param sequence the order in which the scheduler added it (ascending; nodes are re-added in this
 *     order after a restart, so placements tie-break the same way)
 */
public record StoredNode(NodeSpec spec, NodeState state, boolean addedAtRunTime, long sequence) {
  /** Validates. */
  public StoredNode {
    Objects.requireNonNull(spec, "spec");
    Objects.requireNonNull(state, "state of node " + spec.id());
  }
}
