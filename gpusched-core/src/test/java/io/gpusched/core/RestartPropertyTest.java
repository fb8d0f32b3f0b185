package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import io.gpusched.QueueSpec;
import io.gpusched.QueueStats;
import io.gpusched.store.SchedulerStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;

/**
 * A random sequence of operations (submit, complete, fail, cancel, cordon, uncordon, node added,
 * node lost, time passing with ticks) with a crash and restart injected at a random point (the
 * scheduler is dropped without closing it and a new one is built on the same store) leaves the
 * same visible state as the same sequence without the restart: every job's state, attempts,
 * allocations (node, GPU, MIG slice, share), times and end reason; every node's state and usage
 * and the node order; each queue's pending, running and used GPUs, and its fair-share dominant
 * share (to rounding: the decay is charged in two steps across the restart).
 *
 * <p>Runs on the in-memory store, and on H2 in file mode for fewer tries. The scheduler places
 * with FIRST_FIT (the engine's tie-break is then a function of the occupancy and the node order,
 * both recovered); preemption is off (its back-off timers are not stored).
 */
class RestartPropertyTest {

  sealed interface Op permits Submit, Complete, Fail, Cancel, Cordon, Uncordon, AddNode, NodeDown, Advance {}

  record Submit(int shape, int queue, int priority) implements Op {}

  record Complete(int pick) implements Op {}

  record Fail(int pick) implements Op {}

  record Cancel(int pick) implements Op {}

  record Cordon(int pick) implements Op {}

  record Uncordon(int pick) implements Op {}

  record AddNode(int kind) implements Op {}

  record NodeDown(int pick) implements Op {}

  record Advance(int seconds) implements Op {}

  static final int SHAPES = 8;

  static JobSpec spec(String id, Submit s) {
    PlacementRequest r =
        switch (s.shape()) {
          case 0 -> PlacementRequest.wholeGpus(1);
          case 1 -> PlacementRequest.wholeGpus(2);
          case 2 -> PlacementRequest.wholeGpus(2, true);
          case 3 -> PlacementRequest.mig("1g.10gb");
          case 4 -> PlacementRequest.mig("3g.40gb");
          case 5 -> PlacementRequest.share(250, 4_096).withHost(1_000, 1_024);
          default -> PlacementRequest.wholeGpus(1);
        };
    JobSpec.Builder b =
        JobSpec.builder(r).id(id).queue(s.queue() == 0 ? "a" : "b").priority(s.priority()).metadata("op", id);
    if (s.shape() == 6) {
      b.gangSize(2);
    }
    if (s.shape() == 7) {
      b.timeLimit(Duration.ofSeconds(90));
    }
    return b.build();
  }

  static NodeSpec node(String id, int kind) {
    return switch (kind) {
      case 0 -> NodeSpec.builder(id).gpus(2, GpuModels.H100_80GB, GpuMode.WHOLE).build();
      case 1 -> NodeSpec.builder(id).gpus(1, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC).build();
      default ->
          NodeSpec.builder(id).gpus(1, GpuModels.A100_40GB, GpuMode.SHARED).hostResources(4_000, 16_384).build();
    };
  }

  static GpuSchedulers.Builder config(SchedulerHarness h, SchedulerStore store) {
    return h.builder()
        .store(store)
        .strategy(PlacementStrategy.FIRST_FIT)
        .preemption(false)
        .fairShareHalfLife(Duration.ofMinutes(5))
        .queue(QueueSpec.of("a"))
        .queue(QueueSpec.builder("b").weight(2).build())
        .nodes(List.of(node("w1", 0), node("w2", 0), node("m1", 1), node("s1", 2)));
  }

  @Provide
  Arbitrary<List<Op>> ops() {
    Arbitrary<Integer> pick = Arbitraries.integers().between(0, 63);
    Arbitrary<Op> submit =
        Combinators.combine(
                Arbitraries.integers().between(0, SHAPES - 1),
                Arbitraries.integers().between(0, 1),
                Arbitraries.integers().between(0, 2))
            .as(Submit::new);
    return Arbitraries.frequencyOf(
            Tuple.of(8, submit),
            Tuple.of(3, pick.map(Complete::new)),
            Tuple.of(1, pick.map(Fail::new)),
            Tuple.of(2, pick.map(Cancel::new)),
            Tuple.of(1, pick.map(Cordon::new)),
            Tuple.of(1, pick.map(Uncordon::new)),
            Tuple.of(1, Arbitraries.integers().between(0, 2).map(AddNode::new)),
            Tuple.of(1, pick.map(NodeDown::new)),
            Tuple.of(2, Arbitraries.integers().between(1, 120).map(Advance::new)))
        .list()
        .ofMinSize(1)
        .ofMaxSize(40);
  }

  @Property(tries = 400, seed = "20261206")
  void aRestartAnywhereLeavesTheSameVisibleStateInMemory(
      @ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 0, max = 40) int restartAt) {
    Map<String, Object> plain = run(ops, -1, SchedulerStores.inMemory());
    SchedulerStore store = SchedulerStores.inMemory();
    Map<String, Object> restarted = run(ops, Math.min(restartAt, ops.size()), () -> store);
    assertSameVisibleState(restarted, plain);
  }

  @Property(tries = 30, seed = "20261208")
  void aRestartAnywhereLeavesTheSameVisibleStateOnTheFileDatabase(
      @ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 0, max = 40) int restartAt) throws IOException {
    inTempDir("gpusched-restart", dir -> {
      Map<String, Object> plain = run(ops, -1, SchedulerStores.inMemory());
      Supplier<SchedulerStore> h2 = () -> SchedulerStores.jdbc(JdbcStoreTest.h2(dir, "db"));
      Map<String, Object> restarted = run(ops, Math.min(restartAt, ops.size()), h2);
      assertSameVisibleState(restarted, plain);
    });
  }

  /**
   * Backup and restore on the file database as docs/durability.md describes it: at the crash the
   * crashed scheduler's database, still open, is backed up online with H2's {@code BACKUP TO} and
   * the zip restored with {@code org.h2.tools.Restore} into another folder, where the next
   * scheduler starts. The visible state at the end equals the run without a crash.
   */
  @Property(tries = 10, seed = "20261207")
  void aBackupRestoredElsewhereGoesOnAsTheOriginalWould(
      @ForAll("ops") List<Op> ops, @ForAll @IntRange(min = 1, max = 40) int restartAt) throws IOException {
    inTempDir("gpusched-backup", dir -> {
      Map<String, Object> plain = run(ops, -1, SchedulerStores.inMemory());
      var stores = new java.util.concurrent.atomic.AtomicInteger();
      Supplier<SchedulerStore> backedUp = () -> {
        if (stores.getAndIncrement() == 0) {
          return SchedulerStores.jdbc(JdbcStoreTest.h2(dir.resolve("live"), "db"));
        }
        Path zip = dir.resolve("backup.zip");
        try (var c = JdbcStoreTest.h2(dir.resolve("live"), "db").getConnection();
            var st = c.createStatement()) {
          st.execute("BACKUP TO '" + zip + "'");
        } catch (java.sql.SQLException e) {
          throw new IllegalStateException(e);
        }
        org.h2.tools.Restore.execute(zip.toString(), dir.resolve("restored").toString(), "db");
        return SchedulerStores.jdbc(JdbcStoreTest.h2(dir.resolve("restored"), "db"));
      };
      Map<String, Object> restored = run(ops, Math.min(restartAt, ops.size()), backedUp);
      assertThat(stores.get()).as("the second store is the restored copy").isEqualTo(2);
      assertSameVisibleState(restored, plain);
    });
  }

  /**
   * {@code n} sequences from {@link #ops}'s generator outside a jqwik property (for tests on a real
   * server, which run fewer tries), each from a seed drawn from {@code rnd}.
   */
  static List<List<Op>> sequences(java.util.Random rnd, int n) {
    List<List<Op>> out = new ArrayList<>();
    net.jqwik.api.sessions.JqwikSession.start(); // the generator outside a jqwik property
    try {
      var gen = new RestartPropertyTest().ops().generator(40);
      for (int t = 0; t < n; t++) {
        out.add(gen.next(new java.util.Random(rnd.nextLong())).value());
      }
    } finally {
      net.jqwik.api.sessions.JqwikSession.finish();
    }
    return out;
  }

  /** Runs {@code body} in a new temporary folder, deleted afterwards. */
  private static void inTempDir(String prefix, IoBody body) throws IOException {
    Path dir = Files.createTempDirectory(prefix);
    try {
      body.run(dir);
    } finally {
      deleteTree(dir);
    }
  }

  private interface IoBody {
    void run(Path dir) throws IOException;
  }

  static void assertSameVisibleState(Map<String, Object> restarted, Map<String, Object> plain) {
    var shares = new TreeMap<String, Object>();
    var a = new TreeMap<>(restarted);
    var b = new TreeMap<>(plain);
    for (String k : List.copyOf(a.keySet())) {
      if (k.startsWith("share ")) {
        shares.put(k, a.remove(k));
        double x = (Double) shares.get(k);
        double y = (Double) b.remove(k);
        assertThat(x).as(k).isCloseTo(y, org.assertj.core.data.Offset.offset(1e-9));
      }
    }
    assertThat(a).isEqualTo(b);
  }

  /**
   * Runs {@code ops} on a fresh scheduler; before op {@code restartAt} (if >= 0) the scheduler is
   * dropped as if the process died, and a new one is built on the store {@code stores} gives (the
   * same in-memory store, or a new JDBC store on the same database file).
   */
  static Map<String, Object> run(List<Op> ops, int restartAt, Supplier<SchedulerStore> stores) {
    var h = new SchedulerHarness();
    GpuScheduler s = config(h, stores.get()).build();
    for (int i = 0; i <= ops.size(); i++) {
      if (i == restartAt) {
        // crash: s is dropped without close(); everything it acknowledged is in the store
        s = config(h, stores.get()).build();
        ((DefaultScheduler) s).verifyInvariants();
      }
      if (i < ops.size()) {
        apply(s, h, ops.get(i), i);
      }
    }
    ((DefaultScheduler) s).verifyInvariants();
    return visible(s);
  }

  static Map<String, Object> run(List<Op> ops, int restartAt, SchedulerStore store) {
    return run(ops, restartAt, () -> store);
  }

  private static List<String> ids(GpuScheduler s, java.util.function.Predicate<JobHandle> which) {
    return s.jobs().stream().filter(which).map(JobHandle::id).sorted().toList();
  }

  private static <T> T pick(List<T> xs, int k) {
    return xs.get(k % xs.size());
  }

  static void apply(GpuScheduler s, SchedulerHarness h, Op op, int index) {
    List<String> nodes = s.cluster().nodes().stream().map(NodeSpec::id).sorted().toList();
    if (op instanceof Submit sub) {
      s.submit(spec("j" + index, sub));
    } else if (op instanceof Complete c) {
      var running = ids(s, j -> j.state() == JobState.RUNNING);
      if (!running.isEmpty()) {
        s.job(pick(running, c.pick())).orElseThrow().complete();
      }
    } else if (op instanceof Fail f) {
      var running = ids(s, j -> j.state() == JobState.RUNNING);
      if (!running.isEmpty()) {
        s.job(pick(running, f.pick())).orElseThrow().fail("failed by op " + index);
      }
    } else if (op instanceof Cancel c) {
      var live = ids(s, j -> !j.state().isFinal());
      if (!live.isEmpty()) {
        s.job(pick(live, c.pick())).orElseThrow().cancel();
      }
    } else if (op instanceof Cordon c) {
      if (!nodes.isEmpty()) {
        s.cordon(pick(nodes, c.pick()));
      }
    } else if (op instanceof Uncordon u) {
      if (!nodes.isEmpty()) {
        s.uncordon(pick(nodes, u.pick()));
      }
    } else if (op instanceof AddNode a) {
      s.addNode(node("x" + index, a.kind()));
    } else if (op instanceof NodeDown d) {
      if (nodes.size() > 1) {
        s.nodeDown(pick(nodes, d.pick()));
      }
    } else if (op instanceof Advance a) {
      h.advance(s, Duration.ofSeconds(a.seconds()));
    }
  }

  static List<AllocatedGpu> gpus(JobHandle j) {
    var out = new ArrayList<AllocatedGpu>();
    for (Allocation a : j.allocations()) {
      out.addAll(a.gpus());
    }
    return out;
  }

  static Map<String, Object> visible(GpuScheduler s) {
    var out = new TreeMap<String, Object>();
    for (JobHandle j : s.jobs()) {
      out.put(
          "job " + j.id(),
          List.of(
              j.state(), j.attempts(), gpus(j), j.endReason(), j.submittedAt(), j.startedAt(), j.endedAt(),
              j.spec()));
    }
    s.cluster().snapshot().nodes().stream()
        .sorted(Comparator.comparing(io.gpusched.NodeUsage::nodeId))
        .forEach(n -> out.put("node " + n.nodeId(), List.of(n.state(), n.allocations(), n.gpus(), n.summary())));
    out.put("node order", s.cluster().nodes().stream().map(NodeSpec::id).toList());
    for (QueueStats q : s.snapshot().queues()) {
      out.put("queue " + q.spec().name(), List.of(q.spec(), q.pendingJobs(), q.runningJobs(), q.usedGpus()));
      out.put("share " + q.spec().name(), q.dominantShare());
    }
    return out;
  }

  private static void deleteTree(Path dir) {
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
