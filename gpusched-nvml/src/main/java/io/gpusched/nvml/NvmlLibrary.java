package io.gpusched.nvml;

import com.sun.jna.Library;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import org.jspecify.annotations.Nullable;

/**
 * The raw JNA binding of {@code libnvidia-ml.so.1}. Method names are the exported symbols, with the
 * versioned names ({@code _v2}, {@code _v3}) that {@code nvml.h} maps its unversioned macros to:
 * binding the unversioned symbols would get NVML's old semantics. Strings are {@code byte[]}
 * buffers, never {@code char[]} (which JNA passes as {@code wchar_t}). Query functions, plus the
 * MIG instance create and destroy calls that {@link MigInstanceManager} makes. Loaded by {@link
 * Nvml}; non-API.
 *
 * <p>The MIG instance signatures as {@code nvml.h} declares them (read in NVIDIA/go-nvml {@code
 * gen/nvml/nvml.h}, and in the prototype list of a generated NVML bridge, through the {@code search}
 * tool; they match shared/reference/nvml-abi.md B.5):
 *
 * <pre>
 * nvmlReturn_t nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t device, unsigned int profileId,
 *     const nvmlGpuInstancePlacement_t *placement, nvmlGpuInstance_t *gpuInstance);
 * nvmlReturn_t nvmlGpuInstanceDestroy(nvmlGpuInstance_t gpuInstance);
 * nvmlReturn_t nvmlDeviceGetGpuInstanceById(nvmlDevice_t device, unsigned int id,
 *     nvmlGpuInstance_t *gpuInstance);
 * nvmlReturn_t nvmlGpuInstanceGetComputeInstanceProfileInfo(nvmlGpuInstance_t gpuInstance,
 *     unsigned int profile, unsigned int engProfile, nvmlComputeInstanceProfileInfo_t *info);
 * nvmlReturn_t nvmlGpuInstanceCreateComputeInstance(nvmlGpuInstance_t gpuInstance,
 *     unsigned int profileId, nvmlComputeInstance_t *computeInstance);
 * nvmlReturn_t nvmlComputeInstanceDestroy(nvmlComputeInstance_t computeInstance);
 * nvmlReturn_t nvmlGpuInstanceGetComputeInstanceById(nvmlGpuInstance_t gpuInstance,
 *     unsigned int id, nvmlComputeInstance_t *computeInstance);
 * nvmlReturn_t nvmlComputeInstanceGetInfo_v2(nvmlComputeInstance_t computeInstance,
 *     nvmlComputeInstanceInfo_t *info);
 * </pre>
 *
 * The profile-info call takes a profile <em>index</em> ({@code NVML_COMPUTE_INSTANCE_PROFILE_1_SLICE}
 * 0x0, {@code _2_SLICE} 0x1, {@code _3_SLICE} 0x2, {@code _4_SLICE} 0x3, {@code _7_SLICE} 0x4,
 * {@code _8_SLICE} 0x5, {@code _6_SLICE} 0x6) and {@code NVML_COMPUTE_INSTANCE_ENGINE_PROFILE_SHARED}
 * 0x0; the create call takes the profile <em>id</em> it returns.
 */
interface NvmlLibrary extends Library {
  int nvmlInit_v2();

  int nvmlShutdown();

  String nvmlErrorString(int result);

  int nvmlSystemGetDriverVersion(byte[] version, int length);

  int nvmlSystemGetNVMLVersion(byte[] version, int length);

  int nvmlDeviceGetCount_v2(IntByReference deviceCount);

  int nvmlDeviceGetHandleByIndex_v2(int index, PointerByReference device);

  int nvmlDeviceGetName(Pointer device, byte[] name, int length);

  int nvmlDeviceGetUUID(Pointer device, byte[] uuid, int length);

  int nvmlDeviceGetPciInfo_v3(Pointer device, NvmlStructs.PciInfo pci);

  int nvmlDeviceGetMemoryInfo(Pointer device, NvmlStructs.Memory memory);

  int nvmlDeviceGetMigMode(Pointer device, IntByReference currentMode, IntByReference pendingMode);

  int nvmlDeviceGetGpuInstanceProfileInfo(
      Pointer device, int profile, NvmlStructs.GpuInstanceProfileInfo info);

  int nvmlDeviceGetGpuInstancePossiblePlacements_v2(
      Pointer device, int profileId, @Nullable Pointer placements, IntByReference count);

  int nvmlDeviceGetUtilizationRates(Pointer device, NvmlStructs.Utilization utilization);

  int nvmlDeviceGetPowerUsage(Pointer device, IntByReference milliwatts);

  int nvmlDeviceGetTemperature(Pointer device, int sensorType, IntByReference celsius);

  int nvmlDeviceGetTotalEnergyConsumption(Pointer device, LongByReference millijoules);

  int nvmlDeviceGetComputeRunningProcesses_v3(
      Pointer device, IntByReference infoCount, @Nullable Pointer infos);

  int nvmlDeviceGetComputeRunningProcesses_v2(
      Pointer device, IntByReference infoCount, @Nullable Pointer infos);

  int nvmlDeviceGetSamples(
      Pointer device,
      int samplingType,
      long lastSeenTimeStamp,
      IntByReference sampleValType,
      IntByReference sampleCount,
      @Nullable Pointer samples);

  int nvmlDeviceGetMaxMigDeviceCount(Pointer device, IntByReference count);

  int nvmlDeviceGetMigDeviceHandleByIndex(Pointer device, int index, PointerByReference migDevice);

  int nvmlDeviceGetGpuInstanceId(Pointer device, IntByReference id);

  int nvmlDeviceGetAttributes_v2(Pointer device, NvmlStructs.DeviceAttributes attributes);

  int nvmlDeviceGetGpuInstances(
      Pointer device, int profileId, @Nullable Pointer gpuInstances, IntByReference count);

  int nvmlGpuInstanceGetInfo(Pointer gpuInstance, NvmlStructs.GpuInstanceInfo info);

  int nvmlDeviceCreateGpuInstanceWithPlacement(
      Pointer device,
      int profileId,
      NvmlStructs.GpuInstancePlacement placement,
      PointerByReference gpuInstance);

  int nvmlGpuInstanceDestroy(Pointer gpuInstance);

  int nvmlDeviceGetGpuInstanceById(Pointer device, int id, PointerByReference gpuInstance);

  int nvmlGpuInstanceGetComputeInstanceProfileInfo(
      Pointer gpuInstance,
      int profile,
      int engProfile,
      NvmlStructs.ComputeInstanceProfileInfo info);

  int nvmlGpuInstanceCreateComputeInstance(
      Pointer gpuInstance, int profileId, PointerByReference computeInstance);

  int nvmlComputeInstanceDestroy(Pointer computeInstance);

  int nvmlGpuInstanceGetComputeInstanceById(
      Pointer gpuInstance, int id, PointerByReference computeInstance);

  int nvmlComputeInstanceGetInfo_v2(
      Pointer computeInstance, NvmlStructs.ComputeInstanceInfo info);
}
