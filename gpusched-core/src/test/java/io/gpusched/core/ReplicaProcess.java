package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.JobSpec;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.Random;
import javax.sql.DataSource;

/**
 * One scheduler replica as its own JVM, started by {@link FailoverCrashTest}: a {@link
 * SchedulerReplica} on the test's PostgreSQL with the shared {@link CrashHost}, a generator that
 * submits and cancels jobs through this replica (leader or follower) and appends each acknowledged
 * call to its acknowledgement file ({@code S id} / {@code C id}, written after the call returned),
 * and, while it leads, a host thread that finishes running jobs. It runs until killed, or until the
 * stop file exists (then it stops generating and keeps serving).
 *
 * <p>Arguments: JDBC URL, replica name, acknowledgement file, stop file, seed, lease in ms, the
 * probability of halting (as {@code kill -9} does) at a launcher start.
 */
public final class ReplicaProcess {
  private ReplicaProcess() {}

  /** A pooled data source on {@code url} as user gpusched (see {@link TestPool}). */
  static DataSource dataSource(String url) {
    return new TestPool(
        url,
        () -> {
          Properties pr = new Properties();
          pr.setProperty("user", "gpusched");
          pr.setProperty("connectTimeout", "2");
          pr.setProperty("socketTimeout", "10");
          return DriverManager.getConnection(url, pr);
        });
  }

  static List<NodeSpec> nodes() {
    return List.of(
        NodeSpec.builder("n1").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build(),
        NodeSpec.builder("n2").gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build());
  }

  public static void main(String[] args) throws Exception {
    String url = args[0];
    String name = args[1];
    Path acks = Paths.get(args[2]);
    Path stop = Paths.get(args[3]);
    long seed = Long.parseLong(args[4]);
    long leaseMs = Long.parseLong(args[5]);
    double halt = Double.parseDouble(args[6]);
    DataSource ds = dataSource(url);
    CrashHost host = new CrashHost(ds, halt, seed);
    SchedulerReplica built = null;
    while (built == null) { // the database may be down (the test restarts it): try again
      try {
        built =
        SchedulerReplicas.newBuilder(
                ds,
                () -> {
                  var cb = GpuClusters.newBuilder();
                  nodes().forEach(cb::node);
                  GpuCluster c = cb.build();
                  host.cluster = c;
                  return GpuSchedulers.newBuilder()
                      .cluster(c)
                      .queue(QueueSpec.of("q"))
                      .launcher(host)
                      .tickInterval(Duration.ofMillis(100));
                })
            .name(name)
            .leaseDuration(Duration.ofMillis(leaseMs))
            .pollInterval(Duration.ofMillis(50))
            .build();
      } catch (io.gpusched.store.StoreException e) {
        Thread.sleep(200);
      }
    }
    SchedulerReplica replica = built;
    Random r = new Random(seed);
    Thread finisher =
        new Thread(
            () -> {
              Random fr = new Random(seed + 1);
              while (true) {
                try {
                  Thread.sleep(20);
                  if (replica.status().role() == ReplicaStatus.Role.LEADER) {
                    host.finishOne(fr);
                  }
                } catch (InterruptedException e) {
                  return;
                } catch (RuntimeException e) {
                  // the store is down: try again
                }
              }
            },
            "finisher");
    finisher.setDaemon(true);
    finisher.start();
    List<String> acked = new ArrayList<>();
    try (BufferedWriter out =
        Files.newBufferedWriter(acks, StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
      for (int n = 0; !Files.exists(stop); n++) {
        Thread.sleep(15 + r.nextInt(30));
        String id = name + "-" + seed + "-" + n;
        try {
          if (!acked.isEmpty() && r.nextInt(8) == 0) {
            // half of the cancels hit a job the host runs now: its stop, and the stop sent again
            // when the leader dies between the cancel's commit and the host call, are exercised
            String running = r.nextBoolean() ? host.anyRunning(r) : null;
            String victim = running != null ? running : acked.get(r.nextInt(acked.size()));
            if (replica.cancel(victim)) {
              ack(out, "C " + victim);
            }
          } else {
            replica.submit(
                JobSpec.builder(PlacementRequest.wholeGpus(1 + r.nextInt(2)))
                    .id(id)
                    .queue("q")
                    .requeueOnPreemption(true)
                    .build());
            acked.add(id);
            ack(out, "S " + id);
          }
        } catch (RuntimeException e) {
          // not acknowledged (store down, leadership moving): nothing to check
        }
      }
    }
    // no call of this process is in flight any more: the test may check that the inbox is drained
    Files.createFile(acks.resolveSibling("done-" + acks.getFileName()));
    Thread.sleep(Long.MAX_VALUE); // keep serving (the inbox) until the test kills this process
  }

  private static void ack(BufferedWriter out, String line) throws IOException {
    out.write(line);
    out.newLine();
    out.flush(); // in the OS's hands: survives kill -9 of this process
  }
}
