package io.gpusched.nvml;

import java.util.List;

/**
 * The seam between the inventory logic and NVML: the read-only calls gpusched needs, keyed by
 * device index so no native handle leaves the implementation. {@link JnaNvmlApi} binds it to
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
}
