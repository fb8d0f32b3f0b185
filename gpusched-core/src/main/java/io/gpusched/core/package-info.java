/**
 * The placement engine: {@link io.gpusched.core.GpuClusters} builds a lock-free {@link
 * io.gpusched.GpuCluster}. Everything else in this package is package-private; {@code
 * docs/placement.md} describes the algorithm, and the class Javadoc of the internals documents the
 * word layouts and linearization points.
 */
@NullMarked
package io.gpusched.core;

import org.jspecify.annotations.NullMarked;
