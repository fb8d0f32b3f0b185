package io.gpusched.nvml;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A scripted {@link NvmlApi}: devices are plain data, and any function can be made to fail with a
 * return code, for all devices or one index. Checks that calls happen inside init/shutdown.
 */
final class FakeNvmlApi implements NvmlApi {

  /** One fake GPU. A null {@code mig} answers NOT_SUPPORTED to the MIG-mode query. */
  static final class Device {
    final String name;
    final String uuid;
    final String busId;
    final MemoryInfo memory;
    MigMode mig;
    /** Profile infos by profile index; missing indices below {@link #profileLimit} are NOT_SUPPORTED. */
    final Map<Integer, ProfileInfo> profiles = new HashMap<>();
    /** Indices at or above this answer INVALID_ARGUMENT. */
    int profileLimit = 0x12;
    /** Placements by profile id. */
    final Map<Integer, List<Placement>> placements = new HashMap<>();

    Device(String name, String uuid, String busId, long totalBytes, MigMode mig) {
      this.name = name;
      this.uuid = uuid;
      this.busId = busId;
      this.memory = new MemoryInfo(totalBytes, totalBytes, 0);
      this.mig = mig;
    }

    Device profile(int index, ProfileInfo info, Placement... where) {
      profiles.put(index, info);
      placements.put(info.id(), List.of(where));
      return this;
    }
  }

  final List<Device> devices = new ArrayList<>();
  private final Map<String, Integer> failures = new HashMap<>();
  int inits;
  int shutdowns;

  FakeNvmlApi add(Device d) {
    devices.add(d);
    return this;
  }

  /** Makes {@code function} return {@code code} on every device. */
  FakeNvmlApi fail(String function, NvmlReturn code) {
    failures.put(function, code.code());
    return this;
  }

  /** Makes {@code function} return {@code code} on device {@code index}. */
  FakeNvmlApi fail(String function, int index, NvmlReturn code) {
    failures.put(function + "#" + index, code.code());
    return this;
  }

  private void maybeFail(String function, int index) {
    Integer code = failures.get(function + "#" + index);
    if (code == null) {
      code = failures.get(function);
    }
    if (code != null) {
      throw error(function, code);
    }
    if (inits <= shutdowns) {
      throw error(function, NvmlReturn.ERROR_UNINITIALIZED.code());
    }
  }

  private static NvmlException error(String function, int code) {
    return new NvmlException(code, function, "fake " + NvmlReturn.nameOf(code));
  }

  private Device device(String function, int index) {
    maybeFail(function, index);
    if (index < 0 || index >= devices.size()) {
      throw error(function, NvmlReturn.ERROR_INVALID_ARGUMENT.code());
    }
    return devices.get(index);
  }

  @Override
  public void init() {
    Integer code = failures.get("nvmlInit_v2");
    if (code != null) {
      throw error("nvmlInit_v2", code);
    }
    inits++;
  }

  @Override
  public void shutdown() {
    if (inits <= shutdowns) {
      throw error("nvmlShutdown", NvmlReturn.ERROR_UNINITIALIZED.code());
    }
    shutdowns++;
  }

  @Override
  public String driverVersion() {
    maybeFail("nvmlSystemGetDriverVersion", -1);
    return "580.159.04";
  }

  @Override
  public String nvmlVersion() {
    maybeFail("nvmlSystemGetNVMLVersion", -1);
    return "13.580.159.04";
  }

  @Override
  public int deviceCount() {
    maybeFail("nvmlDeviceGetCount_v2", -1);
    return devices.size();
  }

  @Override
  public String name(int index) {
    return device("nvmlDeviceGetName", index).name;
  }

  @Override
  public String uuid(int index) {
    return device("nvmlDeviceGetUUID", index).uuid;
  }

  @Override
  public String pciBusId(int index) {
    return device("nvmlDeviceGetPciInfo_v3", index).busId;
  }

  @Override
  public MemoryInfo memoryInfo(int index) {
    return device("nvmlDeviceGetMemoryInfo", index).memory;
  }

  @Override
  public MigMode migMode(int index) {
    Device d = device("nvmlDeviceGetMigMode", index);
    if (d.mig == null) {
      throw error("nvmlDeviceGetMigMode", NvmlReturn.ERROR_NOT_SUPPORTED.code());
    }
    return d.mig;
  }

  @Override
  public ProfileInfo gpuInstanceProfile(int index, int profileIndex) {
    String fn = "nvmlDeviceGetGpuInstanceProfileInfo";
    Device d = device(fn, index);
    if (profileIndex >= d.profileLimit) {
      throw error(fn, NvmlReturn.ERROR_INVALID_ARGUMENT.code());
    }
    ProfileInfo info = d.profiles.get(profileIndex);
    if (info == null) {
      throw error(fn, NvmlReturn.ERROR_NOT_SUPPORTED.code());
    }
    return info;
  }

  @Override
  public List<Placement> possiblePlacements(int index, int profileId) {
    String fn = "nvmlDeviceGetGpuInstancePossiblePlacements_v2";
    List<Placement> p = device(fn, index).placements.get(profileId);
    if (p == null) {
      throw error(fn, NvmlReturn.ERROR_INVALID_ARGUMENT.code());
    }
    return p;
  }
}
