package io.gpusched;

/**
 * One GPU's usage, read from its occupancy word at one instant.
 *
 * @param index GPU index on the node
 * @param model model name
 * @param mode the GPU's mode
 * @param free whether nothing is allocated on it
 * @param migSlotMask occupied memory slices of a MIG GPU (bit i = slice i), else 0
 * @param migComputeUsed compute slices in use on a MIG GPU, else 0
 * @param milliUsed milli-GPU used: 1000 for an allocated whole GPU, the sum of shares on SHARED
 * @param memoryUsedMiB GPU memory reserved by shares on a SHARED GPU (the whole memory when taken
 *     whole), else 0
 * @param allocatedMilli allocated capacity in milli-GPU, 0..1000
 * @param fragmentedMilli free capacity the expected mix cannot use because of how work was placed
 *     (what the GPU counts when its node is empty is left out), 0..(1000 - allocatedMilli)
 */
public record GpuUsage(
    int index,
    String model,
    GpuMode mode,
    boolean free,
    int migSlotMask,
    int migComputeUsed,
    int milliUsed,
    long memoryUsedMiB,
    int allocatedMilli,
    double fragmentedMilli) {}
