package io.gpusched.nvml;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.gpusched.GpuProcess;
import io.gpusched.GpuSample;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GPU telemetry from NVML: a background sampler reads every GPU and MIG device at a fixed period
 * and keeps the latest sample of each in a Caffeine cache, plus a bounded history, so that readers
 * ({@link #latest}, {@link #history}, {@link #idle}, {@link #snapshot}) never reach the driver.
 *
 * <pre>{@code
 * try (NvmlTelemetry t = NvmlTelemetry.builder().period(Duration.ofSeconds(1)).build()) {
 *   Optional<GpuSample> s = t.latest(gpuUuid, GpuSample.WHOLE_GPU);
 *   boolean idle = t.idle(gpuUuid, GpuSample.WHOLE_GPU, IdlePolicy.DEFAULT);
 * }
 * }</pre>
 *
 * <p><b>What a sample holds.</b> For a whole GPU: utilization (GPU and memory, percent; see below),
 * memory used and total (MiB, {@code nvmlDeviceGetMemoryInfo} v1, so used includes the driver's
 * reservation), power (mW), GPU temperature (°C), energy since the driver loaded (mJ), and the
 * compute processes (pid, used memory in MiB). For a MIG device (named by its GPU's UUID and its GPU
 * instance's placement start slot): memory and processes only. <b>NVML reports no utilization for
 * MIG devices</b> (nor for a MIG-enabled GPU as a whole), so there {@link
 * GpuSample#utilizationPercent()} is {@link GpuSample#UNAVAILABLE}, and {@link IdlePolicy} decides
 * idleness from the process list and memory used. Power, temperature and energy are per physical
 * GPU and are not reported for MIG devices. A reading NVML does not support, a function the driver
 * does not export, or one the caller lacks permission for is {@link GpuSample#UNAVAILABLE} (a
 * process list: {@code null}, unknown), with the reason logged once.
 *
 * <p><b>Utilization</b> is {@code nvmlDeviceGetUtilizationRates} (percent of the last sample period,
 * 1/6 s to 1 s, in which a kernel ran). Where {@code nvmlDeviceGetSamples} gives GPU utilization
 * samples, the GPU utilization is instead the <em>highest</em> sample taken since the previous pass,
 * so a burst between two passes is not missed; where it is missing or not supported, that is logged
 * once and the rate is used.
 *
 * <p><b>Errors.</b> The sampler never dies of an NVML error or an exception: errors are logged (rate
 * limited) and the next pass runs as usual. A GPU that cannot be read (e.g. {@code
 * NVML_ERROR_GPU_IS_LOST}, or any error other than the "not available" ones above) is published as
 * {@link GpuSample#lost(String, int, long) lost}, with its MIG devices, and so is every known device
 * when the device count itself cannot be read; a lost sample is never idle. Devices that disappear
 * (a MIG instance destroyed) are dropped. Samples are timestamped by the {@link InstantSource} given
 * to the builder; a sampler that stops making progress leaves old timestamps, which {@link
 * IdlePolicy} treats as stale, never idle.
 *
 * <p><b>Without privilege</b> (docs/nvml.md, "Privileges"): a GPU whose handle NVML refuses is
 * skipped with one warning. When NVML refuses to list a MIG GPU's instances ({@code
 * nvmlDeviceGetGpuInstances} needs a privileged user or the MIG-monitor capability), that is asked
 * once (again after a MIG mode change) and the MIG devices are mapped to start slots by {@link
 * MigSlotDeducer} only where NVML's unprivileged answers force a single slot; the others are not
 * sampled, the GPU's process list is unknown, idle detection is off for the whole GPU ({@link
 * #idle} false) and {@link #limitations()} and {@link Nvml#availability()} say so.
 *
 * <p><b>Lifecycle.</b> {@link Builder#build()} calls {@code nvmlInit_v2} once and starts one daemon
 * thread; {@link #close()} stops it and calls {@code nvmlShutdown} once. Read-only: no NVML function
 * that changes GPU state is called. Thread-safe: every method may be called from any thread.
 */
public final class NvmlTelemetry implements GpuTelemetry, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NvmlTelemetry.class);

  /** Default sampling period: one second. */
  public static final Duration DEFAULT_PERIOD = Duration.ofSeconds(1);

  /** Default history retention: 35 minutes, enough for {@link IdlePolicy#DEFAULT}'s window. */
  public static final Duration DEFAULT_RETENTION = Duration.ofMinutes(35);

  /** Numbers the instances, to key their lines in {@link Nvml#availability()}. */
  private static final java.util.concurrent.atomic.AtomicLong INSTANCES =
      new java.util.concurrent.atomic.AtomicLong();

  /** Minimum time between two logged sampler errors; the ones between are counted. */
  static final Duration ERROR_LOG_INTERVAL = Duration.ofMinutes(1);

  /** How long {@link #close()} waits for a pass in progress. */
  static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

  /**
   * Names a device: the UUID of its physical GPU plus its MIG GPU instance's start slot, or {@link
   * GpuSample#WHOLE_GPU} for the GPU itself (as in {@link GpuSample}).
   *
   * @param gpuUuid UUID of the physical GPU
   * @param migStartSlot MIG start slot, or {@link GpuSample#WHOLE_GPU}
   */
  public record DeviceKey(String gpuUuid, int migStartSlot) {
    /** Checks for null. */
    public DeviceKey {
      Objects.requireNonNull(gpuUuid, "gpuUuid");
    }
  }

  private final NvmlApi api;
  private final InstantSource clock;
  private final Duration period;
  private final int historyCapacity;
  private final long retentionMillis;
  private final boolean windowedUtilization;
  private final Cache<DeviceKey, GpuSample> latest;
  private final Map<DeviceKey, History> histories = new ConcurrentHashMap<>();
  private final @Nullable ScheduledExecutorService executor;
  private final AtomicBoolean closed = new AtomicBoolean();

  // Sampler state: only touched by sampleOnce, under passLock.
  private final Object passLock = new Object();
  private final Map<Integer, String> uuidByIndex = new HashMap<>();
  private final Map<Integer, SlotMap> slotMaps = new HashMap<>();
  private final Set<Integer> listingRefused = new HashSet<>();
  private final Map<Integer, Integer> migModeByIndex = new HashMap<>();
  private final Map<Integer, Long> lastSampleMicros = new HashMap<>();
  private final Set<Integer> samplesUnsupported = new HashSet<>();
  private final Set<String> reported = new HashSet<>();
  private long lastErrorLogMillis = Long.MIN_VALUE;
  private long suppressedErrors;
  private long passes;
  private long errorsLogged;

  /** GPU UUID → why idle detection is off for it (MIG devices it cannot map); read by any thread. */
  private final Map<String, String> limitations = new ConcurrentHashMap<>();
  private final String registryKey = "telemetry#" + INSTANCES.incrementAndGet();

  /**
   * The start slot of each GPU instance of a GPU, for one set of MIG devices.
   *
   * @param key the MIG devices ({@code gpuInstanceId:uuid}) it was made for; a destroyed or new MIG
   *     device changes the key, so the map is made again
   * @param starts start slot by GPU instance id
   * @param deduced whether made without the privileged list ({@link MigSlotDeducer})
   */
  private record SlotMap(Set<String> key, Map<Integer, Integer> starts, boolean deduced) {}

  private NvmlTelemetry(Builder b, boolean start) {
    this.api = b.api.get();
    this.clock = b.clock;
    this.period = b.period;
    this.retentionMillis = b.retention.toMillis();
    this.historyCapacity = b.maxHistorySamples > 0
        ? b.maxHistorySamples
        : (int) Math.min(Integer.MAX_VALUE - 8, b.retention.toNanos() / b.period.toNanos() + 2);
    this.windowedUtilization = b.windowedUtilization;
    this.latest = Caffeine.newBuilder().initialCapacity(16).build();
    api.init();
    if (start) {
      ScheduledExecutorService ex = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, b.threadName);
        t.setDaemon(true);
        return t;
      });
      var unused = ex.scheduleWithFixedDelay(this::tick, 0, period.toNanos(), TimeUnit.NANOSECONDS);
      this.executor = ex;
    } else {
      this.executor = null;
    }
  }

  /**
   * Returns a builder for telemetry of this machine's GPUs through {@code libnvidia-ml.so.1}.
   * NVML is loaded and initialised by {@link Builder#build()}.
   */
  public static Builder builder() {
    return new Builder(Nvml::api);
  }

  /** A builder over another {@link NvmlApi} (tests, benchmarks). */
  static Builder builder(NvmlApi api) {
    Objects.requireNonNull(api, "api");
    return new Builder(() -> api);
  }

  /** Builder of {@link NvmlTelemetry}; not thread-safe. */
  public static final class Builder {
    private final Supplier<NvmlApi> api;
    private Duration period = DEFAULT_PERIOD;
    private Duration retention = DEFAULT_RETENTION;
    private int maxHistorySamples;
    private InstantSource clock = InstantSource.system();
    private boolean windowedUtilization = true;
    private String threadName = "gpusched-nvml-sampler";

    private Builder(Supplier<NvmlApi> api) {
      this.api = api;
    }

    /**
     * Sets the time between the end of one sampling pass and the start of the next (default 1 s).
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder period(Duration period) {
      this.period = positive(period, "period");
      return this;
    }

    /**
     * Sets how long samples are kept for {@link #history} and {@link #idle} (default 35 min).
     * An idle window longer than this can never be reached.
     *
     * @throws IllegalArgumentException if not positive
     */
    public Builder historyRetention(Duration retention) {
      this.retention = positive(retention, "historyRetention");
      return this;
    }

    /**
     * Caps the samples kept per device (default: retention / period + 2).
     *
     * @throws IllegalArgumentException if below 1
     */
    public Builder maxHistorySamples(int samples) {
      if (samples < 1) {
        throw new IllegalArgumentException("maxHistorySamples must be >= 1, was " + samples);
      }
      this.maxHistorySamples = samples;
      return this;
    }

    /** Sets the clock that timestamps samples (default {@link InstantSource#system()}). */
    public Builder clock(InstantSource clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Whether to use {@code nvmlDeviceGetSamples} utilization windows where NVML has them (default
     * true); false uses {@code nvmlDeviceGetUtilizationRates} only.
     */
    public Builder windowedUtilization(boolean enabled) {
      this.windowedUtilization = enabled;
      return this;
    }

    /** Sets the sampler thread's name (default {@code gpusched-nvml-sampler}). */
    public Builder threadName(String name) {
      this.threadName = Objects.requireNonNull(name, "name");
      return this;
    }

    /**
     * Initialises NVML and starts the sampler; the first pass runs at once on the sampler thread.
     *
     * @throws NvmlException if NVML is not available ({@link NvmlReturn#ERROR_LIBRARY_NOT_FOUND})
     *     or {@code nvmlInit_v2} fails
     */
    public NvmlTelemetry build() {
      return new NvmlTelemetry(this, true);
    }

    /** Initialises NVML without starting the sampler: passes run by {@link #sampleOnce()}. */
    NvmlTelemetry buildUnstarted() {
      return new NvmlTelemetry(this, false);
    }

    private static Duration positive(Duration d, String what) {
      Objects.requireNonNull(d, what);
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException(what + " must be positive, was " + d);
      }
      return d;
    }
  }

  // ---------------------------------------------------------------------------------- readers

  /**
   * Returns the latest sample of a device from the cache; never reaches the driver. Thread-safe.
   *
   * @param gpuUuid UUID of the physical GPU
   * @param migStartSlot MIG start slot, or {@link GpuSample#WHOLE_GPU}
   * @return the latest sample (possibly {@link GpuSample#lost() lost}), or empty if the device is
   *     unknown or not sampled yet
   */
  @Override
  public Optional<GpuSample> latest(String gpuUuid, int migStartSlot) {
    return Optional.ofNullable(latest.getIfPresent(new DeviceKey(gpuUuid, migStartSlot)));
  }

  /**
   * Returns the retained samples of a device taken at or after {@code sinceMillis}, oldest first;
   * never reaches the driver. Thread-safe.
   *
   * @return an immutable list, empty for an unknown device
   */
  @Override
  public List<GpuSample> history(String gpuUuid, int migStartSlot, long sinceMillis) {
    History h = histories.get(new DeviceKey(gpuUuid, migStartSlot));
    return h == null ? List.of() : h.since(sinceMillis);
  }

  /**
   * Returns whether the device has been idle for the policy's window, now (by the builder's
   * clock), by {@link IdlePolicy#isIdle} over the retained history. False for an unknown, lost or
   * stale device, when the window is longer than the history retention, and for every device of a
   * GPU in {@link #limitations()} (idle detection is off there). For a MIG device this
   * rests on the process list and memory used, since NVML gives no utilization there.
   */
  public boolean idle(String gpuUuid, int migStartSlot, IdlePolicy policy) {
    if (limitations.containsKey(gpuUuid)) {
      return false;
    }
    long now = clock.millis();
    return policy.isIdle(window(gpuUuid, migStartSlot, policy, now), now);
  }

  /**
   * Returns since when (epoch ms) the device has been idle-looking without a break, by {@link
   * IdlePolicy#idleSince}, looking back at most the policy's window plus its sample age. Empty for
   * a GPU in {@link #limitations()}.
   */
  public OptionalLong idleSince(String gpuUuid, int migStartSlot, IdlePolicy policy) {
    if (limitations.containsKey(gpuUuid)) {
      return OptionalLong.empty();
    }
    long now = clock.millis();
    return policy.idleSince(window(gpuUuid, migStartSlot, policy, now), now);
  }

  private List<GpuSample> window(String uuid, int slot, IdlePolicy policy, long now) {
    long back = policy.window().toMillis() + policy.maxSampleAge().toMillis();
    return history(uuid, slot, now - back);
  }

  /** Returns the latest sample of every known device (an immutable copy). Thread-safe. */
  public Map<DeviceKey, GpuSample> snapshot() {
    return Map.copyOf(latest.asMap());
  }

  /**
   * Returns the compute processes of every device whose latest sample lists them (devices with an
   * unknown list are left out), as an immutable copy. Thread-safe.
   */
  public Map<DeviceKey, List<GpuProcess>> processes() {
    Map<DeviceKey, List<GpuProcess>> out = new LinkedHashMap<>();
    latest.asMap().forEach((k, s) -> {
      List<GpuProcess> p = s.processes();
      if (p != null) {
        out.put(k, p);
      }
    });
    return Map.copyOf(out);
  }

  /**
   * Returns the GPUs (by UUID) for which idle detection is off, each with a plain reason: MIG-enabled
   * GPUs some of whose MIG devices cannot be mapped to start slots, because listing the GPU
   * instances needs a privileged user or the MIG-monitor capability and NVML's unprivileged answers
   * do not force their placement. Those MIG devices are not sampled, the GPU's process list is
   * unknown, and {@link #idle} is false for all of its devices. The same lines are in {@link
   * Nvml#availability()}'s {@code needsPrivilege} while this sampler is open. Thread-safe.
   */
  public Map<String, String> limitations() {
    return Map.copyOf(limitations);
  }

  /** Returns the sampling period. */
  public Duration period() {
    return period;
  }

  /**
   * Stops the sampler (waiting up to 10 s for a pass in progress) and shuts NVML down once.
   * Idempotent. The cached samples stay readable.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    if (executor != null) {
      executor.shutdownNow();
      try {
        if (!executor.awaitTermination(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
          LOG.warn("NVML sampler did not stop within {}; NVML is left initialised", CLOSE_WAIT);
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        LOG.warn("interrupted while stopping the NVML sampler; NVML is left initialised");
        return;
      }
    }
    for (String uuid : limitations.keySet()) {
      Nvml.needsPrivilege(registryKey + "#" + uuid, null);
    }
    synchronized (passLock) {
      try {
        api.shutdown();
      } catch (NvmlException e) {
        LOG.warn("nvmlShutdown failed", e);
      }
    }
  }

  // ---------------------------------------------------------------------------------- sampler

  /** One scheduled pass: nothing escapes, so the executor keeps scheduling. */
  void tick() {
    try {
      sampleOnce();
    } catch (RuntimeException | LinkageError e) {
      reportError("NVML sampling pass failed", e);
    }
  }

  /** Number of passes completed (for tests). */
  long passes() {
    synchronized (passLock) {
      return passes;
    }
  }

  /** Runs one sampling pass on the calling thread; a no-op once closed. Never throws NVML errors. */
  void sampleOnce() {
    synchronized (passLock) {
      if (closed.get()) {
        return;
      }
      long now = clock.millis();
      Map<DeviceKey, GpuSample> pass = new LinkedHashMap<>();
      int count;
      try {
        count = api.deviceCount();
      } catch (NvmlException e) {
        reportError("NVML device count failed; every known device is marked lost", e);
        for (DeviceKey k : latest.asMap().keySet()) {
          pass.put(k, GpuSample.lost(k.gpuUuid(), k.migStartSlot(), now));
        }
        publish(pass, false);
        return;
      }
      for (int i = 0; i < count; i++) {
        try {
          sampleGpu(i, now, pass);
        } catch (NvmlException | IllegalArgumentException e) {
          reportError("GPU " + i + " could not be read; marked lost", e);
          markLost(i, now, pass);
        }
      }
      publish(pass, true);
      for (String uuid : limitations.keySet()) {
        if (!pass.containsKey(new DeviceKey(uuid, GpuSample.WHOLE_GPU))) {
          limit(uuid, false, null); // the GPU is gone
        }
      }
      passes++;
    }
  }

  private void publish(Map<DeviceKey, GpuSample> pass, boolean complete) {
    pass.forEach((k, s) -> {
      latest.put(k, s);
      histories.computeIfAbsent(k, x -> new History(historyCapacity, retentionMillis)).add(s);
    });
    if (complete) {
      for (DeviceKey k : latest.asMap().keySet()) {
        if (!pass.containsKey(k)) {
          latest.invalidate(k);
          histories.remove(k);
        }
      }
    }
  }

  private void markLost(int i, long now, Map<DeviceKey, GpuSample> pass) {
    String uuid = uuidByIndex.get(i);
    if (uuid == null) {
      return;
    }
    pass.keySet().removeIf(k -> k.gpuUuid().equals(uuid));
    pass.put(new DeviceKey(uuid, GpuSample.WHOLE_GPU), GpuSample.lost(uuid, GpuSample.WHOLE_GPU, now));
    for (DeviceKey k : latest.asMap().keySet()) {
      if (k.gpuUuid().equals(uuid)) {
        pass.put(k, GpuSample.lost(uuid, k.migStartSlot(), now));
      }
    }
  }

  private void sampleGpu(int i, long now, Map<DeviceKey, GpuSample> pass) {
    String uuid;
    try {
      uuid = api.uuid(i);
    } catch (NvmlException e) {
      if (!e.is(NvmlReturn.ERROR_NO_PERMISSION)) {
        throw e;
      }
      // counted by nvmlDeviceGetCount_v2, but not this process's to open: skip it, sample the rest
      warnOnce("restricted#" + i, "GPU {}: skipped, NVML refuses it to this process ({})", i,
          e.getMessage());
      return;
    }
    uuidByIndex.put(i, uuid);
    NvmlApi.MigMode mode = optional(i, "MIG mode", () -> api.migMode(i));
    Integer modeBefore = migModeByIndex.put(i, mode == null ? -1 : mode.current());
    if (modeBefore != null && modeBefore != (mode == null ? -1 : mode.current())) {
      migModeChanged(i, uuid, modeBefore, mode == null ? -1 : mode.current());
    }
    GpuSample.Builder b = GpuSample.builder(uuid, now);
    NvmlApi.MemoryInfo m = optional(i, "memory", () -> api.memoryInfo(i));
    if (m != null) {
      b.memory(mib(m.used()), mib(m.total()));
    }
    NvmlApi.Utilization u = optional(i, "utilization", () -> api.utilization(i));
    if (u != null) {
      b.utilizationPercent(percent(u.gpu())).memoryUtilizationPercent(percent(u.memory()));
    }
    Integer windowed = windowedUtilization(i);
    if (windowed != null) {
      b.utilizationPercent(windowed);
    }
    Integer power = optional(i, "power", () -> api.powerUsage(i));
    if (power != null) {
      b.powerMilliwatts(Integer.toUnsignedLong(power));
    }
    Integer temp = optional(i, "temperature", () -> api.temperature(i));
    if (temp != null && temp >= 0) {
      b.temperatureCelsius(temp);
    }
    Long energy = optional(i, "energy", () -> api.totalEnergyConsumption(i));
    if (energy != null && energy >= 0) {
      b.energyMillijoules(energy);
    }
    List<GpuProcess> procs = processes(optional(i, "processes", () -> api.computeProcesses(i)));
    Integer maxMig = optional(i, "MIG devices", () -> api.maxMigDeviceCount(i));
    if (maxMig != null && maxMig > 0) {
      MigPass mig = sampleMigDevices(i, uuid, now, pass);
      // a MIG device not sampled may run work: the GPU's process list is then unknown
      procs = mig.unmapped() > 0 ? null : withMigProcesses(procs, mig.samples());
    } else {
      limit(uuid, false, null);
    }
    pass.put(new DeviceKey(uuid, GpuSample.WHOLE_GPU), b.processes(procs).build());
  }

  /**
   * The processes of a MIG-enabled GPU: those NVML lists for the GPU plus those of its MIG devices
   * (compute work runs in MIG devices there); unknown when a MIG device's list is unknown.
   */
  private static @Nullable List<GpuProcess> withMigProcesses(
      @Nullable List<GpuProcess> gpu, List<GpuSample> migSamples) {
    if (migSamples.isEmpty()) {
      return gpu;
    }
    Map<Long, GpuProcess> byPid = new LinkedHashMap<>();
    if (gpu != null) {
      gpu.forEach(p -> byPid.put(p.pid(), p));
    }
    for (GpuSample s : migSamples) {
      List<GpuProcess> l = s.processes();
      if (l == null) {
        return null;
      }
      l.forEach(p -> byPid.putIfAbsent(p.pid(), p));
    }
    return new ArrayList<>(byPid.values());
  }

  /** The MIG samples of one GPU in one pass, and how many MIG devices could not be mapped. */
  private record MigPass(List<GpuSample> samples, int unmapped) {}

  /** Samples the MIG devices of GPU {@code i} into {@code pass} and returns their samples. */
  private MigPass sampleMigDevices(int i, String uuid, long now, Map<DeviceKey, GpuSample> pass) {
    Map<DeviceKey, GpuSample> out = new LinkedHashMap<>();
    List<MigInstanceReader.MigDeviceRef> devices = MigInstanceReader.migDevices(api, i);
    SlotMap slots = slots(i, devices);
    int unmapped = 0;
    for (MigInstanceReader.MigDeviceRef d : devices) {
      Integer start = slots.starts().get(d.gpuInstanceId());
      if (start == null) {
        unmapped++;
        if (!slots.deduced()) {
          logOnce("gi#" + i + "#" + d.gpuInstanceId(), "GPU {}: MIG device {} is on GPU instance {},"
              + " which NVML does not list; not sampled", i, d.uuid(), d.gpuInstanceId());
        }
        continue;
      }
      int mig = d.migIndex();
      NvmlApi.MemoryInfo m;
      try {
        m = api.migMemoryInfo(i, mig);
      } catch (NvmlException e) {
        if (e.is(NvmlReturn.ERROR_NOT_FOUND)) {
          continue; // destroyed since it was listed
        }
        throw e;
      }
      List<GpuProcess> procs =
          processes(optional(i, "MIG processes", () -> api.migComputeProcesses(i, mig)));
      DeviceKey key = new DeviceKey(uuid, start);
      GpuSample before = out.get(key);
      if (before != null) {
        // several compute instances on one GPU instance: one device, all their processes
        procs = before.processes() == null || procs == null ? null : concat(before.processes(),
            procs);
      }
      out.put(key, GpuSample.builder(uuid, now).migStartSlot(start)
          .memory(mib(m.used()), mib(m.total())).processes(procs).build());
    }
    pass.putAll(out);
    if (unmapped > 0 && slots.deduced()) {
      limit(uuid, true, "GPU " + i + " (" + uuid + "): " + unmapped + " of " + devices.size()
          + " MIG devices cannot be mapped to start slots: listing the GPU instances needs a"
          + " privileged user or the MIG-monitor capability, and NVML's unprivileged answers do not"
          + " force their placement; they are not sampled and idle detection is off for this GPU");
    } else if (unmapped > 0) {
      limit(uuid, false, "GPU " + i + " (" + uuid + "): " + unmapped + " of " + devices.size()
          + " MIG devices are on GPU instances NVML does not list; they are not sampled and idle"
          + " detection is off for this GPU");
    } else {
      limit(uuid, false, null);
    }
    return new MigPass(List.copyOf(out.values()), unmapped);
  }

  /**
   * Sets or (with a null line) clears a GPU's limitation; one caused by missing privilege also goes
   * to {@link Nvml#availability()} (an instance NVML does not list, with privilege, does not).
   */
  private void limit(String uuid, boolean privilege, @Nullable String line) {
    String before = line == null ? limitations.remove(uuid) : limitations.put(uuid, line);
    if (line != null && !line.equals(before)) {
      LOG.warn("{}", line);
    } else if (line == null && before != null) {
      LOG.info("GPU {}: every MIG device is mapped again; idle detection is on", uuid);
    }
    Nvml.needsPrivilege(registryKey + "#" + uuid, privilege ? line : null);
  }

  private static List<GpuProcess> concat(List<GpuProcess> a, List<GpuProcess> b) {
    List<GpuProcess> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  /**
   * The start slots of GPU {@code i}'s GPU instances for these MIG devices: from {@code
   * nvmlDeviceGetGpuInstances}, or, once that was refused (kept until the MIG mode changes, logged
   * once), from {@link MigSlotDeducer}. Made again only when the set of MIG devices changes.
   */
  private SlotMap slots(int i, List<MigInstanceReader.MigDeviceRef> devices) {
    Set<String> key = new HashSet<>();
    for (MigInstanceReader.MigDeviceRef d : devices) {
      key.add(d.gpuInstanceId() + ":" + d.uuid());
    }
    SlotMap cached = slotMaps.get(i);
    if (cached != null && cached.key().equals(key)) {
      return cached;
    }
    SlotMap made = null;
    if (!listingRefused.contains(i)) {
      MigInstanceReader.Listing l = MigInstanceReader.list(api, i);
      if (l.instances() != null) {
        Map<Integer, Integer> starts = new HashMap<>();
        for (MigInstanceReader.Existing e : l.instances()) {
          starts.put(e.instance().id(), e.instance().start());
        }
        made = new SlotMap(key, starts, false);
      } else {
        listingRefused.add(i);
        warnOnce("listing#" + i, "GPU {}: NVML refuses to list its GPU instances ({}); MIG devices"
            + " are mapped to start slots only where NVML's unprivileged answers force one", i,
            l.refusal() == null ? "" : l.refusal().getMessage());
      }
    }
    if (made == null) {
      String name = optional(i, "name", () -> api.name(i));
      io.gpusched.GpuModel model =
          name == null ? null : NvmlInventory.catalogModel(name).orElse(null);
      made = new SlotMap(key, MigSlotDeducer.deduce(api, i, devices, model), true);
    }
    slotMaps.put(i, made);
    return made;
  }

  /** Forgets what depended on GPU {@code i}'s MIG mode, so it is checked again. */
  private void migModeChanged(int i, String uuid, int before, int now) {
    LOG.info("GPU {} ({}): MIG mode changed from {} to {}; windowed utilization and the MIG"
        + " mapping are checked again", i, uuid, before, now);
    samplesUnsupported.remove(i);
    lastSampleMicros.remove(i);
    slotMaps.remove(i);
    listingRefused.remove(i);
    reported.remove("samples#" + i);
    reported.remove("listing#" + i);
  }

  /**
   * The highest GPU-utilization sample since the previous pass ({@code nvmlDeviceGetSamples}), or
   * null when there is none (no new sample, not supported, disabled).
   */
  private @Nullable Integer windowedUtilization(int i) {
    if (!windowedUtilization || samplesUnsupported.contains(i)) {
      return null;
    }
    long last = lastSampleMicros.getOrDefault(i, 0L);
    List<NvmlApi.Sample> samples;
    try {
      samples = api.samples(i, NvmlApi.GPU_UTILIZATION_SAMPLES, last);
    } catch (NvmlException e) {
      if (e.is(NvmlReturn.ERROR_NOT_FOUND)) {
        return null;
      }
      if (notAvailable(e)) {
        samplesUnsupported.add(i);
        logOnce("samples#" + i, "GPU {}: windowed utilization (nvmlDeviceGetSamples) disabled,"
            + " using nvmlDeviceGetUtilizationRates: {}", i, e.getMessage());
        return null;
      }
      throw e;
    }
    if (samples.isEmpty()) {
      return null;
    }
    long newest = Long.MIN_VALUE;
    for (NvmlApi.Sample s : samples) {
      newest = Math.max(newest, s.timestampMicros());
    }
    lastSampleMicros.put(i, newest);
    // first pass: the driver's buffer reaches back many seconds; look back one period only
    long from = last == 0 ? newest - TimeUnit.NANOSECONDS.toMicros(period.toNanos()) : last;
    int max = 0;
    for (NvmlApi.Sample s : samples) {
      if (s.timestampMicros() >= from) {
        max = Math.max(max, percent((int) Math.min(Integer.MAX_VALUE, s.value())));
      }
    }
    return max;
  }

  /** Reads an optional value: null, with the reason logged once, when NVML cannot give it. */
  private <T> @Nullable T optional(int i, String what, Supplier<T> read) {
    try {
      return read.get();
    } catch (NvmlException e) {
      if (notAvailable(e)) {
        logOnce(what + "#" + i + "#" + e.code(), "GPU {}: {} not available: {}", i, what,
            e.getMessage());
        return null;
      }
      throw e;
    }
  }

  /**
   * Codes that make one reading unavailable rather than the device unreadable. INSUFFICIENT_SIZE
   * only comes from a list that kept growing over every sizing retry.
   */
  private static boolean notAvailable(NvmlException e) {
    return e.is(NvmlReturn.ERROR_NOT_SUPPORTED)
        || e.is(NvmlReturn.ERROR_INSUFFICIENT_SIZE)
        || e.is(NvmlReturn.ERROR_FUNCTION_NOT_FOUND)
        || e.is(NvmlReturn.ERROR_NO_PERMISSION);
  }

  private static @Nullable List<GpuProcess> processes(@Nullable List<NvmlApi.ProcessInfo> infos) {
    if (infos == null) {
      return null;
    }
    List<GpuProcess> out = new ArrayList<>(infos.size());
    for (NvmlApi.ProcessInfo p : infos) {
      out.add(new GpuProcess(p.pid(), p.usedGpuMemory() < 0 ? GpuSample.UNAVAILABLE
          : mib(p.usedGpuMemory())));
    }
    return out;
  }

  private static long mib(long bytes) {
    return bytes < 0 ? GpuSample.UNAVAILABLE : bytes >> 20;
  }

  private static int percent(int value) {
    return Math.max(0, Math.min(100, value));
  }

  private void logOnce(String key, String format, @Nullable Object... args) {
    if (reported.add(key)) {
      LOG.info(format, args);
    }
  }

  private void warnOnce(String key, String format, @Nullable Object... args) {
    if (reported.add(key)) {
      LOG.warn(format, args);
    }
  }

  /** Logs a sampler error, at most once per {@link #ERROR_LOG_INTERVAL}; the rest are counted. */
  private void reportError(String what, Throwable e) {
    synchronized (passLock) {
      long now = clock.millis();
      if (lastErrorLogMillis != Long.MIN_VALUE
          && now - lastErrorLogMillis < ERROR_LOG_INTERVAL.toMillis()) {
        suppressedErrors++;
        return;
      }
      lastErrorLogMillis = now;
      errorsLogged++;
      long suppressed = suppressedErrors;
      suppressedErrors = 0;
      LOG.warn("{} ({} similar errors not logged since the last one)", what, suppressed, e);
    }
  }

  /** Sampler errors logged so far (for tests). */
  long errorsReported() {
    synchronized (passLock) {
      return errorsLogged;
    }
  }

  /** Errors not logged since the last logged one (for tests). */
  long suppressedErrors() {
    synchronized (passLock) {
      return suppressedErrors;
    }
  }

  /** A device's samples, oldest first: at most {@code capacity}, none older than retention. */
  static final class History {
    private final int capacity;
    private final long retentionMillis;
    private final java.util.ArrayDeque<GpuSample> samples = new java.util.ArrayDeque<>();

    History(int capacity, long retentionMillis) {
      this.capacity = capacity;
      this.retentionMillis = retentionMillis;
    }

    synchronized void add(GpuSample s) {
      samples.addLast(s);
      long oldest = s.timestampMillis() - retentionMillis;
      while (samples.size() > capacity || samples.peekFirst().timestampMillis() < oldest) {
        samples.removeFirst();
      }
    }

    synchronized List<GpuSample> since(long sinceMillis) {
      List<GpuSample> out = new ArrayList<>();
      for (GpuSample s : samples) {
        if (s.timestampMillis() >= sinceMillis) {
          out.add(s);
        }
      }
      return List.copyOf(out);
    }
  }
}
