package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.gpusched.Allocation;
import io.gpusched.ClusterSnapshot;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PendingReason;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.QueueStats;
import io.gpusched.SchedulerSnapshot;
import io.gpusched.core.ClusterFuzzTest.Op;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Bad-input fuzzing of the scheduler's entry points: {@link GpuScheduler#submit} (unknown queues,
 * live duplicate ids, requests no node can host, extreme amounts), node calls ({@code addNode},
 * {@code cordon}, {@code uncordon}, {@code drain}, {@code spotInterruption}, {@code nodeDown}) on
 * unknown ids and with extreme durations and instants, handle calls in every state, ticks, and the
 * {@link GpuSchedulers} builder. A call either succeeds with sane results or throws the documented
 * exception naming the bad value, and after a refusal the scheduler's snapshot (queue stats, job
 * counts, cluster) and every job's state are exactly as before. At the end the engine holds exactly
 * the allocations of the jobs that hold GPUs, and every job is pending, holding GPUs or final.
 */
class SchedulerFuzzTest {

  private static final int TRIES = 200;

  static final List<String> QUEUES = List.of("a", "b");

  static final List<String> IDS =
      List.of("j0", "j1", "j2", "j3", "", " ", "x".repeat(5000), "default", "a");

  static final List<Duration> DURATIONS =
      List.of(Duration.ZERO, Duration.ofMillis(1), Duration.ofMinutes(5), Duration.ofMillis(-1),
          Duration.ofDays(-1), JobSpec.MAX_DURATION, JobSpec.MAX_DURATION.plusMillis(1),
          Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), Duration.ofSeconds(Long.MIN_VALUE));

  static final List<Instant> INSTANTS =
      List.of(Instant.MIN, Instant.MAX, Instant.EPOCH, Instant.ofEpochMilli(Long.MAX_VALUE),
          Instant.ofEpochMilli(Long.MIN_VALUE));

  /** A scheduler step: {@code kind} 0-9, see {@link Runner#step}. */
  record Step(int kind, Op op, int id, int queue, int gang) {}

  @Provide
  Arbitrary<Step> steps() {
    ClusterFuzzTest c = new ClusterFuzzTest();
    return Combinators.combine(
            Arbitraries.integers().between(0, 11),
            c.ops(),
            Arbitraries.integers().between(0, IDS.size() - 1),
            Arbitraries.integers().between(0, 3),
            Arbitraries.of(1, 1, 1, 2, 3, 1024))
        .as(Step::new);
  }

  @Provide
  Arbitrary<List<Step>> runs() {
    return steps().list().ofMinSize(1).ofMaxSize(25);
  }

  /** The scheduler's observable state, timestamps aside. */
  record State(SchedulerSnapshot snapshot, Map<String, JobState> jobs) {
    static State of(GpuScheduler s) {
      SchedulerSnapshot snap = s.snapshot();
      ClusterSnapshot c = snap.cluster();
      Map<String, JobState> jobs = new TreeMap<>();
      s.jobs().forEach(j -> jobs.put(j.id() + "#" + System.identityHashCode(j), j.state()));
      return new State(
          new SchedulerSnapshot(
              snap.at(), snap.queues(), snap.jobsByState(),
              new ClusterSnapshot(0, c.nodes(), c.byModel(), c.byLabel(), c.total()),
              snap.capacityGpus(), snap.idleGpusByModel()),
          jobs);
    }
  }

  static final class Runner {
    final SchedulerHarness h = new SchedulerHarness();
    final GpuScheduler s;
    final Set<String> nodes = new HashSet<>();
    final List<JobHandle> handles = new ArrayList<>();

    Runner() {
      s =
          h.builder()
              .nodes(ClusterFuzzTest.baseNodes())
              .queue(QueueSpec.builder("a").guaranteedGpus(2).build())
              .queue(
                  QueueSpec.builder("b").borrowLimitGpus(Double.POSITIVE_INFINITY)
                      .modelQuota("H100-80GB", 0, 1).build())
              .build();
      ClusterFuzzTest.baseNodes().forEach(n -> nodes.add(n.id()));
    }

    /** Runs {@code call}; if it throws, it must be {@code type} naming {@code value}, state kept. */
    void refusedOrDone(Runnable call, boolean mustRefuse, Class<?> type, String value) {
      State before = State.of(s);
      Throwable t = catchThrowable(call::run);
      if (mustRefuse) {
        assertThat(t).as("expected %s naming %s", type.getSimpleName(), value).isInstanceOf(type);
        assertThat(t.getMessage()).contains(value);
        assertThat(State.of(s)).as("state after a refused call").isEqualTo(before);
      } else {
        assertThat(t).as("unexpected refusal").isNull();
      }
    }

    void step(Step st) {
      Op op = st.op();
      String node = op.name();
      boolean known = nodes.contains(node);
      switch (st.kind()) {
        case 0, 1, 2 -> submit(st);
        case 3 -> refusedOrDone(() -> s.cordon(node), !known, IllegalArgumentException.class, node);
        case 4 -> refusedOrDone(() -> s.uncordon(node), !known, IllegalArgumentException.class, node);
        case 5 -> {
          Duration d = DURATIONS.get(Math.floorMod(op.i(), DURATIONS.size()));
          boolean bad = d.isNegative() || d.compareTo(JobSpec.MAX_DURATION) > 0;
          refusedOrDone(() -> s.drain(node, d), bad || !known, IllegalArgumentException.class,
              bad ? d.toString() : node);
        }
        case 6 -> {
          Instant at =
              op.j() % 3 == 0
                  ? INSTANTS.get(Math.floorMod(op.i(), INSTANTS.size()))
                  : h.clock.instant().plusMillis(op.l() % 1_000_000);
          long now = h.clock.millis();
          boolean outOfRange;
          try {
            long left = Math.max(0, Math.subtractExact(at.toEpochMilli(), now));
            outOfRange = Duration.ofMillis(left).compareTo(JobSpec.MAX_DURATION) > 0;
          } catch (ArithmeticException e) {
            outOfRange = true;
          }
          // the node is named; the instant itself is not yet (see spotTerminationOutOfRange...)
          refusedOrDone(() -> s.spotInterruption(node, at), !known || outOfRange,
              IllegalArgumentException.class, node);
        }
        case 7 -> {
          refusedOrDone(() -> s.nodeDown(node), !known, IllegalArgumentException.class, node);
          nodes.remove(node);
        }
        case 8 -> addNode(op);
        case 9, 10 -> handleOp(st);
        default -> {
          Duration d = DURATIONS.get(Math.floorMod(op.l(), DURATIONS.size()));
          h.clock.advance(
              op.j() % 4 == 0 && ok(d) ? d : Duration.ofSeconds(Math.floorMod(op.i(), 4000)));
          s.tick();
        }
      }
    }

    void submit(Step st) {
      PlacementRequest r = ClusterFuzzTest.Runner.request(st.op());
      if (r == null) {
        return;
      }
      String id = IDS.get(st.id());
      String queue = st.queue() < QUEUES.size() ? QUEUES.get(st.queue()) : st.op().name();
      JobSpec spec;
      try {
        // durations at their edges: zero, 1 ms, minutes, 100 years (invalid ones are the API's)
        Duration d = DURATIONS.get(Math.floorMod(st.op().l(), DURATIONS.size()));
        JobSpec.Builder b =
            JobSpec.builder(r).id(id).queue(queue).gangSize(st.gang())
                .preemptible(st.op().j() % 2 == 0).gracePeriod(d.isNegative() ? Duration.ZERO : d);
        if (ok(d) && !d.isZero()) {
          switch (Math.floorMod(st.op().m(), 4)) {
            case 0 -> b.timeLimit(d);
            case 1 -> b.expectedDuration(d);
            case 2 -> b.leaseTtl(d);
            default -> b.reclaimWhenIdle(true);
          }
        }
        spec = b.build();
      } catch (IllegalArgumentException e) {
        return; // the API refuses the spec itself (ApiFuzzTest covers that)
      }
      boolean unknownQueue = !QUEUES.contains(queue);
      boolean liveId =
          s.job(id).map(j -> !j.state().isFinal()).orElse(false);
      if (unknownQueue || liveId) {
        refusedOrDone(() -> s.submit(spec), true, IllegalArgumentException.class,
            unknownQueue ? queue : id);
        return;
      }
      JobHandle j = s.submit(spec);
      handles.add(j);
      assertThat(s.job(id)).containsSame(j);
      assertThat(j.state()).isIn(JobState.PENDING, JobState.RUNNING, JobState.PREEMPTING,
          JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.PREEMPTED);
      if (j.state().holdsGpus()) {
        assertThat(j.allocations()).hasSize(spec.gangSize());
      }
    }

    void addNode(Op op) {
      NodeSpec spec;
      try {
        spec =
            switch (op.k() % 3) {
              case 0 -> NodeSpec.builder(op.name())
                  .gpus(Math.floorMod(op.i(), 9), GpuModels.A100_80GB, GpuMode.WHOLE).build();
              case 1 -> NodeSpec.builder(op.name()).gpus(1, ClusterFuzzTest.FAKE_H100, GpuMode.WHOLE)
                  .build();
              default -> NodeSpec.builder(op.name())
                  .gpus(Math.floorMod(op.i(), 3), GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
                  .pricePerGpuHour(op.l() == Long.MAX_VALUE ? Double.MAX_VALUE : 1).build();
            };
      } catch (IllegalArgumentException e) {
        return;
      }
      boolean exists = nodes.contains(spec.id());
      boolean conflicting = op.k() % 3 == 1;
      refusedOrDone(() -> s.addNode(spec), exists || conflicting, IllegalArgumentException.class,
          exists ? spec.id() : "H100-80GB");
      if (!exists && !conflicting) {
        nodes.add(spec.id());
      }
    }

    void handleOp(Step st) {
      if (handles.isEmpty()) {
        return;
      }
      JobHandle j = handles.get(Math.floorMod(st.op().i(), handles.size()));
      JobState before = j.state();
      boolean changed =
          switch (Math.floorMod(st.op().j(), 6)) {
            case 0 -> j.complete();
            case 1 -> j.cancel();
            case 2 -> j.fail(st.op().name());
            case 3 -> j.stopped();
            case 4 -> {
              j.heartbeat();
              yield false;
            }
            default -> {
              j.checkpoint(st.op().name());
              assertThat(j.checkpointRef()).contains(st.op().name());
              yield false;
            }
          };
      if (before.isFinal()) {
        assertThat(changed).as("a final job does not change").isFalse();
        assertThat(j.state()).isEqualTo(before);
      }
    }

    /** At quiescence: states are sane, and the engine holds exactly what running jobs hold. */
    void finish() {
      Set<Long> jobAllocs = new HashSet<>();
      Map<String, int[]> perQueue = new HashMap<>();
      for (JobHandle j : s.jobs()) {
        JobState st = j.state();
        if (st.holdsGpus()) {
          assertThat(j.allocations()).hasSize(j.spec().gangSize());
          for (Allocation a : j.allocations()) {
            assertThat(a.isActive()).as("allocation of %s", j.id()).isTrue();
            jobAllocs.add(a.id());
          }
        } else {
          assertThat(j.allocations()).isEmpty();
        }
        if (st == JobState.PENDING) {
          assertThat(j.pendingReason()).as("reason of pending %s", j.id()).isPresent();
        }
        int[] c = perQueue.computeIfAbsent(j.spec().queue(), q -> new int[2]);
        if (st == JobState.PENDING) {
          c[0]++;
        } else if (st.holdsGpus()) {
          c[1]++;
        }
      }
      Set<Long> engine = new HashSet<>();
      for (NodeSpec n : s.cluster().nodes()) {
        s.cluster().allocations(n.id()).forEach(a -> engine.add(a.id()));
      }
      assertThat(engine).as("engine allocations = jobs' allocations").isEqualTo(jobAllocs);
      for (QueueStats q : s.snapshot().queues()) {
        int[] c = perQueue.getOrDefault(q.spec().name(), new int[2]);
        assertThat(q.pendingJobs()).as("pending in %s", q.spec().name()).isEqualTo(c[0]);
        assertThat(q.runningJobs()).as("running in %s", q.spec().name()).isEqualTo(c[1]);
        assertThat(q.usedGpus()).isGreaterThanOrEqualTo(0);
        assertThat(Double.isFinite(q.cost())).as("cost of %s", q.spec().name()).isTrue();
      }
      s.close();
      refusedOrDone(() -> s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).queue("a").build()),
          true, IllegalStateException.class, "closed");
      NodeSpec extra = NodeSpec.builder("late").gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE).build();
      refusedOrDone(() -> s.addNode(extra), true, IllegalStateException.class, "closed");
      for (String n : nodes) {
        refusedOrDone(() -> s.cordon(n), true, IllegalStateException.class, "closed");
        refusedOrDone(() -> s.drain(n, Duration.ZERO), true, IllegalStateException.class, "closed");
        refusedOrDone(() -> s.nodeDown(n), true, IllegalStateException.class, "closed");
      }
    }
  }

  @Property(tries = TRIES)
  void everyCallSucceedsSanelyOrIsRefusedWithoutChangingState(@ForAll("runs") List<Step> run) {
    Runner r = new Runner();
    run.forEach(r::step);
    r.finish();
  }

  /**
   * On an idle scheduler, a submitted job runs at once, or waits for a reason that says why it
   * cannot (QUOTA or UNSCHEDULABLE); it never waits for capacity while all of it is free. Requests
   * here are single (no gang) and carry no host resources and no node constraints (those are
   * {@link #jobsThatCanNeverRunAreUnschedulable}).
   */
  @Property(tries = 100)
  void onAnIdleSchedulerAJobRunsOrSaysWhyNot(@ForAll("steps") Step st) {
    Runner r = new Runner();
    Op op = st.op();
    Op plain = new Op(op.kind() % 3, op.i(), op.j(), op.l(), op.m(), op.name(),
        op.k() == 2 || op.k() == 5 ? op.k() : 0);
    PlacementRequest req = ClusterFuzzTest.Runner.request(plain);
    if (req == null) {
      return;
    }
    JobSpec spec = JobSpec.builder(req).id("j").queue(QUEUES.get(st.queue() % 2)).build();
    JobHandle j = r.s.submit(spec);
    if (j.state() == JobState.PENDING) {
      assertThat(j.pendingReason())
          .as("%s in queue %s", req, spec.queue())
          .hasValueSatisfying(
              reason -> assertThat(reason).isIn(PendingReason.QUOTA, PendingReason.UNSCHEDULABLE));
    } else {
      assertThat(j.state()).isEqualTo(JobState.RUNNING);
    }
  }

  /**
   * Found by this fuzzing: a job that no node present could ever host because of node constraints,
   * host resources or its gang size waited as CAPACITY forever, while {@link
   * PendingReason#UNSCHEDULABLE} promises UNSCHEDULABLE for constraints no node meets (the engine's
   * "could ever host" refusal covers only models, MIG profiles, share memory and GPUs per node; the
   * scheduler's {@code NeverFits} covers the rest).
   */
  @Example
  void jobsThatCanNeverRunAreUnschedulable() {
    NodeSpec node =
        NodeSpec.builder("t").gpus(4, GpuModels.A100_80GB, GpuMode.WHOLE)
            .hostResources(32_000, 256_000).label("zone", "b").build();
    List<PlacementRequest> never =
        List.of(
            PlacementRequest.wholeGpus(1).withHost(64_000, 0),
            PlacementRequest.wholeGpus(1)
                .withConstraints(io.gpusched.Constraints.NONE.withLabel("zone", "nowhere")),
            PlacementRequest.wholeGpus(1)
                .withConstraints(
                    io.gpusched.Constraints.NONE.withCapacityClasses(io.gpusched.CapacityClass.SPOT)));
    for (int i = 0; i <= never.size(); i++) {
      SchedulerHarness h = new SchedulerHarness();
      GpuScheduler s = h.builder().nodes(List.of(node)).build();
      JobSpec spec =
          i < never.size()
              ? JobSpec.builder(never.get(i)).id("j").build()
              : JobSpec.builder(PlacementRequest.wholeGpus(1)).gangSize(5).id("j").build();
      JobHandle j = s.submit(spec);
      assertThat(j.pendingReason()).as("%s x%d", spec.request(), spec.gangSize())
          .contains(PendingReason.UNSCHEDULABLE);
      s.close();
    }
  }

  /**
   * Open defect (gpusched-core, DefaultScheduler.spotInterruption): a termination time more than
   * 100 years away is refused with a message that names the computed duration, not the instant
   * the caller passed.
   */
  @Example
  void spotTerminationOutOfRangeNamesTheInstant() {
    Runner r = new Runner();
    Instant far = Instant.ofEpochMilli(Long.MAX_VALUE);
    Throwable t = catchThrowable(() -> r.s.spotInterruption("mig", far));
    assertThat(t).isInstanceOf(IllegalArgumentException.class);
    assertThat(t.getMessage()).contains(far.toString());
    r.s.close();
  }

  @Provide
  Arbitrary<Double> limits() {
    return Arbitraries.oneOf(
        Arbitraries.of(Double.POSITIVE_INFINITY, Double.MAX_VALUE, Double.MIN_VALUE, 0.0, 0.5, 1.0,
            2.0, 8.0, 1e15, 1e300),
        Arbitraries.doubles().between(0, 20));
  }

  @Provide
  Arbitrary<Double> ordinaryLimits() {
    return Arbitraries.oneOf(
        Arbitraries.of(Double.POSITIVE_INFINITY, 0.0, 0.5, 1.0, 2.0, 8.0, 1e9),
        Arbitraries.doubles().between(0, 20));
  }

  @Provide
  Arbitrary<Double> ordinaryWeights() {
    return Arbitraries.oneOf(
        Arbitraries.of(1e-6, 1e6, 1.0), Arbitraries.doubles().between(1e-6, 1e6).ofScale(7));
  }

  /**
   * A queue with a weight in 1e-6..1e6 and any guarantee, borrow limit and lend limit up to 1e9 or
   * unlimited, alone on an idle cluster: a 1-GPU job runs iff the guarantee plus the borrow limit
   * allow one GPU, else it waits on QUOTA, and the queue's stats are finite numbers.
   */
  @Property(tries = 100)
  void queueLimitsInTheirOrdinaryRange(
      @ForAll("ordinaryWeights") double weight, @ForAll("ordinaryLimits") double guaranteed,
      @ForAll("ordinaryLimits") double borrow, @ForAll("ordinaryLimits") double lend) {
    queueAlone(weight, Double.isInfinite(guaranteed) ? 0 : guaranteed, borrow, lend);
  }

  /**
   * The same over every valid value. Open defects (gpusched-core): a guarantee or borrow limit
   * near {@code Double.MAX_VALUE} overflows and the job waits on QUOTA forever (issue 10 item 5,
   * QueueState / DefaultScheduler); a subnormal weight ({@code Double.MIN_VALUE}) makes the
   * queue's dominant share Infinity (DefaultScheduler: {@code d / weight}).
   */
  @Property(tries = 150)
  void queueLimitsAcceptTheirWholeRange(
      @ForAll("limits") double weight, @ForAll("limits") double guaranteed,
      @ForAll("limits") double borrow, @ForAll("limits") double lend) {
    double w = weight == 0.0 ? Double.MIN_VALUE : Double.isInfinite(weight) ? Double.MAX_VALUE : weight;
    queueAlone(w, Double.isInfinite(guaranteed) ? Double.MAX_VALUE : guaranteed, borrow, lend);
  }

  private static void queueAlone(double weight, double guaranteed, double borrow, double lend) {
    SchedulerHarness h = new SchedulerHarness();
    QueueSpec q =
        QueueSpec.builder("q").weight(weight).guaranteedGpus(guaranteed).borrowLimitGpus(borrow)
            .lendLimitGpus(lend).build();
    GpuScheduler s = h.builder().nodes(ClusterFuzzTest.baseNodes()).queue(q).build();
    try {
      JobHandle j = s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j").queue("q").build());
      double limit = q.guaranteedGpus() + q.borrowLimitGpus(); // in doubles: never below either
      if (limit >= 1) {
        assertThat(j.state()).as("%s", q).isEqualTo(JobState.RUNNING);
      } else {
        assertThat(j.pendingReason()).as("%s", q).contains(PendingReason.QUOTA);
      }
      h.clock.advance(Duration.ofHours(1));
      s.tick();
      checkStats(s.snapshot().queues());
    } finally {
      s.close();
    }
  }

  private static void checkStats(List<QueueStats> queues) {
    for (QueueStats st : queues) {
      assertThat(Double.isFinite(st.usedGpus()) && st.usedGpus() >= 0).as("used %s", st).isTrue();
      assertThat(Double.isFinite(st.dominantShare()) && st.dominantShare() >= 0)
          .as("dominant share %s", st).isTrue();
      assertThat(Double.isFinite(st.entitledGpus()) && st.entitledGpus() >= 0)
          .as("entitled %s", st).isTrue();
      assertThat(Double.isFinite(st.cost())).as("cost %s", st).isTrue();
    }
  }

  /**
   * Two busy queues of any valid weights: each is entitled to a finite share, the heavier one to
   * at least as much. Open defect (gpusched-core, DefaultScheduler.snapshot): weights whose sum
   * overflows (two of {@code Double.MAX_VALUE}) give {@code cap * w / Infinity}... NaN
   * entitlements ({@code Infinity / Infinity}), and a subnormal weight an Infinity dominant share.
   */
  @Property(tries = 100)
  void twoQueuesOfAnyWeightsSplitTheClusterSanely(
      @ForAll("weights") double w1, @ForAll("weights") double w2) {
    checkTwoQueues(w1, w2);
  }

  /** As above, for weights in 1e-6..1e6 (passes today). */
  @Property(tries = 100)
  void twoQueuesOfOrdinaryWeightsSplitTheClusterSanely(
      @ForAll("ordinaryWeights") double w1, @ForAll("ordinaryWeights") double w2) {
    checkTwoQueues(w1, w2);
  }

  @Provide
  Arbitrary<Double> weights() {
    return Arbitraries.oneOf(
        Arbitraries.of(Double.MAX_VALUE, Double.MIN_VALUE, 1e-300, 1e300, 1.0),
        Arbitraries.doubles().between(1e-6, 1e6).ofScale(7));
  }

  private static void checkTwoQueues(double w1, double w2) {
    SchedulerHarness h = new SchedulerHarness();
    GpuScheduler s =
        h.builder().nodes(ClusterFuzzTest.baseNodes())
            .queue(QueueSpec.builder("a").weight(w1).build())
            .queue(QueueSpec.builder("b").weight(w2).build()).build();
    try {
      for (String q : List.of("a", "b")) {
        for (int i = 0; i < 4; i++) {
          s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id(q + i).queue(q).build());
        }
      }
      h.clock.advance(Duration.ofMinutes(10));
      s.tick();
      List<QueueStats> st = s.snapshot().queues();
      checkStats(st);
      if (w1 > w2) {
        assertThat(st.get(0).entitledGpus()).isGreaterThanOrEqualTo(st.get(1).entitledGpus());
      }
    } finally {
      s.close();
    }
  }

  @Property(tries = 100)
  void builderSettings(
      @ForAll("durationIndex") int d1, @ForAll("durationIndex") int d2,
      @ForAll("durationIndex") int d3, @ForAll("durationIndex") int d4, @ForAll int retain) {
    Duration minRun = DURATIONS.get(d1);
    Duration halfLife = DURATIONS.get(d2);
    Duration grace = DURATIONS.get(d3);
    Duration tick = DURATIONS.get(d4);
    Duration max = JobSpec.MAX_DURATION;
    GpuSchedulers.Builder b = GpuSchedulers.newBuilder();
    check(() -> b.minRunTimeBeforePreemption(minRun), minRun.isNegative() || minRun.compareTo(max) > 0,
        minRun.toString());
    check(() -> b.fairShareHalfLife(halfLife), halfLife.isNegative() || halfLife.compareTo(max) > 0,
        halfLife.toString());
    check(() -> b.idleReclaimGrace(grace), grace.isNegative() || grace.compareTo(max) > 0,
        grace.toString());
    check(() -> b.tickInterval(tick), tick.isNegative() || tick.isZero() || tick.compareTo(max) > 0,
        tick.toString());
    check(() -> b.retainFinishedJobs(retain), retain < 0, String.valueOf(retain));
    check(() -> b.queue(QueueSpec.of("q")), false, "");
    check(() -> b.queue(QueueSpec.of("q")), true, "q");
    GpuScheduler s = b.manualTicks().eventExecutor(Runnable::run).build();
    try {
      assertThat(s.queues()).extracting(QueueSpec::name).containsExactly("q");
      assertThat(b.minRunTime).isEqualTo(ok(minRun) ? minRun : Duration.ZERO);
    } finally {
      s.close();
    }
  }

  private static boolean ok(Duration d) {
    return !d.isNegative() && d.compareTo(JobSpec.MAX_DURATION) <= 0;
  }

  private static void check(Runnable call, boolean refuse, String named) {
    Throwable t = catchThrowable(call::run);
    if (refuse) {
      assertThat(t).isInstanceOf(IllegalArgumentException.class);
      assertThat(t.getMessage()).contains(named);
    } else {
      assertThat(t).isNull();
    }
  }

  @Provide
  Arbitrary<Integer> durationIndex() {
    return Arbitraries.integers().between(0, DURATIONS.size() - 1);
  }

  /**
   * Telemetry whose readings carry any timestamp ({@code Long.MIN_VALUE}, {@code Long.MAX_VALUE},
   * far past or future, or the current time) for a job that may be reclaimed when idle: it is
   * reclaimed only when the readings are fresh (taken at the scheduler's current time), after the
   * policy's window plus the grace, and never on readings stuck at one instant, however extreme
   * (a stale reading must not look fresh through overflow).
   */
  @Property(tries = 60)
  void idleReclaimOnlyOnFreshReadingsWhateverTheirTimestamps(
      @ForAll("timestamps") long fixed, @ForAll boolean live) {
    SchedulerHarness h = new SchedulerHarness();
    io.gpusched.GpuTelemetry telemetry =
        (uuid, slot) ->
            java.util.Optional.of(
                io.gpusched.GpuSample.builder(uuid, live ? h.clock.millis() : fixed)
                    .utilizationPercent(0).processes(List.of()).build());
    GpuScheduler s =
        h.builder().nodes(ClusterFuzzTest.baseNodes())
            .telemetry(telemetry, io.gpusched.IdlePolicy.DEFAULT).build();
    try {
      JobHandle j =
          s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("nb").reclaimWhenIdle(true)
              .build());
      assertThat(j.state()).isEqualTo(JobState.RUNNING);
      for (int minute = 0; minute < 40; minute++) {
        h.clock.advance(Duration.ofMinutes(1));
        s.tick();
      }
      if (live) {
        assertThat(j.state()).as("fresh idle readings for 40 min").isNotEqualTo(JobState.RUNNING);
      } else {
        assertThat(j.state()).as("readings stuck at %d", fixed).isEqualTo(JobState.RUNNING);
        assertThat(j.idle()).isFalse();
      }
    } finally {
      s.close();
    }
  }

  @Provide
  Arbitrary<Long> timestamps() {
    long now = new SchedulerHarness().clock.millis();
    return Arbitraries.oneOf(
        Arbitraries.of(Long.MIN_VALUE, Long.MIN_VALUE + 1, Long.MAX_VALUE, 0L, -1L, now, now + 1,
            now + 3_600_000, now - 3_600_000),
        Arbitraries.longs());
  }

  @Example
  void builderRefusesAClusterAndNodesTogether() {
    GpuSchedulers.Builder b =
        GpuSchedulers.newBuilder().manualTicks()
            .cluster(GpuClusters.newBuilder().nodes(ClusterFuzzTest.baseNodes()).build())
            .nodes(List.of(NodeSpec.builder("n").build()));
    Throwable t = catchThrowable(b::build);
    assertThat(t).isInstanceOf(IllegalStateException.class);
    assertThat(t.getMessage()).contains("cluster").contains("nodes");
  }

  @Example
  void nullsAreRejectedWithANamedNullPointerException() {
    Runner r = new Runner();
    JobHandle j = r.s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("j").queue("a").build());
    State before = State.of(r.s);
    List<Runnable> calls =
        List.of(
            () -> r.s.submit(null),
            () -> r.s.addNode(null),
            () -> r.s.cordon(null),
            () -> r.s.uncordon(null),
            () -> r.s.drain(null, Duration.ZERO),
            () -> r.s.drain("mig", null),
            () -> r.s.spotInterruption(null, Instant.EPOCH),
            () -> r.s.spotInterruption("mig", null),
            () -> r.s.nodeDown(null),
            () -> r.s.addListener(null),
            () -> r.s.job(null),
            () -> j.fail(null),
            () -> j.checkpoint(null),
            () -> GpuSchedulers.newBuilder().cluster(null),
            () -> GpuSchedulers.newBuilder().nodes(null),
            () -> GpuSchedulers.newBuilder().queue(null),
            () -> GpuSchedulers.newBuilder().launcher(null),
            () -> GpuSchedulers.newBuilder().clock(null),
            () -> GpuSchedulers.newBuilder().telemetry(null, io.gpusched.IdlePolicy.DEFAULT),
            () -> GpuSchedulers.newBuilder().minRunTimeBeforePreemption(null),
            () -> GpuSchedulers.newBuilder().tickInterval(null));
    for (int i = 0; i < calls.size(); i++) {
      Throwable t = catchThrowable(calls.get(i)::run);
      assertThat(t).as("call %d", i).isInstanceOf(NullPointerException.class);
      assertThat(t.getMessage()).as("call %d", i).isNotBlank();
      assertThat(State.of(r.s)).as("state after call %d", i).isEqualTo(before);
    }
    assertThat(j.state()).isEqualTo(JobState.RUNNING);
    r.s.close();
  }
}
