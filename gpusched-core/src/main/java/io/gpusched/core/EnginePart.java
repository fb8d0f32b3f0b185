package io.gpusched.core;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a class of the placement engine, the lower half of this package; every class without it
 * (except the entry point {@link GpuClusters}, which builds the engine) belongs to the job
 * scheduler. The halves share one package so that both stay package-private (see
 * docs/architecture.md); {@code ArchitectureTest} holds the boundary: the scheduler reaches the
 * engine only through {@link io.gpusched.GpuCluster} and {@link GpuClusters}, and the engine never
 * reaches the scheduler.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
@interface EnginePart {}
