package io.gpusched.nvml;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
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
    Pointer device = handle(index);
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
    Pointer device = handle(index);
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

  /** One call of a placement query: {@code buf} null asks for the count only. */
  @FunctionalInterface
  interface PlacementCall {
    int call(@Nullable Pointer buf, IntByReference count);
  }

  /** Gives the {@code nvmlErrorString} text of a code. */
  @FunctionalInterface
  interface ErrorText {
    String of(int code);
  }

  /**
   * The two-call sizing protocol of {@code ..PossiblePlacements_v2}: ask for the count with a null
   * buffer (SUCCESS or INSUFFICIENT_SIZE are both the normal answer), allocate {@code count * 8}
   * bytes, fetch; if the count grew in between (INSUFFICIENT_SIZE again), start over, at most
   * {@link #SIZING_ATTEMPTS} times.
   */
  static List<Placement> readPlacements(String fn, PlacementCall call, ErrorText text) {
    int insufficient = NvmlReturn.ERROR_INSUFFICIENT_SIZE.code();
    for (int attempt = 0; attempt < SIZING_ATTEMPTS; attempt++) {
      IntByReference count = new IntByReference(0);
      int rc = call.call(null, count);
      if (rc != 0 && rc != insufficient) {
        throw new NvmlException(rc, fn, text.of(rc));
      }
      int n = count.getValue();
      if (n <= 0) {
        return List.of();
      }
      Memory buf = new Memory((long) n * NvmlStructs.GpuInstancePlacement.SIZE);
      buf.clear();
      IntByReference filled = new IntByReference(n);
      rc = call.call(buf, filled);
      if (rc == insufficient) {
        LOG.debug("{}: count grew past {} between calls, retrying", fn, n);
        continue;
      }
      if (rc != 0) {
        throw new NvmlException(rc, fn, text.of(rc));
      }
      int got = Math.min(filled.getValue(), n);
      List<Placement> out = new ArrayList<>(got);
      for (int i = 0; i < got; i++) {
        var p =
            new NvmlStructs.GpuInstancePlacement(
                buf.share((long) i * NvmlStructs.GpuInstancePlacement.SIZE));
        out.add(new Placement(p.start, p.size));
      }
      return List.copyOf(out);
    }
    throw new NvmlException(
        insufficient, fn, "placement count kept growing over " + SIZING_ATTEMPTS + " attempts");
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
