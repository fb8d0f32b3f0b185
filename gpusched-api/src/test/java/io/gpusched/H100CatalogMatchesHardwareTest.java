package io.gpusched;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link GpuModels#H100_80GB} must be exactly what {@code nvidia-smi mig -lgip} / {@code -lgipp}
 * printed on a real H100 80GB HBM3 ({@code shared/reference/h100-mig-lgipp.txt}, with a copy in
 * this module's test resources so that a clean clone has it too).
 */
class H100CatalogMatchesHardwareTest {
  private static final String REFERENCE = "shared/reference/h100-mig-lgipp.txt";
  private static final String RESOURCE = "/reference/h100-mig-lgipp.txt";

  // #   1g.10gb        19  7          9.75        16   1   1   1    0
  private static final Pattern PROFILE_ROW =
      Pattern.compile(
          "^#\\s+(\\S+)\\s+(\\d+)\\s+(\\d+)\\s+([0-9.]+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*$");
  // GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1
  private static final Pattern PLACEMENT_ROW =
      Pattern.compile("^GPU\\s+\\d+\\s+Profile ID\\s+(\\d+)\\s+Placements?\\s*:\\s*\\{([0-9,\\s]*)\\}:(\\d+)\\s*$");
  private static final Pattern SLICES_PER_GPU = Pattern.compile("(\\d+) per GPU");

  record Row(String name, int id, int instances, double memoryGiB, int sm) {}

  private static List<String> lines;
  private static final Map<String, Row> rows = new LinkedHashMap<>();
  private static final Map<Integer, List<Integer>> starts = new LinkedHashMap<>();
  private static final Map<Integer, Integer> sizes = new LinkedHashMap<>();
  private static int memorySlicesPerGpu = -1;

  @BeforeAll
  static void parse() throws IOException {
    lines = readReference();
    for (String line : lines) {
      Matcher m = PROFILE_ROW.matcher(line);
      if (m.matches()) {
        Row r =
            new Row(
                m.group(1),
                Integer.parseInt(m.group(2)),
                Integer.parseInt(m.group(3)),
                Double.parseDouble(m.group(4)),
                Integer.parseInt(m.group(5)));
        assertThat(rows.put(r.name(), r)).as("duplicate row " + r.name()).isNull();
        continue;
      }
      m = PLACEMENT_ROW.matcher(line);
      if (m.matches()) {
        int id = Integer.parseInt(m.group(1));
        List<Integer> s =
            Arrays.stream(m.group(2).split(","))
                .map(String::trim)
                .filter(x -> !x.isEmpty())
                .map(Integer::valueOf)
                .toList();
        assertThat(starts.put(id, s)).as("duplicate placements of id " + id).isNull();
        sizes.put(id, Integer.parseInt(m.group(3)));
        continue;
      }
      m = SLICES_PER_GPU.matcher(line);
      if (m.find()) {
        memorySlicesPerGpu = Integer.parseInt(m.group(1));
      }
    }
    assertThat(rows).as("profile rows parsed from the reference").hasSize(7);
    assertThat(starts).as("placement rows parsed from the reference").hasSize(7);
  }

  /** The shared reference (walking up from the working directory), else the classpath copy. */
  private static List<String> readReference() throws IOException {
    Optional<Path> shared = findShared();
    List<String> fromClasspath = null;
    try (InputStream in = H100CatalogMatchesHardwareTest.class.getResourceAsStream(RESOURCE)) {
      if (in != null) {
        fromClasspath = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
      }
    }
    if (shared.isPresent()) {
      List<String> s = Files.readAllLines(shared.get(), StandardCharsets.UTF_8);
      if (fromClasspath != null) {
        assertThat(fromClasspath)
            .as("test resource copy of " + REFERENCE + " is out of date with " + shared.get())
            .isEqualTo(s);
      }
      return s;
    }
    assertThat(fromClasspath).as("neither " + REFERENCE + " nor classpath " + RESOURCE).isNotNull();
    return fromClasspath;
  }

  private static Optional<Path> findShared() {
    for (Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        dir != null;
        dir = dir.getParent()) {
      Path p = dir.resolve(REFERENCE);
      if (Files.isRegularFile(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  private static MigGeometry geometry() {
    return GpuModels.H100_80GB.mig();
  }

  @Test
  void exactlyTheProfilesOfTheHardware() {
    assertThat(geometry().profiles())
        .extracting(MigProfile::name)
        .containsExactlyInAnyOrderElementsOf(rows.keySet());
  }

  @Test
  void profileIds() {
    for (Row r : rows.values()) {
      assertThat(GpuModels.H100_80GB.migProfile(r.name()).profileId()).as(r.name()).isEqualTo(r.id());
    }
  }

  @Test
  void instanceCounts() {
    for (Row r : rows.values()) {
      assertThat(GpuModels.H100_80GB.migProfile(r.name()).maxInstances())
          .as(r.name())
          .isEqualTo(r.instances());
    }
  }

  @Test
  void smCounts() {
    for (Row r : rows.values()) {
      assertThat(GpuModels.H100_80GB.migProfile(r.name()).smCount()).as(r.name()).isEqualTo(r.sm());
    }
    MigProfile full = GpuModels.H100_80GB.migProfile("7g.80gb");
    assertThat(GpuModels.H100_80GB.smCount()).isEqualTo(full.smCount());
  }

  @Test
  void memorySizesMatchTheTableWithinOnePercent() {
    for (Row r : rows.values()) {
      long mib = GpuModels.H100_80GB.migProfile(r.name()).memoryMiB();
      double tableMiB = r.memoryGiB() * 1024;
      assertThat((double) mib).as(r.name()).isCloseTo(tableMiB, within(tableMiB * 0.01));
      // NVML memorySizeMB values as the driver reported them
      assertThat(mib).as(r.name()).isIn(9984L, 20096L, 40448L, 81152L);
    }
    assertThat(GpuModels.H100_80GB.memoryMiB())
        .isGreaterThanOrEqualTo(GpuModels.H100_80GB.migProfile("7g.80gb").memoryMiB());
  }

  @Test
  void placementsStartsAndSizes() {
    assertThat(memorySlicesPerGpu).isEqualTo(geometry().memorySlices());
    for (Row r : rows.values()) {
      MigProfile p = GpuModels.H100_80GB.migProfile(r.name());
      assertThat(starts).as("placements of id " + r.id()).containsKey(r.id());
      assertThat(p.placementStarts()).as(r.name()).containsExactlyElementsOf(starts.get(r.id()));
      assertThat(p.memorySlices()).as(r.name()).isEqualTo(sizes.get(r.id()));
    }
  }

  @Test
  void computeSlicesFollowTheProfileNames() {
    // the "Ng" prefix is the compute-slice count; 7 in all on the H100
    assertThat(geometry().computeSlices()).isEqualTo(7);
    for (MigProfile p : geometry().profiles()) {
      int g = Integer.parseInt(p.name().substring(0, p.name().indexOf('g')));
      assertThat(p.computeSlices()).as(p.name()).isEqualTo(g);
    }
  }

  @Test
  void mediaExtensionProfileIsTheOnlyOneWithAnOfa() {
    List<String> withOfa = new ArrayList<>();
    for (String line : lines) {
      Matcher m = PROFILE_ROW.matcher(line);
      if (m.matches() && Integer.parseInt(m.group(9)) > 0 && !m.group(1).startsWith("7g")) {
        withOfa.add(m.group(1));
      }
    }
    assertThat(withOfa).containsExactly("1g.10gb+me");
    assertThat(GpuModels.H100_80GB.migProfile("1g.10gb+me").isMediaExtension()).isTrue();
  }
}
