package io.gpusched.nvml;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link NvmlApi} over the JNA binding. Looks the device handle up by index on every call, so no
 * handle outlives an init scope. A symbol the library does not export becomes {@link
 * NvmlReturn#ERROR_FUNCTION_NOT_FOUND}, logged once. Thread-safe.
 */
final class JnaNvmlApi implements NvmlApi {
  private static final Logger LOG = LoggerFactory.getLogger(JnaNvmlApi.class);

  /** {@code NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE} and {@code ..._NVML_VERSION_BUFFER_SIZE}. */
  static final int VERSION_BUFFER = 80;

  /** {@code NVML_DEVICE_NAME_V2_BUFFER_SIZE} and {@code NVML_DEVICE_UUID_V2_BUFFER_SIZE}. */
  static final int NAME_BUFFER = 96;

  /** How often a sizing call is repeated when the count grows between the two calls. */
  static final int SIZING_ATTEMPTS = 4;

  private final NvmlLibrary lib;
  private final String library;
  private final Set<String> missing = ConcurrentHashMap.newKeySet();

  /** Whether process lists use {@code _v2}; null until the driver version is known. */
  private volatile @Nullable Boolean processesV2;

  /** {@code NVML_TEMPERATURE_GPU}. */
  static final int TEMPERATURE_GPU = 0;

  JnaNvmlApi(NvmlLibrary lib, String library) {
    this.lib = Objects.requireNonNull(lib, "lib");
    this.library = Objects.requireNonNull(library, "library");
  }

  @Override
  public void init() {
    check("nvmlInit_v2", lib::nvmlInit_v2);
  }

  @Override
  public void shutdown() {
    check("nvmlShutdown", lib::nvmlShutdown);
  }

  @Override
  public String driverVersion() {
    byte[] buf = new byte[VERSION_BUFFER];
    check("nvmlSystemGetDriverVersion", () -> lib.nvmlSystemGetDriverVersion(buf, buf.length));
    return NvmlStructs.cString(buf);
  }

  @Override
  public String nvmlVersion() {
    byte[] buf = new byte[VERSION_BUFFER];
    check("nvmlSystemGetNVMLVersion", () -> lib.nvmlSystemGetNVMLVersion(buf, buf.length));
    return NvmlStructs.cString(buf);
  }

  @Override
  public int deviceCount() {
    IntByReference count = new IntByReference();
    check("nvmlDeviceGetCount_v2", () -> lib.nvmlDeviceGetCount_v2(count));
    return count.getValue();
  }

  private Pointer handle(int index) {
    PointerByReference ref = new PointerByReference();
    check("nvmlDeviceGetHandleByIndex_v2", () -> lib.nvmlDeviceGetHandleByIndex_v2(index, ref));
    return ref.getValue();
  }

  @Override
  public String name(int index) {
    Pointer device = handle(index);
    byte[] buf = new byte[NAME_BUFFER];
    check("nvmlDeviceGetName", () -> lib.nvmlDeviceGetName(device, buf, buf.length));
    return NvmlStructs.cString(buf);
  }

  @Override
  public String uuid(int index) {
    return uuidOf(handle(index));
  }

  private String uuidOf(Pointer device) {
    byte[] buf = new byte[NAME_BUFFER];
    check("nvmlDeviceGetUUID", () -> lib.nvmlDeviceGetUUID(device, buf, buf.length));
    return NvmlStructs.cString(buf);
  }

  @Override
  public String pciBusId(int index) {
    Pointer device = handle(index);
    NvmlStructs.PciInfo pci = new NvmlStructs.PciInfo();
    check("nvmlDeviceGetPciInfo_v3", () -> lib.nvmlDeviceGetPciInfo_v3(device, pci));
    return NvmlStructs.cString(pci.busId);
  }

  @Override
  public MemoryInfo memoryInfo(int index) {
    return memoryOf(handle(index));
  }

  private MemoryInfo memoryOf(Pointer device) {
    NvmlStructs.Memory m = new NvmlStructs.Memory();
    check("nvmlDeviceGetMemoryInfo", () -> lib.nvmlDeviceGetMemoryInfo(device, m));
    return new MemoryInfo(m.total, m.free, m.used);
  }

  @Override
  public MigMode migMode(int index) {
    Pointer device = handle(index);
    IntByReference current = new IntByReference();
    IntByReference pending = new IntByReference();
    check("nvmlDeviceGetMigMode", () -> lib.nvmlDeviceGetMigMode(device, current, pending));
    return new MigMode(current.getValue(), pending.getValue());
  }

  @Override
  public ProfileInfo gpuInstanceProfile(int index, int profileIndex) {
    Pointer device = handle(index);
    NvmlStructs.GpuInstanceProfileInfo info = new NvmlStructs.GpuInstanceProfileInfo();
    check(
        "nvmlDeviceGetGpuInstanceProfileInfo",
        () -> lib.nvmlDeviceGetGpuInstanceProfileInfo(device, profileIndex, info));
    return new ProfileInfo(
        info.id, info.sliceCount, info.instanceCount, info.multiprocessorCount, info.memorySizeMB);
  }

  @Override
  public List<Placement> possiblePlacements(int index, int profileId) {
    Pointer device = handle(index);
    String fn = "nvmlDeviceGetGpuInstancePossiblePlacements_v2";
    return readPlacements(
        fn,
        (buf, count) ->
            guarded(fn, () -> lib.nvmlDeviceGetGpuInstancePossiblePlacements_v2(
                device, profileId, buf, count)),
        this::errorString);
  }

  @Override
  public Utilization utilization(int index) {
    Pointer device = handle(index);
    NvmlStructs.Utilization u = new NvmlStructs.Utilization();
    check("nvmlDeviceGetUtilizationRates", () -> lib.nvmlDeviceGetUtilizationRates(device, u));
    return new Utilization(u.gpu, u.memory);
  }

  @Override
  public int powerUsage(int index) {
    Pointer device = handle(index);
    IntByReference mw = new IntByReference();
    check("nvmlDeviceGetPowerUsage", () -> lib.nvmlDeviceGetPowerUsage(device, mw));
    return mw.getValue();
  }

  @Override
  public int temperature(int index) {
    Pointer device = handle(index);
    IntByReference c = new IntByReference();
    check("nvmlDeviceGetTemperature",
        () -> lib.nvmlDeviceGetTemperature(device, TEMPERATURE_GPU, c));
    return c.getValue();
  }

  @Override
  public long totalEnergyConsumption(int index) {
    Pointer device = handle(index);
    LongByReference mj = new LongByReference();
    check("nvmlDeviceGetTotalEnergyConsumption",
        () -> lib.nvmlDeviceGetTotalEnergyConsumption(device, mj));
    return mj.getValue();
  }

  @Override
  public List<ProcessInfo> computeProcesses(int index) {
    return processesOf(handle(index));
  }

  /**
   * {@code _v3} unless the driver is one whose {@code _v3} wrote 32-byte entries (then, or when
   * {@code _v3} is not exported, {@code _v2}: same 24-byte entries, in every header since 11.1).
   */
  private List<ProcessInfo> processesOf(Pointer device) {
    if (!useProcessesV2()) {
      String fn = "nvmlDeviceGetComputeRunningProcesses_v3";
      try {
        return readProcesses(fn, (buf, count) ->
            guarded(fn, () -> lib.nvmlDeviceGetComputeRunningProcesses_v3(device, count, buf)));
      } catch (NvmlException e) {
        if (!e.is(NvmlReturn.ERROR_FUNCTION_NOT_FOUND)) {
          throw e;
        }
        processesV2 = Boolean.TRUE;
      }
    }
    String fn = "nvmlDeviceGetComputeRunningProcesses_v2";
    return readProcesses(fn, (buf, count) ->
        guarded(fn, () -> lib.nvmlDeviceGetComputeRunningProcesses_v2(device, count, buf)));
  }

  private boolean useProcessesV2() {
    Boolean v2 = processesV2;
    if (v2 == null) {
      String driver;
      try {
        driver = driverVersion();
      } catch (NvmlException e) {
        driver = "";
      }
      v2 = v3StrideUnsafe(driver);
      if (v2) {
        LOG.info("driver {} wrote 32-byte process entries through _v3; using"
            + " nvmlDeviceGetComputeRunningProcesses_v2", driver);
      }
      processesV2 = v2;
    }
    return v2;
  }

  /**
   * Whether a driver version is one of R535.43 to R535.97, whose {@code
   * nvmlDeviceGetComputeRunningProcesses_v3} wrote 32-byte entries without a version bump.
   */
  static boolean v3StrideUnsafe(String driverVersion) {
    String[] parts = driverVersion.strip().split("\\.", -1);
    if (parts.length < 2) {
      return false;
    }
    try {
      int major = Integer.parseInt(parts[0]);
      int minor = Integer.parseInt(parts[1]);
      return major == 535 && minor >= 43 && minor <= 97;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  private List<ProcessInfo> readProcesses(String fn, ArrayCall call) {
    return readArray(fn, call, NvmlStructs.ProcessInfo.ALLOCATED, 0,
        JnaNvmlApi::decodeProcess, this::errorString);
  }

  /** Decodes entry {@code i} of a process array at the 24-byte stride of {@code nvml.h}. */
  static ProcessInfo decodeProcess(Pointer buf, int i) {
    var p = new NvmlStructs.ProcessInfo(buf.share((long) i * NvmlStructs.ProcessInfo.SIZE));
    long used = p.usedGpuMemory < 0 ? -1 : p.usedGpuMemory;
    return new ProcessInfo(
        Integer.toUnsignedLong(p.pid), used, p.gpuInstanceId, p.computeInstanceId);
  }

  @Override
  public List<Sample> samples(int index, int samplingType, long lastSeenMicros) {
    Pointer device = handle(index);
    String fn = "nvmlDeviceGetSamples";
    IntByReference type = new IntByReference();
    return readArray(
        fn,
        (buf, count) -> guarded(fn,
            () -> lib.nvmlDeviceGetSamples(device, samplingType, lastSeenMicros, type, count, buf)),
        NvmlStructs.SAMPLE_SIZE,
        0,
        (buf, i) -> decodeSample(buf, i, type.getValue()),
        this::errorString);
  }

  /** Decodes entry {@code i} of an {@code nvmlSample_t} array whose values have {@code type}. */
  static Sample decodeSample(Pointer buf, int i, int valueType) {
    long at = (long) i * NvmlStructs.SAMPLE_SIZE;
    return new Sample(
        buf.getLong(at),
        NvmlStructs.valueAsLong(buf, at + NvmlStructs.SAMPLE_VALUE_OFFSET, valueType));
  }

  @Override
  public int maxMigDeviceCount(int index) {
    Pointer device = handle(index);
    IntByReference n = new IntByReference();
    check("nvmlDeviceGetMaxMigDeviceCount", () -> lib.nvmlDeviceGetMaxMigDeviceCount(device, n));
    return n.getValue();
  }

  private Pointer migHandle(int index, int migIndex) {
    Pointer device = handle(index);
    PointerByReference ref = new PointerByReference();
    check("nvmlDeviceGetMigDeviceHandleByIndex",
        () -> lib.nvmlDeviceGetMigDeviceHandleByIndex(device, migIndex, ref));
    return ref.getValue();
  }

  @Override
  public MigDeviceInfo migDevice(int index, int migIndex) {
    Pointer mig = migHandle(index, migIndex);
    IntByReference id = new IntByReference();
    check("nvmlDeviceGetGpuInstanceId", () -> lib.nvmlDeviceGetGpuInstanceId(mig, id));
    return new MigDeviceInfo(uuidOf(mig), id.getValue());
  }

  @Override
  public MigAttributes migAttributes(int index, int migIndex) {
    Pointer mig = migHandle(index, migIndex);
    NvmlStructs.DeviceAttributes a = new NvmlStructs.DeviceAttributes();
    check("nvmlDeviceGetAttributes_v2", () -> lib.nvmlDeviceGetAttributes_v2(mig, a));
    return new MigAttributes(uuidOf(mig), a.gpuInstanceSliceCount, a.memorySizeMB);
  }

  @Override
  public MemoryInfo migMemoryInfo(int index, int migIndex) {
    return memoryOf(migHandle(index, migIndex));
  }

  @Override
  public List<ProcessInfo> migComputeProcesses(int index, int migIndex) {
    return processesOf(migHandle(index, migIndex));
  }

  @Override
  public List<GpuInstance> gpuInstances(int index, int profileId, int maxCount) {
    Pointer device = handle(index);
    String fn = "nvmlDeviceGetGpuInstances";
    List<Pointer> handles = readArray(
        fn,
        (buf, count) ->
            guarded(fn, () -> lib.nvmlDeviceGetGpuInstances(device, profileId, buf, count)),
        Native.POINTER_SIZE,
        Math.max(1, maxCount),
        (buf, i) -> buf.getPointer((long) i * Native.POINTER_SIZE),
        this::errorString);
    List<GpuInstance> out = new ArrayList<>(handles.size());
    for (Pointer gi : handles) {
      NvmlStructs.GpuInstanceInfo info = new NvmlStructs.GpuInstanceInfo();
      check("nvmlGpuInstanceGetInfo", () -> lib.nvmlGpuInstanceGetInfo(gi, info));
      out.add(new GpuInstance(info.id, info.profileId, info.placement.start, info.placement.size));
    }
    return List.copyOf(out);
  }

  @Override
  public GpuInstance createGpuInstance(int index, int profileId, Placement placement) {
    Pointer device = handle(index);
    NvmlStructs.GpuInstancePlacement where = new NvmlStructs.GpuInstancePlacement();
    where.start = placement.start();
    where.size = placement.size();
    PointerByReference ref = new PointerByReference();
    check("nvmlDeviceCreateGpuInstanceWithPlacement",
        () -> lib.nvmlDeviceCreateGpuInstanceWithPlacement(device, profileId, where, ref));
    Pointer gi = ref.getValue();
    NvmlStructs.GpuInstanceInfo info = new NvmlStructs.GpuInstanceInfo();
    check("nvmlGpuInstanceGetInfo", () -> lib.nvmlGpuInstanceGetInfo(gi, info));
    return new GpuInstance(info.id, info.profileId, info.placement.start, info.placement.size);
  }

  private Pointer gpuInstance(int index, int gpuInstanceId) {
    Pointer device = handle(index);
    PointerByReference ref = new PointerByReference();
    check("nvmlDeviceGetGpuInstanceById",
        () -> lib.nvmlDeviceGetGpuInstanceById(device, gpuInstanceId, ref));
    return ref.getValue();
  }

  @Override
  public int createComputeInstance(int index, int gpuInstanceId, int computeProfileIndex) {
    Pointer gi = gpuInstance(index, gpuInstanceId);
    NvmlStructs.ComputeInstanceProfileInfo profile = new NvmlStructs.ComputeInstanceProfileInfo();
    check("nvmlGpuInstanceGetComputeInstanceProfileInfo",
        () -> lib.nvmlGpuInstanceGetComputeInstanceProfileInfo(
            gi, computeProfileIndex, COMPUTE_ENGINE_PROFILE_SHARED, profile));
    PointerByReference ref = new PointerByReference();
    check("nvmlGpuInstanceCreateComputeInstance",
        () -> lib.nvmlGpuInstanceCreateComputeInstance(gi, profile.id, ref));
    Pointer ci = ref.getValue();
    NvmlStructs.ComputeInstanceInfo info = new NvmlStructs.ComputeInstanceInfo();
    check("nvmlComputeInstanceGetInfo_v2", () -> lib.nvmlComputeInstanceGetInfo_v2(ci, info));
    return info.id;
  }

  @Override
  public void destroyComputeInstance(int index, int gpuInstanceId, int computeInstanceId) {
    Pointer gi = gpuInstance(index, gpuInstanceId);
    PointerByReference ref = new PointerByReference();
    check("nvmlGpuInstanceGetComputeInstanceById",
        () -> lib.nvmlGpuInstanceGetComputeInstanceById(gi, computeInstanceId, ref));
    Pointer ci = ref.getValue();
    check("nvmlComputeInstanceDestroy", () -> lib.nvmlComputeInstanceDestroy(ci));
  }

  @Override
  public void destroyGpuInstance(int index, int gpuInstanceId) {
    Pointer gi = gpuInstance(index, gpuInstanceId);
    check("nvmlGpuInstanceDestroy", () -> lib.nvmlGpuInstanceDestroy(gi));
  }

  /** One call of a two-call array query: {@code buf} null (count 0) asks for the count only. */
  @FunctionalInterface
  interface ArrayCall {
    int call(@Nullable Pointer buf, IntByReference count);
  }

  /** Decodes element {@code i} of a filled array. */
  @FunctionalInterface
  interface ElementReader<T> {
    T read(Pointer buf, int i);
  }

  /** Gives the {@code nvmlErrorString} text of a code. */
  @FunctionalInterface
  interface ErrorText {
    String of(int code);
  }

  /** The placement query: {@link #readArray} with 8-byte elements and a sizing call first. */
  static List<Placement> readPlacements(String fn, ArrayCall call, ErrorText text) {
    return readArray(fn, call, NvmlStructs.GpuInstancePlacement.SIZE, 0, (buf, i) -> {
      var p = new NvmlStructs.GpuInstancePlacement(
          buf.share((long) i * NvmlStructs.GpuInstancePlacement.SIZE));
      return new Placement(p.start, p.size);
    }, text);
  }

  /**
   * The sizing protocol of NVML's array queries. With {@code firstGuess <= 0}, first ask for the
   * count with a null buffer and count 0 (SUCCESS and INSUFFICIENT_SIZE are both normal answers;
   * a count of 0 is an empty list); otherwise start with room for {@code firstGuess} elements.
   * Allocate {@code count * bytesPerElement} zeroed bytes and fetch. If NVML answers
   * INSUFFICIENT_SIZE (the array grew in between), retry with the count it asked for, or, when it
   * asked for no more than was offered, with a new sizing call; at most {@link #SIZING_ATTEMPTS}
   * fetches. Any other code is an {@link NvmlException}.
   */
  static <T> List<T> readArray(String fn, ArrayCall call, int bytesPerElement, int firstGuess,
      ElementReader<T> reader, ErrorText text) {
    int insufficient = NvmlReturn.ERROR_INSUFFICIENT_SIZE.code();
    int n = firstGuess;
    for (int attempt = 0; attempt < SIZING_ATTEMPTS; attempt++) {
      if (n <= 0) {
        IntByReference count = new IntByReference(0);
        int rc = call.call(null, count);
        if (rc != 0 && rc != insufficient) {
          throw new NvmlException(rc, fn, text.of(rc));
        }
        n = count.getValue();
        if (n <= 0) {
          return List.of();
        }
      }
      Memory buf = new Memory((long) n * bytesPerElement);
      buf.clear();
      IntByReference filled = new IntByReference(n);
      int rc = call.call(buf, filled);
      if (rc == insufficient) {
        int asked = filled.getValue();
        LOG.debug("{}: {} elements did not fit {}, retrying", fn, asked, n);
        n = asked > n ? asked : 0;
        continue;
      }
      if (rc != 0) {
        throw new NvmlException(rc, fn, text.of(rc));
      }
      int got = Math.min(filled.getValue(), n);
      List<T> out = new ArrayList<>(got);
      for (int i = 0; i < got; i++) {
        out.add(reader.read(buf, i));
      }
      return List.copyOf(out);
    }
    throw new NvmlException(
        insufficient, fn, "the count kept growing over " + SIZING_ATTEMPTS + " attempts");
  }

  private void check(String fn, IntSupplier call) {
    int rc = guarded(fn, call);
    if (rc != 0) {
      throw new NvmlException(rc, fn, errorString(rc));
    }
  }

  /** Runs a call, turning a symbol missing from the library into FUNCTION_NOT_FOUND. */
  private int guarded(String fn, IntSupplier call) {
    if (missing.contains(fn)) {
      throw notExported(fn, "");
    }
    try {
      return call.getAsInt();
    } catch (UnsatisfiedLinkError e) {
      if (missing.add(fn)) {
        LOG.info("{} does not export {}; the features that need it are disabled", library, fn);
      }
      throw notExported(fn, ": " + e.getMessage());
    }
  }

  private NvmlException notExported(String fn, String detail) {
    return new NvmlException(
        NvmlReturn.ERROR_FUNCTION_NOT_FOUND.code(), fn, "not exported by " + library + detail);
  }

  private String errorString(int code) {
    try {
      String s = lib.nvmlErrorString(code);
      return s == null ? "(no text)" : s;
    } catch (UnsatisfiedLinkError e) {
      return "(nvmlErrorString not exported)";
    }
  }
}
