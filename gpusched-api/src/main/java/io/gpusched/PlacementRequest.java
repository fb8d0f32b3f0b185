package io.gpusched;

import java.util.Objects;

/**
 * What to place: a {@link GpuDemand}, host CPU and memory, and {@link Constraints}.
 *
 * <p>Host CPU and memory are reserved on the node of the allocation. For whole GPUs spread over
 * several nodes ({@code sameNode == false}), each node is charged its share: the totals divided by
 * the GPU count, rounded up, per GPU placed there. Host resources are checked only on nodes that
 * {@link NodeSpec#tracksHostResources() track} them.
 *
 * <pre>{@code
 * PlacementRequest.mig("3g.40gb");
 * PlacementRequest.wholeGpus(8, true).withHost(64_000, 512_000);
 * PlacementRequest.share(250, 10_240).withConstraints(Constraints.models("H100-80GB"));
 * }</pre>
 *
 * @param gpus the GPU demand
 * @param cpuMillis host CPU in milli-cores, {@code >= 0}
 * @param memoryMiB host memory in MiB, {@code >= 0}
 * @param constraints where it may go
 */
public record PlacementRequest(
    GpuDemand gpus, long cpuMillis, long memoryMiB, Constraints constraints) {

  /**
   * Validates the request.
   *
   * @throws IllegalArgumentException if host amounts are negative
   */
  public PlacementRequest {
    Objects.requireNonNull(gpus, "gpus");
    Objects.requireNonNull(constraints, "constraints");
    Checks.requireNonNegative(cpuMillis, "request cpuMillis");
    Checks.requireNonNegative(memoryMiB, "request memoryMiB");
  }

  /** {@code count} whole GPUs of one model on any nodes (all-or-nothing). */
  public static PlacementRequest wholeGpus(int count) {
    return of(new GpuDemand.Whole(count, false));
  }

  /** {@code count} whole GPUs of one model, on one node when {@code sameNode}. */
  public static PlacementRequest wholeGpus(int count, boolean sameNode) {
    return of(new GpuDemand.Whole(count, sameNode));
  }

  /**
   * A copy whose whole-GPU demand may combine GPUs of different models (by default a request for
   * several GPUs takes them all of one model).
   *
   * @throws IllegalArgumentException if the demand is not whole GPUs
   */
  public PlacementRequest withMixedModels() {
    if (!(gpus instanceof GpuDemand.Whole w)) {
      throw new IllegalArgumentException("mixed models apply to whole GPUs, not to " + gpus);
    }
    return new PlacementRequest(
        new GpuDemand.Whole(w.count(), w.sameNode(), true), cpuMillis, memoryMiB, constraints);
  }

  /**
   * A copy whose MIG instance goes only where it strands no compute slice, and is refused when no
   * such place is free ({@link GpuDemand.Mig#noStranding()}). Memory-heavy profiles ({@code
   * 1g.20gb}, {@code 3g.40gb} on an H100) then wait for a GPU that can absorb their spare memory
   * slice instead of costing a compute slice. See {@code docs/placement.md}.
   *
   * @throws IllegalArgumentException if the demand is not a MIG instance
   */
  public PlacementRequest withoutStranding() {
    if (!(gpus instanceof GpuDemand.Mig m)) {
      throw new IllegalArgumentException("stranding applies to MIG instances, not to " + gpus);
    }
    return m.noStranding()
        ? this
        : new PlacementRequest(new GpuDemand.Mig(m.profile(), true), cpuMillis, memoryMiB, constraints);
  }

  /** One MIG instance of the named profile. */
  public static PlacementRequest mig(String profile) {
    return of(new GpuDemand.Mig(profile));
  }

  /** A fractional share: milli-GPU compute and GPU memory in MiB. */
  public static PlacementRequest share(int milliGpu, long memoryMiB) {
    return of(new GpuDemand.Share(milliGpu, memoryMiB));
  }

  /** A request for a demand with no host resources and no constraints. */
  public static PlacementRequest of(GpuDemand demand) {
    return new PlacementRequest(demand, 0, 0, Constraints.NONE);
  }

  /** Returns a copy with these host resources. */
  public PlacementRequest withHost(long cpuMillis, long memoryMiB) {
    return new PlacementRequest(gpus, cpuMillis, memoryMiB, constraints);
  }

  /** Returns a copy with these constraints. */
  public PlacementRequest withConstraints(Constraints constraints) {
    return new PlacementRequest(gpus, cpuMillis, memoryMiB, constraints);
  }
}
