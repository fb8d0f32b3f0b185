package io.gpusched.nvml;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MIG instances made to order for {@link ProcessLauncher}: for each {@link GpuMode#MIG_DYNAMIC}
 * GPU of a run's allocations, the GPU instance at exactly the allocated placement (profile and
 * start slot; {@code nvmlDeviceCreateGpuInstanceWithPlacement}) and a compute instance filling it,
 * made before the process starts and destroyed (compute instance, then GPU instance) when the run
 * ends, before the job is reported and its GPUs freed.
 *
 * <p><b>Ownership.</b> Only instances this manager created are ever destroyed. An instance already
 * at the placement with the profile is reused: if this manager created it (for an earlier run whose
 * destroy has not happened or failed) the new run takes it over and destroys it at its end;
 * otherwise it is foreign and never touched. A failure to create fails the start with NVML's error
 * name (the GPU instance made before a failed compute instance is destroyed again); a failure to
 * destroy is logged with it and the instance stays owned (the next run at that placement reuses
 * it, and its end tries again). The instances a run holds are also listed beside its log (a
 * {@code .mig} file), so that a launcher reconciling the job after a restart takes them over
 * ({@link #adopt}): it destroys them when the re-attached process ends, or at once when the
 * process is gone.
 *
 * <p><b>Fallback.</b> Creating instances needs MIG mode and a privileged user. {@link #start}
 * checks both once (a GPU with MIG enabled, and {@code
 * nvmlDeviceGetGpuInstancePossiblePlacements_v2}, a privileged query, allowed on it); without them
 * it says so once in the log and makes nothing: MIG jobs then use existing instances only, as on
 * {@code MIG_STATIC} GPUs.
 *
 * <p>Thread-safe: NVML changes are made one at a time (this object's lock); ownership is a
 * concurrent map.
 */
final class MigInstanceManager {
  private static final Logger log = LoggerFactory.getLogger(MigInstanceManager.class);

  private final NvmlApi api;
  private final @Nullable String disabledReason;
  private final Object nvmlLock = new Object();

  /** Instances this manager created, by {@code <GPU UUID>/<GPU instance id>}. */
  private final Map<String, Owned> owned = new ConcurrentHashMap<>();

  /**
   * One GPU instance this manager created, held by one run.
   *
   * @param computeInstanceId its compute instance, or -1 when none is left to destroy
   * @param holder the run that destroys it at its end; null for one left by a failed start
   */
  record Owned(
      String gpuUuid, int gpuInstanceId, int computeInstanceId, @Nullable ProcessRun holder) {
    String holderId() {
      return holder == null ? "(none)" : holder.job.id();
    }
  }

  private MigInstanceManager(NvmlApi api, @Nullable String disabledReason) {
    this.api = api;
    this.disabledReason = disabledReason;
  }

  /**
   * Checks once whether instances can be made here and logs why not (once).
   *
   * @param api the NVML seam
   */
  static MigInstanceManager start(NvmlApi api) {
    String reason = probe(api);
    if (reason != null) {
      log.warn("MIG instances will not be created for MIG_DYNAMIC jobs: {}; MIG jobs use existing"
          + " instances only (MIG_STATIC behaviour)", reason);
    } else {
      log.info("MIG instances are created for MIG_DYNAMIC jobs and destroyed when they end");
    }
    return new MigInstanceManager(api, reason);
  }

  /** Why instances are not made here, or null when they are. */
  @Nullable String disabledReason() {
    return disabledReason;
  }

  private static @Nullable String probe(NvmlApi api) {
    try {
      api.init();
    } catch (NvmlException e) {
      return "NVML cannot be initialised (" + e.codeName() + ")";
    }
    try {
      int count = api.deviceCount();
      for (int i = 0; i < count; i++) {
        NvmlApi.MigMode mode;
        try {
          mode = api.migMode(i);
        } catch (NvmlException e) {
          continue; // not MIG-capable, or not readable: not a GPU to make instances on
        }
        if (!mode.enabled()) {
          continue;
        }
        List<MigGeometryReader.IndexedProfile> profiles = MigGeometryReader.profilesOrThrow(api, i);
        if (profiles.isEmpty()) {
          continue;
        }
        try {
          api.possiblePlacements(i, profiles.get(0).info().id());
        } catch (NvmlException e) {
          if (e.is(NvmlReturn.ERROR_NO_PERMISSION)) {
            return "NVML refuses MIG changes to this user (" + e.codeName() + " from "
                + e.function() + "; creating instances needs root)";
          }
          return "NVML answers " + e.codeName() + " from " + e.function();
        }
        return null;
      }
      return "no GPU has MIG mode enabled";
    } catch (NvmlException e) {
      return "NVML answers " + e.codeName() + " from " + e.function();
    } finally {
      shutdownQuietly(api);
    }
  }

  /**
   * Makes (or finds) the instance of every {@code MIG_DYNAMIC} GPU of the run's allocations. On a
   * failure, what this call made is destroyed again before it throws.
   *
   * @throws IllegalStateException naming the instance and NVML's error
   */
  void prepare(ProcessRun run, List<Allocation> allocations) {
    if (disabledReason != null) {
      return;
    }
    for (Allocation a : allocations) {
      for (AllocatedGpu g : a.gpus()) {
        if (g.mode() != GpuMode.MIG_DYNAMIC || g.migProfile() == null) {
          continue;
        }
        try {
          ensure(run, g);
        } catch (RuntimeException e) {
          release(run);
          throw e;
        }
      }
    }
  }

  private static String where(AllocatedGpu g) {
    return "MIG " + g.migProfile() + " at slot " + g.migStartSlot() + " on " + g.gpuUuid();
  }

  private static IllegalStateException failed(AllocatedGpu g, String what, NvmlException e) {
    return new IllegalStateException(
        where(g) + ": " + what + " failed: " + e.codeName() + " from " + e.function(), e);
  }

  private void ensure(ProcessRun run, AllocatedGpu g) {
    synchronized (nvmlLock) {
      try {
        api.init();
      } catch (NvmlException e) {
        throw failed(g, "NVML init", e);
      }
      try {
        int index = indexOf(g.gpuUuid());
        MigGeometryReader.IndexedProfile profile = profile(index, g);
        NvmlApi.ProfileInfo info = profile.info();
        for (NvmlApi.GpuInstance gi : api.gpuInstances(index, info.id(), info.instanceCount())) {
          if (gi.start() == g.migStartSlot()) {
            reuse(run, g, gi, index, info);
            return;
          }
        }
        NvmlApi.Placement placement =
            api.possiblePlacements(index, info.id()).stream()
                .filter(p -> p.start() == g.migStartSlot())
                .findFirst()
                .orElseThrow(
                    () -> new IllegalStateException(
                        where(g) + ": slot " + g.migStartSlot() + " is not a placement NVML"
                            + " offers for profile id " + info.id()));
        NvmlApi.GpuInstance gi;
        try {
          gi = api.createGpuInstance(index, info.id(), placement);
        } catch (NvmlException e) {
          throw failed(g, "creating its GPU instance", e);
        }
        int ci;
        try {
          ci = api.createComputeInstance(index, gi.id(), computeProfileIndex(info.sliceCount()));
        } catch (NvmlException e) {
          undo(g, index, gi, e);
          throw failed(g, "creating its compute instance", e);
        }
        String key = key(g.gpuUuid(), gi.id());
        owned.put(key, new Owned(g.gpuUuid(), gi.id(), ci, run));
        run.migInstances.add(key);
        record(run);
        log.info("job {}: created {} (GPU instance {}, compute instance {})", run.job.id(),
            where(g), gi.id(), ci);
      } catch (NvmlException e) {
        throw failed(g, "reading its GPU", e);
      } finally {
        shutdownQuietly();
      }
    }
  }

  private void reuse(
      ProcessRun run, AllocatedGpu g, NvmlApi.GpuInstance gi, int index, NvmlApi.ProfileInfo info) {
    String key = key(g.gpuUuid(), gi.id());
    Owned before = owned.get(key);
    if (before == null) {
      log.info("job {}: {} exists already (GPU instance {}, not created by gpusched): used, never"
          + " destroyed", run.job.id(), where(g), gi.id());
      return;
    }
    int ci = before.computeInstanceId();
    if (ci < 0) { // ours, left without its compute instance by a failed destroy: make it again
      try {
        ci = api.createComputeInstance(index, gi.id(), computeProfileIndex(info.sliceCount()));
      } catch (NvmlException e) {
        throw failed(g, "creating its compute instance", e);
      }
    }
    owned.put(key, new Owned(before.gpuUuid(), before.gpuInstanceId(), ci, run));
    run.migInstances.add(key);
    record(run);
    log.info("job {}: {} reused (GPU instance {}, created by gpusched for job {})", run.job.id(),
        where(g), gi.id(), before.holderId());
  }

  /** Destroys a GPU instance whose compute instance could not be made. */
  private void undo(AllocatedGpu g, int index, NvmlApi.GpuInstance gi, NvmlException cause) {
    try {
      api.destroyGpuInstance(index, gi.id());
    } catch (NvmlException e) {
      String key = key(g.gpuUuid(), gi.id());
      // still ours: a later run at this placement reuses it, and its end destroys it
      owned.put(key, new Owned(g.gpuUuid(), gi.id(), -1, null));
      log.warn("{}: destroying GPU instance {} after {} failed: {} from {}", where(g), gi.id(),
          cause.codeName(), e.codeName(), e.function());
    }
  }

  /**
   * Destroys the instances the run holds (compute instance, then GPU instance), unless another run
   * took them over. Never throws; a failure is logged with NVML's error name.
   */
  void release(ProcessRun run) {
    List<String> keys = new ArrayList<>(run.migInstances);
    run.migInstances.clear();
    if (keys.isEmpty()) {
      return;
    }
    for (String key : keys) {
      synchronized (nvmlLock) { // checked under the lock: a take-over (ensure) holds it too
        Owned o = owned.get(key);
        if (o == null || o.holder() != run) {
          continue; // taken over by a later run
        }
        destroy(key, o);
      }
    }
    List<String> left = new ArrayList<>();
    for (String key : keys) {
      Owned o = owned.get(key);
      if (o != null && o.holder() == run) {
        left.add(key);
      }
    }
    write(run, left);
  }

  /** The file beside a run's log listing the instances it holds, so a restart can adopt them. */
  private static Path ownershipFile(ProcessRun run) {
    return RunFiles.sibling(run.logFile, ".mig");
  }

  private void record(ProcessRun run) {
    write(run, run.migInstances);
  }

  private void write(ProcessRun run, List<String> keys) {
    Path f = ownershipFile(run);
    try {
      if (keys.isEmpty()) {
        Files.deleteIfExists(f);
        return;
      }
      StringBuilder text = new StringBuilder();
      for (String key : keys) {
        Owned o = owned.get(key);
        if (o != null) {
          text.append(o.gpuUuid()).append(' ').append(o.gpuInstanceId()).append(' ')
              .append(o.computeInstanceId()).append('\n');
        }
      }
      Files.writeString(f, text);
    } catch (IOException e) {
      log.warn("job {}: cannot record its MIG instances in {}", run.job.id(), f, e);
    }
  }

  /**
   * After a restart: takes over the instances an earlier launcher recorded for this run (the
   * {@code .mig} file beside its log), so that the run's end destroys them. Instances this
   * launcher already owns are left to their holder. Returns how many were adopted.
   */
  int adopt(ProcessRun run) {
    Path f = ownershipFile(run);
    if (!Files.exists(f)) {
      return 0;
    }
    int n = 0;
    try {
      for (String line : Files.readAllLines(f)) {
        String[] p = line.strip().split(" ", -1);
        if (p.length != 3) {
          continue;
        }
        String key = key(p[0], Integer.parseInt(p[1]));
        if (owned.putIfAbsent(key, new Owned(p[0], Integer.parseInt(p[1]),
            Integer.parseInt(p[2]), run)) == null) {
          run.migInstances.add(key);
          n++;
        }
      }
    } catch (IOException | NumberFormatException e) {
      log.warn("job {}: cannot read its MIG instances from {}", run.job.id(), f, e);
    }
    if (n > 0) {
      log.info("job {}: took over {} MIG instance(s) recorded before the restart", run.job.id(), n);
    }
    return n;
  }

  private void destroy(String key, Owned o) {
    String what = "GPU instance " + o.gpuInstanceId() + " on " + o.gpuUuid();
    try {
      api.init();
    } catch (NvmlException e) {
      log.warn("job {}: cannot destroy {}: {} from {}", o.holderId(), what, e.codeName(),
          e.function());
      return;
    }
    try {
      int index = indexOf(o.gpuUuid());
      Owned now = o;
      if (o.computeInstanceId() >= 0) {
        api.destroyComputeInstance(index, o.gpuInstanceId(), o.computeInstanceId());
        now = new Owned(o.gpuUuid(), o.gpuInstanceId(), -1, o.holder());
        owned.replace(key, o, now);
      }
      api.destroyGpuInstance(index, o.gpuInstanceId());
      owned.remove(key, now);
      log.info("job {}: destroyed {}", o.holderId(), what);
    } catch (NvmlException | IllegalStateException e) {
      String code = e instanceof NvmlException n ? n.codeName() + " from " + n.function()
          : e.getMessage();
      log.warn("job {}: destroying {} failed: {}; it stays (reused by the next job at that"
          + " placement, destroyed at its end)", o.holderId(), what, code);
    } finally {
      shutdownQuietly();
    }
  }

  /** Whether this manager holds (created and has not destroyed) the GPU instance. */
  boolean owns(String gpuUuid, int gpuInstanceId) {
    return owned.containsKey(key(gpuUuid, gpuInstanceId));
  }

  private static String key(String gpuUuid, int gpuInstanceId) {
    return gpuUuid + "/" + gpuInstanceId;
  }

  private int indexOf(String uuid) {
    int count = api.deviceCount();
    for (int i = 0; i < count; i++) {
      try {
        if (api.uuid(i).equals(uuid)) {
          return i;
        }
      } catch (NvmlException e) {
        if (!e.is(NvmlReturn.ERROR_NO_PERMISSION)) {
          throw e;
        }
      }
    }
    throw new IllegalStateException("NVML has no GPU " + uuid);
  }

  /** The GPU-instance profile whose derived name is the allocation's profile. */
  private MigGeometryReader.IndexedProfile profile(int index, AllocatedGpu g) {
    long total = api.memoryInfo(index).total();
    for (MigGeometryReader.IndexedProfile p : MigGeometryReader.profilesOrThrow(api, index)) {
      String name = MigGeometryReader.profileName(
          p.index(), p.info().sliceCount(), p.info().memorySizeMB(), total);
      if (name.equals(g.migProfile())) {
        return p;
      }
    }
    throw new IllegalStateException(where(g) + ": NVML has no GPU instance profile of that name");
  }

  /**
   * The compute-instance profile index ({@code NVML_COMPUTE_INSTANCE_PROFILE_*}) whose slices fill
   * a GPU instance of {@code slices} compute slices.
   */
  static int computeProfileIndex(int slices) {
    return switch (slices) {
      case 1 -> 0x0;
      case 2 -> 0x1;
      case 3 -> 0x2;
      case 4 -> 0x3;
      case 7 -> 0x4;
      case 8 -> 0x5;
      case 6 -> 0x6;
      default -> throw new IllegalStateException(
          "no compute instance profile fills a GPU instance of " + slices + " slices");
    };
  }

  private void shutdownQuietly() {
    shutdownQuietly(api);
  }

  private static void shutdownQuietly(NvmlApi api) {
    try {
      api.shutdown();
    } catch (NvmlException e) {
      log.warn("nvmlShutdown failed", e);
    }
  }
}
