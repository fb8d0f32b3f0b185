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
 * buffers, never {@code char[]} (which JNA passes as {@code wchar_t}). Only query functions are
 * bound. Loaded by {@link Nvml}; non-API.
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
}
