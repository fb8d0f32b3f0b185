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

  /** Copies the collections. */
  public Constraints {
    gpuModels = Set.copyOf(Objects.requireNonNull(gpuModels, "gpuModels"));
    labels = Map.copyOf(Objects.requireNonNull(labels, "labels"));
    capacityClasses = Set.copyOf(Objects.requireNonNull(capacityClasses, "capacityClasses"));
  }

  /** Returns constraints allowing only these GPU model names. */
  public static Constraints models(String... names) {
    return new Constraints(Set.of(names), Map.of(), Set.of());
  }

  /** Returns a copy that also requires the label. */
  public Constraints withLabel(String key, String value) {
    var m = new java.util.HashMap<>(labels);
    m.put(key, value);
    return new Constraints(gpuModels, m, capacityClasses);
  }

  /**
   * Returns a copy that allows only these GPU models (by {@link GpuModel#name()}); an empty set
   * allows any.
   */
  public Constraints withGpuModels(Set<String> models) {
    return new Constraints(models, labels, capacityClasses);
  }

  /** Returns a copy that allows only these capacity classes. */
  public Constraints withCapacityClasses(CapacityClass... classes) {
    return new Constraints(gpuModels, labels, Set.of(classes));
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
