package io.gpusched.core;

import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * Tells a job shape that no node the scheduler knows could ever host, even empty: node labels and
 * capacity classes its constraints exclude, host CPU or memory beyond every node's, or more gang
 * members than all eligible nodes hold. The engine's own "could never fit" refusal (models, MIG
 * profiles, share memory, GPUs per node) is checked by placing; this covers what the engine only
 * answers with a miss. Conservative: a shape is called impossible only when no node meets a
 * necessary condition, so a shape that could start is never kept waiting by it.
 *
 * <p>Confined to the dispatching thread. Answers are cached per shape until a node is added or
 * removed ({@link Capacity#nodeSetVersion}); cordoned and draining nodes count (they may return).
 */
final class NeverFits {

  /** Cached answers are dropped past this many shapes (each entry is tiny; this bounds a leak). */
  private static final int MAX_CACHED = 4096;

  private final Map<Shape, Boolean> cache = new HashMap<>();
  private int cachedVersion = -1;

  /** Whether no node in {@code nodes} could ever host {@code shape}. */
  boolean test(Shape shape, Collection<NodeSpec> nodes, int nodeSetVersion) {
    if (cachedVersion != nodeSetVersion || cache.size() >= MAX_CACHED) {
      cache.clear();
      cachedVersion = nodeSetVersion;
    }
    Boolean known = cache.get(shape);
    if (known == null) {
      known = compute(shape.request(), shape.gangSize(), nodes);
      cache.put(shape, known);
    }
    return known;
  }

  static boolean compute(PlacementRequest r, int gangSize, Collection<NodeSpec> nodes) {
    GpuDemand d = r.gpus();
    // a member spread over nodes charges host resources per node it lands on: only a member that
    // lands on one node must find them on one node
    boolean oneNode = !(d instanceof GpuDemand.Whole w) || w.sameNode() || w.count() == 1;
    long members = 0; // how many whole-GPU members the eligible nodes hold, at most
    long spreadGpus = 0;
    boolean any = false;
    for (NodeSpec n : nodes) {
      if (!r.constraints().allowsNode(n.labels(), n.capacityClass())
          || (oneNode && !hostFits(n, r))) {
        continue;
      }
      int gpus = hostingGpus(n, d, r.constraints());
      if (gpus == 0) {
        continue;
      }
      any = true;
      if (d instanceof GpuDemand.Whole w) {
        if (oneNode) {
          members += gpus / w.count();
        } else {
          spreadGpus += gpus;
        }
      }
    }
    if (!any) {
      return true;
    }
    if (d instanceof GpuDemand.Whole w) {
      long total = oneNode ? members : spreadGpus / w.count();
      return total < gangSize;
    }
    return false; // MIG and share members may share GPUs: not counted (conservative)
  }

  private static boolean hostFits(NodeSpec n, PlacementRequest r) {
    return (n.cpuMillis() == NodeSpec.UNTRACKED || r.cpuMillis() <= n.cpuMillis())
        && (n.memoryMiB() == NodeSpec.UNTRACKED || r.memoryMiB() <= n.memoryMiB());
  }

  /** The node's GPUs of an allowed model whose mode can host the demand. */
  private static int hostingGpus(NodeSpec n, GpuDemand d, Constraints c) {
    int k = 0;
    for (GpuSpec g : n.gpus()) {
      if (!c.allowsModel(g.model())) {
        continue;
      }
      boolean fits;
      if (d instanceof GpuDemand.Whole) {
        fits = g.mode() == GpuMode.WHOLE || g.mode() == GpuMode.SHARED; // an empty shared GPU too
      } else if (d instanceof GpuDemand.Mig) {
        fits = g.mode() == GpuMode.MIG_DYNAMIC || g.mode() == GpuMode.MIG_STATIC;
      } else {
        fits = g.mode() == GpuMode.SHARED;
      }
      if (fits) {
        k++;
      }
    }
    return k;
  }
}
