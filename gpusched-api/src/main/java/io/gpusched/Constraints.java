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
 */
public record Constraints(
    Set<String> gpuModels, Map<String, String> labels, Set<CapacityClass> capacityClasses) {

  /** No constraint at all. */
  public static final Constraints NONE = new Constraints(Set.of(), Map.of(), Set.of());

  /**
   * Copies the collections.
   *
   * @throws NullPointerException if a collection, a model name, a label key or value, or a
   *     capacity class is null
   */
  public Constraints {
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
   * Returns a copy that also requires the label.
   *
   * @throws NullPointerException if key or value is null
   */
  public Constraints withLabel(String key, String value) {
    var m = new java.util.HashMap<>(labels);
    m.put(Objects.requireNonNull(key, "label key"), Objects.requireNonNull(value, "label value"));
    return new Constraints(gpuModels, m, capacityClasses);
  }

  /**
   * Returns a copy that allows only these GPU models (by {@link GpuModel#name()}); an empty set
   * allows any.
   */
  public Constraints withGpuModels(Set<String> models) {
    return new Constraints(models, labels, capacityClasses);
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
    return new Constraints(gpuModels, labels, set);
  }

  /** Returns whether a GPU model name is allowed. */
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
