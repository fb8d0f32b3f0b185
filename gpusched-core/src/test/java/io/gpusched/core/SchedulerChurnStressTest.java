package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.AllocatedGpu;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuSample;
import io.gpusched.GpuTelemetry;
import io.gpusched.IdlePolicy;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.QueueStats;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Issue 10's scheduler proofs. Threads submit, complete, fail and cancel jobs and acknowledge
 * stops while other threads take nodes down, add nodes (new ids and lost ids coming back), drain,
 * cordon, uncordon and announce spot interruptions, and a ticker advances the clock. At
 * quiescence:
 *
 * <ul>
 *   <li>every submitted job is known once, and is final, PENDING (in its lane), or holds GPUs on
 *       active allocations of nodes the cluster still lists;
 *   <li>the engine's allocations are exactly the GPU-holding jobs' allocations;
 *   <li>every queue's usage, running and pending counts equal the sums over its jobs;
 *   <li>no job started twice without ending in between.
 * </ul>
 *
 * Then the test drives every remaining job to the end on fresh nodes (the scheduler still
 * dispatches) and checks that nothing stays allocated or booked. The second test runs the same
 * with every SPI (launcher start and stop, listener, placement observer, telemetry) throwing, at
 * random, a RuntimeException, an Error or a checked exception thrown sneakily.
 */
class SchedulerChurnStressTest {

  static final int SUBMITTERS = 3;
  static final int JOBS_PER_SUBMITTER = Integer.getInteger("gpusched.churn.jobs", 800);
  /** Starts to reach before quiescence (runs of the same job count each). */
  static final int STARTS = Integer.getInteger("gpusched.churn.starts", 1_500);

  /** Throws at random from the SPI call sites it is asked about; counts what it threw where. */
  static final class Faults {
    final double probability;
    final Map<String, AtomicInteger> thrown = new ConcurrentHashMap<>();

    Faults(double probability) {
      this.probability = probability;
    }

    void maybeThrow(String site) {
      var rnd = ThreadLocalRandom.current();
      if (probability == 0 || rnd.nextDouble() >= probability) {
        return;
      }
      thrown.computeIfAbsent(site, k -> new AtomicInteger()).incrementAndGet();
      switch (rnd.nextInt(3)) {
        case 0 -> throw new IllegalStateException("injected into " + site);
        case 1 -> throw new Error("injected into " + site);
        default -> throw SchedulerFaultRegressionTest.sneaky(new java.io.IOException("injected into " + site));
      }
    }
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A node of {@code up} that a RUNNING job of {@code all} holds GPUs on, or null. */
  static @org.jspecify.annotations.Nullable String runningOn(Iterable<JobHandle> all, List<String> up) {
    for (JobHandle j : all) {
      if (j.state() == JobState.RUNNING) {
        for (var a : j.allocations()) {
          String n = a.nodeId();
          if (up.contains(n)) {
            return n;
          }
        }
      }
    }
    return null;
  }

  static NodeSpec node(String id, int kind) {
    return switch (kind % 4) {
      case 0 -> NodeSpec.builder(id).gpus(4, GpuModels.H100_80GB, GpuMode.WHOLE).build();
      case 1 -> NodeSpec.builder(id).gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE).pricePerGpuHour(2).build();
      case 2 -> NodeSpec.builder(id).gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build();
      default -> NodeSpec.builder(id).gpus(1, GpuModels.H100_80GB, GpuMode.SHARED).build();
    };
  }

  /** The property test's shapes that some node can host (its last one never fits). */
  static final List<PlacementRequest> SHAPES =
      SchedulerPropertiesTest.SHAPES.subList(0, SchedulerPropertiesTest.SHAPES.size() - 1);

  @Test
  void booksStayExactUnderNodeChurn() throws Exception {
    var faults = new Faults(0);
    run(faults);
    assertThat(faults.thrown).isEmpty();
  }

  @Test
  void everySpiThrowingAtRandomNeitherStopsDispatchingNorLeaks() throws Exception {
    var faults = new Faults(0.03);
    run(faults);
    assertThat(faults.thrown)
        .as("faults were injected at every SPI")
        .containsKeys("launcher.start", "launcher.stop", "listener", "observer", "telemetry");
  }

  void run(Faults faults) throws Exception {
    var clock = new SchedulerHarness.ManualClock();
    var started = new ConcurrentLinkedQueue<JobHandle>();
    var starts = new StartTracker();
    Map<String, AtomicInteger> seen = new ConcurrentHashMap<>(); // event kinds, for coverage
    JobLauncher launcher =
        new JobLauncher() {
          @Override
          public void start(JobHandle job) {
            started.add(job);
            faults.maybeThrow("launcher.start");
          }

          @Override
          public void stop(JobHandle job, StopReason reason, Instant deadline) {
            faults.maybeThrow("launcher.stop");
          }
        };
    GpuTelemetry telemetry =
        new GpuTelemetry() {
          @Override
          public Optional<GpuSample> latest(String uuid, int slot) {
            faults.maybeThrow("telemetry");
            int util = (uuid.hashCode() & 1) == 0 ? 0 : 100; // half the GPUs look idle
            return Optional.of(GpuSample.builder(uuid, clock.millis()).utilizationPercent(util).build());
          }
        };
    var nodes = new ArrayList<NodeSpec>();
    for (int i = 0; i < 8; i++) {
      nodes.add(node("n" + i, i));
    }
    var s =
        (DefaultScheduler)
            GpuSchedulers.newBuilder()
                .nodes(nodes)
                .clock(clock)
                .manualTicks()
                .eventExecutor(Runnable::run)
                .launcher(launcher)
                .placementObserver(
                    (demand, placed, nanos) -> {
                      if (placed) {
                        // a slow dispatcher: widens the window between the engine's place and
                        // the books, where node calls from the churners land
                        long until = System.nanoTime() + 20_000;
                        while (System.nanoTime() < until) {
                          Thread.onSpinWait();
                        }
                      }
                      faults.maybeThrow("observer");
                    })
                .telemetry(telemetry, new IdlePolicy(5, Duration.ofSeconds(30), false, 1024, Duration.ofMinutes(2)))
                .idleReclaimGrace(Duration.ofSeconds(10))
                .queue(QueueSpec.builder("A").guaranteedGpus(8).build())
                .queue(QueueSpec.builder("B").guaranteedGpus(4).borrowLimitGpus(8).build())
                .queue(QueueSpec.of("C"))
                .retainFinishedJobs(SUBMITTERS * JOBS_PER_SUBMITTER)
                .listener(
                    e -> {
                      String kind =
                          e instanceof SchedulerEvent.JobPreempted p
                              ? "JobPreempted:" + p.reason()
                              : e.getClass().getSimpleName();
                      seen.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet();
                      starts.on(e);
                    })
                .listener(e -> faults.maybeThrow("listener"))
                .build();
    var all = new ConcurrentLinkedQueue<JobHandle>();
    var failures = new ConcurrentLinkedQueue<Throwable>();
    var submitting = new AtomicInteger(SUBMITTERS);
    var stop = new AtomicBoolean();
    var up = new CopyOnWriteArrayList<String>();
    nodes.forEach(n -> up.add(n.id()));
    var threads = new ArrayList<Thread>();
    for (int t = 0; t < SUBMITTERS; t++) {
      int id = t;
      threads.add(
          new Thread(
              () -> {
                var rnd = ThreadLocalRandom.current();
                var mine = new ArrayList<JobHandle>(); // latest handle per id of this thread
                for (int i = 0; i < JOBS_PER_SUBMITTER; i++) {
                  // now and then the id of a finished job is used again (a resubmission)
                  int reuse = i > 0 && rnd.nextInt(8) == 0 ? rnd.nextInt(mine.size()) : -1;
                  if (reuse >= 0 && !mine.get(reuse).state().isFinal()) {
                    reuse = -1;
                  }
                  var spec =
                      JobSpec.builder(SHAPES.get(rnd.nextInt(SHAPES.size())))
                          .id(reuse >= 0 ? mine.get(reuse).id() : "t" + id + "-" + i)
                          .queue(List.of("A", "B", "C").get(rnd.nextInt(3)))
                          .priority(rnd.nextInt(3))
                          .preemptible(rnd.nextBoolean())
                          .requeueOnPreemption(rnd.nextInt(4) != 0)
                          .reclaimWhenIdle(rnd.nextInt(4) == 0)
                          .gracePeriod(rnd.nextBoolean() ? Duration.ZERO : Duration.ofSeconds(5))
                          .gangSize(rnd.nextInt(8) == 0 ? 2 : 1)
                          .build();
                  JobHandle h = s.submit(spec);
                  all.add(h);
                  if (reuse >= 0) {
                    mine.set(reuse, h);
                  } else {
                    mine.add(h);
                  }
                  if (i % 16 == 0) {
                    sleep(1);
                  }
                }
                // at least one resubmission per thread, whatever the timing: wait (bounded) until
                // one of this thread's jobs is final, then use its id again
                long until = System.nanoTime() + 5_000_000_000L;
                for (boolean done = false; !done && System.nanoTime() < until; ) {
                  for (int k = 0; k < mine.size() && !done; k++) {
                    if (mine.get(k).state().isFinal()) {
                      String again = mine.get(k).id();
                      all.add(s.submit(JobSpec.builder(SHAPES.get(0)).id(again).queue("A").build()));
                      done = true;
                    }
                  }
                  if (!done) {
                    sleep(1);
                  }
                }
                submitting.decrementAndGet();
              }));
    }
    for (int t = 0; t < 2; t++) {
      threads.add(
          new Thread(
              () -> {
                var rnd = ThreadLocalRandom.current();
                while (!stop.get()) {
                  JobHandle j = started.poll(); // a run's own handle, as a host holds it
                  if (j == null) {
                    Thread.yield();
                    continue;
                  }
                  if (j.allocations().stream().anyMatch(a -> !a.isActive())) {
                    continue; // its node was lost: that host never reports again
                  }
                  switch (j.state()) {
                    case RUNNING -> {
                      int r = rnd.nextInt(10);
                      boolean keep = r == 9; // still running: look at it again later
                      boolean done = !keep && (r < 6 ? j.complete() : r < 7 ? j.fail("x") : j.cancel());
                      if (!done && j.state().holdsGpus()) {
                        started.add(j);
                      }
                    }
                    case PREEMPTING -> {
                      if (!j.stopped() && j.state().holdsGpus()) {
                        started.add(j);
                      }
                    }
                    default -> {} // ended, or an earlier run of a requeued job
                  }
                }
              }));
    }
    threads.add( // cancels pending jobs
        new Thread(
            () -> {
              var rnd = ThreadLocalRandom.current();
              while (!stop.get()) {
                for (JobHandle j : all) {
                  if (rnd.nextInt(500) == 0 && j.state() == JobState.PENDING) {
                    j.cancel();
                  }
                }
                sleep(5);
              }
            }));
    threads.add( // nodes lost and added: new ids, and lost ids coming back
        new Thread(
            () -> {
              var rnd = ThreadLocalRandom.current();
              var down = new ArrayList<String>();
              int next = nodes.size();
              while (!stop.get()) {
                if (rnd.nextBoolean() && up.size() > 3) {
                  // half the time a node that runs a job (so jobs are lost with their nodes
                  // whatever the timing: under load, random picks can miss every running job)
                  String id = rnd.nextBoolean() ? runningOn(all, up) : null;
                  if (id == null) {
                    id = up.get(rnd.nextInt(up.size()));
                  }
                  up.remove(id);
                  s.nodeDown(id);
                  down.add(id);
                } else if (!down.isEmpty() && rnd.nextBoolean()) {
                  String id = down.remove(rnd.nextInt(down.size()));
                  s.addNode(node(id, Integer.parseInt(id.substring(1))));
                  up.add(id);
                } else if (up.size() < 12) {
                  String id = "n" + next;
                  s.addNode(node(id, next++));
                  up.add(id);
                }
                sleep(rnd.nextInt(3));
              }
            }));
    threads.add( // drain, cordon, uncordon, spot interruption of whatever is up
        new Thread(
            () -> {
              var rnd = ThreadLocalRandom.current();
              while (!stop.get()) {
                List<String> ids = List.copyOf(up);
                if (ids.isEmpty()) {
                  continue;
                }
                String id = ids.get(rnd.nextInt(ids.size()));
                try {
                  switch (rnd.nextInt(8)) {
                    case 0 -> s.drain(id, Duration.ofSeconds(rnd.nextInt(3)));
                    case 1 -> s.cordon(id);
                    case 2 -> s.spotInterruption(id, clock.instant().plusSeconds(rnd.nextInt(3)));
                    default -> s.uncordon(id); // most of the time the nodes are usable
                  }
                } catch (IllegalArgumentException gone) {
                  // the other churner took it down in between: "unknown node"
                  assertThat(gone).hasMessageContaining(id);
                }
                sleep(rnd.nextInt(3));
              }
            }));
    threads.add(
        new Thread(
            () -> {
              while (!stop.get()) {
                clock.advance(Duration.ofSeconds(1));
                s.tick();
                sleep(1);
              }
            }));
    for (Thread t : threads) {
      t.setUncaughtExceptionHandler((th, e) -> failures.add(e));
      t.start();
    }
    long t0 = System.nanoTime();
    long deadline = t0 + 30_000_000_000L;
    // churn on until every submission returned, enough jobs started and the churn did what it is
    // for (a CI run on 2 cores once ended its second with no job lost with its node: the node
    // thread had barely run); bounded: on a slow machine the checks below run on whatever was
    // reached
    List<String> wanted = List.of("JobPreempted:NODE_LOST", "JobRequeued", "JobCancelled", "JobCompleted");
    while ((submitting.get() > 0
            || (starts.startEvents.get() < STARTS && all.stream().anyMatch(j -> !j.state().isFinal()))
            || !seen.keySet().containsAll(wanted))
        && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    stop.set(true);
    for (Thread t : threads) {
      t.join(30_000);
      assertThat(t.isAlive()).as("%s stopped", t).isFalse();
    }
    assertThat(failures).as("no call threw anything but the documented 'unknown node'").isEmpty();
    assertThat(submitting.get()).as("all submissions returned").isZero();
    assertThat(all)
        .hasSizeBetween(SUBMITTERS * JOBS_PER_SUBMITTER, SUBMITTERS * (JOBS_PER_SUBMITTER + 1));
    long distinct = all.stream().map(JobHandle::id).distinct().count();
    assertThat(distinct).as("some ids were used again").isLessThan(all.size());
    assertThat(starts.startEvents.get()).isPositive();

    // ---- quiescence: every caller returned and nobody is dispatching ----
    long finals = all.stream().filter(j -> j.state().isFinal()).count();
    checkQuiescent(s, all);
    System.out.printf(
        "churn%s: %d ms, %d jobs (%d final at quiescence), events %s, faults %s%n",
        faults.probability > 0 ? " with faults" : "",
        (System.nanoTime() - t0) / 1_000_000,
        all.size(),
        finals,
        new java.util.TreeMap<>(seen),
        faults.thrown);
    // the churn did what it is for: jobs lost with their nodes and requeued, ended every way
    assertThat(seen).containsKeys(wanted.toArray(String[]::new));
    assertThat(starts.doubleStarts).as("started twice without ending in between").isEmpty();

    // ---- the scheduler still dispatches: drive every remaining job to its end on fresh nodes ----
    for (String id : List.copyOf(up)) {
      s.uncordon(id);
    }
    for (int k = 0; k < 4; k++) {
      s.addNode(node("fresh" + k, k));
    }
    for (int round = 0; round < 5_000 && all.stream().anyMatch(j -> !j.state().isFinal()); round++) {
      for (JobHandle j : all) {
        switch (j.state()) {
          case RUNNING -> j.complete();
          case PREEMPTING -> j.stopped();
          default -> {}
        }
      }
      clock.advance(Duration.ofSeconds(1));
      s.tick();
    }
    assertThat(all).allSatisfy(j -> assertThat(j.state().isFinal()).as("%s ended", j).isTrue());
    assertThat(starts.doubleStarts).isEmpty();
    checkQuiescent(s, all);
    assertThat(s.cluster().snapshot().total().allocatedGpus()).isZero();
    assertThat(s.snapshot().queues()).allSatisfy(q -> assertThat(q.usedGpus()).isZero());
  }

  /**
   * The invariants that hold whenever no call is in progress. {@code submitted} holds every handle
   * submit returned, in submission order per id: the last one of an id is the job the scheduler
   * knows by it, and the earlier ones had ended before their id was used again.
   */
  static void checkQuiescent(DefaultScheduler s, Iterable<JobHandle> submitted) {
    s.verifyInvariants(); // the work counter is 0: nobody is dispatching; the books are coherent
    Set<String> nodesNow = new HashSet<>();
    s.cluster().nodes().forEach(n -> nodesNow.add(n.id()));
    Set<Long> held = new HashSet<>();
    Map<String, Long> usedMilli = new HashMap<>();
    Map<String, Integer> runningJobs = new HashMap<>();
    Map<String, Integer> pendingJobs = new HashMap<>();
    Map<String, JobHandle> latest = new HashMap<>();
    for (JobHandle h : submitted) {
      JobHandle before = latest.put(h.id(), h);
      if (before != null) {
        assertThat(before.state().isFinal()).as("%s ended before its id was used again", before).isTrue();
        assertThat(before.allocations()).isEmpty();
      }
    }
    Set<String> ids = latest.keySet();
    for (JobHandle h : latest.values()) {
      assertThat(s.job(h.id())).as("job %s lost", h.id()).containsSame(h);
      Job j = (Job) h;
      JobState st = j.state();
      String q = j.spec().queue();
      if (st.holdsGpus()) {
        assertThat(j.allocations()).as("%s holds its gang", j).hasSize(j.spec().gangSize());
        for (Allocation a : j.allocations()) {
          assertThat(a.isActive()).as("%s on an active allocation", j).isTrue();
          for (AllocatedGpu g : a.gpus()) {
            assertThat(nodesNow).as("%s on a node the cluster lists", j).contains(g.nodeId());
          }
          assertThat(held.add(a.id())).as("allocation %s held by one job", a.id()).isTrue();
        }
        if (j.spec().request().gpus() instanceof io.gpusched.GpuDemand.Whole) {
          long gpus = j.allocations().stream().mapToLong(a -> a.gpus().size()).sum();
          assertThat(j.usedMilli).as("%s books its whole GPUs", j).isEqualTo(gpus * 1000);
        }
        usedMilli.merge(q, j.usedMilli, Long::sum);
        runningJobs.merge(q, 1, Integer::sum);
      } else {
        assertThat(st).as("%s is final or pending", j).matches(x -> x.isFinal() || x == JobState.PENDING);
        assertThat(j.allocations()).isEmpty();
        if (st == JobState.PENDING) {
          pendingJobs.merge(q, 1, Integer::sum);
        }
      }
    }
    var listed = new HashSet<String>();
    for (JobHandle h : s.jobs()) {
      assertThat(listed.add(h.id())).as("job %s listed once", h.id()).isTrue();
      assertThat(h).as("the job listed for %s", h.id()).isSameAs(latest.get(h.id()));
    }
    assertThat(listed).isEqualTo(ids);
    Set<Long> engine = new HashSet<>();
    for (String n : nodesNow) {
      for (Allocation a : s.cluster().allocations(n)) {
        engine.add(a.id()); // (whole GPUs not asked on one node may span nodes: listed on each)
        assertThat(a.gpus()).as("%s listed for %s", a, n).anyMatch(g -> g.nodeId().equals(n));
      }
    }
    assertThat(engine).as("the engine's allocations are the running jobs' allocations").isEqualTo(held);
    for (QueueStats q : s.snapshot().queues()) {
      String n = q.spec().name();
      assertThat(Math.round(q.usedGpus() * 1000))
          .as("usage of queue %s", n)
          .isEqualTo(usedMilli.getOrDefault(n, 0L));
      assertThat(q.runningJobs()).as("running jobs of %s", n).isEqualTo(runningJobs.getOrDefault(n, 0));
      assertThat(q.pendingJobs()).as("pending jobs of %s", n).isEqualTo(pendingJobs.getOrDefault(n, 0));
    }
  }
}
