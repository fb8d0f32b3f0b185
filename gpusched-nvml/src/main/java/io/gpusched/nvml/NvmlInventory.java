package io.gpusched.nvml;

import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the local node's GPUs through NVML and describes them as a gpusched {@link NodeSpec}.
 * Read-only: only query functions are called, never one that changes GPU or MIG state (only
 * {@link ProcessLauncher}'s MIG instances for {@code MIG_DYNAMIC} jobs do, through {@link #api()}).
 *
 * <pre>{@code
 * if (Nvml.isAvailable()) {
 *   NodeSpec node = NvmlInventory.local().readNode("gpu-a-01");
 * }
 * }</pre>
 *
 * <p>Each GPU's model is, in this order: a model registered with {@link #withModel}; the built-in
 * {@link GpuModels} entry for its NVML name (e.g. {@code NVIDIA H100 80GB HBM3} is {@link
 * GpuModels#H100_80GB}); or a model built from NVML's memory size and MIG profiles, named after the
 * NVML name. Where NVML can report the MIG geometry (it needs a privileged user for placements) and
 * it differs from the catalog's, NVML's geometry and memory size are used under the catalog's name.
 * The mode is {@link GpuMode#WHOLE} when MIG is not currently enabled; with MIG enabled it is {@link
 * GpuMode#MIG_STATIC} with the existing GPU instances as its static instances (profile and placement
 * start as NVML reports them, see {@link NvmlDevice#migInstances()}) when there are any, else {@link
 * GpuMode#MIG_DYNAMIC} (also when the instances cannot be read, which is logged).
 *
 * <p>Without privilege (see docs/nvml.md, "Privileges"): a GPU whose handle NVML refuses ({@code
 * NO_PERMISSION}, a device this process may not open) is left out with a warning naming its index;
 * a GPU whose total memory NVML refuses (a MIG-enabled GPU's parent handle) gets its model's memory,
 * logged once, marked {@link NvmlDevice#memoryDerived()} and listed in the node label {@link
 * #MEMORY_DERIVED_LABEL}.
 *
 * <p>Each read is one {@code nvmlInit_v2} / {@code nvmlShutdown} pair. Instances are immutable and
 * thread-safe.
 */
public final class NvmlInventory {
  private static final Logger LOG = LoggerFactory.getLogger(NvmlInventory.class);

  /** NVML device names (as reported on hardware or by NVIDIA's tools) of the catalog models. */
  private static final Map<String, GpuModel> CATALOG =
      Map.ofEntries(
          Map.entry("NVIDIA H100 80GB HBM3", GpuModels.H100_80GB),
          Map.entry("NVIDIA H100 NVL", GpuModels.H100_94GB),
          Map.entry("NVIDIA H200", GpuModels.H200_141GB),
          Map.entry("NVIDIA A100-SXM4-40GB", GpuModels.A100_40GB),
          Map.entry("NVIDIA A100-PCIE-40GB", GpuModels.A100_40GB),
          Map.entry("NVIDIA A100-SXM4-80GB", GpuModels.A100_80GB),
          Map.entry("NVIDIA A100 80GB PCIe", GpuModels.A100_80GB),
          Map.entry("NVIDIA A30", GpuModels.A30_24GB),
          Map.entry("NVIDIA B200", GpuModels.B200));

  /** Label holding the NVIDIA driver version on nodes from {@link #readNode}. */
  public static final String DRIVER_LABEL = "nvidia.com/driver-version";

  /** Label holding the NVML library version on nodes from {@link #readNode}. */
  public static final String NVML_LABEL = "nvidia.com/nvml-version";

  /**
   * Label holding the indices (comma-separated, ascending) of the GPUs whose total memory NVML
   * refused and which were given their model's memory instead ({@link NvmlDevice#memoryDerived()});
   * absent when there are none.
   */
  public static final String MEMORY_DERIVED_LABEL = "gpusched.io/nvml-memory-derived";

  /** GPUs (by UUID) whose derived memory was logged: once per process, not once per read. */
  private static final java.util.Set<String> LOGGED_DERIVED =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  private final NvmlApi api;
  private final Map<String, GpuModel> overrides;

  NvmlInventory(NvmlApi api, Map<String, GpuModel> overrides) {
    this.api = Objects.requireNonNull(api, "api");
    this.overrides = Map.copyOf(overrides);
  }

  /** The NVML seam this inventory reads through (for the launcher's MIG instances). */
  NvmlApi api() {
    return api;
  }

  /**
   * Returns an inventory of this machine's GPUs through {@code libnvidia-ml.so.1}.
   *
   * @throws NvmlException with {@link NvmlReturn#ERROR_LIBRARY_NOT_FOUND} when NVML is not {@link
   *     Nvml#availability() available}
   */
  public static NvmlInventory local() {
    return new NvmlInventory(Nvml.api(), Map.of());
  }

  /** Returns the built-in model for an NVML device name, if the catalog maps that name. */
  public static java.util.Optional<GpuModel> catalogModel(String nvmlName) {
    return java.util.Optional.ofNullable(CATALOG.get(nvmlName));
  }

  /**
   * Returns a copy that uses {@code model} for GPUs whose NVML name is {@code nvmlName}, ahead of
   * the catalog; NVML's MIG geometry still overrides the model's where they differ. Needed for a
   * GPU that is neither in the catalog nor MIG-capable, since NVML gives no SM count for it.
   */
  public NvmlInventory withModel(String nvmlName, GpuModel model) {
    var m = new HashMap<>(overrides);
    m.put(Objects.requireNonNull(nvmlName, "nvmlName"), Objects.requireNonNull(model, "model"));
    return new NvmlInventory(api, m);
  }

  /**
   * Reads every GPU.
   *
   * @throws NvmlException if NVML fails other than by a missing function or permission on an
   *     optional query, a refused device or a refused memory size (e.g. {@code
   *     NVML_ERROR_GPU_IS_LOST})
   * @throws IllegalStateException if a GPU's model cannot be determined (see {@link #withModel}),
   *     also when its memory is refused and no model is known for its name
   */
  public List<NvmlDevice> readDevices() {
    api.init();
    try {
      return devices();
    } finally {
      shutdownQuietly();
    }
  }

  /**
   * Reads every GPU and returns a node with id {@code nodeId}, the GPUs, and the labels {@link
   * #DRIVER_LABEL} and {@link #NVML_LABEL}. Host resources are {@link NodeSpec#UNTRACKED}, price 0,
   * on-demand: copy the GPUs into your own {@link NodeSpec.Builder} to set them.
   *
   * @throws NvmlException as {@link #readDevices()}
   * @throws IllegalStateException as {@link #readDevices()}
   * @throws IllegalArgumentException if {@code nodeId} is blank or the node is invalid (e.g.
   *     existing MIG instances whose profile is not in the GPU's model)
   */
  public NodeSpec readNode(String nodeId) {
    NodeSpec.Builder b = NodeSpec.builder(nodeId);
    api.init();
    try {
      b.label(DRIVER_LABEL, api.driverVersion());
      b.label(NVML_LABEL, api.nvmlVersion());
      List<String> derived = new ArrayList<>();
      for (NvmlDevice d : devices()) {
        b.gpu(d.toGpuSpec());
        if (d.memoryDerived()) {
          derived.add(Integer.toString(d.index()));
        }
      }
      if (!derived.isEmpty()) {
        b.label(MEMORY_DERIVED_LABEL, String.join(",", derived));
      }
    } finally {
      shutdownQuietly();
    }
    return b.build();
  }

  private List<NvmlDevice> devices() {
    int count = api.deviceCount();
    List<NvmlDevice> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      NvmlDevice d = device(i);
      if (d != null) {
        out.add(d);
      }
    }
    return List.copyOf(out);
  }

  /** Reads GPU {@code i}; null, with a warning naming it, when NVML refuses its handle. */
  private @Nullable NvmlDevice device(int i) {
    String name;
    String uuid;
    try {
      name = api.name(i);
      uuid = api.uuid(i);
    } catch (NvmlException e) {
      if (!e.is(NvmlReturn.ERROR_NO_PERMISSION)) {
        throw e;
      }
      // nvmlDeviceGetCount_v2 counts devices this process may not open (a cgroup or container
      // that exposes only some /dev/nvidia* nodes): leave that one out, report the rest
      LOG.warn("GPU {}: skipped, NVML refuses it to this process ({}); reporting the other GPUs",
          i, e.getMessage());
      return null;
    }
    String bus = java.util.Objects.requireNonNullElse(
        optional(i, "PCI bus id", () -> api.pciBusId(i), ""), "");
    NvmlApi.MigMode mig = optional(i, "MIG mode", () -> api.migMode(i), null);
    long total;
    boolean derived = false;
    try {
      total = api.memoryInfo(i).total();
      Nvml.needsPrivilege("inventory-memory#" + uuid, null); // readable (again)
    } catch (NvmlException e) {
      if (!e.is(NvmlReturn.ERROR_NO_PERMISSION)) {
        throw e;
      }
      total = derivedMemory(i, name, uuid, mig, e);
      derived = true;
    }
    MigGeometry geometry = mig == null ? null : MigGeometryReader.read(api, i, total);
    if (mig != null && mig.current() != mig.pending()) {
      LOG.warn("GPU {} ({}): MIG mode {} pending {} until the next GPU reset; using the current",
          i, uuid, mig.current(), mig.pending());
    }
    GpuModel model = model(i, name, total, geometry);
    boolean enabled = mig != null && mig.enabled();
    if (enabled && model.mig() == null) {
      throw new IllegalStateException(
          "GPU " + i + " (" + name + ") has MIG enabled, but its MIG geometry is neither in the"
              + " catalog nor readable from NVML (placements need a privileged user);"
              + " register a model with withModel(\"" + name + "\", model)");
    }
    List<NvmlMigInstance> instances = List.of();
    if (enabled) {
      List<NvmlMigInstance> read = MigInstanceReader.read(api, i, total);
      if (read == null) {
        LOG.warn("GPU {} ({}): MIG is enabled but its existing instances cannot be read;"
            + " reporting it MIG_DYNAMIC with its whole geometry free", i, uuid);
      } else {
        instances = read;
      }
    }
    GpuMode mode = !enabled ? GpuMode.WHOLE
        : instances.isEmpty() ? GpuMode.MIG_DYNAMIC : GpuMode.MIG_STATIC;
    return new NvmlDevice(
        i, name, uuid, bus, total, mig != null, enabled,
        mig != null && mig.pending() == NvmlApi.MigMode.ENABLED,
        model, mode, instances, derived);
  }

  /**
   * The memory of GPU {@code i}'s model (registered or catalog) in bytes, for a GPU whose memory NVML
   * refused: in MIG mode {@code nvmlDeviceGetMemoryInfo} on the parent handle needs a privileged
   * user. Logged once per GPU per process and reported in {@link Nvml#availability()}.
   *
   * @throws IllegalStateException if no model is known for the GPU's name
   */
  private long derivedMemory(
      int i, String name, String uuid, NvmlApi.@Nullable MigMode mig, NvmlException e) {
    GpuModel known = overrides.getOrDefault(name, CATALOG.get(name));
    if (known == null) {
      throw new IllegalStateException(
          "GPU " + i + " (" + name + "): NVML refuses its memory size (" + e.getMessage()
              + ") and it is not in the gpusched catalog; run with privilege or register it with"
              + " withModel(\"" + name + "\", model)", e);
    }
    String where = mig != null && mig.enabled() ? " (MIG mode: the parent handle needs privilege)"
        : "";
    String line = "GPU " + i + " (" + uuid + "): total memory refused by NVML" + where + "; using "
        + known.name() + "'s " + known.memoryMiB() + " MiB (derived, label "
        + MEMORY_DERIVED_LABEL + ")";
    if (LOGGED_DERIVED.add(uuid)) {
      LOG.warn("{}", line);
    }
    Nvml.needsPrivilege("inventory-memory#" + uuid, line);
    return known.memoryMiB() << 20;
  }

  private GpuModel model(int i, String name, long totalBytes, @Nullable MigGeometry nvml) {
    long memoryMiB = totalBytes >> 20;
    GpuModel base = overrides.getOrDefault(name, CATALOG.get(name));
    if (base != null) {
      if (nvml == null || sameGeometry(nvml, base.mig())) {
        return base;
      }
      LOG.info("GPU {} ({}): NVML's MIG geometry differs from {}'s; using NVML's", i, name,
          base.name());
      return new GpuModel(base.name(), memoryMiB, base.smCount(), nvml);
    }
    if (nvml == null) {
      throw new IllegalStateException(
          "GPU " + i + " (" + name + ") is not in the gpusched catalog and NVML reports no MIG"
              + " geometry to derive its SM count from; register it with withModel(\"" + name
              + "\", model)");
    }
    int sm = nvml.profiles().stream().mapToInt(MigProfile::smCount).max().orElseThrow();
    return new GpuModel(modelName(name), memoryMiB, sm, nvml);
  }

  /** Whether two geometries have the same slices and the same profiles, in any order. */
  static boolean sameGeometry(MigGeometry a, @Nullable MigGeometry b) {
    if (b == null
        || a.computeSlices() != b.computeSlices()
        || a.memorySlices() != b.memorySlices()) {
      return false;
    }
    Function<MigGeometry, Map<String, MigProfile>> byName =
        g -> g.profiles().stream().collect(Collectors.toMap(MigProfile::name, p -> p));
    return byName.apply(a).equals(byName.apply(b));
  }

  /** {@code NVIDIA RTX PRO 6000} becomes {@code RTX-PRO-6000}. */
  static String modelName(String nvmlName) {
    String s = nvmlName.strip();
    if (s.toUpperCase(Locale.ROOT).startsWith("NVIDIA ")) {
      s = s.substring("NVIDIA ".length()).strip();
    }
    s = s.replaceAll("\\s+", "-");
    return s.isEmpty() ? nvmlName : s;
  }

  private <T> @Nullable T optional(int i, String what, java.util.function.Supplier<T> read,
      @Nullable T absent) {
    try {
      return read.get();
    } catch (NvmlException e) {
      if (e.is(NvmlReturn.ERROR_NOT_SUPPORTED)
          || e.is(NvmlReturn.ERROR_FUNCTION_NOT_FOUND)
          || e.is(NvmlReturn.ERROR_NO_PERMISSION)) {
        if (!e.is(NvmlReturn.ERROR_NOT_SUPPORTED)) {
          LOG.info("GPU {}: {} not read: {}", i, what, e.getMessage());
        }
        return absent;
      }
      throw e;
    }
  }

  private void shutdownQuietly() {
    try {
      api.shutdown();
    } catch (NvmlException e) {
      LOG.warn("nvmlShutdown failed", e);
    }
  }
}
