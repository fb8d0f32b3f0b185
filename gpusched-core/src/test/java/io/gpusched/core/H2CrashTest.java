package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.store.StoredJob;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The embedded file database survives {@code kill -9} of the JVM that uses it, with nothing
 * acknowledged lost, when it is opened as docs/durability.md says ({@code WRITE_DELAY=0}).
 *
 * <p>A child JVM runs a scheduler on an H2 file store and submits jobs as fast as it can, printing
 * each id once {@code submit} returned (the acknowledgement). The test kills it with {@code kill
 * -9} ({@link Process#destroyForcibly}) after a few hundred acknowledgements, then loads the store
 * and finds every acknowledged job. With H2's default write delay (500 ms: H2 keeps committed
 * changes in memory and writes them in the background) this test fails: the store lacks the last
 * acknowledged jobs. The child holds a connection open as a pool does; without one H2 closes, and
 * so writes, the database after every call, which hides the delay. {@link JdbcStore} warns when it
 * finds a write delay.
 */
class H2CrashTest {

  @TempDir Path dir;

  /** The URL docs/durability.md recommends for H2. */
  static String url(Path dir) {
    return "jdbc:h2:file:" + dir.resolve("state").toAbsolutePath() + ";MAX_COMPACT_TIME=0;WRITE_DELAY=0";
  }

  @Test
  void everyAcknowledgedSubmitSurvivesAKillOfTheJvm() throws Exception {
    Path acks = dir.resolve("acks.txt");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child =
        new ProcessBuilder(
                java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"),
                Child.class.getName(), url(dir), acks.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("child.log").toFile())
            .start();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (lines(acks) < 300) {
        assertThat(child.isAlive()).as("child alive (see %s)", dir.resolve("child.log")).isTrue();
        assertThat(System.nanoTime()).as("300 acknowledgements within 60 s").isLessThan(deadline);
        Thread.sleep(20);
      }
    } finally {
      child.destroyForcibly(); // SIGKILL: no shutdown hook, no close of the database
      assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    List<String> acknowledged = Files.readAllLines(acks, StandardCharsets.UTF_8);
    if (!acknowledged.isEmpty() && !acknowledged.get(acknowledged.size() - 1).startsWith("j")) {
      acknowledged = acknowledged.subList(0, acknowledged.size() - 1); // a line cut by the kill
    }
    Set<String> stored = new HashSet<>();
    for (StoredJob j : SchedulerStores.jdbc(JdbcStoreTest.h2Url(url(dir))).load().jobs()) {
      stored.add(j.id());
    }
    assertThat(acknowledged).hasSizeGreaterThanOrEqualTo(300);
    assertThat(stored).containsAll(acknowledged);
  }

  /** What {@link JdbcStore} reads to warn of a write delay: 0 on the recommended URL, 500 without. */
  @Test
  void theStoreSeesTheWriteDelayItWarnsOf() throws Exception {
    try (Connection c = DriverManager.getConnection(url(dir), "sa", "")) {
      assertThat(JdbcStore.h2WriteDelay(c)).isEqualTo("0");
    }
    String plain = "jdbc:h2:file:" + dir.resolve("plain").toAbsolutePath() + ";MAX_COMPACT_TIME=0";
    try (Connection c = DriverManager.getConnection(plain, "sa", "")) {
      assertThat(JdbcStore.h2WriteDelay(c)).isEqualTo("500");
    }
  }

  private static long lines(Path f) throws java.io.IOException {
    if (!Files.exists(f)) {
      return 0;
    }
    try (var l = Files.lines(f, StandardCharsets.UTF_8)) {
      return l.count();
    }
  }

  /** The child JVM: submits jobs until killed, printing each acknowledged id. */
  static final class Child {
    public static void main(String[] args) throws Exception {
      // a connection held open for the whole run, as a pool holds its connections: with none open
      // H2 closes (and so writes) the database after every call, which hides the write delay
      Connection held = DriverManager.getConnection(args[0], "sa", "");
      try (PrintStream out = new PrintStream(Files.newOutputStream(Path.of(args[1])), true, StandardCharsets.UTF_8)) {
        GpuScheduler s =
            GpuSchedulers.newBuilder()
                .nodes(List.of(NodeSpec.builder("n").gpus(8, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
                .queue(QueueSpec.of("q"))
                .launcher((JobLauncher) job -> {})
                .manualTicks()
                .store(SchedulerStores.jdbc(JdbcStoreTest.h2Url(args[0])))
                .build();
        for (long i = 0; ; i++) {
          s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j" + i).queue("q").build());
          out.println("j" + i);
        }
      } finally {
        held.close();
      }
    }
  }
}
