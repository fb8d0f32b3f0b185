package io.gpusched;

import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Where a request may be placed. An empty set or map means "any".
 *
 * @param gpuModels allowed GPU model names (empty: any model)
 * @param labels labels the node must carry with exactly these values
 * @param capacityClasses allowed capacity classes (empty: any)
 * @param minGpuMemoryMiB the least memory, in MiB, a GPU's model must have ({@link
 *     GpuModel#memoryMiB()}), 0 for any: a model-agnostic request ("any GPU with at least 40 GiB")
 *     that the strategy, or with {@link PlacementStrategy#withCheapestFirst()} the price, places on a
 *     model. It filters models like {@code gpuModels} does (both apply when both are set); a
 *     MIG instance or share still gets only its own slice of the GPU.
 */
public record Constraints(
    Set<String> gpuModels,
    Map<String, String> labels,
    Set<CapacityClass> capacityClasses,
    long minGpuMemoryMiB) {

  /** No constraint at all. */
  public static final Constraints NONE = new Constraints(Set.of(), Map.of(), Set.of());

  /**
   * The largest {@link #minGpuMemoryMiB()}: 2^31 - 1 MiB (2 PiB), above any GPU's memory, so a
   * request for more is a mistake reported at once.
   */
  public static final long MAX_GPU_MEMORY_MIB = Integer.MAX_VALUE;

  /**
   * Constraints without a GPU memory floor.
   *
   * @throws NullPointerException if a collection, a model name, a label key or value, or a
   *     capacity class is null
   */
  public Constraints(
      Set<String> gpuModels, Map<String, String> labels, Set<CapacityClass> capacityClasses) {
    this(gpuModels, labels, capacityClasses, 0);
  }

  /**
   * Copies the collections.
   *
   * @throws NullPointerException if a collection, a model name, a label key or value, or a
   *     capacity class is null
   * @throws IllegalArgumentException if {@code minGpuMemoryMiB} is negative or above {@link
   *     #MAX_GPU_MEMORY_MIB}, naming the value
   */
  public Constraints {
    if (minGpuMemoryMiB < 0 || minGpuMemoryMiB > MAX_GPU_MEMORY_MIB) {
      throw new IllegalArgumentException(
          "minGpuMemoryMiB must be in 0.." + MAX_GPU_MEMORY_MIB + " MiB, was " + minGpuMemoryMiB);
    }
    Objects.requireNonNull(gpuModels, "gpuModels").forEach(m -> Objects.requireNonNull(m, "GPU model name"));
    Objects.requireNonNull(labels, "labels")
        .forEach(
            (k, v) -> {
              Objects.requireNonNull(k, "label key");
              Objects.requireNonNull(v, "value of label " + k);
            });
    Objects.requireNonNull(capacityClasses, "capacityClasses")
        .forEach(c -> Objects.requireNonNull(c, "capacity class"));
    gpuModels = Set.copyOf(gpuModels);
    labels = Map.copyOf(labels);
    capacityClasses = Set.copyOf(capacityClasses);
  }

  /**
   * Returns constraints allowing only these GPU model names. Repeated names count once.
   *
   * @throws NullPointerException if the array or a name is null
   */
  public static Constraints models(String... names) {
    Objects.requireNonNull(names, "names");
    var set = new java.util.LinkedHashSet<String>();
    for (String n : names) {
      set.add(Objects.requireNonNull(n, "GPU model name"));
    }
    return new Constraints(set, Map.of(), Set.of());
  }

  /**
   * Returns constraints allowing any GPU model with at least {@code gib} GiB of memory (a
   * model-agnostic request: the strategy, or the price, picks the model).
   *
   * @param gib the least GPU memory in GiB (1 GiB = 1024 MiB), at least 1
   * @throws IllegalArgumentException if {@code gib} is below 1 or above {@link
   *     #MAX_GPU_MEMORY_MIB} / 1024, naming the value
   */
  public static Constraints minGpuMemoryGiB(int gib) {
    return NONE.withMinGpuMemoryGiB(gib);
  }

  /**
   * Returns a copy that also requires the label.
   *
   * @throws NullPointerException if key or value is null
   */
  public Constraints withLabel(String key, String value) {
    var m = new java.util.HashMap<>(labels);
    m.put(Objects.requireNonNull(key, "label key"), Objects.requireNonNull(value, "label value"));
    return new Constraints(gpuModels, m, capacityClasses, minGpuMemoryMiB);
  }

  /**
   * Returns a copy that allows only these GPU models (by {@link GpuModel#name()}); an empty set
   * allows any.
   */
  public Constraints withGpuModels(Set<String> models) {
    return new Constraints(models, labels, capacityClasses, minGpuMemoryMiB);
  }

  /**
   * Returns a copy that allows only these capacity classes. Repeated classes count once.
   *
   * @throws NullPointerException if the array or a class is null
   */
  public Constraints withCapacityClasses(CapacityClass... classes) {
    Objects.requireNonNull(classes, "classes");
    var set = java.util.EnumSet.noneOf(CapacityClass.class);
    for (CapacityClass c : classes) {
      set.add(Objects.requireNonNull(c, "capacity class"));
    }
    return new Constraints(gpuModels, labels, set, minGpuMemoryMiB);
  }

  /**
   * Returns a copy that allows only GPU models with at least {@code gib} GiB of memory.
   *
   * @param gib the least GPU memory in GiB (1 GiB = 1024 MiB), at least 1
   * @throws IllegalArgumentException if {@code gib} is below 1 or above {@link
   *     #MAX_GPU_MEMORY_MIB} / 1024, naming the value
   */
  public Constraints withMinGpuMemoryGiB(int gib) {
    if (gib < 1 || gib > MAX_GPU_MEMORY_MIB / 1024) {
      throw new IllegalArgumentException(
          "minimum GPU memory must be 1.." + MAX_GPU_MEMORY_MIB / 1024 + " GiB, was " + gib + " GiB");
    }
    return withMinGpuMemoryMiB(gib * 1024L);
  }

  /**
   * Returns a copy that allows only GPU models with at least {@code mib} MiB of memory; 0 allows
   * any.
   *
   * @throws IllegalArgumentException if {@code mib} is negative or above {@link
   *     #MAX_GPU_MEMORY_MIB}, naming the value
   */
  public Constraints withMinGpuMemoryMiB(long mib) {
    return new Constraints(gpuModels, labels, capacityClasses, mib);
  }

  /**
   * Returns whether a GPU model is allowed: by its name ({@link #gpuModels()}) and its memory
   * ({@link #minGpuMemoryMiB()}).
   */
  public boolean allowsModel(GpuModel model) {
    return allowsModel(model.name()) && model.memoryMiB() >= minGpuMemoryMiB;
  }

  /**
   * Returns whether a GPU model name is allowed by {@link #gpuModels()} (the memory floor is not
   * checked: see {@link #allowsModel(GpuModel)}).
   */
  public boolean allowsModel(String model) {
    return gpuModels.isEmpty() || gpuModels.contains(model);
  }

  /** Returns whether a node with these labels and class is allowed. */
  public boolean allowsNode(Map<String, String> nodeLabels, CapacityClass capacityClass) {
    if (!capacityClasses.isEmpty() && !capacityClasses.contains(capacityClass)) {
      return false;
    }
    for (var e : labels.entrySet()) {
      if (!e.getValue().equals(nodeLabels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /** Returns whether this constrains nodes (labels or capacity classes), not just models. */
  public boolean constrainsNodes() {
    return !labels.isEmpty() || !capacityClasses.isEmpty();
  }
}
