package io.gpusched.core;

import io.gpusched.Constraints;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which GPUs and nodes of one {@link Group} a search may consider: the schedulable ones, and per
 * node constraint (labels, capacity classes) the schedulable ones that the constraint allows. Each
 * filter is a pair {GPU bits, node bits} by the group's local indexes.
 *
 * <p>Management ({@link #apply}, {@link #ensureCapacity}) runs under the cluster's management
 * monitor; searches ({@link #filterFor}) run without it and never see a half-built filter.
 */
@EnginePart
@SuppressWarnings("NonAtomicVolatileUpdate") // version: bumped under the management monitor only
final class NodeFilters {
  private final Group group;
  final Bits schedGpus = new Bits(64);
  final Bits schedNodes = new Bits(64);
  private final Bits[] schedFilter = {schedGpus, schedNodes};

  /** Cached filters; an entry is published only once completely built (see {@link #filterFor}). */
  final Map<Constraints, Bits[]> cached = new ConcurrentHashMap<>();

  /**
   * Bumped by management <em>before</em> it changes any node's schedulability in the filters: a
   * filter build that read a node's old state then sees the bump and builds again.
   */
  private volatile int version;

  NodeFilters(Group group) {
    this.group = group;
  }

  /** The filter that schedulability alone gives (no node constraint). */
  Bits[] schedulable() {
    return schedFilter;
  }

  /** Makes room for {@code gpus} GPUs and {@code nodes} nodes. Under the management monitor. */
  void ensureCapacity(int gpus, int nodes) {
    schedGpus.ensureCapacity(gpus);
    schedNodes.ensureCapacity(nodes);
    for (Bits[] f : cached.values()) {
      f[0].ensureCapacity(gpus);
      f[1].ensureCapacity(nodes);
    }
  }

  /**
   * Sets or clears the bits of a node's GPUs in every filter. Called under the cluster's
   * management monitor, after the node's state was written.
   */
  void apply(GroupNode gn, boolean schedulable) {
    // Before applying: a concurrent filter build either read the node's new state, or reads this
    // bump when it validates and builds again. (Bumping after applying let a build that read the
    // old state validate in between and cache it for good.)
    version++;
    set(schedGpus, schedNodes, gn, schedulable);
    for (var e : cached.entrySet()) {
      boolean allowed = e.getKey().allowsNode(gn.node.spec.labels(), gn.node.spec.capacityClass());
      set(e.getValue()[0], e.getValue()[1], gn, schedulable && allowed);
    }
    group.probe.at(ProbePoint.FILTER_APPLIED, gn);
  }

  private static void set(Bits gpuBits, Bits nodeBits, GroupNode gn, boolean on) {
    for (GpuSlot s : gn.gpus) {
      if (on) {
        gpuBits.set(s.local);
      } else {
        gpuBits.clear(s.local);
      }
    }
    if (on) {
      nodeBits.set(gn.local);
    } else {
      nodeBits.clear(gn.local);
    }
  }

  /**
   * The GPU-level and node-level filters for node constraints, combined with schedulability.
   * Lock-free, without the management monitor: on first use a filter is built privately, sized for
   * the nodes read, and published (put, or replacing the entry it started from) only when
   * complete, so no search ever uses a half-built filter and only management grows a published one
   * ({@link Bits#ensureCapacity} under the monitor). The build is returned once no management
   * change raced with it: {@link #apply} bumps the version before it applies a change, so a change
   * either is seen by the build, or is applied to the published filter, or makes the build start
   * again. A retry means that management or another builder made progress.
   */
  Bits[] filterFor(Constraints c) {
    if (!c.constrainsNodes()) {
      return schedFilter;
    }
    Bits[] f = cached.get(c);
    return f != null ? f : build(c);
  }

  private Bits[] build(Constraints c) {
    for (; ; ) {
      Bits[] prev = cached.get(c);
      int v = version;
      GroupNode[] ns = group.nodes;
      GpuSlot[] gs = group.gpus; // read after nodes (see Group.addNode): covers every GPU of ns
      Bits[] built = new Bits[] {new Bits(gs.length), new Bits(ns.length)};
      for (GroupNode gn : ns) {
        boolean on =
            gn.node.schedulable()
                && c.allowsNode(gn.node.spec.labels(), gn.node.spec.capacityClass());
        group.probe.at(ProbePoint.FILTER_NODE_READ, gn);
        if (on) {
          set(built[0], built[1], gn, true);
        }
      }
      if (v != version || ns != group.nodes) {
        continue; // stale already: do not publish it
      }
      boolean published =
          prev == null ? cached.putIfAbsent(c, built) == null : cached.replace(c, prev, built);
      if (published && v == version && ns == group.nodes) {
        return built;
      }
    }
  }
}
