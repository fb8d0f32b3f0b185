/**
 * The public model of gpusched: GPU models and MIG geometry, nodes, placement requests,
 * allocations, and the {@link io.gpusched.GpuCluster} and {@link io.gpusched.GpuScheduler}
 * contracts, and the durable-state SPI ({@code io.gpusched.store}). It has no run-time dependencies; the JSpecify nullness annotations are read at compile
 * time only.
 */
module io.gpusched.api {
  requires static transitive org.jspecify;

  exports io.gpusched;
  exports io.gpusched.store;
}
