package io.gpusched.bench.fgd;

import io.gpusched.GpuDemand;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A reference Fragmentation Gradient Descent scheduler (Weng et al., "Beware of Fragmentation:
 * Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC 2023), written
 * here from the paper's definitions so that the fill experiment can run it beside gpusched on the
 * same pods. It is a single-threaded simulation, not a scheduler: it scans every node per decision,
 * as the paper's scheduler does.
 *
 * <p><b>Fragmentation.</b> For a node {@code n} and a pod type {@code m}, {@code F_n(m)} is the
 * node's free GPU capacity (milli) that a pod of type {@code m} could not use:
 * <ul>
 *   <li>all of it if the pod cannot run on the node at all (its model constraint excludes the node's
 *       model, its CPU or memory request exceeds the node's free CPU or memory, or the node has fewer
 *       fully free GPUs than a multi-GPU pod asks, or no GPU with enough free for a share);
 *   <li>else, for a share of {@code x} milli, the free milli of each GPU with less than {@code x}
 *       free; for whole GPUs, the free milli of each partly used GPU.
 * </ul>
 * The node's fragmentation for the target workload is {@code F_n = sum_m p_m F_n(m)}, with {@code
 * p_m} the popularity of type {@code m} among the workload's pods. A pod goes where {@code F_n}
 * grows least (over every node and, for a share, every GPU that fits it); ties go to the lowest
 * node, then the lowest GPU.
 *
 * <p><b>Typical pods.</b> Types are pods with the same CPU, memory, GPU count, GPU milli and model
 * constraint. As in the paper, only the most popular types are kept: the smallest set covering
 * {@link #POPULARITY_COVERAGE} of the pods (at most {@link #MAX_TYPES}), popularity renormalized.
 *
 * <p>A node's {@code F_n} is cached and recomputed only for the node that changed, so a decision
 * costs nodes × distinct GPU free amounts × types.
 */
public final class ReferenceFgd {
  /** Share of the pods that the typical pod types cover (the paper keeps the popular ones). */
  public static final double POPULARITY_COVERAGE = 0.95;

  /** Upper bound on the number of typical pod types. */
  public static final int MAX_TYPES = 200;

  private final Node[] nodes;
  private final Type[] types;
  private final Map<String, Integer> modelIndex = new HashMap<>();
  private final double[] frag;

  /** One node of the simulation. */
  private static final class Node {
    final int model;
    final int[] free; // free milli per GPU
    long cpuFree;
    long memFree;

    Node(int model, int gpus, long cpu, long mem) {
      this.model = model;
      this.free = new int[gpus];
      java.util.Arrays.fill(free, 1000);
      this.cpuFree = cpu;
      this.memFree = mem;
    }
  }

  /** A pod type: what a pod asks for, and its popularity. */
  private record Type(long cpu, long mem, int count, int milli, long models, double pop) {}

  /**
   * Builds the simulation.
   *
   * @param nodeSpecs the cluster's nodes (GPUs of one model per node; nodes without GPUs allowed)
   * @param workload the workload's pods (the target distribution), one request per pod
   */
  public ReferenceFgd(List<NodeSpec> nodeSpecs, List<PlacementRequest> workload) {
    nodes = new Node[nodeSpecs.size()];
    for (int i = 0; i < nodes.length; i++) {
      NodeSpec s = nodeSpecs.get(i);
      String model = s.gpus().isEmpty() ? "" : s.gpus().get(0).model().name();
      int mi = modelIndex.computeIfAbsent(model, k -> modelIndex.size());
      nodes[i] =
          new Node(mi, s.gpus().size(), capacity(s.cpuMillis()), capacity(s.memoryMiB()));
    }
    if (modelIndex.size() > 63) {
      throw new IllegalArgumentException("more than 63 GPU models: " + modelIndex.size());
    }
    types = typicalTypes(workload);
    frag = new double[nodes.length];
    for (int i = 0; i < nodes.length; i++) {
      frag[i] = nodeFrag(nodes[i], nodes[i].free, nodes[i].cpuFree, nodes[i].memFree);
    }
  }

  private static long capacity(long v) {
    return v == NodeSpec.UNTRACKED ? Long.MAX_VALUE / 4 : v;
  }

  /** The number of typical pod types kept. */
  public int typeCount() {
    return types.length;
  }

  private Type[] typicalTypes(List<PlacementRequest> workload) {
    Map<List<Object>, long[]> counts = new LinkedHashMap<>();
    for (PlacementRequest r : workload) {
      Key k = key(r);
      counts.computeIfAbsent(
              List.of(k.cpu, k.mem, k.count, k.milli, k.models), x -> new long[1])[0]++;
    }
    List<Map.Entry<List<Object>, long[]>> sorted = new ArrayList<>(counts.entrySet());
    sorted.sort(Comparator.comparingLong((Map.Entry<List<Object>, long[]> e) -> -e.getValue()[0]));
    long total = workload.size();
    List<Type> out = new ArrayList<>();
    long covered = 0;
    for (Map.Entry<List<Object>, long[]> e : sorted) {
      if (out.size() >= MAX_TYPES || covered >= POPULARITY_COVERAGE * total) {
        break;
      }
      List<Object> k = e.getKey();
      out.add(new Type((Long) k.get(0), (Long) k.get(1), (Integer) k.get(2), (Integer) k.get(3),
          (Long) k.get(4), e.getValue()[0]));
      covered += e.getValue()[0];
    }
    double sum = out.stream().mapToDouble(Type::pop).sum();
    return out.stream()
        .map(t -> new Type(t.cpu, t.mem, t.count, t.milli, t.models, t.pop / sum))
        .toArray(Type[]::new);
  }

  private record Key(long cpu, long mem, int count, int milli, long models) {}

  private Key key(PlacementRequest r) {
    int count;
    int milli;
    if (r.gpus() instanceof GpuDemand.Share s) {
      count = 1;
      milli = s.milliGpu();
    } else if (r.gpus() instanceof GpuDemand.Whole w) {
      count = w.count();
      milli = 1000;
    } else {
      throw new IllegalArgumentException("the reference FGD takes shares and whole GPUs, not " + r.gpus());
    }
    Set<String> allowed = r.constraints().gpuModels();
    long mask = -1L;
    if (!allowed.isEmpty()) {
      mask = 0;
      for (Map.Entry<String, Integer> e : modelIndex.entrySet()) {
        for (String a : allowed) {
          if (a.equalsIgnoreCase(e.getKey())) {
            mask |= 1L << e.getValue();
          }
        }
      }
    }
    return new Key(Math.max(0, r.cpuMillis()), Math.max(0, r.memoryMiB()), count, milli, mask);
  }

  /** F_n(m) for every typical type, weighted: the node's fragmentation with these free amounts. */
  private double nodeFrag(Node n, int[] free, long cpuFree, long memFree) {
    int total = 0;
    int full = 0;
    int maxFree = 0;
    for (int f : free) {
      total += f;
      if (f == 1000) {
        full++;
      }
      maxFree = Math.max(maxFree, f);
    }
    if (total == 0) {
      return 0;
    }
    double sum = 0;
    for (Type t : types) {
      double fm;
      if ((t.models & (1L << n.model)) == 0 || t.cpu > cpuFree || t.mem > memFree) {
        fm = total;
      } else if (t.milli < 1000) {
        if (maxFree < t.milli) {
          fm = total;
        } else {
          fm = 0;
          for (int f : free) {
            if (f < t.milli) {
              fm += f;
            }
          }
        }
      } else if (full < t.count) {
        fm = total;
      } else {
        fm = total - 1000 * full;
      }
      sum += t.pop * fm;
    }
    return sum;
  }

  /**
   * Places one pod (one request), or fails. Returns the index of its node (in the order the nodes
   * were given), or -1 if no node fits it.
   *
   * @throws IllegalArgumentException for a MIG request
   */
  public int place(PlacementRequest r) {
    Key k = key(r);
    int bestNode = -1;
    int bestGpu = -1;
    double bestDelta = Double.POSITIVE_INFINITY;
    int[] scratch = new int[64];
    for (int i = 0; i < nodes.length; i++) {
      Node n = nodes[i];
      if ((k.models & (1L << n.model)) == 0 || k.cpu > n.cpuFree || k.mem > n.memFree
          || n.free.length < k.count) {
        continue;
      }
      int[] free = java.util.Arrays.copyOf(n.free, n.free.length);
      if (k.milli < 1000) {
        int tried = -1; // GPUs with the same free amount give the same result: try one
        for (int g = 0; g < free.length; g++) {
          int f = free[g];
          if (f < k.milli || f == tried || seenBefore(free, g)) {
            continue;
          }
          tried = f;
          free[g] = f - k.milli;
          double d = nodeFrag(n, free, n.cpuFree - k.cpu, n.memFree - k.mem) - frag[i];
          free[g] = f;
          if (d < bestDelta) {
            bestDelta = d;
            bestNode = i;
            bestGpu = g;
          }
        }
      } else {
        int taken = 0;
        for (int g = 0; g < free.length && taken < k.count; g++) {
          if (free[g] == 1000) {
            scratch[taken++] = g;
          }
        }
        if (taken < k.count) {
          continue;
        }
        for (int j = 0; j < taken; j++) {
          free[scratch[j]] = 0;
        }
        double d = nodeFrag(n, free, n.cpuFree - k.cpu, n.memFree - k.mem) - frag[i];
        if (d < bestDelta) {
          bestDelta = d;
          bestNode = i;
          bestGpu = scratch[0];
        }
      }
    }
    if (bestNode < 0) {
      return -1;
    }
    Node n = nodes[bestNode];
    if (k.milli < 1000) {
      n.free[bestGpu] -= k.milli;
    } else {
      int taken = 0;
      for (int g = 0; g < n.free.length && taken < k.count; g++) {
        if (n.free[g] == 1000) {
          n.free[g] = 0;
          taken++;
        }
      }
    }
    n.cpuFree -= k.cpu;
    n.memFree -= k.mem;
    frag[bestNode] = nodeFrag(n, n.free, n.cpuFree, n.memFree);
    return bestNode;
  }

  private static boolean seenBefore(int[] free, int g) {
    for (int j = 0; j < g; j++) {
      if (free[j] == free[g]) {
        return true;
      }
    }
    return false;
  }

  /** Allocated GPU milli over the whole cluster. */
  public long allocatedMilli() {
    long a = 0;
    for (Node n : nodes) {
      for (int f : n.free) {
        a += 1000 - f;
      }
    }
    return a;
  }

  @Override
  public String toString() {
    return "ReferenceFgd[" + nodes.length + " nodes, " + types.length + " typical types, models "
        + Objects.toString(modelIndex.keySet()) + "]";
  }
}
