package io.gpusched;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One timestamped telemetry reading of a whole GPU or of one MIG device on it.
 *
 * <p>A device is named by its physical GPU's UUID plus, for a MIG device, the start slot of its GPU
 * instance ({@link #migStartSlot()}, the same slot the placement engine reports in {@link
 * AllocatedGpu#migStartSlot()}); {@link #WHOLE_GPU} names the GPU itself. This lets the scheduler
 * find the reading for an allocation without knowing the MIG device UUID the host created.
 *
 * <p>Numeric readings a source cannot give are {@link #UNAVAILABLE} (-1). In particular NVML reports
 * <b>no utilization for MIG devices</b>: their {@link #utilizationPercent()} is {@code UNAVAILABLE}
 * and idle detection there relies on {@link #processes()} and {@link #memoryUsedMiB()} (see {@link
 * IdlePolicy}).
 *
 * <p>Immutable and thread-safe. Build one with {@link #builder(String, long)}.
 *
 * @param gpuUuid UUID of the physical GPU (non-blank)
 * @param migStartSlot start memory slot of the MIG GPU instance, or {@link #WHOLE_GPU} (-1)
 * @param timestampMillis when the reading was taken, in milliseconds since the epoch of the clock
 *     the telemetry and the scheduler share
 * @param utilizationPercent GPU (SM) utilization 0..100 over the source's sample period, or -1
 * @param memoryUtilizationPercent memory-controller utilization 0..100, or -1
 * @param memoryUsedMiB device memory used in MiB (for NVML, includes reserved memory), or -1
 * @param memoryTotalMiB device memory in MiB, or -1
 * @param powerMilliwatts power draw in mW, or -1
 * @param temperatureCelsius GPU temperature in °C, or -1
 * @param energyMillijoules energy consumed since the driver loaded, in mJ, or -1
 * @param processes the compute processes on the device, or {@code null} when the source cannot list
 *     them (unknown is not the same as none)
 * @param lost whether the device is lost or unreadable; a lost sample never counts as idle
 */
public record GpuSample(
    String gpuUuid,
    int migStartSlot,
    long timestampMillis,
    int utilizationPercent,
    int memoryUtilizationPercent,
    long memoryUsedMiB,
    long memoryTotalMiB,
    long powerMilliwatts,
    int temperatureCelsius,
    long energyMillijoules,
    @Nullable List<GpuProcess> processes,
    boolean lost) {

  /** Value of a numeric reading that the source cannot give. */
  public static final int UNAVAILABLE = -1;

  /** Value of {@link #migStartSlot()} for a reading of the whole GPU. */
  public static final int WHOLE_GPU = -1;

  /**
   * Validates the components.
   *
   * @throws IllegalArgumentException naming the bad component
   */
  public GpuSample {
    Checks.requireName(gpuUuid, "gpuUuid");
    if (migStartSlot < WHOLE_GPU || migStartSlot > 7) {
      throw new IllegalArgumentException(
          "migStartSlot of " + gpuUuid + " must be -1 (WHOLE_GPU) or 0..7, was " + migStartSlot);
    }
    percent(utilizationPercent, "utilizationPercent", gpuUuid);
    percent(memoryUtilizationPercent, "memoryUtilizationPercent", gpuUuid);
    atLeastUnavailable(memoryUsedMiB, "memoryUsedMiB", gpuUuid);
    atLeastUnavailable(memoryTotalMiB, "memoryTotalMiB", gpuUuid);
    atLeastUnavailable(powerMilliwatts, "powerMilliwatts", gpuUuid);
    atLeastUnavailable(energyMillijoules, "energyMillijoules", gpuUuid);
    if (temperatureCelsius < UNAVAILABLE) {
      throw new IllegalArgumentException(
          "temperatureCelsius of " + gpuUuid + " must be >= -1, was " + temperatureCelsius);
    }
    processes = processes == null ? null : List.copyOf(processes);
  }

  private static void percent(int value, String what, String uuid) {
    if (value < UNAVAILABLE || value > 100) {
      throw new IllegalArgumentException(
          what + " of " + uuid + " must be -1 (UNAVAILABLE) or 0..100, was " + value);
    }
  }

  private static void atLeastUnavailable(long value, String what, String uuid) {
    if (value < UNAVAILABLE) {
      throw new IllegalArgumentException(
          what + " of " + uuid + " must be >= -1 (UNAVAILABLE), was " + value);
    }
  }

  /** Returns whether this reading is of a MIG device rather than a whole GPU. */
  public boolean isMig() {
    return migStartSlot != WHOLE_GPU;
  }

  /**
   * Returns a builder for a sample of the whole GPU {@code gpuUuid} taken at {@code
   * timestampMillis}; every reading starts {@link #UNAVAILABLE} and processes unknown.
   *
   * @param gpuUuid UUID of the physical GPU
   * @param timestampMillis when the reading was taken, epoch milliseconds
   * @return a new builder (not thread-safe)
   */
  public static Builder builder(String gpuUuid, long timestampMillis) {
    return new Builder(Objects.requireNonNull(gpuUuid, "gpuUuid"), timestampMillis);
  }

  /** A marker sample saying the device is lost or unreadable at {@code timestampMillis}. */
  public static GpuSample lost(String gpuUuid, int migStartSlot, long timestampMillis) {
    return builder(gpuUuid, timestampMillis).migStartSlot(migStartSlot).lost(true).build();
  }

  /** Builder of {@link GpuSample}; not thread-safe, {@link #build()} validates. */
  public static final class Builder {
    private final String gpuUuid;
    private final long timestampMillis;
    private int migStartSlot = WHOLE_GPU;
    private int utilizationPercent = UNAVAILABLE;
    private int memoryUtilizationPercent = UNAVAILABLE;
    private long memoryUsedMiB = UNAVAILABLE;
    private long memoryTotalMiB = UNAVAILABLE;
    private long powerMilliwatts = UNAVAILABLE;
    private int temperatureCelsius = UNAVAILABLE;
    private long energyMillijoules = UNAVAILABLE;
    private @Nullable List<GpuProcess> processes;
    private boolean lost;

    private Builder(String gpuUuid, long timestampMillis) {
      this.gpuUuid = gpuUuid;
      this.timestampMillis = timestampMillis;
    }

    /** Sets the MIG GPU-instance start slot (0..7), or {@link #WHOLE_GPU}. */
    public Builder migStartSlot(int slot) {
      this.migStartSlot = slot;
      return this;
    }

    /** Sets GPU utilization, percent 0..100. */
    public Builder utilizationPercent(int percent) {
      this.utilizationPercent = percent;
      return this;
    }

    /** Sets memory-controller utilization, percent 0..100. */
    public Builder memoryUtilizationPercent(int percent) {
      this.memoryUtilizationPercent = percent;
      return this;
    }

    /** Sets device memory used and total, MiB. */
    public Builder memory(long usedMiB, long totalMiB) {
      this.memoryUsedMiB = usedMiB;
      this.memoryTotalMiB = totalMiB;
      return this;
    }

    /** Sets power draw, milliwatts. */
    public Builder powerMilliwatts(long milliwatts) {
      this.powerMilliwatts = milliwatts;
      return this;
    }

    /** Sets temperature, degrees Celsius. */
    public Builder temperatureCelsius(int celsius) {
      this.temperatureCelsius = celsius;
      return this;
    }

    /** Sets total energy since driver load, millijoules. */
    public Builder energyMillijoules(long millijoules) {
      this.energyMillijoules = millijoules;
      return this;
    }

    /** Sets the process list ({@code null}: unknown). */
    public Builder processes(@Nullable List<GpuProcess> processes) {
      this.processes = processes;
      return this;
    }

    /** Marks the device lost or unreadable. */
    public Builder lost(boolean lost) {
      this.lost = lost;
      return this;
    }

    /**
     * Builds the sample.
     *
     * @throws IllegalArgumentException naming the bad value
     */
    public GpuSample build() {
      return new GpuSample(
          gpuUuid,
          migStartSlot,
          timestampMillis,
          utilizationPercent,
          memoryUtilizationPercent,
          memoryUsedMiB,
          memoryTotalMiB,
          powerMilliwatts,
          temperatureCelsius,
          energyMillijoules,
          processes,
          lost);
    }
  }
}
