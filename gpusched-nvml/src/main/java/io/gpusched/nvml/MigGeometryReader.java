package io.gpusched.nvml;

import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link MigGeometry} from NVML's GPU-instance profiles and their possible placements.
 * Profiles are enumerated by profile <em>index</em> from 0 until NVML answers {@code
 * INVALID_ARGUMENT}, as {@code nvml.h} advises; placements are asked by profile <em>id</em>.
 */
final class MigGeometryReader {
  private static final Logger LOG = LoggerFactory.getLogger(MigGeometryReader.class);

  /** Upper bound on profile indices tried, in case a driver never answers INVALID_ARGUMENT. */
  static final int MAX_PROFILE_INDEX = 64;

  private MigGeometryReader() {}

  /**
   * Reads the geometry of one GPU.
   *
   * @return the geometry, or null when NVML cannot give it (a needed function is missing, the
   *     caller lacks permission, or no profile has a placement); the reason is logged
   * @throws NvmlException for any other NVML error, e.g. {@code GPU_IS_LOST}
   */
  static @Nullable MigGeometry read(NvmlApi api, int device, long totalMemoryBytes) {
    List<IndexedProfile> indexed = profiles(api, device, "MIG geometry");
    if (indexed == null) {
      return null;
    }
    List<MigProfile> profiles = new ArrayList<>();
    var names = new HashSet<String>();
    for (IndexedProfile ip : indexed) {
      int index = ip.index();
      NvmlApi.ProfileInfo info = ip.info();
      List<NvmlApi.Placement> placements;
      try {
        placements = api.possiblePlacements(device, info.id());
      } catch (NvmlException e) {
        if (e.is(NvmlReturn.ERROR_NOT_SUPPORTED)) {
          continue;
        }
        if (disablesGeometry(e)) {
          LOG.info("GPU {}: MIG placements not read from NVML: {}", device, e.getMessage());
          return null;
        }
        throw e;
      }
      MigProfile p = toProfile(device, index, info, placements, totalMemoryBytes);
      if (p != null) {
        if (names.add(p.name())) {
          profiles.add(p);
        } else {
          LOG.warn("GPU {}: second MIG profile named {} (index {}) ignored", device, p.name(), index);
        }
      }
    }
    if (profiles.isEmpty()) {
      LOG.info("GPU {}: NVML reported no usable MIG profile", device);
      return null;
    }
    int compute = profiles.stream().mapToInt(MigProfile::computeSlices).max().orElseThrow();
    int memory = 0;
    for (MigProfile p : profiles) {
      memory = Math.max(memory, p.placementStarts().get(p.placementStarts().size() - 1)
          + p.memorySlices());
    }
    profiles.sort(
        Comparator.comparingInt(MigProfile::computeSlices)
            .thenComparingInt(MigProfile::memorySlices)
            .thenComparing(MigProfile::name));
    return new MigGeometry(compute, memory, profiles);
  }

  /** A GPU-instance profile with the profile index it was read under. */
  record IndexedProfile(int index, NvmlApi.ProfileInfo info) {}

  /**
   * Enumerates the GPU-instance profiles of a GPU by profile index from 0 until NVML answers
   * {@code INVALID_ARGUMENT}, skipping {@code NOT_SUPPORTED} indices and profiles without slices,
   * instances or memory.
   *
   * @param what what the profiles are read for, for the log
   * @return the profiles, or null when a function is missing or the caller lacks permission (logged)
   * @throws NvmlException for any other NVML error
   */
  static @Nullable List<IndexedProfile> profiles(NvmlApi api, int device, String what) {
    try {
      return profilesOrThrow(api, device);
    } catch (NvmlException e) {
      if (disablesGeometry(e)) {
        LOG.info("GPU {}: {} not read from NVML: {}", device, what, e.getMessage());
        return null;
      }
      throw e;
    }
  }

  /**
   * As {@link #profiles}, but a missing function or a refused permission is thrown, not logged.
   *
   * @throws NvmlException for any NVML error but {@code NOT_SUPPORTED} and {@code INVALID_ARGUMENT}
   */
  static List<IndexedProfile> profilesOrThrow(NvmlApi api, int device) {
    List<IndexedProfile> out = new ArrayList<>();
    for (int index = 0; index < MAX_PROFILE_INDEX; index++) {
      NvmlApi.ProfileInfo info;
      try {
        info = api.gpuInstanceProfile(device, index);
      } catch (NvmlException e) {
        if (e.is(NvmlReturn.ERROR_NOT_SUPPORTED)) {
          continue;
        }
        if (e.is(NvmlReturn.ERROR_INVALID_ARGUMENT)) {
          break;
        }
        throw e;
      }
      if (info.instanceCount() > 0 && info.sliceCount() > 0 && info.memorySizeMB() > 0) {
        out.add(new IndexedProfile(index, info));
      }
    }
    return out;
  }

  static boolean disablesGeometry(NvmlException e) {
    return e.is(NvmlReturn.ERROR_FUNCTION_NOT_FOUND) || e.is(NvmlReturn.ERROR_NO_PERMISSION);
  }

  private static @Nullable MigProfile toProfile(
      int device,
      int index,
      NvmlApi.ProfileInfo info,
      List<NvmlApi.Placement> placements,
      long totalMemoryBytes) {
    String name = profileName(index, info.sliceCount(), info.memorySizeMB(), totalMemoryBytes);
    if (placements.isEmpty()) {
      LOG.debug("GPU {}: MIG profile {} (id {}) has no placement, skipped", device, name, info.id());
      return null;
    }
    int size = placements.get(0).size();
    var starts = new TreeSet<Integer>();
    for (NvmlApi.Placement pl : placements) {
      if (pl.size() != size || pl.size() <= 0 || pl.start() < 0) {
        LOG.warn("GPU {}: MIG profile {} has uneven placements {}, skipped", device, name, placements);
        return null;
      }
      starts.add(pl.start());
    }
    if (starts.last() + size > MigGeometry.MAX_SLICES) {
      LOG.warn("GPU {}: MIG profile {} runs past {} slices, skipped", device, name,
          MigGeometry.MAX_SLICES);
      return null;
    }
    return new MigProfile(
        name,
        info.id(),
        info.sliceCount(),
        size,
        info.memorySizeMB(),
        Math.max(1, info.multiprocessorCount()),
        info.instanceCount(),
        List.copyOf(starts));
  }

  /**
   * Names a GPU-instance profile as NVIDIA tooling does (go-nvlib {@code getMigMemorySizeGB}): the
   * memory fraction rounded up to eighths, times the device memory in whole GiB rounded up, rounded
   * to the nearest GB; plus a suffix from the profile index ({@code +me}, {@code +me.all}, {@code
   * +gfx}, {@code -me}). NVML leaves the name empty while MIG is disabled, so it is always derived.
   */
  static String profileName(int profileIndex, int computeSlices, long memoryMB, long totalBytes) {
    double fraction = (double) memoryMB * (1L << 20) / totalBytes;
    double eighths = Math.ceil(fraction * 8) / 8;
    long totalGiB = (totalBytes + (1L << 30) - 1) >> 30;
    long gb = Math.round(eighths * totalGiB);
    return computeSlices + "g." + gb + "gb" + suffix(profileIndex);
  }

  private static String suffix(int profileIndex) {
    return switch (profileIndex) {
      case 0x07, 0x08 -> "+me";
      case 0x0A, 0x0B, 0x0C, 0x11 -> "+gfx";
      case 0x0D, 0x0E -> "-me";
      case 0x0F, 0x10 -> "+me.all";
      default -> "";
    };
  }
}
