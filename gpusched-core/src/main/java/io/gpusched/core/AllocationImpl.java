package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.PlacementRequest;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * An allocation: the GPU words it added to (with the delta added to each), and the host resources
 * charged per GPU. Its life is a small state machine changed only by CAS: {@code PENDING} (being
 * published) to {@code ACTIVE}, then {@code RELEASED} or {@code LOST}; or {@code PENDING} to {@code
 * ABORTED} when a forced node removal overtook the publication.
 */
final class AllocationImpl implements Allocation {
  static final int PENDING = 0;
  static final int ACTIVE = 1;
  static final int RELEASED = 2;
  static final int LOST = 3;
  static final int ABORTED = 4;

  final long id;
  final PlacementRequest request;
  final GpuSlot[] slots;
  final long[] deltas;
  final long[] hostCpu;
  final long[] hostMem;

  /** Per GPU: the holder position registered in {@link GpuSlot} (-1: a SHARED tenant). */
  final int[] owners;
  private volatile @Nullable List<AllocatedGpu> gpus;
  final AtomicInteger state = new AtomicInteger(PENDING);
  private final LockFreeCluster cluster;

  AllocationImpl(
      LockFreeCluster cluster,
      long id,
      PlacementRequest request,
      GpuSlot[] slots,
      long[] deltas,
      long[] hostCpu,
      long[] hostMem,
      int[] owners) {
    this.cluster = cluster;
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
      g = LockFreeCluster.describe(slots, deltas); // racy but idempotent: same list either way
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
      cluster.undo(this);
      return true;
    }
    return false;
  }

  @Override
  public String toString() {
    return "Allocation[" + id + " " + request.gpus() + " on " + gpus() + "]";
  }
}
