package io.gpusched.bench.jmh;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulingPolicy;
import io.gpusched.bench.peer.LockedFifoScheduler;
import io.gpusched.core.GpuSchedulers;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
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
 * Job dispatch: a full cluster of {@code gpus} GPUs (8-GPU H100 nodes taken whole) running one
 * 1-GPU job per GPU, with {@code pending} more 1-GPU jobs waiting.
 *
 * <ul>
 *   <li>{@link #dispatch} (throughput): completes the oldest running job, which releases its GPU
 *       and, in the same call, starts the head of the pending jobs there ({@link JobLauncher#start}
 *       is called before {@code complete()} returns), then submits one new job so that the pending
 *       count stays put. One operation = one job dispatched: ops/s is jobs/s.
 *   <li>{@link #releaseToStart} (sample time): only the {@code complete()} call, that is the time
 *       from the release to the next job's start (its launcher callback) and the call's return; the
 *       replacement job is submitted outside the measurement ({@code Level.Invocation} setup).
 * </ul>
 *
 * <p>{@code impl}: {@code gpusched-fifo} and {@code gpusched-fair} are the library's scheduler
 * ({@link GpuSchedulers}, manual ticks, same-thread events, no preemption) with FIFO or FAIR_SHARE
 * ordering over two queues; {@code locked} is {@link LockedFifoScheduler} (one lock, FIFO, {@link
 * io.gpusched.bench.peer.LockedBestFit} placement). Job specs are built before the measurement.
 *
 * <p>Thread-safe state, so {@code -t N} runs N threads that complete and submit at once (the
 * scheduler's dispatcher is still one thread at a time: the others enqueue); ops/s is then the
 * total over all threads. Job ids cycle through {@value #SPECS}, so an id comes back once its job
 * is final. Run several threads with {@code -si false}: with JMH's synchronized iterations a thread
 * that finished its iteration keeps completing jobs while it waits for the others, and can take
 * every job a waiting thread spins for.
 *
 * <pre>
 * java -jar benchmarks/target/gpusched-benchmarks.jar DispatchBenchmark -f 1 -wi 2 -i 3 -w 2s -r 2s
 * </pre>
 */
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms3g", "-Xmx3g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DispatchBenchmark {

  static final int SPECS = 1 << 16;

  /** The scheduler, full, with its pending jobs. */
  @State(Scope.Benchmark)
  public static class Sched {
    /** Implementation. */
    @Param({"gpusched-fifo", "gpusched-fair", "locked"})
    public String impl;

    /** GPUs (all busy). */
    @Param({"10000"})
    public int gpus;

    /** Pending jobs kept waiting. */
    @Param({"10000"})
    public int pending;

    GpuScheduler scheduler;
    final ConcurrentLinkedQueue<JobHandle> running = new ConcurrentLinkedQueue<>();
    JobSpec[] specs;
    final AtomicInteger next = new AtomicInteger();
    final LongAdder started = new LongAdder();

    /** Builds and fills the scheduler. */
    @Setup(Level.Trial)
    public void setUp() {
      List<NodeSpec> nodes = BenchClusters.nodes("WHOLE", gpus);
      List<QueueSpec> queues = List.of(QueueSpec.of("a"), QueueSpec.of("b"));
      JobLauncher launcher =
          job -> {
            running.add(job);
            started.increment();
          };
      scheduler =
          switch (impl) {
            case "gpusched-fifo", "gpusched-fair" ->
                GpuSchedulers.newBuilder()
                    .nodes(nodes)
                    .queue(queues.get(0))
                    .queue(queues.get(1))
                    .policy(impl.endsWith("fifo") ? SchedulingPolicy.FIFO : SchedulingPolicy.FAIR_SHARE)
                    .preemption(false)
                    .launcher(launcher)
                    .manualTicks()
                    .eventExecutor(Runnable::run)
                    .retainFinishedJobs(0)
                    .build();
            case "locked" -> new LockedFifoScheduler(nodes, queues, launcher, InstantSource.system());
            default -> throw new IllegalArgumentException("unknown impl " + impl);
          };
      specs = new JobSpec[SPECS];
      PlacementRequest one = PlacementRequest.wholeGpus(1);
      for (int i = 0; i < SPECS; i++) {
        specs[i] = JobSpec.builder(one).id("j" + i).queue(i % 2 == 0 ? "a" : "b").build();
      }
      for (int i = 0; i < gpus + pending; i++) {
        submitNext();
      }
      if (running.size() != gpus) {
        throw new IllegalStateException(impl + ": " + running.size() + " running after fill, expected " + gpus);
      }
    }

    void submitNext() {
      scheduler.submit(specs[next.getAndIncrement() & (SPECS - 1)]);
    }

    /**
     * Completes the oldest running job; returns whether it was still running. With several
     * threads, the job started for another thread's release may not be listed yet (the dispatcher
     * is busy on a third): the wait for it is part of the operation, so every operation ends one
     * job and the pending count stays put.
     */
    boolean completeOldest() {
      JobHandle oldest;
      while ((oldest = running.poll()) == null) {
        Thread.onSpinWait();
      }
      return oldest.complete();
    }

    /** Stops the scheduler. */
    @TearDown(Level.Trial)
    public void tearDown() {
      System.out.printf("%n[end] %s: %d jobs started, %d running%n", impl, started.sum(), running.size());
      scheduler.close();
    }
  }

  /** Submits the replacement job before each timed {@link #releaseToStart} call. */
  @State(Scope.Thread)
  public static class Refill {
    /** Keeps the pending count constant, outside the measurement. */
    @Setup(Level.Invocation)
    public void refill(Sched s) {
      s.submitNext();
    }
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public boolean dispatch(Sched s) {
    boolean startedOne = s.completeOldest();
    s.submitNext();
    return startedOne;
  }

  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public boolean releaseToStart(Sched s, Refill r) {
    return s.completeOldest();
  }
}
