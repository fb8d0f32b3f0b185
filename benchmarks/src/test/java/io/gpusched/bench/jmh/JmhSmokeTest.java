package io.gpusched.bench.jmh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Collection;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * One tiny in-process iteration of each JMH benchmark, so that CI proves they run (real runs are by
 * hand; see docs/benchmarks.md). Not a measurement: no assertion on speed.
 */
class JmhSmokeTest {

  private static Collection<RunResult> run(String benchmark, String... params) throws Exception {
    return run(1, benchmark, params);
  }

  private static Collection<RunResult> run(int threads, String benchmark, String... params)
      throws Exception {
    OptionsBuilder b = new OptionsBuilder();
    b.include(benchmark)
        .forks(0)
        .threads(threads)
        .warmupIterations(0)
        .measurementIterations(1)
        .measurementTime(TimeValue.milliseconds(200))
        .syncIterations(threads == 1) // see DispatchBenchmark: several threads need -si false
        .shouldFailOnError(true);
    for (int i = 0; i < params.length; i += 2) {
      b.param(params[i], params[i + 1].split(",", -1)); // "a,b": both values
    }
    b.jvmArgsAppend("-Djmh.ignoreLock=true");
    Options opts = b.build();
    System.setProperty("jmh.ignoreLock", "true");
    return new Runner(opts).run();
  }

  @Test
  void placeReleaseRuns() throws Exception {
    Collection<RunResult> results =
        run(
            PlaceReleaseBenchmark.class.getSimpleName() + ".placeRelease$",
            "mix", "MIG", "size", "1000", "strategy", "BEST_FIT", "impl", "gpusched");
    assertThat(results).hasSize(1);
    assertThat(results.iterator().next().getPrimaryResult().getScore()).isPositive();
  }

  @Test
  void decisionRuns() throws Exception {
    Collection<RunResult> results =
        run(DecisionBenchmark.class.getSimpleName() + ".decide$", "impl", "gpusched");
    assertThat(results).hasSize(1);
    assertThat(results.iterator().next().getPrimaryResult().getScore()).isPositive();
  }

  @Test
  void fillDecisionRuns() throws Exception {
    Collection<RunResult> results =
        run(FillDecisionBenchmark.class.getSimpleName() + ".fill$", "workload", "share40");
    assertThat(results).hasSize(1);
    RunResult r = results.iterator().next();
    assertThat(r.getPrimaryResult().getScore()).isPositive();
    // the rate to read: decisions per second, every arrival counted once
    assertThat(r.getSecondaryResults().get("decisions").getScore()).isPositive();
    assertThat(r.getSecondaryResults().get("placed").getScore())
        .isPositive()
        .isLessThanOrEqualTo(r.getSecondaryResults().get("decisions").getScore());
  }

  @Test
  void fillDecisionNamesAMissingTraceFolder() {
    assertThatThrownBy(() -> FillDecisionBenchmark.workloadNamed("trace:default", ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("trace:default")
        .hasMessageContaining("traceDir");
    assertThatThrownBy(() -> FillDecisionBenchmark.workloadNamed("trace:nope", "/nonexistent-dir"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("openb_node_list_gpu_node.csv");
  }

  @Test
  void dispatchRuns() throws Exception {
    for (String impl : new String[] {"gpusched-fair", "locked"}) {
      Collection<RunResult> results =
          run(DispatchBenchmark.class.getSimpleName() + ".dispatch$",
              "impl", impl, "gpus", "1000", "pending", "1000");
      assertThat(results).hasSize(1);
      assertThat(results.iterator().next().getPrimaryResult().getScore()).isPositive();
    }
  }

  @Test
  void dispatchRunsOnTwoThreads() throws Exception {
    for (String impl : new String[] {"gpusched-fifo", "locked"}) {
      Collection<RunResult> results =
          run(2, DispatchBenchmark.class.getSimpleName() + ".dispatch$",
              "impl", impl, "gpus", "1000", "pending", "1000");
      assertThat(results).hasSize(1);
      assertThat(results.iterator().next().getPrimaryResult().getScore()).isPositive();
    }
  }

  @Test
  void releaseToStartRuns() throws Exception {
    Collection<RunResult> results =
        run(DispatchBenchmark.class.getSimpleName() + ".releaseToStart$",
            "impl", "gpusched-fifo", "gpus", "1000", "pending", "1000");
    assertThat(results).hasSize(1);
    assertThat(results.iterator().next().getPrimaryResult().getScore()).isPositive();
  }

  @Test
  void telemetryReadRuns() throws Exception {
    Collection<RunResult> results =
        run(TelemetryReadBenchmark.class.getSimpleName() + ".*", "source", "fake");
    assertThat(results).hasSize(2);
    for (RunResult r : results) {
      assertThat(r.getPrimaryResult().getScore()).isPositive();
    }
  }

  @Test
  void durableRunsOnTwoThreads() throws Exception {
    // postgres needs a server (benchmarks/durable-bench.sh starts one); the JDBC code is the same
    Collection<RunResult> results =
        run(2, DurableBenchmark.class.getSimpleName() + ".*",
            "store", "memory,h2", "gpus", "200", "pending", "200");
    assertThat(results).hasSize(4);
    for (RunResult r : results) {
      assertThat(r.getPrimaryResult().getScore()).isPositive();
    }
  }

  @Test
  void durablePointsThePostgresUrlAtAFreshDatabase() {
    assertThat(DurableBenchmark.Sched.withDatabase(
            "jdbc:postgresql://127.0.0.1:5432/postgres?user=me", "bench"))
        .isEqualTo("jdbc:postgresql://127.0.0.1:5432/bench?user=me");
    assertThat(DurableBenchmark.Sched.withDatabase("jdbc:postgresql://h/db", "x"))
        .isEqualTo("jdbc:postgresql://h/x");
  }
}
