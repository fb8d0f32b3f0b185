package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobState;
import io.gpusched.QueueSpec;
import io.gpusched.Reconciliation;
import io.gpusched.StopReason;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Crash test with real processes on a real PostgreSQL: three {@link ReplicaProcess} JVMs share one
 * database; each generates submits and cancels through its replica while the leader's host thread
 * finishes jobs. The test kills the leader with {@code kill -9} ({@link Process#destroyForcibly})
 * at random moments, and the leader also halts itself at random launcher starts (the moment
 * between a start's commit and the launcher call); every dead replica is started again. Each
 * failover is timed from the kill to the new leader's recovery (the leader row's {@code ready}).
 *
 * <p>Then PostgreSQL is restarted under that load (fast shutdown: every session ends), and the
 * replicas must take calls again.
 *
 * <p>At the end (generators stopped, the inbox drained, every process killed): every acknowledged
 * submit is in the store exactly once, in a final state or pending or running, and no inbox row
 * was rejected; every acknowledged cancel ended its job; the host never ran a job twice nor two
 * jobs on one GPU, and refused no call; each recovery found the engine's allocations equal to the
 * running jobs'; a scheduler built on the final store recovers it without conflict, with its
 * queue usage adding up ({@link DefaultScheduler#verifyInvariants}); and every committed stop
 * arrives: each job the host still runs at the end although the store holds its stop gets that
 * stop from this last recovery (during the run, a stop that arrives only after another job took
 * the job's GPU is a {@code LATE_STOP}, which fails the test).
 *
 * <p>{@code -Dgpusched.crash.kills=N} sets the number of kills (default 3, for CI); {@code
 * -Dgpusched.crash.seed} the seed. The failover times are logged (see docs/benchmarks.md).
 */
class FailoverCrashTest {
  private static final Logger log = LoggerFactory.getLogger(FailoverCrashTest.class);
  /** The library's default lease, unless {@code -Dgpusched.crash.lease-ms} says otherwise. */
  private static final long LEASE_MS =
      Long.getLong("gpusched.crash.lease-ms", SchedulerReplicas.DEFAULT_LEASE.toMillis());

  @TempDir Path dir;

  private final Map<String, Process> procs = new HashMap<>();
  private final Map<String, Integer> incarnations = new HashMap<>();
  private int selfHalts;

  @Test
  void theLeaderKilledAtRandomMomentsLosesNothingAndNeverRunsAJobTwice() throws Exception {
    int kills = Integer.getInteger("gpusched.crash.kills", 3);
    long seed = Long.getLong("gpusched.crash.seed", System.nanoTime());
    log.info("crash test: {} kills, seed {}", kills, seed);
    Random r = new Random(seed);
    try (PostgresServer pg = PostgresServer.startOrSkip()) {
      String db = pg.newDatabase();
      String url = pg.url(db);
      DataSource ds = ReplicaProcess.dataSource(url);
      new JdbcStore(ds).checkSchema();
      try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
        for (String ddl : CrashHost.DDL) {
          s.execute(ddl);
        }
      }
      Path stop = dir.resolve("stop");
      try {
        for (String n : List.of("r1", "r2", "r3")) {
          start(n, url, stop, r.nextLong());
        }
        List<Long> failovers = new ArrayList<>();
        long epoch = awaitReady(ds, 0, 60_000);
        for (int k = 0; k < kills; k++) {
          Thread.sleep(500 + r.nextInt(2_000));
          restartDead(url, stop, r);
          long[] row = leaderRow(ds);
          if (row[0] != epoch || row[1] != 1) { // a self-halt moved leadership meanwhile
            epoch = awaitReady(ds, epoch, 30_000);
            k--;
            continue;
          }
          String leader = holder(ds);
          Process p = procs.get(leader);
          long killedAt = System.nanoTime();
          log.info("killing {} (epoch {}) at {}", leader, epoch, java.time.LocalTime.now());
          p.destroyForcibly();
          p.waitFor();
          long next = awaitReady(ds, epoch, 30_000);
          long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
          failovers.add(ms);
          log.info("kill {}: leader {} of epoch {} killed; epoch {} ready after {} ms", k + 1, leader, epoch, next, ms);
          epoch = next;
          start(leader, url, stop, r.nextLong());
        }
        // a PostgreSQL restart under load: replicas reconnect, nothing acknowledged is lost
        long ackedBefore = acknowledged();
        log.info("restarting PostgreSQL under load ({} calls acknowledged so far)", ackedBefore);
        pg.stopServer();
        Thread.sleep(1_000);
        pg.startServer();
        awaitReady(ds, 0, 30_000);
        Thread.sleep(2_000);
        restartDead(url, stop, r);
        long ackedAfter = acknowledged();
        log.info("{} calls acknowledged after the restart", ackedAfter - ackedBefore);
        assertThat(ackedAfter).as("the replicas take calls again after the restart").isGreaterThan(ackedBefore);
        Files.createFile(stop);
        awaitDrained(ds, url, stop, r);
        log.info("failover times (ms) over {} kills, sorted: {}; {} self-halts at a launcher start",
            failovers.size(), failovers.stream().sorted().toList(), selfHalts);
      } finally {
        for (Process p : procs.values()) {
          p.destroyForcibly();
          p.waitFor();
        }
        String keep = System.getProperty("gpusched.crash.logs");
        if (keep != null) { // the replicas' logs, for a longer run's record
          Files.createDirectories(Path.of(keep));
          try (var logs = Files.list(dir)) {
            for (Path f : logs.filter(f -> f.toString().endsWith(".log")).toList()) {
              Files.copy(f, Path.of(keep, f.getFileName().toString()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
          }
        }
      }
      verify(ds);
    }
  }

  private long acknowledged() throws IOException {
    long n = 0;
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith("acks-")).toList()) {
        n += Files.readAllLines(f).size();
      }
    }
    return n;
  }

  private void start(String name, String url, Path stop, long seed) throws IOException {
    int inc = incarnations.merge(name, 1, Integer::sum);
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Path out = dir.resolve(name + "-" + inc + ".log");
    ProcessBuilder pb =
        new ProcessBuilder(
                java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS", "-cp", System.getProperty("java.class.path"),
                ReplicaProcess.class.getName(), url, name, dir.resolve("acks-" + name + "-" + inc).toString(),
                stop.toString(), Long.toString(seed), Long.toString(LEASE_MS), "0.01")
            .redirectErrorStream(true)
            .redirectOutput(out.toFile());
    procs.put(name, pb.start());
  }

  /** Starts again every replica process that died on its own (a halt at a start); returns how many. */
  private int restartDead(String url, Path stop, Random r) throws IOException {
    int n = 0;
    for (var e : new ArrayList<>(procs.entrySet())) {
      if (!e.getValue().isAlive()) {
        log.info("replica {} halted itself (exit {}); starting it again", e.getKey(), e.getValue().exitValue());
        start(e.getKey(), url, stop, r.nextLong());
        n++;
        selfHalts++;
      }
    }
    return n;
  }

  /** {epoch, ready ? 1 : 0, holder == null ? 1 : 0}. */
  private static long[] leaderRow(DataSource ds) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT epoch, ready, holder FROM gpusched_leader WHERE id = 1")) {
      rs.next();
      return new long[] {rs.getLong(1), rs.getBoolean(2) ? 1 : 0, rs.getString(3) == null ? 1 : 0};
    }
  }

  private static String holder(DataSource ds) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT holder FROM gpusched_leader WHERE id = 1")) {
      rs.next();
      String h = rs.getString(1);
      return h.substring(0, h.indexOf('/'));
    }
  }

  /** Waits until a leader of an epoch above {@code after} finished its recovery. */
  private static long awaitReady(DataSource ds, long after, long timeoutMs) throws Exception {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (System.nanoTime() < end) {
      try {
        long[] row = leaderRow(ds);
        if (row[0] > after && row[1] == 1) {
          return row[0];
        }
      } catch (SQLException e) {
        // retry
      }
      Thread.sleep(10);
    }
    throw new AssertionError("no leader after epoch " + after + " became ready in " + timeoutMs + " ms");
  }

  private void awaitDrained(DataSource ds, String url, Path stop, Random r) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < end) {
      restartDead(url, stop, r);
      // every generator has left its loop first: a call in flight when the stop file appeared
      // could otherwise commit its inbox row after this count (the first version's check raced so)
      if (generatorsStopped()
          && count(ds, "SELECT COUNT(*) FROM gpusched_inbox WHERE rejected IS NULL") == 0) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the inbox was not drained in 60 s");
  }

  /** Whether each live replica process has written its "done" file (its generator stopped). */
  private boolean generatorsStopped() {
    for (var e : procs.entrySet()) {
      String acks = "acks-" + e.getKey() + "-" + incarnations.get(e.getKey());
      if (e.getValue().isAlive() && !Files.exists(dir.resolve("done-" + acks))) {
        return false;
      }
    }
    return true;
  }

  private static long count(DataSource ds, String sql) throws SQLException {
    try (Connection c = ds.getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private void verify(DataSource ds) throws Exception {
    Set<String> submits = new LinkedHashSet<>();
    Set<String> cancels = new HashSet<>();
    try (var files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith("acks-")).toList()) {
        for (String line : Files.readAllLines(f)) {
          if (line.startsWith("S ")) {
            submits.add(line.substring(2));
          } else if (line.startsWith("C ")) {
            cancels.add(line.substring(2));
          }
        }
      }
    }
    Map<String, String> states = new HashMap<>();
    Map<String, Integer> events = new TreeMap<>();
    List<String> bad = new ArrayList<>();
    try (Connection c = ds.getConnection(); Statement s = c.createStatement()) {
      try (ResultSet rs = s.executeQuery("SELECT id, state FROM gpusched_job")) {
        while (rs.next()) {
          states.put(rs.getString(1), rs.getString(2));
        }
      }
      try (ResultSet rs = s.executeQuery("SELECT kind, job_id, epoch, detail FROM test_event ORDER BY id")) {
        while (rs.next()) {
          String kind = rs.getString(1);
          events.merge(kind, 1, Integer::sum);
          // LATE_STOP too: a committed stop is sent again by the next leader before it starts
          // anything, so a GPU is never given away while the host still runs the stopped job
          if (Set.of("DOUBLE_JOB", "DOUBLE_GPU", "REFUSED", "RECOVERY_MISMATCH", "LATE_STOP").contains(kind)) {
            bad.add(kind + " " + rs.getString(2) + " epoch " + rs.getLong(3) + ": " + rs.getString(4));
          }
        }
      }
      try (ResultSet rs = s.executeQuery("SELECT job_id, rejected FROM gpusched_inbox")) {
        while (rs.next()) {
          bad.add("inbox row of " + rs.getString(1) + " left: " + rs.getString(2));
        }
      }
    }
    log.info("{} acknowledged submits, {} acknowledged cancels, {} jobs stored; host events {}",
        submits.size(), cancels.size(), states.size(), events);
    for (String id : submits) {
      if (!states.containsKey(id)) {
        bad.add("acknowledged submit " + id + " is not in the store");
      }
    }
    for (String id : cancels) {
      String st = states.get(id);
      if (st == null || !JobState.valueOf(st).isFinal()) {
        bad.add("acknowledged cancel of " + id + " left it " + st);
      }
    }
    assertThat(bad).isEmpty();
    assertThat(events.getOrDefault("RECOVERY_OK", 0)).as("recoveries checked").isPositive();
    assertThat(submits).hasSizeGreaterThan(50);

    // a scheduler on the final store recovers it without conflict, and its usage adds up
    Set<String> hostRuns = new HashSet<>();
    try (Connection c = ds.getConnection();
        PreparedStatement p = c.prepareStatement("SELECT job_id FROM test_running");
        ResultSet rs = p.executeQuery()) {
      while (rs.next()) {
        hostRuns.add(rs.getString(1));
      }
    }
    var b = GpuSchedulers.newBuilder().queue(QueueSpec.of("q")).manualTicks();
    ReplicaProcess.nodes().forEach(n -> b.nodes(List.of(n)));
    Set<String> stoppedAtRecovery = java.util.concurrent.ConcurrentHashMap.newKeySet();
    GpuScheduler s =
        b.store(SchedulerStores.jdbc(ds))
            .launcher(
                new JobLauncher() {
                  @Override
                  public void start(JobHandle job) {}

                  @Override
                  public void stop(JobHandle job, StopReason reason, Instant deadline) {
                    stoppedAtRecovery.add(job.id());
                  }

                  @Override
                  public Reconciliation reconcile(JobHandle job) {
                    return hostRuns.contains(job.id()) ? Reconciliation.RUNNING : Reconciliation.GONE;
                  }
                })
            .build();
    try {
      ((DefaultScheduler) s).verifyInvariants();
      for (String id : submits) {
        assertThat(s.job(id)).as(id).isPresent();
      }
      // every committed stop reaches the host: a job the host still runs after the last kill,
      // but whose stop the store holds (it no longer runs there), gets its stop from this
      // recovery, before anything starts
      List<String> undelivered = new ArrayList<>();
      int pendingStops = 0;
      for (String id : hostRuns) {
        String st = states.get(id);
        if ("RUNNING".equals(st) || "PREEMPTING".equals(st)) {
          continue;
        }
        pendingStops++;
        if (!stoppedAtRecovery.contains(id)) {
          undelivered.add(id + " (" + st + ")");
        }
      }
      log.info("after the last kill the host ran {} jobs, {} of them stopped in the store; the final"
          + " recovery sent {} stops", hostRuns.size(), pendingStops, stoppedAtRecovery.size());
      assertThat(undelivered).as("jobs the host runs whose committed stop never arrived").isEmpty();
    } finally {
      s.close();
    }
  }

}
