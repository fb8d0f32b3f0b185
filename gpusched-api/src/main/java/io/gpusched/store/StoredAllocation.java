package io.gpusched.store;

import io.gpusched.AllocatedGpu;
import java.util.List;
import java.util.Objects;

/**
 * The exact capacity one gang member of a running job holds: what {@link
 * io.gpusched.GpuCluster#restore} takes back after a restart.
 *
 * @param gpus the GPUs, as {@link io.gpusched.Allocation#gpus()} reported them: node id, GPU index
 *     and UUID, model, mode, MIG profile and start slice, share in milli-GPU and memory in MiB
 * @param cpuMillis host CPU the member's request reserved, millicores
 * @param memoryMiB host memory the member's request reserved, MiB
 */
public record StoredAllocation(List<AllocatedGpu> gpus, long cpuMillis, long memoryMiB) {
  /** Validates and copies. */
  public StoredAllocation {
    gpus = List.copyOf(Objects.requireNonNull(gpus, "gpus"));
    if (gpus.isEmpty()) {
      throw new IllegalArgumentException("a stored allocation holds at least one GPU");
    }
    if (cpuMillis < 0 || memoryMiB < 0) {
      throw new IllegalArgumentException(
          "host resources must be >= 0, were " + cpuMillis + " millicores and " + memoryMiB + " MiB");
    }
  }
}
