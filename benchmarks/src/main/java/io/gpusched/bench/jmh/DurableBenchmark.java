package io.gpusched.bench.jmh;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.core.GpuSchedulers;
import io.gpusched.core.SchedulerStores;
import io.gpusched.store.SchedulerStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Comparator;
import java.util.Locale;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
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
 * Durable dispatch and submit latency (issue 12): the same scheduler with no store, with the
 * in-memory store, with the JDBC store on H2 in file mode, and with the JDBC store on PostgreSQL,
 * in one run. Every durable call here returns only after its commit (see docs/durability.md), so
 * what is measured is the write-ahead cost with group commit, not an asynchronous write.
 *
 * <ul>
 *   <li>{@link #dispatch} (throughput): the cluster of {@code gpus} whole H100 GPUs is full with
 *       {@code pending} jobs waiting. One operation completes the oldest running job (committed),
 *       which starts the head of the pending jobs on the freed GPU (the start is committed before
 *       the launcher is called, inside the same {@code complete()} call or on the thread that runs
 *       the dispatch round), then submits one new job (committed) so that the backlog stays put.
 *       One operation = one job started: ops/s is job starts per second, end to end (submit, start
 *       and completion all durable).
 *   <li>{@link #submit} (sample time): only {@code submit}, into a cluster that is full, so the job
 *       waits. Gives the p50/p99 latency of an acknowledged submit. On H2 and PostgreSQL every
 *       iteration gets a new scheduler on a new store ({@link SubmitSched}); the backlog grows
 *       during the iteration, capped at {@value SubmitSched#CAP} jobs: without a store, or with
 *       the in-memory one, submits run at hundreds of thousands a second and once filled the heap
 *       within the first iteration. On PostgreSQL and H2 one iteration submits fewer than that, so
 *       their samples are submits only.
 * </ul>
 *
 * <p>Warm-up is 2 x 10 s: with 3 s, C2 was still compiling during the measurement on a 2-core
 * machine, and the submit p99 at 64 callers read 14-23 ms instead of the 6-7 ms of steady state.
 *
 * <p>The scheduler runs with its timer thread (ticks each second), as in production, so that a
 * caller that has dispatched the others' commands for more than 1 ms hands the loop over and
 * returns; until the ninth session it ran with {@code manualTicks()}, where no such hand-off
 * exists, and a submit could be held for as long as the other threads kept submitting.
 *
 * <p>Group commit needs concurrent callers: run with {@code -t 1}, {@code -t 4} and {@code -t 16}
 * ({@link #dispatch} with {@code -si false}, see {@link DispatchBenchmark}; {@link #submit} with
 * JMH's default {@code -si true}, which keeps its per-iteration setup out of the measured time). {@code store}: {@code none} (no store,
 * today's default), {@code memory} ({@link SchedulerStores#inMemory()}: the journal without I/O),
 * {@code h2} (a new H2 2.x file database in a temporary folder, {@code MAX_COMPACT_TIME=0;WRITE_DELAY=0}),
 * {@code postgres} (a new database, created per trial and dropped at the end, on the server that
 * the JDBC URL in the environment variable {@code GPUSCHED_BENCH_PG_URL} or the system property
 * {@code gpusched.bench.pgUrl} names; the user needs {@code CREATEDB}). Connections come from a
 * HikariCP pool of 8, as an application's would. {@code benchmarks/durable-bench.sh} starts a
 * throw-away PostgreSQL server (fsync on, as in production) and runs the whole matrix.
 *
 * <pre>
 * benchmarks/durable-bench.sh            # or, with your own server:
 * GPUSCHED_BENCH_PG_URL='jdbc:postgresql://127.0.0.1:5432/postgres?user=me' \
 *   java -jar benchmarks/target/gpusched-benchmarks.jar 'DurableBenchmark.dispatch' -t 16 -si false
 *   java -jar benchmarks/target/gpusched-benchmarks.jar 'DurableBenchmark.submit' -t 16
 * </pre>
 */
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 2, time = 10)
@Measurement(iterations = 3, time = 5)
public class DurableBenchmark {

  /** The environment variable that names the PostgreSQL server for {@code store=postgres}. */
  public static final String PG_URL_ENV = "GPUSCHED_BENCH_PG_URL";

  /** The scheduler, full, with its pending jobs, on the chosen store. */
  @State(Scope.Benchmark)
  public static class Sched {
    /** Where the state goes: none, memory, h2 or postgres. */
    @Param({"none", "memory", "h2", "postgres"})
    public String store;

    /** GPUs (all busy). */
    @Param({"1000"})
    public int gpus;

    /** Pending jobs kept waiting. */
    @Param({"1000"})
    public int pending;

    @SuppressWarnings("NullAway.Init") // set by open(), which every setup calls first
    GpuScheduler scheduler;
    final LinkedBlockingQueue<JobHandle> running = new LinkedBlockingQueue<>();
    final AtomicLong next = new AtomicLong();
    final PlacementRequest one = PlacementRequest.wholeGpus(1);
    private @Nullable HikariDataSource pool;
    /** The in-memory store, for {@link SubmitSched} to prune the records of the jobs it cancels. */
    @Nullable SchedulerStore memoryStore;
    private @Nullable Path h2Dir;
    private @Nullable String pgAdminUrl;
    private @Nullable String pgDatabase;

    /** Builds the store and the scheduler, then fills the cluster and the backlog. */
    @Setup(Level.Trial)
    public void setUp() throws IOException, SQLException {
      open();
    }

    /** Closes the scheduler and removes the database. */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException, SQLException {
      close();
    }

    void open() throws IOException, SQLException {
      GpuSchedulers.Builder b =
          GpuSchedulers.newBuilder()
              .nodes(BenchClusters.nodes("WHOLE", gpus))
              .queue(QueueSpec.of("a"))
              .queue(QueueSpec.of("b"))
              .preemption(false)
              .launcher((JobLauncher) running::add)
              // the timer thread, as in production (ticks each second): with manualTicks() there
              // is no hand-off, and at 128 submitting threads the thread that held the command
              // loop kept dispatching the others' commands for minutes, so its submit and JMH's
              // iteration never ended (docs/scheduler.md, "Progress")
              .eventExecutor(Runnable::run)
              .retainFinishedJobs(0);
      switch (store.toLowerCase(Locale.ROOT)) {
        case "none" -> {}
        case "memory" -> {
          memoryStore = SchedulerStores.inMemory();
          b.store(memoryStore);
        }
        case "h2" -> {
          h2Dir = Files.createTempDirectory("gpusched-bench-h2");
          pool = pool("jdbc:h2:file:" + h2Dir.resolve("state") + ";MAX_COMPACT_TIME=0;WRITE_DELAY=0");
          b.store(SchedulerStores.jdbc(pool));
        }
        case "postgres" -> {
          pgAdminUrl = pgUrl();
          pgDatabase = "gpusched_bench_" + System.currentTimeMillis();
          try (Connection c = DriverManager.getConnection(pgAdminUrl);
              Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + pgDatabase);
          }
          pool = pool(withDatabase(pgAdminUrl, pgDatabase));
          b.store(SchedulerStores.jdbc(pool));
        }
        default -> throw new IllegalArgumentException("unknown store " + store);
      }
      scheduler = b.build();
      for (int i = 0; i < gpus + pending; i++) {
        submitNext();
      }
      // a submit may return before its dispatch round ran: a caller hands the command loop over
      // after 1 ms, and the timer thread (or the next caller) starts the rest
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (running.size() < gpus && System.nanoTime() < deadline) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
      }
      if (running.size() != gpus) {
        throw new IllegalStateException(
            store + ": " + running.size() + " running after the fill, expected " + gpus);
      }
    }

    private static HikariDataSource pool(String url) {
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(url);
      config.setMaximumPoolSize(8);
      config.setPoolName("gpusched-bench");
      return new HikariDataSource(config);
    }

    private static String pgUrl() {
      String url = System.getenv(PG_URL_ENV);
      if (url == null || url.isBlank()) {
        url = System.getProperty("gpusched.bench.pgUrl");
      }
      if (url == null || url.isBlank()) {
        throw new IllegalStateException(
            "store=postgres needs a server: set " + PG_URL_ENV
                + " (e.g. jdbc:postgresql://127.0.0.1:5432/postgres?user=postgres), or run"
                + " benchmarks/durable-bench.sh, which starts one");
      }
      return url;
    }

    /** {@code url} with its database (the path after host:port) replaced by {@code db}. */
    static String withDatabase(String url, String db) {
      int hosts = url.indexOf("//");
      int slash = hosts < 0 ? -1 : url.indexOf('/', hosts + 2);
      if (slash < 0) {
        throw new IllegalArgumentException("not a jdbc:postgresql://host:port/database URL: " + url);
      }
      int query = url.indexOf('?', slash);
      return url.substring(0, slash + 1) + db + (query < 0 ? "" : url.substring(query));
    }

    JobHandle submitNext() {
      long n = next.getAndIncrement();
      return scheduler.submit(JobSpec.builder(one).id("j" + n).queue((n & 1) == 0 ? "a" : "b").build());
    }

    /**
     * Completes the oldest running job, waiting (parked, not spinning: with more threads than
     * cores, spinning waiters would take the CPU the committer and the database need) if another
     * thread's start is late.
     */
    boolean completeOldest() throws InterruptedException {
      return running.take().complete();
    }

    void close() throws IOException, SQLException {
      System.out.printf("%n[end] %s: %d jobs submitted, %d running%n", store, next.get(), running.size());
      scheduler.close();
      if (pool != null) {
        pool.close();
      }
      if (pgAdminUrl != null && pgDatabase != null) {
        try (Connection c = DriverManager.getConnection(pgAdminUrl);
            Statement st = c.createStatement()) {
          st.execute("DROP DATABASE IF EXISTS " + pgDatabase);
        }
      }
      if (h2Dir != null) {
        try (Stream<Path> files = Files.walk(h2Dir)) {
          files.sorted(Comparator.reverseOrder()).forEach(DurableBenchmark::delete);
        }
      }
    }
  }

  /**
   * The submit benchmark's scheduler and its waiting jobs.
   *
   * <p>On H2 and PostgreSQL the scheduler is new for every iteration, warm-up included, on a new
   * store (a new H2 file, a new PostgreSQL database), built and filled outside the measured time,
   * so every iteration measures submits from the same start ({@code pending} jobs waiting) into a
   * backlog that grows only by that iteration's submits, below {@link #CAP}: every sample is one
   * submit. Until the tenth session one scheduler served the whole trial: on PostgreSQL at 64
   * threads its backlog reached the cap during the measurement, and from then on every sample held
   * a submit and a cancel (two commits), which doubled the p50 and the p99 of the later iterations.
   * Run it with synchronized iterations (JMH's default): with {@code -si false} the iteration's
   * clock starts before this setup, which then takes most of the iteration.
   *
   * <p>Without a store and with the in-memory store one scheduler serves the trial, as before:
   * they submit hundreds of thousands of jobs a second and reach the cap within the first
   * iteration, and from then on each sample is a submit and a cancel of the oldest waiting job
   * (inside the measured operation: a thread that cancelled on the side could not keep up). The
   * in-memory store keeps the record of every cancelled job until it is pruned (as in production,
   * after the retention), which filled the heap at 16 threads: every {@value #PRUNE_EVERY} cancels
   * the cancelling thread prunes them, inside its sample too. The cancelling thread waits until
   * the cancel is done (the job's {@code whenFinished()}), so that the commands the callers queue
   * stay bounded. A new scheduler per iteration does
   * not work for them: a closed scheduler's timer thread still runs the commands its callers had
   * queued (millions of cancels' bookkeeping), so the old scheduler was still in the heap when the
   * new one filled it.
   */
  @State(Scope.Benchmark)
  public static class SubmitSched {
    /** Most waiting jobs kept. */
    public static final int CAP = 300_000;

    /** Cancels between two prunes of the in-memory store's finished records. */
    public static final int PRUNE_EVERY = 100_000;

    /** Where the state goes: none, memory, h2 or postgres. */
    @Param({"none", "memory", "h2", "postgres"})
    public String store;

    /** GPUs (all busy). */
    @Param({"1000"})
    public int gpus;

    /** Pending jobs waiting when the scheduler is new. */
    @Param({"1000"})
    public int pending;

    @Nullable Sched current;
    final java.util.concurrent.ConcurrentLinkedQueue<JobHandle> waiting =
        new java.util.concurrent.ConcurrentLinkedQueue<>();
    final java.util.concurrent.atomic.AtomicInteger size = new java.util.concurrent.atomic.AtomicInteger();
    final AtomicLong cancelled = new AtomicLong();

    private boolean durable() {
      String s = store.toLowerCase(Locale.ROOT);
      return s.equals("h2") || s.equals("postgres");
    }

    /** A new scheduler on a new store for a durable store (or the first iteration), else the same. */
    @Setup(Level.Iteration)
    public void setUp() throws IOException, SQLException {
      cancelled.set(0);
      if (current != null && !durable()) {
        return;
      }
      closeCurrent();
      waiting.clear();
      size.set(0);
      Sched s = new Sched();
      s.store = store;
      s.gpus = gpus;
      s.pending = pending;
      s.open();
      current = s;
    }

    /** Says how many jobs wait and how many this iteration cancelled to keep the cap. */
    @TearDown(Level.Iteration)
    public void report() {
      System.out.printf("%n[backlog] %d waiting, %d cancelled to keep at most %d%n", size.get(), cancelled.get(), CAP);
    }

    /** Closes the last scheduler and removes its store. */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException, SQLException {
      closeCurrent();
    }

    private void closeCurrent() throws IOException, SQLException {
      Sched s = current;
      current = null;
      if (s != null) {
        s.close();
      }
    }

    /** One acknowledged submit, then a cancel of the oldest waiting job if past the cap. */
    void submit() {
      Sched s = current;
      if (s == null) {
        throw new IllegalStateException("no scheduler: the iteration's setup did not run");
      }
      waiting.add(s.submitNext());
      if (size.incrementAndGet() > CAP) {
        JobHandle oldest = waiting.poll();
        if (oldest != null) {
          size.decrementAndGet();
          oldest.cancel();
          // until the dispatcher has done the cancel's bookkeeping: a cancel returns after its
          // compare-and-set, and 16 threads cancelling without waiting queued millions of
          // commands faster than the one dispatcher ran them, until the heap was full
          oldest.whenFinished().join();
          SchedulerStore store = s.memoryStore;
          if (cancelled.incrementAndGet() % PRUNE_EVERY == 0 && store != null) {
            store.pruneFinishedJobs(Long.MAX_VALUE, Integer.MAX_VALUE);
          }
        }
      }
    }
  }

  private static void delete(Path p) {
    try {
      Files.delete(p);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One job started (and one completed, one submitted): ops/s is job starts per second. */
  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.SECONDS)
  public boolean dispatch(Sched s) throws InterruptedException {
    boolean startedOne = s.completeOldest();
    s.submitNext();
    return startedOne;
  }

  /** One acknowledged submit of a job that waits (the cluster is full). */
  @Benchmark
  @BenchmarkMode(Mode.SampleTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public void submit(SubmitSched s) {
    s.submit();
  }
}
