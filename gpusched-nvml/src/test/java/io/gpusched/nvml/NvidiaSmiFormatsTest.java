package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.regex.Matcher;
import org.junit.jupiter.api.Test;

/**
 * The patterns the GPU tests read {@code nvidia-smi mig -lgipp} and {@code -lgip} with, checked here
 * (no GPU) against text in the layouts they must parse: the {@code -lgipp} lines exactly as read
 * off an H100 with driver 580.159.04 ({@code shared/reference/h100-mig-lgipp.txt}), and a {@code
 * -lgip} table in the layout of NVIDIA's MIG user guide. If a driver prints another layout, the GPU
 * test fails with the raw table rather than comparing nothing.
 */
class NvidiaSmiFormatsTest {

  @Test
  void lgippLinesOfARealH100() {
    List<String> lines =
        List.of(
            "GPU  0 Profile ID 19 Placements: {0,1,2,3,4,5,6}:1",
            "GPU  0 Profile ID 15 Placements: {0,2,4,6}:2",
            "GPU  0 Profile ID  9 Placements: {0,4}:4",
            "GPU  0 Profile ID  5 Placement : {0}:4",
            "GPU  0 Profile ID  0 Placement : {0}:8");
    String[][] expected = {
      {"0", "19", "0,1,2,3,4,5,6", "1"},
      {"0", "15", "0,2,4,6", "2"},
      {"0", "9", "0,4", "4"},
      {"0", "5", "0", "4"},
      {"0", "0", "0", "8"},
    };
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = NvmlTelemetryGpuTest.LGIPP.matcher(lines.get(i));
      assertThat(m.find()).as(lines.get(i)).isTrue();
      assertThat(new String[] {m.group(1), m.group(2), m.group(3), m.group(4)}).isEqualTo(expected[i]);
    }
  }

  @Test
  void lgipProfileRowsAndNotTheirSecondLines() {
    List<String> table =
        List.of(
            "+-----------------------------------------------------------------------------+",
            "| GPU instance profiles:                                                      |",
            "| GPU   Name             ID    Instances   Memory     P2P    SM    DEC   ENC  |",
            "|                              Free/Total   GiB              CE    JPEG  OFA  |",
            "|=============================================================================|",
            "|   0  MIG 1g.10gb       19     7/7        9.75       No     16     1     0   |",
            "|                                                             1     1     0   |",
            "+-----------------------------------------------------------------------------+",
            "|   0  MIG 1g.10gb+me    20     1/1        9.75       No     16     1     0   |",
            "|                                                             1     1     1   |",
            "+-----------------------------------------------------------------------------+",
            "|   0  MIG 7g.80gb        0     0/1        79.25      No     132    7     0   |",
            "|                                                             8     7     1   |");
    List<String[]> rows =
        table.stream()
            .map(NvmlTelemetryGpuTest.LGIP::matcher)
            .filter(Matcher::find)
            .map(m -> new String[] {m.group(1), m.group(2), m.group(3), m.group(4), m.group(5)})
            .toList();
    assertThat(rows)
        .containsExactly(
            new String[] {"0", "1g.10gb", "19", "7", "16"},
            new String[] {"0", "1g.10gb+me", "20", "1", "16"},
            new String[] {"0", "7g.80gb", "0", "1", "132"});
  }
}
