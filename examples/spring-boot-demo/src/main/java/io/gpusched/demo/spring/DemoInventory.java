package io.gpusched.demo.spring;

/**
 * Whether the scheduler's GPUs are simulated: declared under {@code gpusched.nodes} on a machine
 * where NVML found none (or NVML is off). Jobs then still run as processes, but the {@code
 * CUDA_VISIBLE_DEVICES} they get is a label, not a device; the dashboard says so.
 *
 * @param simulated true when the GPUs are declared, not real
 */
record DemoInventory(boolean simulated) {}
