package io.gpusched;

/**
 * A process that holds a compute context on a GPU or MIG device, as reported by telemetry.
 *
 * <p>Immutable and thread-safe.
 *
 * <p>The canonical constructor throws {@link IllegalArgumentException} if {@code pid} is
 * negative or {@code usedMemoryMiB} is below -1.
 *
 * @param pid the operating-system process id (as seen from the driver's PID namespace), &ge; 0
 * @param usedMemoryMiB device memory the process uses, in MiB, or {@link GpuSample#UNAVAILABLE}
 *     when the driver does not say (NVML reports this under some virtualisation setups)
 */
public record GpuProcess(long pid, long usedMemoryMiB) {

  /** Validates the components. */
  public GpuProcess {
    Checks.requireNonNegative(pid, "process pid");
    if (usedMemoryMiB < GpuSample.UNAVAILABLE) {
      throw new IllegalArgumentException(
          "usedMemoryMiB of process " + pid + " must be >= -1 (UNAVAILABLE), was " + usedMemoryMiB);
    }
  }
}
