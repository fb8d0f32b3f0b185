package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FillChartTest {

  @BeforeAll
  static void headless() {
    System.setProperty("java.awt.headless", "true");
  }

  @Test
  void averagesSeedsPerStrategy(@TempDir Path dir) throws Exception {
    Path a = dir.resolve("a.csv");
    Files.writeString(
        a,
        "strategy,seed,arrived_pct,allocated_pct\nX,1,0,0.000\nX,1,1,1.000\nX,2,0,0.000\nX,2,1,3.000\n"
            + "SUMMARY strategy=X seed=1 alloc_at_100=NaN alloc_at_130=NaN decisions_per_s=1\n");
    Path b = dir.resolve("b.csv");
    Files.writeString(b, "strategy,seed,arrived_pct,allocated_pct\nY,1,0,0.000\nY,1,1,0.500\n");
    var data = FillChart.read(List.of(a, b));
    assertThat(data.keySet()).containsExactly("X", "Y");
    assertThat(data.get("X").get(1)).isCloseTo(2.0, within(1e-9));
    assertThat(data.get("Y").get(1)).isCloseTo(0.5, within(1e-9));
  }

  @Test
  void writesPngsFromExperimentOutput(@TempDir Path dir) throws Exception {
    Path csv = dir.resolve("fill.csv");
    var out = new java.io.ByteArrayOutputStream();
    var err = new java.io.PrintStream(new java.io.ByteArrayOutputStream(), true, "UTF-8");
    FillExperiment.cli(
        new String[] {"--nodes", FillExperimentTest.NODES, "--pods", FillExperimentTest.PODS,
          "--strategy", "BEST_FIT,SPREAD", "--seeds", "1"},
        new java.io.PrintStream(out, true, "UTF-8"), err);
    Files.write(csv, out.toByteArray());
    Path png = dir.resolve("charts/fill.png");
    Path zoom = dir.resolve("charts/zoom.png");
    FillChart.main(new String[] {"--out", png.toString(), "--zoom", zoom.toString(), csv.toString()});
    for (Path p : List.of(png, zoom)) {
      byte[] bytes = Files.readAllBytes(p);
      assertThat(bytes.length).isGreaterThan(10_000);
      assertThat(bytes[1]).isEqualTo((byte) 'P'); // \x89PNG
      assertThat(bytes[2]).isEqualTo((byte) 'N');
    }
  }
}
