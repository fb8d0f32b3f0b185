package io.gpusched.nvml;

import io.gpusched.nvml.NvmlApi.GpuInstance;
import io.gpusched.nvml.NvmlApi.MigMode;
import io.gpusched.nvml.NvmlApi.Placement;
import io.gpusched.nvml.NvmlApi.ProfileInfo;

/** Fake GPUs with the values real hardware reported (shared/reference/*.json, nvml-abi.md). */
final class FakeGpus {
  private FakeGpus() {}

  static final long H100_TOTAL = 85520809984L;
  static final long H200_TOTAL = 150754820096L;
  static final String H100_UUID = "GPU-b528261b-902b-d458-5759-fa6b18eded38";

  static Placement[] starts(int size, int... starts) {
    Placement[] p = new Placement[starts.length];
    for (int i = 0; i < starts.length; i++) {
      p[i] = new Placement(starts[i], size);
    }
    return p;
  }

  /** The H100 80GB HBM3 of h100-nvml-probe.json (MIG mode as given). */
  static FakeNvmlApi.Device h100(int migCurrent, int migPending) {
    return hopper(
        "NVIDIA H100 80GB HBM3", H100_UUID, H100_TOTAL, migCurrent, migPending,
        new long[] {9984, 20096, 20096, 40448, 40448, 81152},
        new int[] {16, 26, 32, 60, 64, 132});
  }

  /** The NVIDIA H200 of nvml-abi.md A.6 (NVML sizes, which differ from the catalog's nominal). */
  static FakeNvmlApi.Device h200(int migCurrent) {
    return hopper(
        "NVIDIA H200", "GPU-00000000-0000-0000-0000-0000000000c8", H200_TOTAL, migCurrent,
        migCurrent, new long[] {16384, 33280, 33280, 71424, 71424, 143360},
        new int[] {16, 26, 32, 60, 64, 132});
  }

  /**
   * A Hopper-style GPU: profile indices 0..4, 7, 9 with ids 19, 14, 9, 5, 0, 20, 15.
   *
   * @param mem MiB of 1g, 1g(2x mem), 2g, 3g, 4g, 7g
   * @param sm SMs of the same six
   */
  static FakeNvmlApi.Device hopper(
      String name, String uuid, long total, int migCurrent, int migPending, long[] mem, int[] sm) {
    return new FakeNvmlApi.Device(name, uuid, "00000000:00:06.0", total,
            new MigMode(migCurrent, migPending))
        .profile(0, new ProfileInfo(19, 1, 7, sm[0], mem[0]), starts(1, 0, 1, 2, 3, 4, 5, 6))
        .profile(1, new ProfileInfo(14, 2, 3, sm[2], mem[2]), starts(2, 0, 2, 4))
        .profile(2, new ProfileInfo(9, 3, 2, sm[3], mem[3]), starts(4, 0, 4))
        .profile(3, new ProfileInfo(5, 4, 1, sm[4], mem[4]), starts(4, 0))
        .profile(4, new ProfileInfo(0, 7, 1, sm[5], mem[5]), starts(8, 0))
        .profile(7, new ProfileInfo(20, 1, 1, sm[0], mem[0]), starts(1, 0, 1, 2, 3, 4, 5, 6))
        .profile(9, new ProfileInfo(15, 1, 4, sm[1], mem[1]), starts(2, 0, 2, 4, 6));
  }

  /** A GPU without MIG and not in the catalog. */
  static FakeNvmlApi.Device l40s() {
    return new FakeNvmlApi.Device(
        "NVIDIA L40S", "GPU-11111111-2222-3333-4444-555555555555", "00000000:41:00.0",
        48305799168L, null);
  }

  static final String MIG_3G = "MIG-3g000000-0000-0000-0000-000000000002";
  static final String MIG_2G = "MIG-2g000000-0000-0000-0000-000000000003";
  static final String MIG_1G = "MIG-1g000000-0000-0000-0000-000000000007";

  /**
   * An H100 with MIG enabled and three instances: 1g.10gb (GI 7) at 0:1, 2g.20gb (GI 3) at 2:2,
   * 3g.40gb (GI 2) at 4:4. MIG device indices: 0 = the 3g, 1 = a hole, 2 = the 2g, 3 = the 1g.
   */
  static FakeNvmlApi.Device h100WithMigInstances() {
    return h100(1, 1)
        .instance(new GpuInstance(7, 19, 0, 1))
        .instance(new GpuInstance(3, 14, 2, 2))
        .instance(new GpuInstance(2, 9, 4, 4))
        .mig(new FakeNvmlApi.MigDevice(MIG_3G, 2, 40448L << 20, 21L << 20).attributes(3, 40448))
        .mig(null)
        .mig(new FakeNvmlApi.MigDevice(MIG_2G, 3, 20096L << 20, 13L << 20).attributes(2, 20096))
        .mig(new FakeNvmlApi.MigDevice(MIG_1G, 7, 9984L << 20, 5L << 20).attributes(1, 9984));
  }
}
