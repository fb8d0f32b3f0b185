package io.gpusched;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The built-in catalog of GPU models and their MIG geometry.
 *
 * <p>{@link #H100_80GB} is exactly what {@code nvidia-smi mig -lgip} / {@code -lgipp} and NVML
 * reported on a real H100 80GB HBM3 (driver 580.159.04): profile ids, SMs, memory sizes and
 * placements. The other models carry the profile names, instance counts and placements of NVIDIA's
 * MIG user guide, with memory sizes as nominal MiB; where NVML is available the geometry it reports
 * at run time takes precedence (see the {@code gpusched-nvml} module). Profile <em>ids</em> differ
 * between chips and are kept per model, never shared.
 *
 * <p>Thread-safe: all fields are immutable.
 */
public final class GpuModels {
  private GpuModels() {}

  // Placements on the 8-memory-slice chips (A100, H100, H200, B200) are the same; sizes differ.
  private static final List<Integer> ANY_OF_7 = List.of(0, 1, 2, 3, 4, 5, 6);
  private static final List<Integer> EVEN_4 = List.of(0, 2, 4, 6);
  private static final List<Integer> EVEN_3 = List.of(0, 2, 4);
  private static final List<Integer> HALVES = List.of(0, 4);
  private static final List<Integer> FIRST = List.of(0);

  /**
   * Builds the geometry shared by A100, H100, H200 and B200: 7 compute and 8 memory slices.
   *
   * @param sm SMs of the 1g, 1g-double-memory, 2g, 3g, 4g and 7g profiles
   * @param mem MiB of the same six profiles
   * @param names the six profile names; the media-extension profile is {@code names[0] + "+me"}
   */
  private static MigGeometry sevenSlice(String[] names, int[] sm, long[] mem) {
    return new MigGeometry(
        7,
        8,
        List.of(
            new MigProfile(names[0], 19, 1, 1, mem[0], sm[0], 7, ANY_OF_7),
            new MigProfile(names[0] + "+me", 20, 1, 1, mem[0], sm[0], 1, ANY_OF_7),
            new MigProfile(names[1], 15, 1, 2, mem[1], sm[1], 4, EVEN_4),
            new MigProfile(names[2], 14, 2, 2, mem[2], sm[2], 3, EVEN_3),
            new MigProfile(names[3], 9, 3, 4, mem[3], sm[3], 2, HALVES),
            new MigProfile(names[4], 5, 4, 4, mem[4], sm[4], 1, FIRST),
            new MigProfile(names[5], 0, 7, 8, mem[5], sm[5], 1, FIRST)));
  }

  /** NVIDIA A100 40GB (SXM4/PCIe). */
  public static final GpuModel A100_40GB =
      new GpuModel(
          "A100-40GB",
          40960,
          108,
          sevenSlice(
              new String[] {"1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"},
              new int[] {14, 14, 28, 42, 56, 98},
              new long[] {4864, 9856, 9856, 19968, 19968, 40192}));

  /** NVIDIA A100 80GB (SXM4/PCIe). */
  public static final GpuModel A100_80GB =
      new GpuModel(
          "A100-80GB",
          81920,
          108,
          sevenSlice(
              new String[] {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
              new int[] {14, 14, 28, 42, 56, 98},
              new long[] {9856, 19968, 19968, 40192, 40192, 80384}));

  /** NVIDIA A30 24GB: 4 compute and 4 memory slices. */
  public static final GpuModel A30_24GB =
      new GpuModel(
          "A30-24GB",
          24576,
          56,
          new MigGeometry(
              4,
              4,
              List.of(
                  new MigProfile("1g.6gb", 14, 1, 1, 5836, 14, 4, List.of(0, 1, 2, 3)),
                  new MigProfile("1g.6gb+me", 21, 1, 1, 5836, 14, 1, List.of(0, 1, 2, 3)),
                  new MigProfile("2g.12gb", 5, 2, 2, 11672, 28, 2, List.of(0, 2)),
                  new MigProfile("2g.12gb+me", 6, 2, 2, 11672, 28, 1, List.of(0, 2)),
                  new MigProfile("4g.24gb", 0, 4, 4, 23424, 56, 1, FIRST))));

  /**
   * NVIDIA H100 80GB HBM3 (SXM5), as read off real hardware: see {@code
   * shared/reference/h100-mig-lgipp.txt}. Memory is NVML's {@code memorySizeMB} per profile and
   * the device's total memory (85,520,809,984 bytes).
   */
  public static final GpuModel H100_80GB =
      new GpuModel(
          "H100-80GB",
          81559,
          132,
          sevenSlice(
              new String[] {"1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"},
              new int[] {16, 26, 32, 60, 64, 132},
              new long[] {9984, 20096, 20096, 40448, 40448, 81152}));

  /** NVIDIA H100 NVL 94GB. */
  public static final GpuModel H100_94GB =
      new GpuModel(
          "H100-94GB",
          95830,
          132,
          sevenSlice(
              new String[] {"1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"},
              new int[] {16, 26, 32, 60, 64, 132},
              new long[] {11264, 23552, 23552, 47104, 47104, 94976}));

  /** NVIDIA H200 141GB. */
  public static final GpuModel H200_141GB =
      new GpuModel(
          "H200-141GB",
          143771,
          132,
          sevenSlice(
              new String[] {"1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"},
              new int[] {16, 26, 32, 60, 64, 132},
              new long[] {16896, 33792, 33792, 69632, 69632, 140288}));

  /** NVIDIA B200 180GB. */
  public static final GpuModel B200 =
      new GpuModel(
          "B200",
          184320,
          148,
          sevenSlice(
              new String[] {"1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"},
              new int[] {18, 18, 36, 72, 72, 148},
              new long[] {23552, 46080, 46080, 92160, 92160, 184320}));

  private static final List<GpuModel> ALL =
      List.of(A100_40GB, A100_80GB, A30_24GB, H100_80GB, H100_94GB, H200_141GB, B200);

  /** Returns every built-in model, in a fixed order. */
  public static List<GpuModel> all() {
    return ALL;
  }

  /**
   * Looks up a built-in model by name, ignoring case and the characters {@code -} and {@code _}
   * (so {@code h100_80gb} finds {@code H100-80GB}).
   *
   * @return the model, or empty if the catalog has none of that name
   */
  public static Optional<GpuModel> byName(String name) {
    String wanted = normalize(name);
    for (GpuModel m : ALL) {
      if (normalize(m.name()).equals(wanted)) {
        return Optional.of(m);
      }
    }
    return Optional.empty();
  }

  private static String normalize(String name) {
    return name.replace("-", "").replace("_", "").toLowerCase(Locale.ROOT);
  }
}
