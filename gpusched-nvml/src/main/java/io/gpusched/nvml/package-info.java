/**
 * Read-only NVIDIA NVML binding (JNA) that discovers the local node's GPUs and their MIG geometry
 * and describes them as a gpusched {@link io.gpusched.NodeSpec}.
 *
 * <p>Entry points: {@link io.gpusched.nvml.Nvml#availability()} to check, without throwing, whether
 * {@code libnvidia-ml.so.1} can be loaded, and {@link io.gpusched.nvml.NvmlInventory} to read the
 * node. Nothing in this package changes GPU state: only query functions are bound.
 */
@NullMarked
package io.gpusched.nvml;

import org.jspecify.annotations.NullMarked;
