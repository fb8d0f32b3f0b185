package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.PlacementRequest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.jetbrains.kotlinx.lincheck.annotations.Operation;
import org.jetbrains.kotlinx.lincheck.annotations.Param;
import org.jetbrains.kotlinx.lincheck.annotations.Validate;
import org.jetbrains.kotlinx.lincheck.paramgen.IntGen;
import org.jetbrains.kotlinx.lincheck.paramgen.ThreadIdGen;

/**
 * Lincheck operations on a small mixed cluster ({@link LincheckClusters#newWide}) with FIRST_FIT,
 * whose choice is a function of the cluster's state, so results are deterministic sequentially:
 * MIG instances on an H100 and an A30, single whole GPUs, shares on a SHARED H100 (which whole
 * requests may also take when it is empty), and whole GPUs with host CPU on a node whose CPU fits
 * two of them. Gangs and node management are checked by {@link PlacementHistoryTest}, whose
 * specification leaves the placement choice free.
 *
 * <p>Allocations are handles, so each thread keeps its own stack of them (indexed by Lincheck's
 * thread id, touched only by that thread): {@code place*} returns {@code "+"} and pushes the handle,
 * or {@code "-"} for no capacity; {@code release} pops this thread's latest handle
 * and returns what {@code Allocation.release()} returned ({@code false} when it holds none). The
 * sequential specification is the same class run sequentially. A placement is tried once: a miss
 * must be linearizable as it is (no retries).
 */
public abstract class PlacementLincheckOps {
  private static final String[] PROFILES = {"1g.10gb", "3g.40gb", "1g.6gb", "2g.12gb"};

  private final Object token = new Object();
  private final List<ArrayDeque<Allocation>> held = new ArrayList<>();

  PlacementLincheckOps() {
    LincheckClusters.newWide(token);
    for (int i = 0; i < 16; i++) {
      held.add(new ArrayDeque<>());
    }
  }

  private GpuCluster cluster() {
    return LincheckClusters.get(token);
  }

  /**
   * Places and returns {@code "+"}, or {@code "-"} for no capacity. Where an allocation landed is
   * not part of the result (see {@link PlacementHistoryTest} for why a choice need not match a
   * sequential FIRST_FIT order); the engine's invariants are checked after every invocation.
   */
  private String place(int tid, PlacementRequest r) {
    Optional<Allocation> a = cluster().place(r);
    if (a.isEmpty()) {
      return "-";
    }
    held.get(tid).push(a.get());
    return "+";
  }

  /**
   * After each invocation: the engine's invariants hold at quiescence; then every allocation is
   * released, the invariants hold again, and the cluster goes back to the pool.
   */
  @Validate
  public void checkAndRecycle() {
    LockFreeCluster c = (LockFreeCluster) cluster();
    assertInvariants(c);
    for (ArrayDeque<Allocation> h : held) {
      for (Allocation a : h) {
        a.release();
      }
      h.clear();
    }
    assertInvariants(c);
    LincheckClusters.recycleWide(token);
  }

  private static void assertInvariants(LockFreeCluster c) {
    List<String> bad = EngineInvariants.verify(c);
    if (!bad.isEmpty()) {
      throw new IllegalStateException("engine invariants broken: " + bad);
    }
  }

  @Operation
  public String mig(
      @Param(gen = ThreadIdGen.class) int tid, @Param(gen = IntGen.class, conf = "0:3") int p) {
    return place(tid, PlacementRequest.mig(PROFILES[p]));
  }

  @Operation
  public String whole(@Param(gen = ThreadIdGen.class) int tid) {
    return place(tid, PlacementRequest.wholeGpus(1));
  }

  @Operation
  public String share(
      @Param(gen = ThreadIdGen.class) int tid, @Param(gen = IntGen.class, conf = "0:1") int big) {
    return place(tid, big == 0 ? PlacementRequest.share(400, 20_000) : PlacementRequest.share(700, 40_000));
  }

  @Operation
  public String host(@Param(gen = ThreadIdGen.class) int tid) {
    return place(tid, PlacementRequest.wholeGpus(1).withHost(1000, 0));
  }

  @Operation
  public boolean release(@Param(gen = ThreadIdGen.class) int tid) {
    Allocation a = held.get(tid).poll();
    return a != null && a.release();
  }
}
