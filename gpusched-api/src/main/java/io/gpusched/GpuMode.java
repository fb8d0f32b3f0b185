package io.gpusched;

/** How a GPU is handed out. A GPU's mode is fixed when its node is added to a cluster. */
public enum GpuMode {
  /** Allocated as a whole GPU to one request at a time. */
  WHOLE,
  /**
   * MIG enabled; the scheduler chooses the profile's start slot and the host creates the GPU
   * instance. Requires a {@link GpuModel#isMigCapable() MIG-capable} model.
   */
  MIG_DYNAMIC,
  /**
   * MIG enabled with instances made in advance ({@link GpuSpec#staticInstances()}); the scheduler
   * hands out free pre-made instances of the asked profile.
   */
  MIG_STATIC,
  /**
   * Fractional: many tenants share the GPU, each with a milli-GPU compute share and an amount of GPU
   * memory, never more than 1000 milli and the GPU's memory in total. An unused shared GPU can also
   * be taken whole.
   */
  SHARED
}
