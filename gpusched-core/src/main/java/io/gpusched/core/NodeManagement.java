package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuSpec;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Node management of the engine: adding, cordoning and removing nodes. Every change runs under one
 * monitor that placements never take, so management calls are serialized among themselves and
 * never block a placement. Node lists are published by volatile writes (copy on write).
 *
 * <p><b>Linearization points.</b> {@code addNode}: the node's bits set in the schedulability
 * filters (its GPUs are indexed as empty before). {@code setNodeState}: the write of the node's
 * state (filters follow; a placement already past its eligibility check may still land, and is
 * ordered before the change). {@code removeNode}: the one multi-word step that turns every word
 * of the node dead ({@link GangClaims#DEAD}): a take of one of its GPUs before it succeeded and is
 * reported lost (forced) or made the removal fail (not forced: the step then changed nothing); a
 * take after it fails. A forced removal then waits until the placements that took a GPU of the
 * node before the step have registered (see {@code sweep}), so removal is not lock-free; placement
 * never waits for it.
 */
@EnginePart
final class NodeManagement {
  private static final Logger log = LoggerFactory.getLogger(NodeManagement.class);

  private final Object monitor = new Object();
  private final GroupDirectory directory;
  private final PlacementStrategy strategy;
  private final Mix mix;
  private final Map<String, NodeEntry> nodes = new ConcurrentHashMap<>();

  /** Nodes in the order they were added; replaced (copy on write) under the monitor. */
  volatile List<NodeEntry> order = List.of();

  private volatile Probe probe = Probe.NONE;

  /** Removals so far (under the monitor): numbers {@link NodeEntry#removalSeq}. */
  private long removals;

  NodeManagement(GroupDirectory directory, PlacementStrategy strategy, Mix mix) {
    this.directory = directory;
    this.strategy = strategy;
    this.mix = mix;
  }

  /** Test seam: installs a probe on the management path and every group (see {@link Probe}). */
  void probe(Probe p) {
    synchronized (monitor) {
      probe = p;
      for (Group g : directory.all) {
        g.probe = p;
      }
    }
  }

  void addNode(NodeSpec spec) {
    Objects.requireNonNull(spec, "node");
    synchronized (monitor) {
      if (nodes.containsKey(spec.id())) {
        throw new IllegalArgumentException("node " + spec.id() + " already exists");
      }
      for (GpuSpec g : spec.gpus()) {
        GpuModel known = directory.models.get(g.model().name());
        if (known != null && !known.equals(g.model())) {
          throw new IllegalArgumentException(
              "GPU model name " + g.model().name() + " is already used with a different definition");
        }
      }
      NodeEntry node = new NodeEntry(spec);
      Map<String, List<Integer>> byGroup = new LinkedHashMap<>();
      for (int i = 0; i < spec.gpus().size(); i++) {
        byGroup.computeIfAbsent(groupKey(spec.gpus().get(i), spec), k -> new ArrayList<>()).add(i);
      }
      List<Group> touched = new ArrayList<>();
      List<GroupNode> groupNodes = new ArrayList<>();
      for (var e : byGroup.entrySet()) {
        GpuSpec first = spec.gpus().get(e.getValue().get(0));
        Group g = directory.byKey.get(e.getKey());
        if (g == null) {
          g = newGroup(e.getKey(), first, strategy.cheapestFirst() ? spec.pricePerGpuHour() : 0);
        }
        List<GpuSlot> slots = new ArrayList<>();
        int local = g.nextGpuLocal();
        for (int idx : e.getValue()) {
          GpuSlot s = new GpuSlot(node, spec.gpus().get(idx), g, local++);
          node.gpus[idx] = s;
          slots.add(s);
        }
        groupNodes.add(g.addNode(node, slots));
        g.ensureTables(strategy, directory.currentWeights); // a no-op unless a new group or a larger node
        touched.add(g);
      }
      for (GpuSpec g : spec.gpus()) {
        directory.models.putIfAbsent(g.model().name(), g.model());
      }
      directory.publish();
      nodes.put(spec.id(), node);
      var nodeList = new ArrayList<>(order);
      nodeList.add(node);
      order = List.copyOf(nodeList);
      for (GroupNode gn : groupNodes) {
        gn.group.setSchedulable(gn, true);
      }
      log.debug("added node {} with {} GPUs in {} groups", spec.id(), spec.gpus().size(), touched.size());
    }
  }

  /**
   * The key of a GPU's group: model, mode, static layout, and with a cost-first strategy the
   * node's price (so that a group has one price and a search compares prices per group).
   */
  private String groupKey(GpuSpec g, NodeSpec node) {
    String key = g.model().name() + "|" + g.mode();
    if (g.mode() == GpuMode.MIG_STATIC) {
      key += "|" + g.staticInstances();
    }
    return strategy.cheapestFirst() ? key + "|$" + node.pricePerGpuHour() : key;
  }

  private Group newGroup(String key, GpuSpec first, double price) {
    GpuModel model = first.model();
    Space space =
        switch (first.mode()) {
          case WHOLE -> new Space.Whole(model);
          case SHARED -> new Space.Shared(model);
          case MIG_DYNAMIC -> new MigSpace.Dynamic(model);
          case MIG_STATIC -> new MigSpace.Static(model, first.staticInstances());
        };
    int[] classes = new int[0];
    if (space instanceof MigSpace mig) {
      classes = new int[mig.profiles.length];
      for (int p = 0; p < classes.length; p++) {
        classes[p] = mix.migClass(model.name(), mig.profiles[p].name());
      }
      if (mix.isFixed()) {
        // (a learned mix's weights belong to the relearn: a read-and-write-back here could
        // overwrite newer weights with older ones)
        directory.tableWeights = mix.weights();
      }
    }
    Group g = new Group(key, space, classes, price);
    g.probe = probe;
    g.shareOrders = directory.shareOrders;
    g.races = directory.races;
    directory.add(g);
    return g;
  }

  void setNodeState(String nodeId, NodeState state) {
    Objects.requireNonNull(state, "state");
    if (state == NodeState.DRAINED) {
      throw new IllegalArgumentException(
          "DRAINED is reported for a draining node with no allocation left, never set; set DRAINING on node " + nodeId);
    }
    synchronized (monitor) {
      NodeEntry node = require(nodeId);
      node.state = state;
      for (GroupNode gn : groupNodes(node)) {
        gn.group.setSchedulable(gn, node.schedulable());
      }
    }
  }

  NodeRemoval removeNode(String nodeId, boolean force) {
    synchronized (monitor) {
      NodeEntry node = require(nodeId);
      node.removalSeq = ++removals; // before the kill: a release that finds a word dead reads it
      if (!force) {
        // all words from 0 to dead at one instant, or none if the node holds anything
        if (!GangClaims.run(GangClaims.Op.seal(node.gpus))) {
          node.removalSeq = 0;
          throw new IllegalStateException(
              "node " + nodeId + " has active allocations; drain it or remove it with force");
        }
      } else {
        GangClaims.run(GangClaims.Op.kill(node.gpus)); // the linearization point
      }
      node.removed = true;
      List<GroupNode> gns = groupNodes(node);
      for (GroupNode gn : gns) {
        gn.group.setSchedulable(gn, false);
        gn.group.index.moves.increment(); // a search that met a killed word re-runs
      }
      List<Allocation> lost = force ? sweep(node) : List.of();
      nodes.remove(nodeId);
      var nodeList = new ArrayList<>(order);
      nodeList.remove(node);
      order = List.copyOf(nodeList);
      // After the order: a placement that no longer counts the node (and so may throw "could
      // never fit") is followed by a nodes() call that no longer lists it either.
      for (GroupNode gn : gns) {
        gn.group.removeNode(gn); // no longer counted by the "could ever host" checks
        gn.group.ensureTables(strategy, directory.currentWeights);
      }
      if (!lost.isEmpty()) {
        log.warn("node {} removed with {} active allocations; reported as lost", nodeId, lost.size());
      }
      return new NodeRemoval(nodeId, lost);
    }
  }

  /**
   * After a forced removal killed the node's words: the allocations that held any of its GPUs at
   * that instant and were active then, each made lost (or severed), in no particular order.
   *
   * <p>First it waits until the node's dead words are accounted for by registered allocations: a
   * placement that took a GPU here before the kill may not have registered yet, and a release
   * that started before may not have subtracted. Each such thread is running non-blocking code,
   * so the wait ends once they are scheduled (placements never wait for a removal; a removal may
   * wait for placements in flight). Releases racing the sweep are waited out too: their word
   * step tells whether the kill came first ({@link AllocationImpl#lostTo}).
   */
  private List<Allocation> sweep(NodeEntry node) {
    for (GpuSlot s : node.gpus) {
      awaitAccounted(s);
    }
    List<Allocation> lost = new ArrayList<>();
    for (AllocationImpl a : node.holders()) {
      for (int spins = 0; ; spins++) {
        int st = a.state();
        if (st == AllocationImpl.RELEASING) {
          backOff(spins);
          continue;
        }
        if (st == AllocationImpl.ACTIVE || st == AllocationImpl.PENDING) {
          // a spread gang with GPUs on other nodes keeps them until it is released: its
          // workers there still run until they are stopped (see Allocation#release)
          int to = a.holdsBeyond(node) ? AllocationImpl.SEVERED : AllocationImpl.LOST;
          if (a.casState(st, to)) {
            lost.add(a);
            break;
          }
        } else if (st == AllocationImpl.SEVERED) {
          break; // severed before, by another removal: reported there; its release returns true
        } else {
          if (a.lostTo == node) { // its release found this node's word dead: active at the kill
            lost.add(a);
          }
          break;
        }
      }
    }
    return lost;
  }

  /**
   * Waits until the dead word of {@code s} equals the sum of the deltas of the allocations
   * registered on it that still hold it (PENDING, ACTIVE or SEVERED), with no release of one of
   * them in progress.
   */
  private static void awaitAccounted(GpuSlot s) {
    List<AllocationImpl> holders = new ArrayList<>();
    for (int spins = 0; ; spins++) {
      long value = GangClaims.deadValue(s.rawWord());
      holders.clear();
      s.holders(holders);
      long held = 0;
      boolean releasing = false;
      for (AllocationImpl a : holders) {
        int st = a.state();
        releasing |= st == AllocationImpl.RELEASING;
        if (st == AllocationImpl.PENDING
            || st == AllocationImpl.ACTIVE
            || st == AllocationImpl.SEVERED) {
          held += a.deltaOn(s);
        }
      }
      if (!releasing && held == value) {
        return;
      }
      backOff(spins);
    }
  }

  @SuppressWarnings("ThreadPriorityCheck") // yields only on a removal's rare wait, after spinning
  private static void backOff(int spins) {
    if (spins < 64) {
      Thread.onSpinWait();
    } else {
      Thread.yield();
    }
  }

  NodeEntry require(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    NodeEntry n = nodes.get(nodeId);
    if (n == null) {
      throw new IllegalArgumentException("unknown node " + nodeId);
    }
    return n;
  }

  static List<GroupNode> groupNodes(NodeEntry node) {
    List<GroupNode> out = new ArrayList<>();
    for (GpuSlot s : node.gpus) {
      if (!out.contains(s.groupNode)) {
        out.add(s.groupNode);
      }
    }
    return out;
  }

  List<NodeSpec> nodes() {
    return order.stream().map(n -> n.spec).toList();
  }

  List<Allocation> allocations(String nodeId) {
    NodeEntry node = require(nodeId);
    List<Allocation> out = new ArrayList<>();
    for (AllocationImpl a : node.holders()) {
      if (a.isActive()) {
        out.add(a);
      }
    }
    out.sort((x, y) -> Long.compare(x.id(), y.id()));
    return out;
  }
}
