package io.gpusched.core;

import io.gpusched.NodeSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The engine's invariants, checked by tests at quiescence (see {@link #verify}). */
final class EngineInvariants {
  private EngineInvariants() {}

  /**
   * Checks the engine's invariants at quiescence (no placement or release in flight) and returns a
   * description of every violation, empty when all hold: each GPU word equals the sum of the deltas
   * of the active allocations on it and decodes to a reachable state; each node's host word equals
   * what its allocations charged; the index lists every GPU and node under its current state; each
   * group's live-GPU counts match its nodes, its tables were built from its current largest node
   * and the current mix weights, and its filters list exactly the eligible nodes.
   */
  static List<String> verify(LockFreeCluster c) {
    List<String> bad = new ArrayList<>();
    Map<Group, int[]> live = new HashMap<>(); // group -> {GPUs on live nodes, largest node}
    for (NodeEntry node : c.nodeEntries()) {
      for (GroupNode gn : NodeManagement.groupNodes(node)) {
        int[] l = live.computeIfAbsent(gn.group, k -> new int[2]);
        l[0] += gn.gpus.length;
        l[1] = Math.max(l[1], gn.gpus.length);
      }
    }
    for (Group g : c.groups()) {
      int[] l = live.getOrDefault(g, new int[2]);
      if (g.liveGpus != l[0] || g.maxNodeGpus != l[1]) {
        bad.add("group " + g + " counts " + g.liveGpus + " live GPUs, largest node " + g.maxNodeGpus
            + "; the nodes say " + l[0] + ", " + l[1]);
      }
      if (!g.tables.builtFrom(Math.max(1, g.maxNodeGpus), c.tableWeights())) {
        bad.add("group " + g + " has stale tables (built for " + g.tables.maxF + " GPUs per node)");
      }
      verifyFilters(g, bad);
    }
    for (NodeEntry node : c.nodeEntries()) {
      Map<GpuSlot, Long> expected = new HashMap<>();
      long cpu = 0;
      long mem = 0;
      for (AllocationImpl a : node.holders()) {
        int st = a.state();
        if (st != AllocationImpl.ACTIVE && st != AllocationImpl.SEVERED) {
          bad.add("non-active allocation " + a.id + " still registered on " + node.spec.id());
          continue;
        }
        for (int i = 0; i < a.slots.length; i++) {
          if (a.slots[i].node == node) {
            expected.merge(a.slots[i], a.delta(i), Long::sum);
            cpu += a.hostCpu(i);
            mem += a.hostMem(i);
          }
        }
      }
      for (GpuSlot s : node.gpus) {
        long w = s.lvWord();
        long e = expected.getOrDefault(s, 0L);
        if (w != e) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " word " + w + " != " + e);
        }
        int st = s.group.space.state(w);
        if (st < 0) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " in unreachable state " + w);
          continue;
        }
        if (!s.group.index.byState[st].get(s.local)) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " not indexed in state " + st);
        }
        if (s.group.space instanceof Space.Shared sh
            && (Space.Shared.milliUsed(w) > 1000 || Space.Shared.memUsed(w) > sh.memoryMiB)) {
          bad.add("GPU " + node.spec.id() + "/" + s.spec.index() + " over-committed share " + w);
        }
      }
      if (node.spec.cpuMillis() != NodeSpec.UNTRACKED && node.cpuUsed() != cpu) {
        bad.add("node " + node.spec.id() + " cpu used " + node.cpuUsed() + " != " + cpu);
      }
      if (node.spec.memoryMiB() != NodeSpec.UNTRACKED && node.memUsed() != mem) {
        bad.add("node " + node.spec.id() + " mem used " + node.memUsed() + " != " + mem);
      }
      for (GroupNode gn : NodeManagement.groupNodes(node)) {
        if (gn.group.wholeCapable && !gn.group.index.nodesByFree[gn.countFree()].get(gn.local)) {
          bad.add("node " + node.spec.id() + " not indexed with " + gn.countFree() + " free GPUs");
        }
      }
    }
    return bad;
  }

  /**
   * Adds to {@code bad} every node whose bits in the schedulability filter or a cached constraint
   * filter disagree with its current state. Meaningful at quiescence only (for tests).
   */
  private static void verifyFilters(Group g, List<String> bad) {
    for (GroupNode gn : g.nodes) {
      checkFilter(g, bad, "schedulable", g.filters.schedulable(), gn, gn.node.schedulable());
      g.filters.cached.forEach(
          (c, f) ->
              checkFilter(
                  g,
                  bad,
                  c.toString(),
                  f,
                  gn,
                  gn.node.schedulable()
                      && c.allowsNode(gn.node.spec.labels(), gn.node.spec.capacityClass())));
    }
  }

  private static void checkFilter(
      Group g, List<String> bad, String name, Bits[] f, GroupNode gn, boolean on) {
    boolean ok = f[1].get(gn.local) == on;
    for (GpuSlot s : gn.gpus) {
      ok &= f[0].get(s.local) == on;
    }
    if (!ok) {
      bad.add("filter " + name + " of " + g.key + (on ? " misses node " : " lists ineligible node ")
          + gn.node.spec.id());
    }
  }
}
