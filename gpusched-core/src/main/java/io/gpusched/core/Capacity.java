package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuSpec;
import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The scheduler's view of capacity, in milli-GPU-equivalents: nodes and their states, GPU models,
 * and <em>pools</em> (one per GPU model × mode) with capacity of READY nodes and the usage of the
 * scheduler's running jobs. Mutated only by the dispatching thread, except {@link #nodes} and
 * {@link #states}, which callers read to validate node ids.
 */
final class Capacity {

  /** Capacity of one GPU, milli. */
  static final long GPU = 1000;

  final Map<String, NodeSpec> nodes = new ConcurrentHashMap<>();
  final Map<String, NodeState> states = new ConcurrentHashMap<>();
  private final Map<String, Integer> modelIndex = new HashMap<>();
  final List<GpuModel> models = new ArrayList<>();
  private final Map<String, Integer> poolIndex = new HashMap<>();
  final List<GpuMode> poolMode = new ArrayList<>();
  int[] poolModel = new int[0];
  long[] poolCap = new long[0];
  long[] poolUsed = new long[0];
  long[] modelCap = new long[0];
  volatile long totalCap;
  long totalUsed;
  /** Bumped whenever models or pools are added. */
  int version;
  /** Bumped whenever a node is added or removed (see {@link NeverFits}). */
  int nodeSetVersion;
  /** Bumped whenever the capacity of READY nodes is recomputed (a node added, removed, or changing state). */
  int capacityChanges;

  void add(NodeSpec node, NodeState state) {
    nodeSetVersion++;
    nodes.put(node.id(), node);
    states.put(node.id(), state);
    for (GpuSpec g : node.gpus()) {
      int m = model(g.model());
      pool(m, g.mode());
    }
    recompute();
  }

  void setState(String nodeId, NodeState state) {
    states.put(nodeId, state);
    recompute();
  }

  void remove(String nodeId) {
    nodeSetVersion++;
    nodes.remove(nodeId);
    states.remove(nodeId);
    recompute();
  }

  /** The index of the model of that name, or -1 if no node of it was booked. */
  int modelIndexOf(String name) {
    Integer i = modelIndex.get(name);
    return i == null ? -1 : i;
  }

  int model(GpuModel model) {
    Integer i = modelIndex.get(model.name());
    if (i != null) {
      return i;
    }
    modelIndex.put(model.name(), models.size());
    models.add(model);
    modelCap = Arrays.copyOf(modelCap, models.size());
    version++;
    return models.size() - 1;
  }

  int modelIndex(String name) {
    Integer i = modelIndex.get(name);
    if (i == null) {
      throw new IllegalStateException("unknown GPU model " + name);
    }
    return i;
  }

  int pool(int model, GpuMode mode) {
    String key = model + "|" + mode;
    Integer i = poolIndex.get(key);
    if (i != null) {
      return i;
    }
    int n = poolMode.size();
    poolIndex.put(key, n);
    poolMode.add(mode);
    poolModel = Arrays.copyOf(poolModel, n + 1);
    poolModel[n] = model;
    poolCap = Arrays.copyOf(poolCap, n + 1);
    poolUsed = Arrays.copyOf(poolUsed, n + 1);
    version++;
    return n;
  }

  int poolOf(AllocatedGpu g) {
    return pool(modelIndex(g.model()), g.mode());
  }

  private void recompute() {
    capacityChanges++;
    Arrays.fill(poolCap, 0);
    Arrays.fill(modelCap, 0);
    long total = 0;
    for (NodeSpec n : nodes.values()) {
      if (states.get(n.id()) != NodeState.READY) {
        continue;
      }
      for (GpuSpec g : n.gpus()) {
        int m = model(g.model());
        poolCap[pool(m, g.mode())] += GPU;
        modelCap[m] += GPU;
        total += GPU;
      }
    }
    totalCap = total;
  }

  /**
   * Milli-GPU-equivalents one allocated GPU (or MIG slice, or share) stands for, rounded; a share
   * rounds its memory fraction up (see {@link #shareMilli}).
   */
  long milli(AllocatedGpu g) {
    if (g.migProfile() == null && g.mode() == GpuMode.SHARED) {
      return shareMilli(g.milliGpu(), g.memoryMiB(), models.get(modelIndex(g.model())).memoryMiB());
    }
    return Math.round(fraction(g) * GPU);
  }

  /**
   * Milli-GPU-equivalents of a share: the larger of its compute ({@code milliGpu}) and its memory
   * as a fraction of the GPU's, rounded up so that any memory counts (dominant-resource fairness:
   * GPU memory is a resource, and a share that holds a quarter of it holds a quarter of the GPU
   * whatever its compute). At most {@link #GPU} when the memory fits the GPU.
   */
  static long shareMilli(long milliGpu, long memoryMiB, long gpuMemoryMiB) {
    long memMilli = (long) Math.ceil((double) GPU * memoryMiB / gpuMemoryMiB);
    return Math.max(milliGpu, memMilli);
  }

  /**
   * GPU-equivalents one allocated GPU (or MIG slice, or share) stands for, exactly: for a share the
   * larger of its compute and memory fractions.
   */
  double fraction(AllocatedGpu g) {
    if (g.migProfile() != null) {
      MigGeometry geo = models.get(modelIndex(g.model())).mig();
      if (geo == null) {
        return 1;
      }
      MigProfile p = geo.profile(g.migProfile()).orElse(null);
      return p == null ? 1 : (double) p.computeSlices() / geo.computeSlices();
    }
    if (g.mode() == GpuMode.SHARED) {
      long gpuMem = models.get(modelIndex(g.model())).memoryMiB();
      return Math.max(g.milliGpu() / 1000.0, (double) g.memoryMiB() / gpuMem);
    }
    return 1;
  }

  /**
   * Estimated milli of one placement of {@code r}, before it is placed: for a MIG profile, or a
   * share's memory, the largest share it has on any allowed model it fits (so quota checks never
   * let usage exceed a limit).
   */
  long estimate(PlacementRequest r) {
    GpuDemand d = r.gpus();
    if (d instanceof GpuDemand.Whole w) {
      return GPU * w.count();
    }
    if (d instanceof GpuDemand.Share s) {
      long worst = s.milliGpu();
      for (int p = 0; p < poolMode.size(); p++) {
        GpuModel m = models.get(poolModel[p]);
        if (poolMode.get(p) == GpuMode.SHARED
            && s.memoryMiB() <= m.memoryMiB()
            && r.constraints().allowsModel(m)) {
          worst = Math.max(worst, shareMilli(s.milliGpu(), s.memoryMiB(), m.memoryMiB()));
        }
      }
      return worst;
    }
    String profile = ((GpuDemand.Mig) d).profile();
    long worst = 0;
    for (GpuModel m : models) {
      if (m.mig() != null && r.constraints().allowsModel(m)) {
        var p = m.mig().profile(profile);
        if (p.isPresent()) {
          worst =
              Math.max(
                  worst, Math.round(GPU * p.get().computeSlices() / (double) m.mig().computeSlices()));
        }
      }
    }
    return worst;
  }

  /** Pools a placement of {@code r} could use. */
  int[] compatiblePools(PlacementRequest r) {
    GpuDemand d = r.gpus();
    int[] out = new int[poolMode.size()];
    int n = 0;
    for (int p = 0; p < poolMode.size(); p++) {
      GpuModel m = models.get(poolModel[p]);
      if (r.constraints().allowsModel(m) && modeFits(d, poolMode.get(p), m)) {
        out[n++] = p;
      }
    }
    return Arrays.copyOf(out, n);
  }

  static boolean modeFits(GpuDemand d, GpuMode mode, GpuModel model) {
    if (d instanceof GpuDemand.Whole) {
      return mode == GpuMode.WHOLE || mode == GpuMode.SHARED; // the engine also takes empty SHARED GPUs
    }
    if (d instanceof GpuDemand.Share) {
      return mode == GpuMode.SHARED;
    }
    return (mode == GpuMode.MIG_DYNAMIC || mode == GpuMode.MIG_STATIC)
        && model.mig() != null
        && model.mig().profile(((GpuDemand.Mig) d).profile()).isPresent();
  }

  long free(int[] pools) {
    long f = 0;
    for (int p : pools) {
      f += Math.max(0, poolCap[p] - poolUsed[p]);
    }
    return f;
  }
}
