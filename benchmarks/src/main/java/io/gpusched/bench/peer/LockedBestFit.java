package io.gpusched.bench.peer;

import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuSpec;
import io.gpusched.MigGeometry;
import io.gpusched.MigInstance;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The baseline a team writes first: one global lock, a plain state object per GPU, and for every
 * placement a scan of all GPUs (or all nodes, for whole GPUs) under the lock to pick the best one.
 *
 * <p>Per-GPU state: {@link GpuMode#WHOLE} a taken flag; {@link GpuMode#MIG_DYNAMIC} a mask of used
 * memory slices, the compute slices used and the instance count per profile, checked against the
 * model's {@link MigGeometry} (placement starts, compute limit, {@code maxInstances});
 * {@link GpuMode#MIG_STATIC} which pre-made instances are taken; {@link GpuMode#SHARED} the milli-GPU
 * and memory used (an untouched shared GPU can also be taken whole, as in gpusched). Host CPU and
 * memory are reserved on nodes that track them. {@link Constraints} (models, labels, capacity
 * classes) are honoured.
 *
 * <p>Choice, by the strategy's name: {@code FIRST_FIT} takes the first fitting GPU/node in node
 * order; {@code BEST_FIT} the GPU left with the least free capacity (whole GPUs: the node left with
 * the fewest free GPUs); {@code SPREAD} the opposite; {@code FRAGMENTATION_AWARE} and custom
 * strategies fall back to {@code BEST_FIT} (this baseline has no fragmentation model). Ties go to
 * the lowest node and GPU index. A MIG instance takes the lowest valid start slot on its GPU.
 *
 * <p>Thread-safe: every {@link #place} and {@link #release} holds one monitor.
 */
public final class LockedBestFit implements PeerScheduler {

  /** How candidates are compared. */
  public enum Policy {
    /** First fitting candidate in node order. */
    FIRST_FIT,
    /** Least free capacity left. */
    BEST_FIT,
    /** Most free capacity left. */
    SPREAD
  }

  private final Object lock = new Object();
  private final Node[] nodes;
  private final Policy policy;
  private final GpuModel[] models;
  /** Scratch, used under the lock: profile index of the current request per model index. */
  private final int[] profileByModel;
  private final Set<String> migProfiles = new HashSet<>();
  private final int maxWholePerNode;
  private final long maxSharedMemory;
  private final int totalWholeCapable;

  /** Builds the baseline over these nodes; the policy follows the strategy's name. */
  public LockedBestFit(List<NodeSpec> nodeSpecs, PlacementStrategy strategy) {
    this(nodeSpecs, policyOf(strategy));
  }

  /** Builds the baseline over these nodes with this policy. */
  public LockedBestFit(List<NodeSpec> nodeSpecs, Policy policy) {
    this.policy = policy;
    Map<String, Integer> modelIndex = new HashMap<>();
    List<GpuModel> modelList = new ArrayList<>();
    Set<String> ids = new HashSet<>();
    nodes = new Node[nodeSpecs.size()];
    int maxWhole = 0;
    long maxMem = -1;
    int wholeCapable = 0;
    for (int n = 0; n < nodes.length; n++) {
      NodeSpec spec = nodeSpecs.get(n);
      if (!ids.add(spec.id())) {
        throw new IllegalArgumentException("node " + spec.id() + " already exists");
      }
      Gpu[] gpus = new Gpu[spec.gpus().size()];
      Node node = new Node(spec, gpus);
      int nodeWhole = 0;
      for (int i = 0; i < gpus.length; i++) {
        GpuSpec g = spec.gpus().get(i);
        Integer mi = modelIndex.get(g.model().name());
        if (mi == null) {
          mi = modelList.size();
          modelIndex.put(g.model().name(), mi);
          modelList.add(g.model());
        } else if (!modelList.get(mi).equals(g.model())) {
          throw new IllegalArgumentException(
              "GPU model name " + g.model().name() + " is used with two definitions");
        }
        gpus[i] = new Gpu(node, g, mi);
        if (g.mode() == GpuMode.WHOLE || g.mode() == GpuMode.SHARED) {
          nodeWhole++;
        }
        if (g.mode() == GpuMode.SHARED) {
          maxMem = Math.max(maxMem, g.model().memoryMiB());
        }
        if (g.mode() == GpuMode.MIG_DYNAMIC) {
          Objects.requireNonNull(g.model().mig()).profiles().forEach(p -> migProfiles.add(p.name()));
        } else if (g.mode() == GpuMode.MIG_STATIC) {
          g.staticInstances().forEach(s -> migProfiles.add(s.profile()));
        }
      }
      maxWhole = Math.max(maxWhole, nodeWhole);
      wholeCapable += nodeWhole;
      nodes[n] = node;
    }
    models = modelList.toArray(GpuModel[]::new);
    profileByModel = new int[models.length];
    maxWholePerNode = maxWhole;
    maxSharedMemory = maxMem;
    totalWholeCapable = wholeCapable;
  }

  /** Maps a strategy to a policy by name; unknown ones (and fragmentation-aware) to BEST_FIT. */
  public static Policy policyOf(PlacementStrategy strategy) {
    return switch (strategy.name()) {
      case "FIRST_FIT" -> Policy.FIRST_FIT;
      case "SPREAD" -> Policy.SPREAD;
      default -> Policy.BEST_FIT;
    };
  }

  @Override
  public String name() {
    return "locked";
  }

  /** Returns the policy in use. */
  public Policy policy() {
    return policy;
  }

  // =============================================================== placement

  /**
   * Places a request.
   *
   * @return the grant, or {@code null} when no eligible capacity is free now
   * @throws IllegalArgumentException if no node could ever host the request
   */
  @Override
  public @Nullable Grant place(PlacementRequest request) {
    GpuDemand d = request.gpus();
    checkEverHostable(d);
    synchronized (lock) {
      if (d instanceof GpuDemand.Whole w) {
        if (w.count() == 1 || w.sameNode()) {
          return placeWholeOnNode(w.count(), request.cpuMillis(), request.memoryMiB(), request);
        }
        return placeWholeSpread(w.count(), request);
      }
      if (d instanceof GpuDemand.Mig m) {
        return placeMig(m.profile(), request);
      }
      GpuDemand.Share s = (GpuDemand.Share) d;
      return placeShare(s.milliGpu(), s.memoryMiB(), request);
    }
  }

  private void checkEverHostable(GpuDemand d) {
    if (d instanceof GpuDemand.Mig m && !migProfiles.contains(m.profile())) {
      throw new IllegalArgumentException("unknown MIG profile " + m.profile());
    }
    if (d instanceof GpuDemand.Share s && s.memoryMiB() > maxSharedMemory) {
      throw new IllegalArgumentException("no SHARED GPU has " + s.memoryMiB() + " MiB");
    }
    if (d instanceof GpuDemand.Whole w) {
      int limit = (w.sameNode() || w.count() == 1) ? maxWholePerNode : totalWholeCapable;
      if (w.count() > limit) {
        throw new IllegalArgumentException("no capacity could ever host " + w.count() + " GPUs");
      }
    }
  }

  /** Whole GPUs on one node: scan every node, count its free whole-capable GPUs, pick the best. */
  private @Nullable Grant placeWholeOnNode(int k, long cpu, long mem, PlacementRequest request) {
    Constraints c = request.constraints();
    Node best = null;
    int bestFree = 0;
    for (Node node : nodes) {
      if (!node.allows(c) || !node.hostFits(cpu, mem)) {
        continue;
      }
      int free = 0;
      for (Gpu g : node.gpus) {
        if (g.wholeFree() && c.allowsModel(g.model)) {
          free++;
        }
      }
      if (free < k) {
        continue;
      }
      if (best == null
          || (policy == Policy.BEST_FIT && free < bestFree)
          || (policy == Policy.SPREAD && free > bestFree)) {
        best = node;
        bestFree = free;
        if (policy == Policy.FIRST_FIT) {
          break;
        }
      }
    }
    if (best == null) {
      return null;
    }
    Gpu[] taken = new Gpu[k];
    int n = 0;
    for (Gpu g : best.gpus) {
      if (n < k && g.wholeFree() && c.allowsModel(g.model)) {
        g.whole = true;
        taken[n++] = g;
      }
    }
    best.cpuUsed += cpu;
    best.memUsed += mem;
    long[] hostCpu = new long[k];
    long[] hostMem = new long[k];
    hostCpu[0] = cpu;
    hostMem[0] = mem;
    return new Grant(request, taken, hostCpu, hostMem, -1, -1, -1, 1000, 0);
  }

  /** Whole GPUs on any nodes: one at a time, each by {@link #placeWholeOnNode}, all or none. */
  private @Nullable Grant placeWholeSpread(int k, PlacementRequest request) {
    long cpu = (request.cpuMillis() + k - 1) / k;
    long mem = (request.memoryMiB() + k - 1) / k;
    Gpu[] taken = new Gpu[k];
    long[] hostCpu = new long[k];
    long[] hostMem = new long[k];
    for (int i = 0; i < k; i++) {
      Grant one = placeWholeOnNode(1, cpu, mem, request);
      if (one == null) {
        for (int j = 0; j < i; j++) {
          taken[j].whole = false;
          taken[j].node.cpuUsed -= hostCpu[j];
          taken[j].node.memUsed -= hostMem[j];
        }
        return null;
      }
      taken[i] = one.gpus[0];
      hostCpu[i] = cpu;
      hostMem[i] = mem;
    }
    return new Grant(request, taken, hostCpu, hostMem, -1, -1, -1, 1000, 0);
  }

  /** One MIG instance: scan every MIG GPU, pick the best one with a valid free placement. */
  private @Nullable Grant placeMig(String profileName, PlacementRequest request) {
    Constraints c = request.constraints();
    for (int m = 0; m < models.length; m++) {
      profileByModel[m] = -1;
      MigGeometry geo = models[m].mig();
      if (geo != null && c.allowsModel(models[m])) {
        List<MigProfile> ps = geo.profiles();
        for (int p = 0; p < ps.size(); p++) {
          if (ps.get(p).name().equals(profileName)) {
            profileByModel[m] = p;
          }
        }
      }
    }
    long cpu = request.cpuMillis();
    long mem = request.memoryMiB();
    Gpu best = null;
    int bestSlot = -1;
    double bestScore = 0;
    scan:
    for (Node node : nodes) {
      if (!node.allows(c) || !node.hostFits(cpu, mem)) {
        continue;
      }
      for (Gpu g : node.gpus) {
        int p = profileByModel[g.modelIndex];
        if (p < 0 || (g.mode != GpuMode.MIG_DYNAMIC && g.mode != GpuMode.MIG_STATIC)) {
          continue;
        }
        int slot = g.migFit(p);
        if (slot < 0) {
          continue;
        }
        double freeAfter = g.migFreeAfter(p, slot);
        if (best == null || better(freeAfter, bestScore)) {
          best = g;
          bestSlot = slot;
          bestScore = freeAfter;
          if (policy == Policy.FIRST_FIT) {
            break scan;
          }
        }
      }
    }
    if (best == null) {
      return null;
    }
    int p = profileByModel[best.modelIndex];
    best.migTake(p, bestSlot);
    best.node.cpuUsed += cpu;
    best.node.memUsed += mem;
    MigProfile prof = Objects.requireNonNull(best.geometry, "a MIG GPU").profiles().get(p);
    int start = best.mode == GpuMode.MIG_STATIC
        ? best.spec.staticInstances().get(bestSlot).startSlot()
        : bestSlot;
    return new Grant(
        request, new Gpu[] {best}, new long[] {cpu}, new long[] {mem}, p, bestSlot, start, 0,
        prof.memoryMiB());
  }

  /** A share: scan every SHARED GPU, pick the best one with room for it. */
  private @Nullable Grant placeShare(int milli, long memory, PlacementRequest request) {
    Constraints c = request.constraints();
    long cpu = request.cpuMillis();
    long mem = request.memoryMiB();
    Gpu best = null;
    double bestScore = 0;
    scan:
    for (Node node : nodes) {
      if (!node.allows(c) || !node.hostFits(cpu, mem)) {
        continue;
      }
      for (Gpu g : node.gpus) {
        if (g.mode != GpuMode.SHARED
            || g.whole
            || g.milliUsed + milli > 1000
            || g.memUsed + memory > g.model.memoryMiB()
            || !c.allowsModel(g.model)) {
          continue;
        }
        double freeAfter =
            Math.min(
                (1000 - g.milliUsed - milli) / 1000.0,
                (double) (g.model.memoryMiB() - g.memUsed - memory) / g.model.memoryMiB());
        if (best == null || better(freeAfter, bestScore)) {
          best = g;
          bestScore = freeAfter;
          if (policy == Policy.FIRST_FIT) {
            break scan;
          }
        }
      }
    }
    if (best == null) {
      return null;
    }
    best.milliUsed += milli;
    best.memUsed += memory;
    best.shares++;
    best.node.cpuUsed += cpu;
    best.node.memUsed += mem;
    return new Grant(
        request, new Gpu[] {best}, new long[] {cpu}, new long[] {mem}, -1, -1, -1, milli, memory);
  }

  private boolean better(double freeAfter, double bestFreeAfter) {
    return switch (policy) {
      case FIRST_FIT -> false;
      case BEST_FIT -> freeAfter < bestFreeAfter;
      case SPREAD -> freeAfter > bestFreeAfter;
    };
  }

  // =============================================================== release

  @Override
  public boolean release(Object handle) {
    Grant g = (Grant) handle;
    synchronized (lock) {
      if (g.released) {
        return false;
      }
      g.released = true;
      for (int i = 0; i < g.gpus.length; i++) {
        Gpu gpu = g.gpus[i];
        if (g.profile >= 0) {
          gpu.migGiveBack(g.profile, g.slot);
        } else if (gpu.mode == GpuMode.SHARED && !gpu.whole) {
          gpu.milliUsed -= g.milli;
          gpu.memUsed -= g.memoryMiB;
          gpu.shares--;
        } else {
          gpu.whole = false;
        }
        gpu.node.cpuUsed -= g.hostCpu[i];
        gpu.node.memUsed -= g.hostMem[i];
      }
      return true;
    }
  }

  // =============================================================== inspection

  /** Returns the number of GPUs with nothing placed on them. */
  public int freeGpus() {
    synchronized (lock) {
      int free = 0;
      for (Node n : nodes) {
        for (Gpu g : n.gpus) {
          if (g.isEmpty()) {
            free++;
          }
        }
      }
      return free;
    }
  }

  /** Returns the used memory-slice mask of a MIG GPU (tests). */
  public int migSlotMask(String nodeId, int gpuIndex) {
    synchronized (lock) {
      return gpu(nodeId, gpuIndex).slotMask;
    }
  }

  /** Returns the milli-GPU used on a SHARED GPU (tests). */
  public int sharedMilliUsed(String nodeId, int gpuIndex) {
    synchronized (lock) {
      return gpu(nodeId, gpuIndex).milliUsed;
    }
  }

  private Gpu gpu(String nodeId, int gpuIndex) {
    for (Node n : nodes) {
      if (n.spec.id().equals(nodeId)) {
        for (Gpu g : n.gpus) {
          if (g.spec.index() == gpuIndex) {
            return g;
          }
        }
      }
    }
    throw new IllegalArgumentException("no GPU " + nodeId + "/" + gpuIndex);
  }

  // =============================================================== state

  /** What a placement holds. Released at most once. */
  public static final class Grant {
    private final PlacementRequest request;
    private final Gpu[] gpus;
    private final long[] hostCpu;
    private final long[] hostMem;
    private final int profile;
    private final int slot;
    private final int startSlot;
    private final int milli;
    private final long memoryMiB;
    private boolean released;

    Grant(
        PlacementRequest request,
        Gpu[] gpus,
        long[] hostCpu,
        long[] hostMem,
        int profile,
        int slot,
        int startSlot,
        int milli,
        long memoryMiB) {
      this.request = request;
      this.gpus = gpus;
      this.hostCpu = hostCpu;
      this.hostMem = hostMem;
      this.profile = profile;
      this.slot = slot;
      this.startSlot = startSlot;
      this.milli = milli;
      this.memoryMiB = memoryMiB;
    }

    /** Returns the placed request. */
    public PlacementRequest request() {
      return request;
    }

    /** Returns the node id of each GPU held, in placement order. */
    public List<String> nodeIds() {
      List<String> out = new ArrayList<>(gpus.length);
      for (Gpu g : gpus) {
        out.add(g.node.spec.id());
      }
      return out;
    }

    /** Returns the node-local index of each GPU held, in placement order. */
    public List<Integer> gpuIndices() {
      List<Integer> out = new ArrayList<>(gpus.length);
      for (Gpu g : gpus) {
        out.add(g.spec.index());
      }
      return out;
    }

    /** Returns the first memory slice of the MIG instance, or -1. */
    public int migStartSlot() {
      return startSlot;
    }

    /** Returns the milli-GPU held per GPU (1000 for whole GPUs, 0 for MIG). */
    public int milliGpu() {
      return milli;
    }

    @Override
    public String toString() {
      return "Grant" + nodeIds() + gpuIndices() + (startSlot >= 0 ? "@" + startSlot : "");
    }
  }

  private static final class Node {
    final NodeSpec spec;
    final Gpu[] gpus;
    long cpuUsed;
    long memUsed;

    Node(NodeSpec spec, Gpu[] gpus) {
      this.spec = spec;
      this.gpus = gpus;
    }

    boolean allows(Constraints c) {
      return !c.constrainsNodes() || c.allowsNode(spec.labels(), spec.capacityClass());
    }

    boolean hostFits(long cpu, long mem) {
      return (spec.cpuMillis() == NodeSpec.UNTRACKED || cpuUsed + cpu <= spec.cpuMillis())
          && (spec.memoryMiB() == NodeSpec.UNTRACKED || memUsed + mem <= spec.memoryMiB());
    }
  }

  private static final class Gpu {
    final Node node;
    final GpuSpec spec;
    final GpuModel model;
    final GpuMode mode;
    final int modelIndex;
    final @Nullable MigGeometry geometry;

    /** The geometry of a MIG GPU (MIG_DYNAMIC or MIG_STATIC). */
    MigGeometry mig() {
      return Objects.requireNonNull(geometry, "a MIG GPU");
    }
    /** WHOLE: taken; SHARED: taken whole (no shares then). */
    boolean whole;
    /** MIG_DYNAMIC: used memory slices. */
    int slotMask;
    /** MIG_DYNAMIC: used compute slices. */
    int computeUsed;
    /** MIG_DYNAMIC: instances per profile index. */
    final int[] instances;
    /** MIG_STATIC: pre-made instance taken. */
    final boolean[] staticTaken;
    /** MIG_STATIC: profile index of each pre-made instance. */
    final int[] staticProfile;
    /** SHARED: compute and memory used, and number of shares. */
    int milliUsed;
    long memUsed;
    int shares;
    /** MIG: the model's profiles as plain ints (shared by all GPUs of the model). */
    final Prof[] profs;

    Gpu(Node node, GpuSpec spec, int modelIndex) {
      this.node = node;
      this.spec = spec;
      this.model = spec.model();
      this.mode = spec.mode();
      this.modelIndex = modelIndex;
      this.geometry = spec.model().mig();
      this.instances = new int[geometry == null ? 0 : geometry.profiles().size()];
      List<MigInstance> st = spec.staticInstances();
      this.staticTaken = new boolean[st.size()];
      this.staticProfile = new int[st.size()];
      this.profs = Prof.of(geometry);
      for (int i = 0; i < st.size(); i++) {
        staticProfile[i] = mig().profiles().indexOf(model.migProfile(st.get(i).profile()));
      }
    }

    boolean wholeFree() {
      return (mode == GpuMode.WHOLE || mode == GpuMode.SHARED) && !whole && shares == 0;
    }

    boolean isEmpty() {
      return !whole && shares == 0 && slotMask == 0 && !anyStaticTaken();
    }

    private boolean anyStaticTaken() {
      for (boolean b : staticTaken) {
        if (b) {
          return true;
        }
      }
      return false;
    }

    /**
     * Returns where profile {@code p} fits: the lowest valid free start slot (MIG_DYNAMIC) or the
     * first free pre-made instance of it (MIG_STATIC); -1 if it does not fit.
     */
    int migFit(int p) {
      if (mode == GpuMode.MIG_STATIC) {
        for (int i = 0; i < staticTaken.length; i++) {
          if (!staticTaken[i] && staticProfile[i] == p) {
            return i;
          }
        }
        return -1;
      }
      Prof prof = profs[p];
      if (instances[p] >= prof.maxInstances
          || computeUsed + prof.compute > prof.gpuCompute
          || Integer.bitCount(slotMask) + prof.memSlices > prof.gpuMemSlices) {
        return -1;
      }
      for (int start : prof.starts) {
        if ((slotMask & (prof.mask << start)) == 0) {
          return start;
        }
      }
      return -1;
    }

    /** Free fraction of memory slices after taking profile p at slot. */
    double migFreeAfter(int p, int slot) {
      int used;
      if (mode == GpuMode.MIG_STATIC) {
        int free = 0;
        for (int i = 0; i < staticTaken.length; i++) {
          if (!staticTaken[i] && i != slot) {
            free += mig().profiles().get(staticProfile[i]).memorySlices();
          }
        }
        return (double) free / mig().memorySlices();
      }
      used = Integer.bitCount(slotMask) + profs[p].memSlices;
      return (double) (profs[p].gpuMemSlices - used) / profs[p].gpuMemSlices;
    }

    void migTake(int p, int slot) {
      if (mode == GpuMode.MIG_STATIC) {
        staticTaken[slot] = true;
        return;
      }
      MigProfile prof = mig().profiles().get(p);
      slotMask |= ((1 << prof.memorySlices()) - 1) << slot;
      computeUsed += prof.computeSlices();
      instances[p]++;
    }

    void migGiveBack(int p, int slot) {
      if (mode == GpuMode.MIG_STATIC) {
        staticTaken[slot] = false;
        return;
      }
      MigProfile prof = mig().profiles().get(p);
      slotMask &= ~(((1 << prof.memorySlices()) - 1) << slot);
      computeUsed -= prof.computeSlices();
      instances[p]--;
    }
  }

  /** A MIG profile as plain ints, so the per-GPU scan does no boxing or list walks. */
  private static final class Prof {
    private static final Map<MigGeometry, Prof[]> CACHE = new java.util.concurrent.ConcurrentHashMap<>();
    final int[] starts;
    final int mask;
    final int memSlices;
    final int compute;
    final int maxInstances;
    final int gpuCompute;
    final int gpuMemSlices;

    Prof(MigGeometry g, MigProfile p) {
      starts = p.placementStarts().stream().mapToInt(Integer::intValue).toArray();
      memSlices = p.memorySlices();
      mask = (1 << memSlices) - 1;
      compute = p.computeSlices();
      maxInstances = p.maxInstances();
      gpuCompute = g.computeSlices();
      gpuMemSlices = g.memorySlices();
    }

    static Prof[] of(@Nullable MigGeometry g) {
      if (g == null) {
        return new Prof[0];
      }
      return CACHE.computeIfAbsent(
          g, k -> k.profiles().stream().map(p -> new Prof(k, p)).toArray(Prof[]::new));
    }
  }
}
