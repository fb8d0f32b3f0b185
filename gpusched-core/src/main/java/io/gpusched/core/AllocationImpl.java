package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.PlacementRequest;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * An allocation: the GPU words it added to (with the delta added to each), and the host resources
 * charged per GPU. Its life is a small state machine changed only by CAS: {@code PENDING} (being
 * published) to {@code ACTIVE}, then {@code RELEASED} or {@code LOST}; or {@code PENDING} to {@code
 * ABORTED} when a forced node removal overtook the publication. A spread gang that a forced removal
 * takes a node from while it holds GPUs on other nodes goes {@code ACTIVE → SEVERED}: it is lost
 * (not active), but keeps its other GPUs until {@link #release()} ({@code SEVERED → RELEASED})
 * gives them back, since its workers there still run until they are stopped.
 */
@EnginePart
final class AllocationImpl implements Allocation {
  static final int PENDING = 0;
  static final int ACTIVE = 1;
  static final int RELEASED = 2;
  static final int LOST = 3;
  static final int ABORTED = 4;
  static final int SEVERED = 5;

  final long id;
  final PlacementRequest request;
  final GpuSlot[] slots;
  final long[] deltas;
  final long[] hostCpu;
  final long[] hostMem;

  /** Per GPU: the holder position registered in {@link GpuSlot} (-1: a SHARED tenant). */
  final int[] owners;
  /**
   * Built on first call to {@link #gpus()}. Plain (racy single-check): the list is immutable and
   * its elements are records, so a thread that sees the reference sees a complete list (final
   * field semantics); at worst two threads build equal lists.
   */
  private @Nullable List<AllocatedGpu> gpus;
  final AtomicInteger state = new AtomicInteger(PENDING);

  AllocationImpl(
      long id,
      PlacementRequest request,
      GpuSlot[] slots,
      long[] deltas,
      long[] hostCpu,
      long[] hostMem,
      int[] owners) {
    this.id = id;
    this.request = request;
    this.slots = slots;
    this.deltas = deltas;
    this.hostCpu = hostCpu;
    this.hostMem = hostMem;
    this.owners = owners;
  }

  @Override
  public long id() {
    return id;
  }

  @Override
  public PlacementRequest request() {
    return request;
  }

  @Override
  public List<AllocatedGpu> gpus() {
    List<AllocatedGpu> g = gpus;
    if (g == null) {
      g = describe(slots, deltas); // racy but idempotent: same list either way
      gpus = g;
    }
    return g;
  }

  @Override
  public boolean isActive() {
    return state.get() == ACTIVE;
  }

  @Override
  public boolean release() {
    if (state.compareAndSet(ACTIVE, RELEASED)) {
      GiveBack.undo(this);
      return true;
    }
    if (state.get() == SEVERED && state.compareAndSet(SEVERED, RELEASED)) {
      GiveBack.undoSevered(this);
      return true;
    }
    return false;
  }

  /**
   * Whether this allocation holds GPUs on a node other than {@code node} that was not removed (a
   * spread gang that losing {@code node} would sever rather than lose).
   */
  boolean holdsBeyond(NodeEntry node) {
    for (GpuSlot s : slots) {
      if (s.node != node && !s.node.removed) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "Allocation[" + id + " " + request.gpus() + " on " + gpus() + "]";
  }

  /** Describes one GPU of an allocation for {@link Allocation#gpus()} (built on first call). */
  private static List<AllocatedGpu> describe(GpuSlot[] slots, long[] deltas) {
    List<AllocatedGpu> out = new ArrayList<>(slots.length);
    for (int i = 0; i < slots.length; i++) {
      out.add(describe(slots[i], deltas[i]));
    }
    return List.copyOf(out);
  }

  private static AllocatedGpu describe(GpuSlot slot, long delta) {
    GpuSpec spec = slot.spec;
    Space space = slot.group.space;
    String profile = null;
    int start = -1;
    int milli;
    long memory;
    if (space instanceof MigSpace mig) {
      int[] pc = mig.decode(delta);
      int p = pc[0];
      int choice = pc[1];
      profile = mig.profiles[p].name();
      start = mig.startSlot(p, choice);
      milli = 0;
      memory = mig.profiles[p].memoryMiB();
    } else if (space.mode == GpuMode.SHARED) {
      milli = Space.Shared.milliUsed(delta);
      memory = Space.Shared.memUsed(delta);
    } else {
      milli = 1000;
      memory = space.model.memoryMiB();
    }
    return new AllocatedGpu(
        slot.node.spec.id(),
        spec.index(),
        spec.uuid(),
        space.model.name(),
        space.mode,
        profile,
        start,
        milli,
        memory);
  }
}
