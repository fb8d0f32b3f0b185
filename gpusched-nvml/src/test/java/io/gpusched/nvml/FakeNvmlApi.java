package io.gpusched.nvml;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

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
    MemoryInfo memory;
    MigMode mig;
    Utilization utilization = new Utilization(0, 0);
    int powerMw = 71291;
    int temperatureC = 32;
    long energyMj = 2300146;
    List<ProcessInfo> processes = List.of();
    /** Utilization samples the driver holds; {@code samples(..)} returns those newer than asked. */
    List<Sample> samples = List.of();
    /** MIG devices by MIG index; a null entry is a hole (NOT_FOUND). */
    final List<MigDevice> migDevices = new ArrayList<>();
    /** Existing GPU instances by profile id. */
    final Map<Integer, List<GpuInstance>> instances = new HashMap<>();
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

    Device mig(MigDevice d) {
      migDevices.add(d);
      return this;
    }

    Device instance(GpuInstance gi) {
      instances.computeIfAbsent(gi.profileId(), k -> new ArrayList<>()).add(gi);
      return this;
    }

    Device profile(int index, ProfileInfo info, Placement... where) {
      profiles.put(index, info);
      placements.put(info.id(), List.of(where));
      return this;
    }
  }

  /** One fake MIG device. */
  static final class MigDevice {
    final String uuid;
    final int gpuInstanceId;
    MemoryInfo memory;
    List<ProcessInfo> processes = List.of();
    /** {@code nvmlDeviceAttributes_t.gpuInstanceSliceCount}; 0 answers NOT_SUPPORTED. */
    int sliceCount;
    /** {@code nvmlDeviceAttributes_t.memorySizeMB}. */
    long memoryMB;

    /** Its compute instance's id. */
    int computeInstanceId;

    MigDevice(String uuid, int gpuInstanceId, long totalBytes, long usedBytes) {
      this.uuid = uuid;
      this.gpuInstanceId = gpuInstanceId;
      this.memory = new MemoryInfo(totalBytes, totalBytes - usedBytes, usedBytes);
    }

    /** Sets the attributes {@code nvmlDeviceGetAttributes_v2} reports. */
    MigDevice attributes(int gpuInstanceSlices, long memorySizeMB) {
      this.sliceCount = gpuInstanceSlices;
      this.memoryMB = memorySizeMB;
      return this;
    }
  }

  final List<Device> devices = new ArrayList<>();
  /** Every call of a device or system query (not init/shutdown), from any thread. */
  final AtomicInteger calls = new AtomicInteger();
  /** Calls per function name. */
  final Map<String, Integer> callsByFunction = new java.util.concurrent.ConcurrentHashMap<>();
  /** When set, thrown by {@link #deviceCount()} (an unexpected bug, not an NVML error). */
  volatile RuntimeException crash;
  private final Map<String, Integer> failures = new java.util.concurrent.ConcurrentHashMap<>();
  volatile int inits;
  volatile int shutdowns;
  /** Indices whose handle answers NO_PERMISSION ({@code nvmlDeviceGetHandleByIndex_v2}). */
  final java.util.Set<Integer> restricted = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** Called with each function name after it is counted and before it answers (test hooks). */
  volatile java.util.function.Consumer<String> onCall = fn -> { };

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

  /** Makes {@code function} return {@code code} on MIG device {@code migIndex} of GPU {@code index}. */
  FakeNvmlApi fail(String function, int index, int migIndex, NvmlReturn code) {
    failures.put(function + "#" + index + "/" + migIndex, code.code());
    return this;
  }

  /** Clears every scripted failure. */
  FakeNvmlApi heal() {
    failures.clear();
    return this;
  }

  private void maybeFail(String function, int index) {
    calls.incrementAndGet();
    callsByFunction.merge(function, 1, Integer::sum);
    onCall.accept(function);
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
    if (restricted.contains(index)) {
      throw error("nvmlDeviceGetHandleByIndex_v2", NvmlReturn.ERROR_NO_PERMISSION.code());
    }
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
    RuntimeException c = crash;
    if (c != null) {
      throw c;
    }
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

  @Override
  public Utilization utilization(int index) {
    String fn = "nvmlDeviceGetUtilizationRates";
    Device d = device(fn, index);
    if (d.mig != null && d.mig.enabled()) {
      throw error(fn, NvmlReturn.ERROR_NOT_SUPPORTED.code());
    }
    return d.utilization;
  }

  @Override
  public int powerUsage(int index) {
    return device("nvmlDeviceGetPowerUsage", index).powerMw;
  }

  @Override
  public int temperature(int index) {
    return device("nvmlDeviceGetTemperature", index).temperatureC;
  }

  @Override
  public long totalEnergyConsumption(int index) {
    return device("nvmlDeviceGetTotalEnergyConsumption", index).energyMj;
  }

  @Override
  public List<ProcessInfo> computeProcesses(int index) {
    return device("nvmlDeviceGetComputeRunningProcesses_v3", index).processes;
  }

  @Override
  public List<Sample> samples(int index, int samplingType, long lastSeenMicros) {
    String fn = "nvmlDeviceGetSamples";
    Device d = device(fn, index);
    if (samplingType != GPU_UTILIZATION_SAMPLES || (d.mig != null && d.mig.enabled())) {
      throw error(fn, NvmlReturn.ERROR_NOT_SUPPORTED.code());
    }
    List<Sample> newer = new ArrayList<>();
    for (Sample s : d.samples) {
      if (s.timestampMicros() > lastSeenMicros) {
        newer.add(s);
      }
    }
    if (newer.isEmpty()) {
      throw error(fn, NvmlReturn.ERROR_NOT_FOUND.code());
    }
    return List.copyOf(newer);
  }

  @Override
  public int maxMigDeviceCount(int index) {
    Device d = device("nvmlDeviceGetMaxMigDeviceCount", index);
    return d.mig != null && d.mig.enabled() ? 7 : 0;
  }

  /**
   * A MIG device's handle and one function on it: a failure scripted for {@code fn} on every device
   * or on this MIG device applies; one scripted for {@code fn} on GPU {@code index} is the parent
   * handle's alone (e.g. the parent's memory in MIG mode).
   */
  private MigDevice migDevice(String fn, int index, int migIndex) {
    Device d = device("nvmlDeviceGetMigDeviceHandleByIndex", index);
    calls.incrementAndGet();
    callsByFunction.merge(fn, 1, Integer::sum);
    onCall.accept(fn);
    Integer code = failures.get(fn + "#" + index + "/" + migIndex);
    if (code == null) {
      code = failures.get(fn);
    }
    if (code != null) {
      throw error(fn, code);
    }
    if (d.mig == null || !d.mig.enabled() || migIndex < 0) {
      throw error(fn, NvmlReturn.ERROR_NOT_FOUND.code());
    }
    if (migIndex >= d.migDevices.size() || d.migDevices.get(migIndex) == null) {
      throw error(fn, NvmlReturn.ERROR_NOT_FOUND.code());
    }
    return d.migDevices.get(migIndex);
  }

  @Override
  public MigDeviceInfo migDevice(int index, int migIndex) {
    // one handle: both fields come from the device the handle named when it was looked up
    MigDevice d = migDevice("nvmlDeviceGetGpuInstanceId", index, migIndex);
    migDevice("nvmlDeviceGetUUID", index, migIndex);
    return new MigDeviceInfo(d.uuid, d.gpuInstanceId);
  }

  @Override
  public MigAttributes migAttributes(int index, int migIndex) {
    String fn = "nvmlDeviceGetAttributes_v2";
    MigDevice d = migDevice(fn, index, migIndex);
    if (d.sliceCount == 0) {
      throw error(fn, NvmlReturn.ERROR_NOT_SUPPORTED.code());
    }
    migDevice("nvmlDeviceGetUUID", index, migIndex);
    return new MigAttributes(d.uuid, d.sliceCount, d.memoryMB);
  }

  @Override
  public MemoryInfo migMemoryInfo(int index, int migIndex) {
    return migDevice("nvmlDeviceGetMemoryInfo", index, migIndex).memory;
  }

  @Override
  public List<ProcessInfo> migComputeProcesses(int index, int migIndex) {
    return migDevice("nvmlDeviceGetComputeRunningProcesses_v3", index, migIndex).processes;
  }

  @Override
  public List<GpuInstance> gpuInstances(int index, int profileId, int maxCount) {
    String fn = "nvmlDeviceGetGpuInstances";
    List<GpuInstance> l = device(fn, index).instances.getOrDefault(profileId, List.of());
    if (l.size() > maxCount) {
      throw error(fn, NvmlReturn.ERROR_INSUFFICIENT_SIZE.code());
    }
    return List.copyOf(l);
  }

  // ---------------------------------------------------------------- MIG instance changes

  /** GPU instances created through {@link #createGpuInstance}, as "index/id". */
  final List<String> created = new java.util.concurrent.CopyOnWriteArrayList<>();
  /** GPU and compute instances destroyed, as "gi index/id" and "ci index/gi/ci". */
  final List<String> destroyed = new java.util.concurrent.CopyOnWriteArrayList<>();

  private static GpuInstance findInstance(Device d, int gpuInstanceId) {
    return d.instances.values().stream()
        .flatMap(List::stream)
        .filter(gi -> gi.id() == gpuInstanceId)
        .findFirst()
        .orElseThrow(() -> error("nvmlDeviceGetGpuInstanceById", NvmlReturn.ERROR_NOT_FOUND.code()));
  }

  @Override
  public GpuInstance createGpuInstance(int index, int profileId, Placement placement) {
    String fn = "nvmlDeviceCreateGpuInstanceWithPlacement";
    Device d = device(fn, index);
    if (d.mig == null || !d.mig.enabled()) {
      throw error(fn, NvmlReturn.ERROR_NOT_SUPPORTED.code());
    }
    long mask = ((1L << placement.size()) - 1) << placement.start();
    int max = 0;
    for (GpuInstance gi : d.instances.values().stream().flatMap(List::stream).toList()) {
      max = Math.max(max, gi.id());
      if ((((1L << gi.size()) - 1) << gi.start() & mask) != 0) {
        throw error(fn, NvmlReturn.ERROR_INSUFFICIENT_RESOURCES.code());
      }
    }
    GpuInstance gi = new GpuInstance(max + 1, profileId, placement.start(), placement.size());
    d.instance(gi);
    created.add(index + "/" + gi.id());
    return gi;
  }

  @Override
  public int createComputeInstance(int index, int gpuInstanceId, int computeProfileIndex) {
    String fn = "nvmlGpuInstanceCreateComputeInstance";
    Device d = device(fn, index);
    GpuInstance gi = findInstance(d, gpuInstanceId);
    int slices = new int[] {1, 2, 3, 4, 7, 8, 6}[computeProfileIndex];
    MigDevice m =
        new MigDevice(
                String.format("MIG-fake0000-0000-0000-0000-%012d", gpuInstanceId),
                gpuInstanceId, (long) gi.size() * (10L << 30), 0)
            .attributes(slices, gi.size() * 10240L);
    m.computeInstanceId = 0;
    int hole = d.migDevices.indexOf(null);
    if (hole >= 0) {
      d.migDevices.set(hole, m);
    } else {
      d.migDevices.add(m);
    }
    return m.computeInstanceId;
  }

  @Override
  public void destroyComputeInstance(int index, int gpuInstanceId, int computeInstanceId) {
    String fn = "nvmlComputeInstanceDestroy";
    Device d = device(fn, index);
    findInstance(d, gpuInstanceId);
    for (int i = 0; i < d.migDevices.size(); i++) {
      MigDevice m = d.migDevices.get(i);
      if (m != null && m.gpuInstanceId == gpuInstanceId && m.computeInstanceId == computeInstanceId) {
        d.migDevices.set(i, null);
        destroyed.add("ci " + index + "/" + gpuInstanceId + "/" + computeInstanceId);
        return;
      }
    }
    throw error("nvmlGpuInstanceGetComputeInstanceById", NvmlReturn.ERROR_NOT_FOUND.code());
  }

  @Override
  public void destroyGpuInstance(int index, int gpuInstanceId) {
    String fn = "nvmlGpuInstanceDestroy";
    Device d = device(fn, index);
    GpuInstance gi = findInstance(d, gpuInstanceId);
    if (d.migDevices.stream().anyMatch(m -> m != null && m.gpuInstanceId == gpuInstanceId)) {
      throw error(fn, NvmlReturn.ERROR_IN_USE.code());
    }
    d.instances.get(gi.profileId()).remove(gi);
    destroyed.add("gi " + index + "/" + gpuInstanceId);
  }
}
