package io.gpusched;

import org.jspecify.annotations.Nullable;

/**
 * One GPU (or part of one) held by an {@link Allocation}.
 *
 * @param nodeId the node
 * @param gpuIndex the GPU's index on the node
 * @param gpuUuid the GPU's UUID
 * @param model the GPU model name
 * @param mode the GPU's mode
 * @param migProfile the MIG profile for MIG allocations, else {@code null}
 * @param migStartSlot the first memory slice of the MIG instance, else -1
 * @param milliGpu compute share in milli-GPU: 1000 for a whole GPU, the share for {@link
 *     GpuMode#SHARED}, 0 for MIG
 * @param memoryMiB GPU memory held in MiB: the whole GPU's, the share's, or the MIG profile's
 */
public record AllocatedGpu(
    String nodeId,
    int gpuIndex,
    String gpuUuid,
    String model,
    GpuMode mode,
    @Nullable String migProfile,
    int migStartSlot,
    int milliGpu,
    long memoryMiB) {}
