package io.gpusched.nvml;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.JobHandle;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What a job's process is started with: its {@link ProcessBuilder} (argv, working directory,
 * environment) and the device ids it sees in {@code CUDA_VISIBLE_DEVICES} (see {@link
 * ProcessLauncher}, "What the process sees"). Immutable; thread-safe.
 */
final class ProcessEnvironment {
  private final Map<String, String> environment;
  private final @Nullable NvmlInventory inventory;
  private final boolean simulatedGpus;

  ProcessEnvironment(
      Map<String, String> environment, @Nullable NvmlInventory inventory, boolean simulatedGpus) {
    this.environment = Map.copyOf(environment);
    this.inventory = inventory;
    this.simulatedGpus = simulatedGpus;
  }

  ProcessBuilder processBuilder(ProcessRun run, ProcessJob pj, List<String> devices) {
    ProcessBuilder pb = new ProcessBuilder(pj.argv()).redirectErrorStream(true);
    if (pj.workingDirectory() != null) {
      pb.directory(pj.workingDirectory().toFile());
    }
    Map<String, String> env = pb.environment();
    env.putAll(environment);
    env.putAll(pj.env());
    JobHandle job = run.job;
    env.put("CUDA_VISIBLE_DEVICES", String.join(",", devices));
    env.put("GPUSCHED_JOB_ID", job.id());
    env.put("GPUSCHED_ATTEMPT", Integer.toString(run.attempt));
    env.put("GPUSCHED_ALLOCATION", allocationJson(job.allocations()));
    env.put("GPUSCHED_LOG", run.logFile.toString());
    env.put("GPUSCHED_STOP_FILE", RunFiles.stopFile(run.logFile).toString());
    return pb;
  }

  /**
   * The device ids the process is given, once each, in allocation order: a whole or shared GPU's
   * UUID; for a MIG allocation, the UUIDs of the MIG devices on the GPU instance of that profile at
   * that start slot (existing, or just made by {@link MigInstanceManager}), which NVML reports (see
   * {@link ProcessLauncher.Builder#inventory}).
   *
   * @throws IllegalStateException naming what is missing: no inventory, no such instance, an
   *     instance without a compute instance, or NVML's error
   */
  List<String> visibleDevices(List<Allocation> allocations) {
    Set<String> ids = new LinkedHashSet<>();
    List<NvmlDevice> devices = null;
    for (Allocation a : allocations) {
      for (AllocatedGpu g : a.gpus()) {
        if (g.migProfile() == null) {
          ids.add(g.gpuUuid());
          continue;
        }
        if (inventory == null && simulatedGpus) {
          ids.add("MIG-" + g.gpuUuid() + "-" + g.migProfile() + "@" + g.migStartSlot());
          continue;
        }
        if (inventory == null) {
          throw new IllegalStateException(
              "MIG " + g.migProfile() + " at slot " + g.migStartSlot() + " on " + g.gpuUuid()
                  + ": finding its MIG device needs NVML (ProcessLauncher.Builder.inventory)");
        }
        if (devices == null) {
          try {
            devices = inventory.readDevices();
          } catch (NvmlException e) {
            throw new IllegalStateException(
                "reading MIG devices failed: " + e.codeName() + " from " + e.function(), e);
          }
        }
        ids.addAll(migDevices(devices, g));
      }
    }
    return new ArrayList<>(ids);
  }

  private static List<String> migDevices(List<NvmlDevice> devices, AllocatedGpu g) {
    String where = g.migProfile() + " at slot " + g.migStartSlot() + " on " + g.gpuUuid();
    NvmlDevice device =
        devices.stream()
            .filter(d -> d.uuid().equals(g.gpuUuid()))
            .findFirst()
            .orElseThrow(() -> new IllegalStateException("MIG " + where + ": NVML has no such GPU"));
    NvmlMigInstance instance =
        device.migInstances().stream()
            .filter(i -> i.profile().equals(g.migProfile()) && i.placementStart() == g.migStartSlot())
            .findFirst()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "MIG " + where + ": no such GPU instance exists (the launcher makes"
                            + " instances only on MIG_DYNAMIC GPUs, as root with MIG mode on:"
                            + " see its startup log; make it, or declare the GPU MIG_STATIC"
                            + " with the instances it has)"));
    if (instance.migDeviceUuids().isEmpty()) {
      throw new IllegalStateException(
          "MIG " + where + ": its GPU instance " + instance.gpuInstanceId()
              + " has no compute instance, so no MIG device");
    }
    return instance.migDeviceUuids();
  }

  /** The allocations as JSON (see the class description of {@link ProcessLauncher}). */
  static String allocationJson(List<Allocation> allocations) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < allocations.size(); i++) {
      Allocation a = allocations.get(i);
      b.append(i > 0 ? "," : "").append("{\"id\":").append(a.id());
      b.append(",\"node\":").append(Json.quote(a.nodeId())).append(",\"gpus\":[");
      List<AllocatedGpu> gpus = a.gpus();
      for (int k = 0; k < gpus.size(); k++) {
        AllocatedGpu g = gpus.get(k);
        b.append(k > 0 ? "," : "")
            .append("{\"index\":").append(g.gpuIndex())
            .append(",\"uuid\":").append(Json.quote(g.gpuUuid()))
            .append(",\"model\":").append(Json.quote(g.model()))
            .append(",\"mode\":").append(Json.quote(g.mode().name()))
            .append(",\"migProfile\":").append(Json.quote(g.migProfile()))
            .append(",\"migStartSlot\":").append(g.migStartSlot())
            .append(",\"milliGpu\":").append(g.milliGpu())
            .append(",\"memoryMiB\":").append(g.memoryMiB())
            .append('}');
      }
      b.append("]}");
    }
    return b.append(']').toString();
  }
}
