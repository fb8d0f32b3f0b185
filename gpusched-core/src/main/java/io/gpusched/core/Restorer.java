package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.PlacementRequest;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Restores a recorded allocation exactly (see {@link io.gpusched.GpuCluster#restore}): first
 * checks the whole record against the cluster and the request, then takes each GPU's recorded
 * delta by CAS (only if it still fits), then the host resources, giving everything back on a
 * conflict. Lock-free like a placement; not atomic across GPUs.
 */
@EnginePart
final class Restorer {
  private Restorer() {}

  private static final int MIG = 0;
  private static final int SHARE = 1;
  private static final int WHOLE = 2;

  /**
   * One recorded GPU, checked: where it is, what it adds, its kind ({@link #MIG}, {@link #SHARE}
   * or {@link #WHOLE}), the MIG profile index, the holder position, the host charged with it.
   */
  private record Planned(
      GpuSlot slot, long delta, int kind, int profile, int owner, long cpu, long mem) {}

  /** Checks the record, then takes it; the caller publishes the reservation. */
  static Reservation take(NodeManagement nodes, PlacementRequest request, List<AllocatedGpu> gpus) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(gpus, "gpus");
    Planned[] plan = check(nodes, request, gpus);
    Reservation r = new Reservation(plan.length);
    for (Planned p : plan) {
      if (!takeGpu(p)) {
        for (int j = 0; j < r.n; j++) { // host resources are not reserved yet
          GiveBack.giveBack(r.slots[j], r.delta(j), 0, 0);
        }
        throw new IllegalStateException(
            "cannot restore " + request + ": GPU " + where(p.slot) + " is not free for it now");
      }
      r.add(p.slot, p.delta, p.cpu, p.mem, p.owner);
    }
    for (int i = 0; i < r.n; i++) {
      if (!r.slots[i].node.reserveHost(r.cpu(i), r.mem(i))) {
        for (int j = 0; j < r.n; j++) { // GPU and host back for those charged, GPU only after
          GiveBack.giveBack(r.slots[j], r.delta(j), j < i ? r.cpu(j) : 0, j < i ? r.mem(j) : 0);
        }
        throw new IllegalStateException(
            "cannot restore " + request + ": node " + r.slots[i].node.spec.id()
                + " lacks the host resources now");
      }
    }
    return r;
  }

  /** Adds the planned delta to the GPU's word if it still fits; false (nothing changed) if not. */
  private static boolean takeGpu(Planned p) {
    GpuSlot s = p.slot;
    Space space = s.group.space;
    for (; ; ) {
      long w = s.lvWord();
      boolean fits =
          switch (p.kind) {
            case MIG -> ((MigSpace) space).canPlace(w, p.profile, p.owner);
            case SHARE ->
                ((Space.Shared) space)
                    .fits(w, Space.Shared.milliUsed(p.delta), Space.Shared.memUsed(p.delta));
            default -> w == 0;
          };
      if (!fits) {
        return false;
      }
      if (s.casWord(w, w + p.delta)) {
        s.group.index.onChange(s, w, w + p.delta);
        return true;
      }
    }
  }

  private static Planned[] check(
      NodeManagement nodes, PlacementRequest request, List<AllocatedGpu> gpus) {
    GpuDemand d = request.gpus();
    int expected = d instanceof GpuDemand.Whole w ? w.count() : 1;
    if (gpus.size() != expected) {
      throw new IllegalArgumentException(
          "a record of " + gpus.size() + " GPUs for " + d + ", which takes " + expected);
    }
    boolean spread = d instanceof GpuDemand.Whole w && !w.sameNode() && w.count() > 1;
    long cpuEach = spread ? ceilDiv(request.cpuMillis(), expected) : request.cpuMillis();
    long memEach = spread ? ceilDiv(request.memoryMiB(), expected) : request.memoryMiB();
    Planned[] plan = new Planned[expected];
    Set<GpuSlot> seen = new HashSet<>();
    for (int i = 0; i < expected; i++) {
      AllocatedGpu g = Objects.requireNonNull(gpus.get(i), "gpus[" + i + "]");
      GpuSlot s = slotOf(nodes, g);
      if (!seen.add(s)) {
        throw new IllegalArgumentException("GPU " + where(s) + " recorded twice");
      }
      if (!request.constraints().allowsModel(g.model())) {
        throw new IllegalArgumentException(
            "GPU " + where(s) + " is a " + g.model() + ", which the request's models exclude");
      }
      if (!request.constraints().allowsModel(s.spec.model())) {
        throw new IllegalArgumentException(
            "GPU " + where(s) + " is a " + g.model() + " with " + s.spec.model().memoryMiB()
                + " MiB, below the request's GPU memory floor of " + request.constraints().minGpuMemoryMiB()
                + " MiB");
      }
      if (d instanceof GpuDemand.Whole w && w.sameNode() && i > 0 && s.node != plan[0].slot.node) {
        throw new IllegalArgumentException(
            "a same-node gang recorded on two nodes: " + where(plan[0].slot) + " and " + where(s));
      }
      boolean charge = spread || i == 0;
      plan[i] = planned(s, d, g, charge ? cpuEach : 0, charge ? memEach : 0);
    }
    return plan;
  }

  private static GpuSlot slotOf(NodeManagement nodes, AllocatedGpu g) {
    NodeEntry node = nodes.require(g.nodeId()); // IllegalArgumentException: unknown node
    if (g.gpuIndex() < 0 || g.gpuIndex() >= node.gpus.length) {
      throw new IllegalArgumentException(
          "node " + g.nodeId() + " has no GPU index " + g.gpuIndex() + " (it has "
              + node.gpus.length + ")");
    }
    GpuSlot s = node.gpus[g.gpuIndex()];
    GpuSpec spec = s.spec;
    if (!spec.uuid().equals(g.gpuUuid())) {
      throw new IllegalArgumentException(
          "GPU " + where(s) + " has UUID " + spec.uuid() + ", not " + g.gpuUuid());
    }
    if (!spec.model().name().equals(g.model()) || spec.mode() != g.mode()) {
      throw new IllegalArgumentException(
          "GPU " + where(s) + " is a " + spec.model().name() + " in " + spec.mode() + ", not a "
              + g.model() + " in " + g.mode());
    }
    return s;
  }

  private static Planned planned(GpuSlot s, GpuDemand d, AllocatedGpu g, long cpu, long mem) {
    Space space = s.group.space;
    if (d instanceof GpuDemand.Mig m) {
      if (!(space instanceof MigSpace mig)) {
        throw new IllegalArgumentException("GPU " + where(s) + " is not in a MIG mode");
      }
      if (!m.profile().equals(g.migProfile())) {
        throw new IllegalArgumentException(
            "GPU " + where(s) + " recorded with profile " + g.migProfile() + " for " + m);
      }
      int p = mig.profileIndex(m.profile());
      int c = p < 0 ? -1 : mig.choiceAt(p, g.migStartSlot());
      if (c < 0) {
        throw new IllegalArgumentException(
            "GPU " + where(s) + " cannot hold " + m.profile() + " at slice " + g.migStartSlot());
      }
      return new Planned(s, mig.delta(p, c), MIG, p, c, cpu, mem);
    }
    if (d instanceof GpuDemand.Share sh) {
      if (space.mode != GpuMode.SHARED) {
        throw new IllegalArgumentException("GPU " + where(s) + " is not SHARED");
      }
      if (g.milliGpu() != sh.milliGpu() || g.memoryMiB() != sh.memoryMiB()) {
        throw new IllegalArgumentException(
            "GPU " + where(s) + " recorded with " + g.milliGpu() + " milli and " + g.memoryMiB()
                + " MiB for " + sh);
      }
      if (sh.memoryMiB() > space.model.memoryMiB()) {
        throw new IllegalArgumentException(
            "GPU " + where(s) + " has " + space.model.memoryMiB() + " MiB, less than " + sh);
      }
      return new Planned(
          s, Space.Shared.delta(sh.milliGpu(), sh.memoryMiB()), SHARE, -1, -1, cpu, mem);
    }
    if (space.wholeDelta() == 0) {
      throw new IllegalArgumentException(
          "GPU " + where(s) + " cannot be taken whole (it is in MIG mode)");
    }
    int owner = space.mode == GpuMode.SHARED ? -1 : 0;
    return new Planned(s, space.wholeDelta(), WHOLE, -1, owner, cpu, mem);
  }

  private static String where(GpuSlot s) {
    return s.node.spec.id() + "/" + s.spec.index();
  }

  private static long ceilDiv(long x, int y) {
    return x / y + (x % y == 0 ? 0 : 1);
  }
}
