/**
 * The local GPU host. An NVIDIA NVML binding (JNA) that discovers the local node's GPUs, their MIG geometry and
 * existing MIG instances, describes them as a gpusched {@link io.gpusched.NodeSpec}, and samples
 * GPU telemetry for the {@link io.gpusched.GpuTelemetry} SPI; and {@link
 * io.gpusched.nvml.ProcessLauncher}, a {@link io.gpusched.JobLauncher} that runs each job as a local
 * process on its GPUs (see {@code docs/launcher.md}).
 *
 * <p>Entry points: {@link io.gpusched.nvml.Nvml#availability()} to check, without throwing, whether
 * {@code libnvidia-ml.so.1} can be loaded, and {@link io.gpusched.nvml.NvmlInventory} to read the
 * node, {@link io.gpusched.nvml.NvmlTelemetry} for telemetry and idle detection. The inventory and
 * the telemetry only query; the one thing in this package that changes GPU state is {@link
 * io.gpusched.nvml.ProcessLauncher} making and destroying MIG instances for {@code MIG_DYNAMIC}
 * jobs (as root with MIG mode on; see {@code docs/launcher.md}).
 */
@NullMarked
package io.gpusched.nvml;

import org.jspecify.annotations.NullMarked;
