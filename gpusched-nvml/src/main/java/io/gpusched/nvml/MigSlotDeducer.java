package io.gpusched.nvml;

import io.gpusched.GpuModel;
import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Maps MIG devices to the placement start slots of their GPU instances <em>without</em> {@code
 * nvmlDeviceGetGpuInstances} (which needs a privileged user or the MIG-monitor capability), where
 * NVML's unprivileged answers force a single answer; never guesses.
 *
 * <p>Each GPU instance's profile comes from one of its MIG devices: {@code
 * nvmlDeviceGetAttributes_v2} gives its compute slices and memory, matched exactly against the
 * GPU-instance profiles ({@code nvmlDeviceGetGpuInstanceProfileInfo}, else the catalog model's
 * profiles). The profile's possible placements come from {@code
 * nvmlDeviceGetGpuInstancePossiblePlacements_v2} or, where that is refused, from the catalog model
 * (matched by profile id). Then every way to place all the instances without overlapping memory
 * slices is enumerated; an instance is mapped only when it has the same start in every one (a
 * {@code 4g.40gb} and a {@code 3g.40gb} on an H100: 0 and 4; two {@code 3g.40gb}: neither). A GPU
 * instance without a MIG device, unseen here, only removes placements, so a start forced without it
 * is forced with it too.
 */
final class MigSlotDeducer {
  /** Search nodes after which the enumeration gives up (and maps nothing). */
  static final int MAX_NODES = 200_000;

  private MigSlotDeducer() {}

  /**
   * Returns the start slot of each GPU instance whose start is forced.
   *
   * @param devices the GPU's MIG devices
   * @param model the GPU's catalog model, for placements NVML refuses, or null
   * @throws NvmlException for an NVML error other than an unavailable reading
   */
  static Map<Integer, Integer> deduce(
      NvmlApi api, int device, List<MigInstanceReader.MigDeviceRef> devices,
      @Nullable GpuModel model) {
    List<MigGeometryReader.IndexedProfile> profiles;
    try {
      profiles = MigGeometryReader.profilesOrThrow(api, device);
    } catch (NvmlException e) {
      if (!unavailable(e)) {
        throw e;
      }
      profiles = null;
    }
    Map<Integer, List<NvmlApi.Placement>> byGpuInstance = new LinkedHashMap<>();
    Map<Integer, List<NvmlApi.Placement>> placementsById = new HashMap<>();
    for (MigInstanceReader.MigDeviceRef d : devices) {
      if (byGpuInstance.containsKey(d.gpuInstanceId())) {
        continue;
      }
      NvmlApi.MigAttributes a;
      try {
        a = api.migAttributes(device, d.migIndex());
      } catch (NvmlException e) {
        if (!unavailable(e) && !e.is(NvmlReturn.ERROR_NOT_FOUND)) {
          throw e;
        }
        continue; // its instance stays unmapped; it cannot force the others wrongly
      }
      if (!a.uuid().equals(d.uuid())) {
        continue; // recreated since it was listed
      }
      List<NvmlApi.Placement> c =
          candidates(api, device, a, profiles, model, placementsById);
      if (!c.isEmpty()) {
        byGpuInstance.put(d.gpuInstanceId(), c);
      }
    }
    return forcedStarts(byGpuInstance);
  }

  private static List<NvmlApi.Placement> candidates(
      NvmlApi api, int device, NvmlApi.MigAttributes a,
      @Nullable List<MigGeometryReader.IndexedProfile> profiles, @Nullable GpuModel model,
      Map<Integer, List<NvmlApi.Placement>> placementsById) {
    MigGeometry geometry = model == null ? null : model.mig();
    Set<NvmlApi.Placement> out = new LinkedHashSet<>();
    if (profiles != null) {
      for (MigGeometryReader.IndexedProfile p : profiles) {
        NvmlApi.ProfileInfo info = p.info();
        if (info.sliceCount() == a.gpuInstanceSliceCount()
            && info.memorySizeMB() == a.memorySizeMB()) {
          List<NvmlApi.Placement> pl = placementsById.get(info.id());
          if (pl == null) {
            pl = placements(api, device, info.id(), geometry);
            placementsById.put(info.id(), pl);
          }
          out.addAll(pl);
        }
      }
    } else if (geometry != null) {
      for (MigProfile p : geometry.profiles()) {
        if (p.computeSlices() == a.gpuInstanceSliceCount() && p.memoryMiB() == a.memorySizeMB()) {
          out.addAll(fromCatalog(p));
        }
      }
    }
    return new ArrayList<>(out);
  }

  private static List<NvmlApi.Placement> placements(
      NvmlApi api, int device, int profileId, @Nullable MigGeometry geometry) {
    try {
      return api.possiblePlacements(device, profileId);
    } catch (NvmlException e) {
      if (!unavailable(e)) {
        throw e;
      }
    }
    if (geometry != null) {
      for (MigProfile p : geometry.profiles()) {
        if (p.profileId() == profileId) {
          return fromCatalog(p);
        }
      }
    }
    return List.of();
  }

  private static List<NvmlApi.Placement> fromCatalog(MigProfile p) {
    List<NvmlApi.Placement> out = new ArrayList<>();
    for (int start : p.placementStarts()) {
      out.add(new NvmlApi.Placement(start, p.memorySlices()));
    }
    return out;
  }

  /**
   * The starts that are the same in every non-overlapping placement of all the instances; empty
   * when there is none (inconsistent answers) or the search is too large.
   */
  static Map<Integer, Integer> forcedStarts(Map<Integer, List<NvmlApi.Placement>> byGpuInstance) {
    List<Integer> ids = new ArrayList<>(byGpuInstance.keySet());
    List<Set<Integer>> seen = new ArrayList<>();
    for (int k = 0; k < ids.size(); k++) {
      seen.add(new LinkedHashSet<>());
    }
    int[] chosen = new int[ids.size()];
    int[] nodes = {0};
    boolean any = search(ids, byGpuInstance, 0, 0L, chosen, seen, nodes);
    Map<Integer, Integer> out = new LinkedHashMap<>();
    if (!any || nodes[0] > MAX_NODES) {
      return out;
    }
    for (int k = 0; k < ids.size(); k++) {
      if (seen.get(k).size() == 1) {
        out.put(ids.get(k), seen.get(k).iterator().next());
      }
    }
    return out;
  }

  private static boolean search(List<Integer> ids, Map<Integer, List<NvmlApi.Placement>> c,
      int k, long used, int[] chosen, List<Set<Integer>> seen, int[] nodes) {
    if (++nodes[0] > MAX_NODES) {
      return false;
    }
    if (k == ids.size()) {
      for (int j = 0; j < k; j++) {
        seen.get(j).add(chosen[j]);
      }
      return true;
    }
    boolean any = false;
    for (NvmlApi.Placement p : java.util.Objects.requireNonNull(c.get(ids.get(k)), "ids are keys of c")) {
      if (p.start() < 0 || p.size() <= 0 || p.start() + p.size() > 63) {
        continue;
      }
      long mask = ((1L << p.size()) - 1) << p.start();
      if ((used & mask) != 0) {
        continue;
      }
      chosen[k] = p.start();
      any |= search(ids, c, k + 1, used | mask, chosen, seen, nodes);
    }
    return any;
  }

  private static boolean unavailable(NvmlException e) {
    return e.is(NvmlReturn.ERROR_NOT_SUPPORTED)
        || e.is(NvmlReturn.ERROR_FUNCTION_NOT_FOUND)
        || e.is(NvmlReturn.ERROR_NO_PERMISSION);
  }
}
