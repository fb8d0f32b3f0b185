package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.bench.sim.SimConfig;
import io.gpusched.bench.sim.SimResult;
import io.gpusched.bench.sim.WorkloadGenerator;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoTest {

  @Test
  void comparesTheFivePoliciesPrintsTheTableAndWritesCharts(@TempDir Path dir) throws Exception {
    // a shorter workload than the shipped one keeps the test fast; the demo itself uses SHIPPED
    Path workload = dir.resolve("w.csv");
    try (var w = Files.newBufferedWriter(workload, StandardCharsets.UTF_8)) {
      WorkloadGenerator.generate(12, 1.0, 5).write(w);
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    List<SimResult> results =
        Demo.run(new PrintStream(bytes, true, StandardCharsets.UTF_8), workload.toString(), dir, 42, true);
    String out = bytes.toString(StandardCharsets.UTF_8);
    assertThat(results).hasSize(SimConfig.Variant.values().length);
    for (SimResult r : results) {
      assertThat(out).contains(r.variant().label());
      assertThat(r.jobsLost()).isZero();
    }
    assertThat(out).contains("136 GPUs", "spot interruptions", "wait p50/p95/p99", "Jain", "lost GPUh");
    assertThat(out).doesNotContainIgnoringCase("exception");
    assertThat(dir.resolve("utilization.png")).exists();
    assertThat(dir.resolve("summary.csv")).exists();
    assertThat(Files.readAllLines(dir.resolve("summary.csv"))).hasSize(6);
  }
}
