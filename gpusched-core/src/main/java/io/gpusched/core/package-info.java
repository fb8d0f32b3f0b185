/**
 * The implementation: {@link io.gpusched.core.GpuClusters} builds the lock-free placement engine
 * (a {@link io.gpusched.GpuCluster}) and {@link io.gpusched.core.GpuSchedulers} the job scheduler
 * on top of it (a {@link io.gpusched.GpuScheduler}), and {@link io.gpusched.core.SchedulerStores}
 * the durable stores a scheduler can journal to. Everything else in this package is
 * package-private, in two halves: the engine's classes are marked {@code @EnginePart}, the rest
 * is the scheduler, which uses the engine only through {@code GpuCluster} (held by {@code
 * ArchitectureTest}). {@code docs/architecture.md} maps the collaborators, {@code
 * docs/placement.md} and {@code docs/scheduler.md} describe the algorithms; the class Javadoc of
 * the internals documents word layouts, threads and linearization points.
 */
@NullMarked
package io.gpusched.core;

import org.jspecify.annotations.NullMarked;
