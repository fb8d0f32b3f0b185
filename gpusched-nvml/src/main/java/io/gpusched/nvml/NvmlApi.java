package io.gpusched.nvml;

import java.util.List;

/**
 * The seam between the inventory logic and NVML: the calls gpusched needs, keyed by device index
 * (and GPU or compute instance id) so no native handle leaves the implementation. All are queries
 * except the four MIG instance calls ({@link #createGpuInstance}, {@link #createComputeInstance},
 * {@link #destroyComputeInstance}, {@link #destroyGpuInstance}), which only {@link
 * MigInstanceManager} makes. {@link JnaNvmlApi} binds it to
 * {@code libnvidia-ml.so.1}; tests drive the logic with a fake.
 *
 * <p>Every method except {@link #init()} needs a prior successful {@code init()} and throws {@link
 * NvmlException} on any return code other than {@code NVML_SUCCESS}; a symbol the loaded library
 * does not export is reported as {@link NvmlReturn#ERROR_FUNCTION_NOT_FOUND}.
 */
interface NvmlApi {

  /** {@code nvmlInit_v2}. Reference counted by NVML; pair every call with {@link #shutdown()}. */
  void init();

  /** {@code nvmlShutdown}. */
  void shutdown();

  /** {@code nvmlSystemGetDriverVersion}, e.g. {@code 580.159.04}. */
  String driverVersion();

  /** {@code nvmlSystemGetNVMLVersion}, e.g. {@code 13.580.159.04}. */
  String nvmlVersion();

  /** {@code nvmlDeviceGetCount_v2}. */
  int deviceCount();

  /** {@code nvmlDeviceGetName}, e.g. {@code NVIDIA H100 80GB HBM3}. */
  String name(int index);

  /** {@code nvmlDeviceGetUUID}, e.g. {@code GPU-b528261b-...}. */
  String uuid(int index);

  /** {@code nvmlDeviceGetPciInfo_v3} {@code busId}, e.g. {@code 00000000:00:06.0}. */
  String pciBusId(int index);

  /** {@code nvmlDeviceGetMemoryInfo} (v1 struct: {@code used} includes reserved memory). */
  MemoryInfo memoryInfo(int index);

  /** {@code nvmlDeviceGetMigMode}; {@code NOT_SUPPORTED} means the GPU cannot do MIG. */
  MigMode migMode(int index);

  /**
   * {@code nvmlDeviceGetGpuInstanceProfileInfo} (v1 struct) for a profile <em>index</em> ({@code
   * NVML_GPU_INSTANCE_PROFILE_*}, 0x00..0x11), not a profile id.
   */
  ProfileInfo gpuInstanceProfile(int index, int profileIndex);

  /**
   * {@code nvmlDeviceGetGpuInstancePossiblePlacements_v2} for a profile <em>id</em> ({@link
   * ProfileInfo#id()}). Needs a privileged user on real drivers.
   */
  List<Placement> possiblePlacements(int index, int profileId);

  /**
   * {@code nvmlDeviceGetUtilizationRates}: percent of the last sample period (1/6 s to 1 s) in
   * which a kernel ran, and in which memory was read or written. {@code NOT_SUPPORTED} on MIG-enabled
   * GPUs.
   */
  Utilization utilization(int index);

  /** {@code nvmlDeviceGetPowerUsage}, milliwatts. */
  int powerUsage(int index);

  /** {@code nvmlDeviceGetTemperature} of the GPU sensor ({@code NVML_TEMPERATURE_GPU}), °C. */
  int temperature(int index);

  /** {@code nvmlDeviceGetTotalEnergyConsumption}: millijoules since the driver was loaded. */
  long totalEnergyConsumption(int index);

  /**
   * {@code nvmlDeviceGetComputeRunningProcesses_v3} (or {@code _v2} where {@code _v3} is missing or
   * unsafe, see {@link JnaNvmlApi}) of a GPU, with the sizing call and its retries.
   */
  List<ProcessInfo> computeProcesses(int index);

  /**
   * {@code nvmlDeviceGetSamples} of one {@code nvmlSamplingType_t} newer than {@code
   * lastSeenMicros} (CPU microseconds; 0 for all the driver holds). {@code NOT_FOUND} when there is
   * no newer sample; utilization samples are {@code NOT_SUPPORTED} on MIG-enabled GPUs.
   */
  List<Sample> samples(int index, int samplingType, long lastSeenMicros);

  /** {@code nvmlDeviceGetMaxMigDeviceCount}: 0 when MIG is unsupported or disabled. */
  int maxMigDeviceCount(int index);

  /**
   * The UUID ({@code nvmlDeviceGetUUID}) and GPU instance id ({@code nvmlDeviceGetGpuInstanceId})
   * of the MIG device at {@code migIndex}, both read through one {@code
   * nvmlDeviceGetMigDeviceHandleByIndex} handle, so a MIG device destroyed and made again between
   * two reads can never pair one device's id with another's UUID; {@code NOT_FOUND} for a hole in
   * the index space.
   */
  MigDeviceInfo migDevice(int index, int migIndex);

  /**
   * {@code nvmlDeviceGetAttributes_v2} of the MIG device at {@code migIndex}, with its UUID read
   * through the same handle. Needs no privileged user (unlike {@link #gpuInstances}).
   */
  MigAttributes migAttributes(int index, int migIndex);

  /** {@code nvmlDeviceGetMemoryInfo} (v1) of a MIG device. */
  MemoryInfo migMemoryInfo(int index, int migIndex);

  /** As {@link #computeProcesses(int)}, of a MIG device. */
  List<ProcessInfo> migComputeProcesses(int index, int migIndex);

  /**
   * The existing GPU instances of one profile <em>id</em>: {@code nvmlDeviceGetGpuInstances} with
   * room for {@code maxCount} handles ({@code ProfileInfo.instanceCount}), then {@code
   * nvmlGpuInstanceGetInfo} of each.
   */
  List<GpuInstance> gpuInstances(int index, int profileId, int maxCount);

  /**
   * Creates a GPU instance of profile <em>id</em> {@code profileId} at exactly {@code placement}:
   * {@code nvmlDeviceCreateGpuInstanceWithPlacement}, then {@code nvmlGpuInstanceGetInfo} of the
   * new instance. Needs root and MIG mode; {@code INSUFFICIENT_RESOURCES} when the placement
   * overlaps an existing instance.
   */
  GpuInstance createGpuInstance(int index, int profileId, Placement placement);

  /**
   * Creates a compute instance on GPU instance {@code gpuInstanceId}: {@code
   * nvmlDeviceGetGpuInstanceById}, {@code nvmlGpuInstanceGetComputeInstanceProfileInfo} for the
   * profile <em>index</em> {@code computeProfileIndex} ({@code NVML_COMPUTE_INSTANCE_PROFILE_*})
   * with the shared engine profile, {@code nvmlGpuInstanceCreateComputeInstance} with that
   * profile's id, then {@code nvmlComputeInstanceGetInfo_v2}.
   *
   * @return the new compute instance's id
   */
  int createComputeInstance(int index, int gpuInstanceId, int computeProfileIndex);

  /**
   * {@code nvmlDeviceGetGpuInstanceById}, {@code nvmlGpuInstanceGetComputeInstanceById}, {@code
   * nvmlComputeInstanceDestroy}.
   */
  void destroyComputeInstance(int index, int gpuInstanceId, int computeInstanceId);

  /** {@code nvmlDeviceGetGpuInstanceById}, {@code nvmlGpuInstanceDestroy}. */
  void destroyGpuInstance(int index, int gpuInstanceId);

  /** {@code NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED}. */
  int COMPUTE_ENGINE_PROFILE_SHARED = 0;

  /** {@code nvmlSamplingType_t NVML_GPU_UTILIZATION_SAMPLES}. */
  int GPU_UTILIZATION_SAMPLES = 1;

  /** A MIG device's UUID and the id of the GPU instance it is on. */
  record MigDeviceInfo(String uuid, int gpuInstanceId) {}

  /**
   * The fields of {@code nvmlDeviceAttributes_t} gpusched uses, with the UUID of the MIG device they
   * were read from.
   *
   * @param uuid the MIG device's UUID
   * @param gpuInstanceSliceCount compute slices of its GPU instance (3 for a {@code 3g.*})
   * @param memorySizeMB its memory in MiB
   */
  record MigAttributes(String uuid, int gpuInstanceSliceCount, long memorySizeMB) {}

  /** Device memory in bytes. */
  record MemoryInfo(long total, long free, long used) {}

  /** Current and pending MIG mode: {@code 0} disabled, {@code 1} enabled. */
  record MigMode(int current, int pending) {
    static final int ENABLED = 1;

    boolean enabled() {
      return current == ENABLED;
    }
  }

  /** The fields of {@code nvmlGpuInstanceProfileInfo_t} gpusched uses. */
  record ProfileInfo(
      int id, int sliceCount, int instanceCount, int multiprocessorCount, long memorySizeMB) {}

  /** {@code nvmlGpuInstancePlacement_t}: start and size in memory slices. */
  record Placement(int start, int size) {}

  /** {@code nvmlUtilization_t}: percentages 0..100. */
  record Utilization(int gpu, int memory) {}

  /**
   * One {@code nvmlProcessInfo_t}.
   *
   * @param pid process id (unsigned 32-bit in NVML)
   * @param usedGpuMemory bytes, or -1 when NVML says {@code NVML_VALUE_NOT_AVAILABLE}
   * @param gpuInstanceId GPU instance id, or -1 (0xFFFFFFFF) when not on a MIG device
   * @param computeInstanceId compute instance id, or -1
   */
  record ProcessInfo(long pid, long usedGpuMemory, int gpuInstanceId, int computeInstanceId) {}

  /** One {@code nvmlSample_t}: CPU timestamp in microseconds and the value as a long. */
  record Sample(long timestampMicros, long value) {}

  /**
   * One existing GPU instance ({@code nvmlGpuInstanceInfo_t}).
   *
   * @param id GPU instance id
   * @param profileId profile <em>id</em>
   * @param start first memory slice of its placement
   * @param size memory slices of its placement
   */
  record GpuInstance(int id, int profileId, int start, int size) {}
}
