package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.MigGeometry;
import io.gpusched.nvml.NvmlApi.Placement;
import io.gpusched.nvml.NvmlApi.ProfileInfo;
import java.util.List;
import org.junit.jupiter.api.Test;

class MigGeometryReaderTest {

  @Test
  void profileNamesMatchNvidiaToolingOnH100() {
    long t = FakeGpus.H100_TOTAL;
    assertThat(MigGeometryReader.profileName(0, 1, 9984, t)).isEqualTo("1g.10gb");
    assertThat(MigGeometryReader.profileName(7, 1, 9984, t)).isEqualTo("1g.10gb+me");
    assertThat(MigGeometryReader.profileName(9, 1, 20096, t)).isEqualTo("1g.20gb");
    assertThat(MigGeometryReader.profileName(1, 2, 20096, t)).isEqualTo("2g.20gb");
    assertThat(MigGeometryReader.profileName(2, 3, 40448, t)).isEqualTo("3g.40gb");
    assertThat(MigGeometryReader.profileName(4, 7, 81152, t)).isEqualTo("7g.80gb");
  }

  @Test
  void profileNamesMatchNvidiaToolingOnH200() {
    long t = FakeGpus.H200_TOTAL;
    assertThat(MigGeometryReader.profileName(0, 1, 16384, t)).isEqualTo("1g.18gb");
    assertThat(MigGeometryReader.profileName(9, 1, 33280, t)).isEqualTo("1g.35gb");
    assertThat(MigGeometryReader.profileName(2, 3, 71424, t)).isEqualTo("3g.71gb");
    assertThat(MigGeometryReader.profileName(4, 7, 143360, t)).isEqualTo("7g.141gb");
  }

  @Test
  void suffixesFollowTheProfileIndex() {
    long t = FakeGpus.H100_TOTAL;
    assertThat(MigGeometryReader.profileName(0x0A, 1, 9984, t)).isEqualTo("1g.10gb+gfx");
    assertThat(MigGeometryReader.profileName(0x0D, 1, 9984, t)).isEqualTo("1g.10gb-me");
    assertThat(MigGeometryReader.profileName(0x0F, 1, 9984, t)).isEqualTo("1g.10gb+me.all");
  }

  @Test
  void placementsAreAskedByProfileIdNotIndex() {
    // index 0 has id 19: if the reader passed the index, the fake would answer INVALID_ARGUMENT
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0));
    api.init();

    MigGeometry g = MigGeometryReader.read(api, 0, FakeGpus.H100_TOTAL);

    assertThat(g).isNotNull();
    assertThat(g.profile("1g.10gb").orElseThrow().profileId()).isEqualTo(19);
    assertThat(g.profile("7g.80gb").orElseThrow().placementStarts()).containsExactly(0);
  }

  @Test
  void unevenOrEmptyPlacementsSkipTheProfile() {
    var d = new FakeNvmlApi.Device("X", "GPU-x", "b", FakeGpus.H100_TOTAL, new NvmlApi.MigMode(0, 0))
        .profile(0, new ProfileInfo(19, 1, 7, 16, 9984), new Placement(0, 1), new Placement(1, 2))
        .profile(1, new ProfileInfo(14, 2, 3, 32, 20096))
        .profile(4, new ProfileInfo(0, 7, 1, 132, 81152), new Placement(0, 8));
    var api = new FakeNvmlApi().add(d);
    api.init();

    MigGeometry g = MigGeometryReader.read(api, 0, FakeGpus.H100_TOTAL);

    assertThat(g.profiles()).extracting(p -> p.name()).containsExactly("7g.80gb");
  }

  @Test
  void noUsableProfileMeansNoGeometry() {
    var d = new FakeNvmlApi.Device("X", "GPU-x", "b", 1L << 34, new NvmlApi.MigMode(0, 0));
    d.profileLimit = 0;
    var api = new FakeNvmlApi().add(d);
    api.init();

    assertThat(MigGeometryReader.read(api, 0, 1L << 34)).isNull();
    assertThat(List.of(d.profiles.size())).containsExactly(0);
  }
}
