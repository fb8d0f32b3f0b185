package io.gpusched;

/** The pricing / availability class of a node's capacity. */
public enum CapacityClass {
  /** Regular capacity that stays until it is removed. */
  ON_DEMAND,
  /** Cheap preemptible capacity that the provider may take back at short notice. */
  SPOT
}
