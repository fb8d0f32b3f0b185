package io.gpusched;

import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The placement engine: a set of nodes whose GPUs, MIG slices and shares are handed out by {@link
 * #place(PlacementRequest)} and given back by {@link Allocation#release()}.
 *
 * <p>Thread-safe. {@link #place} and {@link Allocation#release()} are lock-free: they take no lock,
 * global or per node, and each GPU's occupancy changes only by compare-and-set of one word. No
 * capacity is ever granted twice, and a placement that fails leaves no reservation behind.
 *
 * <p>Every placement (gangs included: their GPUs are taken at one instant), every release, and
 * adding, cordoning and force-removing nodes are linearizable: {@code place} returns an allocation
 * that was valid where it landed, or empty only when nothing eligible fitted, at one instant within
 * the call, without waiting for another thread. Which of several fitting candidates it takes is
 * the strategy's preference applied to the index as the search read it, not part of that
 * guarantee: a candidate freed by a concurrent release may be passed over for the next one. A
 * forced removal is ordered against every placement on the node at one instant: a placement that
 * took GPUs there before it is reported in the removal's {@link NodeRemoval#lost()}, and is
 * returned to its caller already lost ({@link Allocation#isActive()} false); one after it never
 * lands there. Node management ({@code addNode}, {@code setNodeState}, {@code removeNode}) is
 * serialized among itself; placements never wait for it, but a forced removal waits for the
 * placements that took GPUs of its node before it to be registered (a few instructions each).
 */
public interface GpuCluster {

  /**
   * Places a request.
   *
   * <p>A concurrent forced {@link #removeNode removal} of one of its nodes that came right after
   * its GPUs were taken reports the allocation in its {@link NodeRemoval#lost()}: it may then be
   * returned already lost (or, for a spread gang that still holds GPUs on other nodes, severed),
   * or become so as that removal returns. Check {@link Allocation#isActive()} (after the
   * allocation is recorded where the removal's handler will look for it); {@link
   * Allocation#release()} frees what a severed gang still holds, after which the request may be
   * placed again.
   *
   * @return the allocation, or empty when no eligible capacity is free now
   * @throws IllegalArgumentException if no node of the cluster could ever host the request (for
   *     example an unknown MIG profile for every allowed model, more GPUs on one node than any node
   *     has, or a share larger than any GPU's memory), judged on the nodes present now (removed
   *     nodes do not count, cordoned and draining ones do); the cluster is left unchanged
   */
  Optional<Allocation> place(PlacementRequest request);

  /**
   * {@link #place} without the {@code Optional}, for the hot path: the same placement with the
   * same guarantees and exceptions, lock-free as {@code place} is, but allocating nothing beyond
   * the allocation it returns (an {@code Optional} per call costs 16 bytes that escape analysis
   * does not always remove).
   *
   * @param request what to place
   * @return the allocation, or {@code null} when no eligible capacity is free now
   * @throws IllegalArgumentException as {@link #place} does; the cluster is left unchanged
   */
  default @Nullable Allocation tryPlace(PlacementRequest request) {
    return place(request).orElse(null);
  }

  /**
   * Takes exactly the capacity of an allocation recorded earlier, for example by a durable store
   * before a restart: the same GPUs, the same MIG instances (profile and start slice), the same
   * shares, and the request's host resources, charged as {@link #place} charges them. Meant for
   * recovery, before placements start: with placements running at the same time a multi-GPU
   * restore is not atomic (its GPUs are taken one by one, like a gang's). Cordoned and draining
   * nodes are accepted (a node that was cordoned keeps its running work); the request's node
   * labels and capacity classes are not checked again, its GPU models are.
   *
   * @param request the request the allocation was made for
   * @param gpus the GPUs it held, as its {@link Allocation#gpus()} reported them (in any order)
   * @return the restored allocation, active, with a new id
   * @throws IllegalArgumentException if the record is not an allocation of this request on this
   *     cluster: an empty list, an unknown node, a GPU index the node does not have, a UUID, model
   *     or mode that differs from the node's GPU, a MIG profile or start slice the GPU cannot hold,
   *     a share amount that differs from the request's, the same GPU twice, or a number or layout
   *     of GPUs the request does not ask for; the message names the bad value. Nothing is taken.
   * @throws IllegalStateException if the recorded capacity is not free now (a conflict: another
   *     allocation holds part of it, or the node lacks the host resources, or the node was removed
   *     meanwhile); the message names the GPU or node. Nothing is taken.
   * @throws UnsupportedOperationException if this cluster cannot restore allocations (the default)
   */
  default Allocation restore(PlacementRequest request, List<AllocatedGpu> gpus) {
    throw new UnsupportedOperationException(getClass().getName() + " cannot restore allocations");
  }

  /**
   * Adds a node; its GPUs are placeable when this returns.
   *
   * @throws IllegalArgumentException if a node with that id exists or the node is invalid for
   *     this cluster (for example a GPU model name used with a different geometry)
   */
  void addNode(NodeSpec node);

  /**
   * Changes a node's state. Only {@link NodeState#READY} nodes receive new placements; existing
   * allocations are not touched. A placement already past its eligibility check may still land on
   * the node.
   *
   * @throws IllegalArgumentException if there is no such node
   */
  void setNodeState(String nodeId, NodeState state);

  /**
   * Removes a node.
   *
   * @param force remove even if allocations are active; they are then reported as lost. A spread
   *     gang that also holds GPUs on other nodes is <em>severed</em>: it is lost (no longer {@link
   *     Allocation#isActive() active}) but keeps those GPUs, whose workers still run, until its
   *     {@link Allocation#release()} gives them back
   * @return the removal, with the lost allocations when forced
   * @throws IllegalArgumentException if there is no such node
   * @throws IllegalStateException if the node has active allocations and {@code force} is false;
   *     the node is then left as it was
   */
  NodeRemoval removeNode(String nodeId, boolean force);

  /** Returns the specs of all nodes, in the order they were added. */
  List<NodeSpec> nodes();

  /**
   * Returns the active allocations on a node, by id. A severed spread gang (see {@link
   * Allocation#release()}) is not listed, though it holds GPUs here until released.
   *
   * @throws IllegalArgumentException if there is no such node
   */
  List<Allocation> allocations(String nodeId);

  /** Takes a usage snapshot (see {@link ClusterSnapshot}). Does not block placements. */
  ClusterSnapshot snapshot();
}
