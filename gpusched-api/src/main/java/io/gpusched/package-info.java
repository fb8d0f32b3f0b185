/**
 * The public model of gpusched: GPU models with their MIG geometry, nodes, placement requests and
 * allocations, and the {@link io.gpusched.GpuCluster} contract of the placement engine.
 *
 * <p>Every type here is immutable and thread-safe unless its Javadoc says otherwise. Constructors
 * and factories validate their arguments and throw {@link java.lang.IllegalArgumentException} with
 * a message that names the bad value. Nothing in this package depends on any library at run time.
 */
@NullMarked
package io.gpusched;

import org.jspecify.annotations.NullMarked;
