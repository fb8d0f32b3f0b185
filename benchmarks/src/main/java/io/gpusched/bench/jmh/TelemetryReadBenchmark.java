package io.gpusched.bench.jmh;

import io.gpusched.GpuSample;
import io.gpusched.nvml.NvmlTelemetry;
import io.gpusched.nvml.TelemetryBench;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of reading GPU telemetry: {@code cachedLatest} is {@link NvmlTelemetry#latest} (what the
 * scheduler and dashboards call: a Caffeine lookup, target at most 50 ns), {@code rawUtilization}
 * one {@code nvmlDeviceGetUtilizationRates} read of GPU 0 through the binding's seam, handle lookup
 * included. With {@code source=fake} (the default, runs anywhere) the raw read goes to an in-memory
 * fake, so it measures the seam, not the driver; with {@code source=nvml} (a GPU machine) it is the
 * real JNA call into {@code libnvidia-ml.so.1}.
 *
 * <p>Run (after {@code ./mvnw -B -q -pl benchmarks -am package -DskipTests}):
 *
 * <pre>
 * java -jar benchmarks/target/gpusched-benchmarks.jar TelemetryReadBenchmark -f 1 -wi 2 -i 3 -w 1s -r 1s
 * java -jar benchmarks/target/gpusched-benchmarks.jar TelemetryReadBenchmark -p source=nvml   # on a GPU
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class TelemetryReadBenchmark {

  /** {@code fake}: in-memory NVML; {@code nvml}: the real library (GPU machines only). */
  @Param({"fake"})
  public String source;

  private TelemetryBench bench;
  private NvmlTelemetry telemetry;
  private String uuid;

  /** Builds the telemetry and takes one pass. */
  @Setup
  public void setup() {
    bench = "nvml".equals(source) ? TelemetryBench.nvml() : TelemetryBench.fake();
    telemetry = bench.telemetry();
    uuid = bench.uuid();
  }

  /** Shuts NVML down. */
  @TearDown
  public void tearDown() {
    bench.close();
  }

  /** The latest sample from the cache. */
  @Benchmark
  public Optional<GpuSample> cachedLatest() {
    return telemetry.latest(uuid, GpuSample.WHOLE_GPU);
  }

  /** One utilization read through the seam. */
  @Benchmark
  public int rawUtilization() {
    return bench.rawUtilization();
  }
}
