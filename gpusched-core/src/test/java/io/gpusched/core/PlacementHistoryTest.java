package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * The strict linearizability check of the placement engine with every operation at once: MIG
 * instances on two models, whole GPUs, shares, host resources, gangs (same-node and spread),
 * releases, and node x added, force-removed and cordoned, on the cluster of {@link
 * LincheckClusters#newWide}. Each placement is tried once (no retries).
 *
 * <p>The specification is {@link ReferenceModel} with the placement choice left free: a placement
 * that succeeded must have been valid where it landed (present READY nodes, the requested shape,
 * nothing over-committed, host resources included) at its point in the order, and one that found
 * nothing must have had nothing that fits there. A removal returns how many allocations it lost,
 * so where placements landed is part of the results. Which of several fitting candidates the
 * strategy picks is not part of this specification (see docs/placement.md, "Proof": under a
 * concurrent release a search may pass over a candidate that was just freed and take a later one).
 * Lincheck cannot express such a specification, so this test records histories itself and checks
 * them with {@link HistoryChecker}, in the shape of Lincheck's stress mode: random scenarios of
 * {@value #BEFORE} operations, then {@value #THREADS} threads of {@value #PER_THREAD}, then
 * {@value #AFTER}, each run many times. In every build, three checks of {@value #SCENARIOS} x
 * {@value #INVOCATIONS}: every operation but gangs, every operation but node removal, and all of
 * them together. The specification allows one documented brief effect and nothing more: a
 * placement that started before a cordon returned may land on the cordoned node. A placement that
 * took GPUs on x just before x's forced removal returns its allocation already lost, and the
 * removal counts it: the model orders it before the removal. A long run: {@code
 * -Dgpusched.lincheck.iterations=200 -Dgpusched.lincheck.invocations=5000}.
 */
class PlacementHistoryTest {
  static final int THREADS = 2;
  static final int PER_THREAD = 3;
  static final int BEFORE = 2;
  static final int AFTER = 1;
  static final int SCENARIOS = 50;
  static final int INVOCATIONS = 2000;

  private static final String[] PROFILES = {"1g.10gb", "3g.40gb", "1g.6gb", "2g.12gb"};

  /** The operations; {@code arg} picks a variant where there are several. */
  enum Kind {
    MIG(8),
    WHOLE(1),
    SHARE(2),
    HOST(1),
    GANG(2),
    RELEASE(1),
    CORDON_X(2),
    REMOVE_X(1),
    ADD_X(1);

    final int variants;

    Kind(int variants) {
      this.variants = variants;
    }
  }

  /** A planned operation: what to run and on whose stack of allocation handles. */
  record Planned(Kind kind, int arg, int owner) {
    @Nullable PlacementRequest request() {
      return switch (kind) {
        case MIG -> // the upper half of the variants: the same profiles, without stranding
            arg < PROFILES.length
                ? PlacementRequest.mig(PROFILES[arg])
                : PlacementRequest.mig(PROFILES[arg - PROFILES.length]).withoutStranding();
        case WHOLE -> PlacementRequest.wholeGpus(1);
        case SHARE -> arg == 0 ? PlacementRequest.share(400, 20_000) : PlacementRequest.share(700, 40_000);
        case HOST -> PlacementRequest.wholeGpus(1).withHost(1000, 0);
        case GANG -> PlacementRequest.wholeGpus(2, arg == 0);
        default -> null;
      };
    }

    @Override
    public String toString() {
      return kind.name().toLowerCase() + (kind.variants > 1 ? "(" + arg + ")" : "") + "@" + owner;
    }
  }

  /** A completed operation with its observed result. */
  static final class Done implements HistoryChecker.Event<ReferenceModel> {
    final Planned op;
    final int thread;
    long start;
    long end;
    @Nullable Allocation allocation; // placed, or released
    boolean flag; // release / cordon / add result; placement: refused as never fitting
    int count; // removal result
    boolean lostOnReturn; // placement: returned already lost to a concurrent removal

    Done(Planned op, int thread) {
      this.op = op;
      this.thread = thread;
    }

    @Override
    public long start() {
      return start;
    }

    @Override
    public long end() {
      return end;
    }

    @Override
    public boolean apply(ReferenceModel m) {
      try {
        return check(m);
      } catch (AssertionError e) {
        return false; // the model says this result is impossible here
      }
    }

    private boolean check(ReferenceModel m) {
      boolean present = m.nodes.containsKey("x");
      switch (op.kind) {
        case RELEASE -> {
          if (allocation == null) {
            return !flag;
          }
          return m.release(allocation.id()) == flag;
        }
        case CORDON_X -> {
          if (present) {
            m.states.put("x", op.arg == 1 ? NodeState.CORDONED : NodeState.READY);
            m.cordonReturned.put("x", end);
          }
          return flag == present;
        }
        case REMOVE_X -> {
          if (!present) {
            return count == -1;
          }
          int lost = m.liveOn("x").size();
          m.removeNode("x");
          return count == lost;
        }
        case ADD_X -> {
          if (!present) {
            m.addNode(LincheckClusters.nodeX());
          }
          return flag == !present;
        }
        default -> {
          PlacementRequest r = op.request();
          if (flag) {
            return !m.everHostable(r);
          }
          if (allocation == null) {
            return !m.fits(r);
          }
          // documented: a placement that started before a cordon returned may still land on the
          // cordoned node (it read the node as schedulable before)
          java.util.Map<String, NodeState> saved = new java.util.HashMap<>(m.states);
          for (var g : allocation.gpus()) {
            if (m.states.get(g.nodeId()) == NodeState.CORDONED
                && m.cordonReturned.getOrDefault(g.nodeId(), Long.MIN_VALUE) > start) {
              m.states.put(g.nodeId(), NodeState.READY);
            }
          }
          m.assertPlaced(allocation, r);
          m.states.putAll(saved);
          m.live.put(allocation.id(), allocation);
          m.assertNoOvercommit();
          return true;
        }
      }
    }

    @Override
    public String toString() {
      String result =
          switch (op.kind) {
            case RELEASE, CORDON_X, ADD_X -> String.valueOf(flag);
            case REMOVE_X -> String.valueOf(count);
            default ->
                flag
                    ? "never fits"
                    : allocation == null
                        ? "-"
                        : "+" + where(allocation) + (lostOnReturn ? " (lost)" : "");
          };
      return "t" + thread + " " + op + " = " + result + " [" + start + ", " + end + "]";
    }

    private static String where(Allocation a) {
      StringBuilder b = new StringBuilder();
      for (var g : a.gpus()) {
        b.append(b.length() == 0 ? " " : ",").append(g.nodeId()).append('/').append(g.gpuIndex());
        if (g.migProfile() != null) {
          b.append(':').append(g.migProfile()).append('@').append(g.migStartSlot());
        }
      }
      return b.toString();
    }
  }

  /** Runs one invocation's operations; one instance per invocation. */
  private static final class Run {
    final GpuCluster cluster;
    final AtomicLong clock;
    final List<ArrayDeque<Allocation>> held;

    Run(GpuCluster cluster, AtomicLong clock, List<ArrayDeque<Allocation>> held) {
      this.cluster = cluster;
      this.clock = clock;
      this.held = held;
    }

    Done run(Planned op, int thread) {
      Done d = new Done(op, thread);
      ArrayDeque<Allocation> mine = held.get(op.owner);
      PlacementRequest r = op.request();
      d.start = clock.incrementAndGet();
      switch (op.kind) {
        case RELEASE -> {
          d.allocation = mine.poll();
          d.flag = d.allocation != null && d.allocation.release();
        }
        case CORDON_X -> {
          try {
            cluster.setNodeState("x", op.arg == 1 ? NodeState.CORDONED : NodeState.READY);
            d.flag = true;
          } catch (IllegalArgumentException e) {
            d.flag = false;
          }
        }
        case REMOVE_X -> {
          try {
            d.count = cluster.removeNode("x", true).lost().size();
          } catch (IllegalArgumentException e) {
            d.count = -1;
          }
        }
        case ADD_X -> {
          try {
            cluster.addNode(LincheckClusters.nodeX());
            d.flag = true;
          } catch (IllegalArgumentException e) {
            d.flag = false;
          }
        }
        default -> {
          try {
            Optional<Allocation> a = cluster.place(r);
            d.allocation = a.orElse(null);
            d.lostOnReturn = a.isPresent() && !a.get().isActive();
          } catch (IllegalArgumentException e) {
            d.flag = true;
          }
        }
      }
      d.end = clock.incrementAndGet();
      if (op.kind != Kind.RELEASE && d.allocation != null) {
        mine.push(d.allocation);
      }
      return d;
    }
  }

  /**
   * Worker threads that start each invocation's parts together: parked between invocations, then
   * released at once and aligned by a spin barrier, as Lincheck's stress mode does.
   */
  private static final class Workers implements AutoCloseable {
    private final Thread[] threads;
    private volatile int generation;
    private volatile Runnable[] tasks = new Runnable[0];
    private final AtomicInteger arrived = new AtomicInteger();
    private final AtomicInteger done = new AtomicInteger();
    private volatile boolean closed;
    private volatile @Nullable Throwable failure;

    Workers(int n) {
      threads = new Thread[n];
      for (int i = 0; i < n; i++) {
        int me = i;
        threads[i] = new Thread(() -> loop(me), "history-worker-" + i);
        threads[i].setDaemon(true);
        threads[i].start();
      }
    }

    private void loop(int me) {
      int seen = 0;
      while (true) {
        while (generation == seen && !closed) {
          LockSupport.park(this);
        }
        if (closed) {
          return;
        }
        seen = generation;
        Runnable task = tasks[me];
        arrived.incrementAndGet();
        while (arrived.get() < threads.length) {
          Thread.onSpinWait();
        }
        try {
          task.run();
        } catch (Throwable e) {
          failure = e;
        }
        done.incrementAndGet();
      }
    }

    void runAll(Runnable[] parts) {
      tasks = parts;
      arrived.set(0);
      done.set(0);
      generation++;
      for (Thread t : threads) {
        LockSupport.unpark(t);
      }
      while (done.get() < threads.length) {
        Thread.yield();
      }
      Throwable f = failure;
      if (f != null) {
        throw new AssertionError("an operation threw", f);
      }
    }

    @Override
    public void close() {
      closed = true;
      for (Thread t : threads) {
        LockSupport.unpark(t);
      }
    }
  }

  private static Planned randomOp(Random rnd, List<Kind> kinds) {
    Kind k = kinds.get(rnd.nextInt(kinds.size()));
    return new Planned(k, rnd.nextInt(k.variants), rnd.nextInt(THREADS));
  }

  /** Every operation but gangs, node removal included, in every build. */
  @Test
  void everyHistoryIsLinearizable() {
    List<Kind> kinds = new ArrayList<>(List.of(Kind.values()));
    kinds.remove(Kind.GANG);
    check(kinds);
  }

  /** Every operation but node removal, gangs included, in every build. */
  @Test
  void everyHistoryWithGangsIsLinearizable() {
    List<Kind> kinds = new ArrayList<>(List.of(Kind.values()));
    kinds.remove(Kind.REMOVE_X);
    check(kinds);
  }

  /**
   * Gangs and node removal together: a removal that takes a node from a spread gang severs it (it
   * keeps its GPUs on other nodes until released, see {@code Allocation.release}).
   */
  @Test
  void everyHistoryWithGangsAndRemovalIsLinearizable() {
    check(List.of(Kind.values()));
  }

  private static void check(List<Kind> kinds) {
    int scenarios = Integer.getInteger("gpusched.lincheck.iterations", SCENARIOS);
    int invocations = Integer.getInteger("gpusched.lincheck.invocations", INVOCATIONS);
    long seed = Long.getLong("gpusched.history.seed", System.nanoTime());
    Random rnd = new Random(seed);
    HistoryChecker<ReferenceModel> checker = new HistoryChecker<>(ReferenceModel::copy);
    ReferenceModel initial = new ReferenceModel();
    Object token = new Object();
    LincheckClusters.newWide(token);
    for (var n : LincheckClusters.get(token).nodes()) {
      initial.addNode(n);
    }
    LincheckClusters.recycleWide(token);
    int discardedBefore = LincheckClusters.DISCARDED.get();
    try (Workers workers = new Workers(THREADS)) {
      for (int s = 0; s < scenarios; s++) {
        List<Planned> before = new ArrayList<>();
        for (int i = 0; i < BEFORE; i++) {
          before.add(randomOp(rnd, kinds));
        }
        List<List<Planned>> parts = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
          List<Planned> part = new ArrayList<>();
          for (int i = 0; i < PER_THREAD; i++) {
            Planned p = randomOp(rnd, kinds);
            part.add(new Planned(p.kind, p.arg, t)); // a thread touches only its own handles
          }
          parts.add(part);
        }
        List<Planned> after = new ArrayList<>();
        for (int i = 0; i < AFTER; i++) {
          after.add(randomOp(rnd, kinds));
        }
        for (int inv = 0; inv < invocations; inv++) {
          invoke(workers, checker, initial, token, before, parts, after, seed, s);
        }
      }
    }
    assertThat(LincheckClusters.DISCARDED.get() - discardedBefore)
        .as("pooled clusters not back to their start")
        .isZero();
  }

  private static void invoke(
      Workers workers,
      HistoryChecker<ReferenceModel> checker,
      ReferenceModel initial,
      Object token,
      List<Planned> before,
      List<List<Planned>> parts,
      List<Planned> after,
      long seed,
      int scenario) {
    LincheckClusters.newWide(token);
    GpuCluster cluster = LincheckClusters.get(token);
    List<ArrayDeque<Allocation>> held = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      held.add(new ArrayDeque<>());
    }
    Run run = new Run(cluster, new AtomicLong(), held);
    List<Done> history = new ArrayList<>();
    for (Planned p : before) {
      history.add(run.run(p, -1));
    }
    List<List<Done>> results = new ArrayList<>();
    Runnable[] tasks = new Runnable[THREADS];
    for (int t = 0; t < THREADS; t++) {
      int me = t;
      List<Done> mine = new ArrayList<>();
      results.add(mine);
      tasks[t] =
          () -> {
            for (Planned p : parts.get(me)) {
              mine.add(run.run(p, me));
            }
          };
    }
    workers.runAll(tasks);
    for (List<Done> r : results) {
      history.addAll(r);
    }
    for (Planned p : after) {
      history.add(run.run(p, -1));
    }
    List<String> bad = EngineInvariants.verify((LockFreeCluster) cluster);
    if (!bad.isEmpty() || checker.linearize(initial, history).isEmpty()) {
      StringBuilder b = new StringBuilder();
      b.append(bad.isEmpty() ? "no linearization" : "engine invariants broken: " + bad);
      b.append(" (seed ").append(seed).append(", scenario ").append(scenario).append("):");
      for (Done d : history) {
        b.append("\n  ").append(d);
      }
      throw new AssertionError(b.toString());
    }
    for (ArrayDeque<Allocation> h : held) {
      for (Allocation a : h) {
        a.release();
      }
    }
    assertThat(EngineInvariants.verify((LockFreeCluster) cluster)).isEmpty();
    LincheckClusters.recycleWide(token);
  }
}
