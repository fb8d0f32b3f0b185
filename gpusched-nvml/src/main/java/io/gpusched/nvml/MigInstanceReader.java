package io.gpusched.nvml;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the MIG GPU instances that exist on a GPU and the MIG devices on them. GPU instances are
 * listed per profile <em>id</em> ({@code nvmlDeviceGetGpuInstances}, room for the profile's
 * instance count); MIG devices by MIG device index from 0 to {@code
 * nvmlDeviceGetMaxMigDeviceCount} - 1, skipping the holes ({@code NOT_FOUND}).
 */
final class MigInstanceReader {
  private static final Logger LOG = LoggerFactory.getLogger(MigInstanceReader.class);

  private MigInstanceReader() {}

  /**
   * A MIG device: its MIG device index on the GPU, UUID and GPU instance id (the last two read
   * through one handle).
   */
  record MigDeviceRef(int migIndex, String uuid, int gpuInstanceId) {}

  /**
   * Lists the MIG devices of a GPU ({@code []} when MIG is disabled).
   *
   * @throws NvmlException on any NVML error other than a hole in the index space
   */
  static List<MigDeviceRef> migDevices(NvmlApi api, int device) {
    int max = api.maxMigDeviceCount(device);
    List<MigDeviceRef> out = new ArrayList<>();
    for (int m = 0; m < max; m++) {
      try {
        NvmlApi.MigDeviceInfo info = api.migDevice(device, m);
        out.add(new MigDeviceRef(m, info.uuid(), info.gpuInstanceId()));
      } catch (NvmlException e) {
        if (!e.is(NvmlReturn.ERROR_NOT_FOUND)) {
          throw e;
        }
      }
    }
    return out;
  }

  /**
   * Reads the existing GPU instances of a GPU, ordered by placement start.
   *
   * @param totalMemoryBytes the GPU's memory, to name the profiles
   * @return the instances (empty when there are none), or null when NVML cannot list them (a
   *     function missing or no permission; logged)
   * @throws NvmlException for any other NVML error, e.g. {@code GPU_IS_LOST}
   */
  static @Nullable List<NvmlMigInstance> read(NvmlApi api, int device, long totalMemoryBytes) {
    List<Existing> existing = existing(api, device);
    if (existing == null) {
      return null;
    }
    Map<Integer, List<String>> uuids = new HashMap<>();
    for (MigDeviceRef d : migDevices(api, device)) {
      uuids.computeIfAbsent(d.gpuInstanceId(), k -> new ArrayList<>()).add(d.uuid());
    }
    List<NvmlMigInstance> out = new ArrayList<>();
    for (Existing e : existing) {
      NvmlApi.ProfileInfo info = e.profile().info();
      String name = MigGeometryReader.profileName(
          e.profile().index(), info.sliceCount(), info.memorySizeMB(), totalMemoryBytes);
      NvmlApi.GpuInstance gi = e.instance();
      out.add(new NvmlMigInstance(gi.id(), gi.profileId(), name, gi.start(), gi.size(),
          uuids.getOrDefault(gi.id(), List.of())));
    }
    out.sort(Comparator.comparingInt(NvmlMigInstance::placementStart));
    return List.copyOf(out);
  }

  /** An existing GPU instance with the profile it was listed under. */
  record Existing(MigGeometryReader.IndexedProfile profile, NvmlApi.GpuInstance instance) {}

  /**
   * Lists the existing GPU instances of a GPU, profile by profile.
   *
   * @return the instances, or null when NVML cannot list them (a function missing or no
   *     permission; logged)
   * @throws NvmlException for any other NVML error
   */
  static @Nullable List<Existing> existing(NvmlApi api, int device) {
    Listing l = list(api, device);
    if (l.refusal() != null) {
      LOG.info("GPU {}: existing MIG instances not read from NVML: {}", device,
          l.refusal().getMessage());
    }
    return l.instances();
  }

  /**
   * The existing GPU instances, or why NVML refused to list them.
   *
   * @param instances the instances, or null when refused
   * @param refusal the refusal (a function missing, or {@code NO_PERMISSION}: {@code
   *     nvmlDeviceGetGpuInstances} needs a privileged user or the MIG-monitor capability), or null
   */
  record Listing(@Nullable List<Existing> instances, @Nullable NvmlException refusal) {}

  /**
   * As {@link #existing}, without logging: a refusal is returned for the caller to report once.
   *
   * @throws NvmlException for any NVML error other than a missing function or permission
   */
  static Listing list(NvmlApi api, int device) {
    List<Existing> out = new ArrayList<>();
    try {
      for (MigGeometryReader.IndexedProfile p : MigGeometryReader.profilesOrThrow(api, device)) {
        for (NvmlApi.GpuInstance gi :
            api.gpuInstances(device, p.info().id(), p.info().instanceCount())) {
          out.add(new Existing(p, gi));
        }
      }
    } catch (NvmlException e) {
      if (MigGeometryReader.disablesGeometry(e)) {
        return new Listing(null, e);
      }
      throw e;
    }
    return new Listing(out, null);
  }
}
