package io.gpusched;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A node (host) with its GPUs, labels, host resources, price and capacity class.
 *
 * <p>Build one with {@link #builder(String)}:
 *
 * <pre>{@code
 * NodeSpec node = NodeSpec.builder("gpu-a-01")
 *     .label("zone", "eu-1a")
 *     .gpus(8, GpuModels.H100_80GB, GpuMode.WHOLE)
 *     .hostResources(128_000, 1_048_576)
 *     .pricePerGpuHour(2.50)
 *     .build();
 * }</pre>
 *
 * @param id node id, unique in a cluster; not blank
 * @param labels free-form labels (cluster, zone, rack, ...), matched by {@link Constraints}
 * @param gpus the GPUs, indices unique; at most {@value #MAX_GPUS}
 * @param cpuMillis host CPU in milli-cores that placements may reserve, or {@link #UNTRACKED}
 * @param memoryMiB host memory in MiB that placements may reserve, or {@link #UNTRACKED}
 * @param pricePerGpuHour price of one whole GPU for one hour, in the caller's currency, from 0 to
 *     {@value #MAX_PRICE_PER_GPU_HOUR} (so that costs summed over many GPUs and years stay finite)
 * @param capacityClass on-demand or spot
 */
public record NodeSpec(
    String id,
    Map<String, String> labels,
    List<GpuSpec> gpus,
    long cpuMillis,
    long memoryMiB,
    double pricePerGpuHour,
    CapacityClass capacityClass) {

  /** Value of {@link #cpuMillis()} / {@link #memoryMiB()} meaning the node does not track it. */
  public static final long UNTRACKED = -1;

  /**
   * The highest {@link #pricePerGpuHour()}: 10^9 in any currency, far above any real price, low
   * enough that a cost summed over thousands of GPUs and a century stays a finite double.
   */
  public static final double MAX_PRICE_PER_GPU_HOUR = 1e9;

  /** The most GPUs one node may have. */
  public static final int MAX_GPUS = 64;

  /** Largest trackable host CPU, in milli-cores (2^24 - 1, about 16,777 cores). */
  public static final long MAX_CPU_MILLIS = (1L << 24) - 1;

  /** Largest trackable host memory, in MiB (2^39 - 1). */
  public static final long MAX_MEMORY_MIB = (1L << 39) - 1;

  /**
   * Validates the node.
   *
   * @throws IllegalArgumentException if the id is blank, there are more than 64 GPUs, GPU indices
   *     or UUIDs repeat, host resources are negative (other than {@link #UNTRACKED}) or too large,
   *     or the price is negative or not finite
   */
  public NodeSpec {
    Checks.requireName(id, "node id");
    labels = Map.copyOf(Objects.requireNonNull(labels, "labels"));
    gpus = List.copyOf(Objects.requireNonNull(gpus, "gpus"));
    Objects.requireNonNull(capacityClass, "capacityClass");
    if (gpus.size() > MAX_GPUS) {
      throw new IllegalArgumentException(
          "node " + id + " has " + gpus.size() + " GPUs, at most " + MAX_GPUS + " are supported");
    }
    var indices = new HashSet<Integer>();
    var uuids = new HashSet<String>();
    for (GpuSpec g : gpus) {
      if (!indices.add(g.index())) {
        throw new IllegalArgumentException("node " + id + ": duplicate GPU index " + g.index());
      }
      if (!uuids.add(g.uuid())) {
        throw new IllegalArgumentException("node " + id + ": duplicate GPU uuid " + g.uuid());
      }
    }
    checkHost(id, "cpuMillis", cpuMillis, MAX_CPU_MILLIS);
    checkHost(id, "memoryMiB", memoryMiB, MAX_MEMORY_MIB);
    Checks.requireNonNegative(pricePerGpuHour, "pricePerGpuHour of node " + id);
    if (pricePerGpuHour > MAX_PRICE_PER_GPU_HOUR) {
      throw new IllegalArgumentException(
          "pricePerGpuHour of node " + id + " must be at most " + MAX_PRICE_PER_GPU_HOUR + ", was "
              + pricePerGpuHour);
    }
  }

  private static void checkHost(String id, String what, long value, long max) {
    if (value != UNTRACKED && (value < 0 || value > max)) {
      throw new IllegalArgumentException(
          what + " of node " + id + " must be UNTRACKED (-1) or in 0.." + max + ", was " + value);
    }
  }

  /** Returns whether the node tracks host CPU and memory reservations. */
  public boolean tracksHostResources() {
    return cpuMillis != UNTRACKED || memoryMiB != UNTRACKED;
  }

  /**
   * Starts a builder for a node with that id.
   *
   * @throws NullPointerException if id is null
   */
  public static Builder builder(String id) {
    return new Builder(Objects.requireNonNull(id, "id"));
  }

  /** Builder of {@link NodeSpec}. Not thread-safe; {@link #build()} validates. */
  public static final class Builder {
    private final String id;
    private final Map<String, String> labels = new LinkedHashMap<>();
    private final List<GpuSpec> gpus = new ArrayList<>();
    private long cpuMillis = UNTRACKED;
    private long memoryMiB = UNTRACKED;
    private double price;
    private CapacityClass capacityClass = CapacityClass.ON_DEMAND;

    private Builder(String id) {
      this.id = id;
    }

    /** Adds a label. */
    public Builder label(String key, String value) {
      labels.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** Adds one GPU. */
    public Builder gpu(GpuSpec gpu) {
      gpus.add(Objects.requireNonNull(gpu, "gpu"));
      return this;
    }

    /**
     * Adds {@code count} GPUs of one model and mode, indexed after the GPUs added so far, with
     * UUIDs {@code GPU-<node id>-<index>}.
     *
     * @throws IllegalArgumentException if count is negative, would take the node past {@value
     *     #MAX_GPUS} GPUs (checked before any GPU is added, so the builder is left as it was), or
     *     the mode is {@link GpuMode#MIG_STATIC} (use {@link #gpu(GpuSpec)} with its instances)
     */
    public Builder gpus(int count, GpuModel model, GpuMode mode) {
      Checks.requireNonNegative(count, "GPU count");
      Objects.requireNonNull(model, "model");
      Objects.requireNonNull(mode, "mode");
      if (count > MAX_GPUS - gpus.size()) {
        throw new IllegalArgumentException(
            "node " + id + " has " + gpus.size() + " GPUs and cannot take " + count + " more, at most "
                + MAX_GPUS + " are supported");
      }
      if (mode == GpuMode.MIG_STATIC) {
        throw new IllegalArgumentException("MIG_STATIC GPUs need their instances: use gpu(GpuSpec)");
      }
      for (int i = 0; i < count; i++) {
        int index = gpus.size();
        gpus.add(new GpuSpec(index, "GPU-" + id + "-" + index, model, mode, List.of()));
      }
      return this;
    }

    /** Sets host CPU (milli-cores) and memory (MiB) that placements reserve from. */
    public Builder hostResources(long cpuMillis, long memoryMiB) {
      this.cpuMillis = cpuMillis;
      this.memoryMiB = memoryMiB;
      return this;
    }

    /** Sets the price of one whole GPU for one hour. */
    public Builder pricePerGpuHour(double price) {
      this.price = price;
      return this;
    }

    /** Sets the capacity class (default {@link CapacityClass#ON_DEMAND}). */
    public Builder capacityClass(CapacityClass capacityClass) {
      this.capacityClass = Objects.requireNonNull(capacityClass, "capacityClass");
      return this;
    }

    /**
     * Builds the node.
     *
     * @throws IllegalArgumentException as {@link NodeSpec#NodeSpec} does
     */
    public NodeSpec build() {
      return new NodeSpec(id, labels, gpus, cpuMillis, memoryMiB, price, capacityClass);
    }
  }
}
