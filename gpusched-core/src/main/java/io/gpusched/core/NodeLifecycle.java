package io.gpusched.core;

import io.gpusched.Allocation;
import io.gpusched.GpuCluster;
import io.gpusched.JobSpec;
import io.gpusched.NodeRemoval;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoreException;
import io.gpusched.store.StoredNode;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Nodes coming and going: add, cordon, uncordon, drain, spot interruption and loss, in the engine
 * and in the scheduler's books together.
 *
 * <p>Owns each node's incarnation ({@link #nodeGens}) and the lock that serializes node additions
 * and removals with their commands ({@link #nodeMgmt}, never taken by placement). Threads: the
 * public calls run on the caller's thread, change the engine and the incarnations under {@code
 * nodeMgmt}, and leave the books (the {@link Capacity} and the jobs on the node) to a command on
 * the dispatcher; {@link #learnNode} runs on the dispatcher.
 */
final class NodeLifecycle {

  private final GpuCluster cluster;
  private final InstantSource clock;
  private final Capacity capacity;
  private final Ledger ledger;
  private final JobTransitions transitions;
  private final EventBus events;
  private final CommandLoop loop;
  private final Runnable checkOpen;

  /**
   * Node id → incarnation, in call order: written by {@code addNode} and {@code nodeDown} at call
   * time under {@link #nodeMgmt}, together with the engine change and the command that books it.
   * Node calls validate against it, and their commands act only on the incarnation they were made
   * for: "node down, node back under the same id, cordon" ends the same however the dispatcher
   * interleaves.
   */
  private final ConcurrentHashMap<String, Long> nodeGens = new ConcurrentHashMap<>();

  /** Serializes node additions and removals with their commands (never taken by placement). */
  private final Object nodeMgmt = new Object();

  private long nextGen;

  /** The spec of each node the scheduler knows, by id (for the journal's node records). */
  private final ConcurrentHashMap<String, NodeSpec> specs = new ConcurrentHashMap<>();

  /** Ids of the nodes added through {@link #addNode} (a restart adds them again). */
  private final Set<String> addedAtRunTime = ConcurrentHashMap.newKeySet();

  /** The journal in durable mode, else null (set once, before the scheduler is published). */
  private @Nullable Journal journal;

  /** Durable mode: journal node changes from now on (constructor thread). */
  void attachJournal(Journal j) {
    this.journal = j;
  }

  /**
   * Appends a node's record (state {@code state}, incarnation {@code gen}) to the journal in
   * durable mode, in the order of the engine changes (under {@link #nodeMgmt}); null otherwise.
   */
  private Journal.@Nullable Entry journalNode(String nodeId, NodeState state, long gen) {
    Journal jn = journal;
    NodeSpec spec = specs.get(nodeId);
    if (jn == null || spec == null) {
      return null;
    }
    return jn.change(
        new StoreChange.PutNode(new StoredNode(spec, state, addedAtRunTime.contains(nodeId), gen)));
  }

  /** Every node's record now, for the first journal batch (constructor thread). */
  List<StoredNode> storedNodes() {
    var states = new HashMap<String, NodeState>();
    cluster.snapshot().nodes().forEach(n -> states.put(n.nodeId(), n.state()));
    var out = new ArrayList<StoredNode>();
    for (NodeSpec n : cluster.nodes()) {
      Long gen = nodeGens.get(n.id());
      if (gen != null) {
        out.add(
            new StoredNode(
                n, states.getOrDefault(n.id(), NodeState.READY), addedAtRunTime.contains(n.id()), gen));
      }
    }
    return out;
  }

  /** Marks a node of the cluster as added at run time (recovery re-added it; constructor thread). */
  void recoveredRunTimeNode(String nodeId) {
    addedAtRunTime.add(nodeId);
  }

  NodeLifecycle(
      GpuCluster cluster,
      InstantSource clock,
      Capacity capacity,
      Ledger ledger,
      JobTransitions transitions,
      EventBus events,
      CommandLoop loop,
      Runnable checkOpen) {
    this.cluster = cluster;
    this.clock = clock;
    this.capacity = capacity;
    this.ledger = ledger;
    this.transitions = transitions;
    this.events = events;
    this.loop = loop;
    this.checkOpen = checkOpen;
  }

  private static Instant at(long millis) {
    return Instant.ofEpochMilli(millis);
  }

  /** Books the nodes the cluster has when the scheduler is built (constructor thread). */
  void bookInitialNodes() {
    Map<String, NodeState> states = new HashMap<>();
    cluster.snapshot().nodes().forEach(n -> states.put(n.nodeId(), n.state()));
    for (NodeSpec n : cluster.nodes()) {
      capacity.add(n, states.getOrDefault(n.id(), NodeState.READY));
      nodeGens.put(n.id(), nextGen++);
      specs.put(n.id(), n);
    }
  }

  void addNode(NodeSpec node) {
    Objects.requireNonNull(node, "node");
    checkOpen.run();
    NodeSpec n = node; // (a name the rest of the method reads)
    Journal.Entry entry;
    synchronized (nodeMgmt) {
      cluster.addNode(n);
      long gen = nextGen++;
      nodeGens.put(n.id(), gen);
      specs.put(n.id(), n);
      addedAtRunTime.add(n.id());
      entry = journalNode(n.id(), NodeState.READY, gen);
      loop.offer(
          () -> {
            capacity.add(n, NodeState.READY);
                  events.publish(
                new SchedulerEvent.NodeStateChanged(
                    at(clock.millis()), n.id(), null, NodeState.READY, "added"));
          });
    }
    loop.runCommands();
    awaitDurable(entry, "node " + n.id() + " was added");
  }

  /** Durable mode: waits until {@code entry} is committed (caller's thread). */
  private void awaitDurable(Journal.@Nullable Entry entry, String what) {
    Journal jn = journal;
    if (jn != null && entry != null) {
      try {
        jn.await(entry);
      } catch (StoreException e) {
        throw new StoreException(
            what + ", but the store failed to commit it (it is written by the next commit that succeeds): "
                + e.getMessage(),
            e);
      }
    }
  }

  /** Cordon or uncordon: the state change runs as a command for the node's current incarnation. */
  void setState(String nodeId, NodeState to, String why) {
    long gen = requireNode(nodeId);
    Applied done = new Applied();
    loop.command(
        () -> {
          try {
            changeState(nodeId, gen, to, why, done);
          } finally {
            done.ran = true;
          }
        });
    awaitApplied(done, "node " + nodeId + " was " + why);
  }

  /** What a node-state command journaled; written on the dispatcher, read by the caller. */
  private static final class Applied {
    volatile boolean ran;
    volatile Journal.@Nullable Entry entry;
  }

  /**
   * Durable mode: returns once the command {@code done} belongs to has run and what it journaled
   * is committed, so that a cordon, uncordon or drain that returned survives a crash. A caller that
   * is itself the dispatcher (a launcher call, an inline listener) returns at once: its command
   * runs later in the same loop, and is committed with that round. Without a store, returns at
   * once.
   *
   * @throws StoreException if the commit failed (the change stands, and is written by the next
   *     commit that succeeds)
   */
  private void awaitApplied(Applied done, String what) {
    if (journal == null || loop.onDispatcher()) {
      return;
    }
    while (!done.ran) { // another thread holds the dispatcher and runs the command next
      if (loop.closed()) {
        return;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(this, 1_000_000L);
    }
    awaitDurable(done.entry, what);
  }

  /**
   * Changes a node's state in the engine and in the books together, on the dispatcher, so that
   * racing cordon/uncordon/drain calls end in the same state in both; nothing if the incarnation
   * {@code gen} the call was made for is gone (removed, perhaps back under the same id).
   *
   * @return whether it changed anything
   */
  private boolean changeState(String nodeId, long gen, NodeState to, String why, Applied done) {
    NodeState from = capacity.states.get(nodeId);
    if (from == null) {
      return false;
    }
    synchronized (nodeMgmt) {
      if (!Long.valueOf(gen).equals(nodeGens.get(nodeId))) {
        return false;
      }
      cluster.setNodeState(nodeId, to);
      done.entry = journalNode(nodeId, to, gen);
    }
    capacity.setState(nodeId, to);
    events.publish(new SchedulerEvent.NodeStateChanged(at(clock.millis()), nodeId, from, to, why));
    return true;
  }

  void drain(String nodeId, Duration deadline) {
    Objects.requireNonNull(deadline, "deadline");
    if (deadline.isNegative()) {
      throw new IllegalArgumentException("drain deadline of node " + nodeId + " must be >= 0, was " + deadline);
    }
    GpuSchedulers.Builder.atMostMax(deadline, "drain deadline of node " + nodeId);
    drain(nodeId, deadline.toMillis(), StopReason.NODE_DRAIN, "drain");
  }

  void spotInterruption(String nodeId, Instant terminationTime) {
    Objects.requireNonNull(terminationTime, "terminationTime");
    long left;
    try {
      left = Math.max(0, Math.subtractExact(terminationTime.toEpochMilli(), clock.millis()));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "terminationTime of node " + nodeId + " is out of range: " + terminationTime);
    }
    if (left > JobSpec.MAX_DURATION.toMillis()) {
      throw new IllegalArgumentException(
          "terminationTime of node " + nodeId + " is too far ahead: " + terminationTime + " (at most "
              + JobSpec.MAX_DURATION + " from now)");
    }
    drain(nodeId, left, StopReason.SPOT_INTERRUPTION, "spot interruption at " + terminationTime);
  }

  private void drain(String nodeId, long deadlineMillis, StopReason why, String text) {
    long gen = requireNode(nodeId);
    // Stops already in progress take the drain's reason now, in the caller's program order: a
    // host reporting one of them stopped right after this call sees it requeued, even while
    // another thread holds the dispatcher and the command below runs later.
    for (Job j : jobsOn(nodeId)) {
      transitions.escalate(j, why);
    }
    Applied done = new Applied();
    loop.command(
        () -> {
          try {
            if (!changeState(nodeId, gen, NodeState.DRAINING, text, done)) {
              return; // that node is gone; its jobs were requeued with it
            }
            long now = clock.millis();
            for (Job j : jobsOn(nodeId)) {
              drainStop(j, why, deadlineMillis, now);
            }
          } finally {
            done.ran = true;
          }
        });
    awaitApplied(done, "node " + nodeId + " is draining (" + text + ")");
  }

  /**
   * A drain's stop of one job on the draining node, with a deadline at most {@code deadlineMillis}
   * from now (dispatcher): a stop in progress takes the drain's reason and, if earlier, its
   * deadline; a running job is asked to stop.
   */
  private void drainStop(Job j, StopReason why, long deadlineMillis, long now) {
    long grace = Math.min(j.spec.gracePeriod().toMillis(), deadlineMillis);
    if (transitions.escalate(j, why)) { // a drain always requeues, whatever began the stop
      if (now + grace < j.stopDeadlineMillis) {
        j.stopDeadlineMillis = now + grace;
        transitions.safeStop(j, why, j.stopDeadlineMillis); // the host learns the earlier deadline
        if (grace == 0) {
          loop.offer(() -> transitions.finishPreemption(j, Job.ANY_RUN));
        }
      }
    } else {
      transitions.requestStop(j, why, grace, null, now);
    }
  }

  void nodeDown(String nodeId) {
    Journal.Entry entry;
    synchronized (nodeMgmt) {
      requireNode(nodeId);
      // Out of the engine and its jobs stopped now, in call order: the id is free when this
      // returns (the node may come back at once), and a host report racing it sees the job
      // requeued, never completed after its node was lost. The books follow on the dispatcher.
      NodeRemoval removal = cluster.removeNode(nodeId, true);
      Long gen = nodeGens.remove(nodeId);
      entry = journalNode(nodeId, NodeState.DOWN, gen == null ? -1 : gen);
      var stopped = new LinkedHashSet<Job>();
      for (Allocation a : removal.lost()) {
        Job j = ledger.owners.get(a.id());
        if (j != null && !stopped.contains(j) && transitions.nodeLost(j)) {
          stopped.add(j);
        }
      }
      loop.offer(() -> onNodeDown(nodeId, stopped));
    }
    loop.runCommands();
    awaitDurable(entry, "node " + nodeId + " was removed and its jobs requeued");
  }

  private void onNodeDown(String nodeId, Set<Job> stopped) {
    NodeState from = capacity.states.get(nodeId);
    long now = clock.millis();
    capacity.remove(nodeId);
    for (Job j : stopped) {
      transitions.nodeLostBooked(j, now);
    }
    events.publish(new SchedulerEvent.NodeStateChanged(at(now), nodeId, from, NodeState.DOWN, "lost"));
  }

  /** The scheduler's jobs holding a part of the node; none once the node left the engine. */
  private List<Job> jobsOn(String nodeId) {
    List<Allocation> held;
    try {
      held = cluster.allocations(nodeId);
    } catch (IllegalArgumentException gone) {
      return List.of();
    }
    var out = new LinkedHashSet<Job>();
    for (Allocation a : held) {
      Job j = ledger.owners.get(a.id());
      if (j != null) {
        out.add(j);
      }
    }
    return new ArrayList<>(out);
  }

  /** Checks the node exists as of this call; returns its incarnation. */
  private long requireNode(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    checkOpen.run();
    Long gen = nodeGens.get(nodeId);
    if (gen == null) {
      throw new IllegalArgumentException("unknown node " + nodeId);
    }
    return gen;
  }

  /** Books a node the engine placed on; false if the cluster no longer lists it (removed since). */
  boolean learnNode(String nodeId) {
    for (NodeSpec n : cluster.nodes()) {
      if (n.id().equals(nodeId)) {
        capacity.add(n, NodeState.READY);
          synchronized (nodeMgmt) {
          specs.put(nodeId, n);
          long gen = nodeGens.computeIfAbsent(nodeId, k -> nextGen++);
          journalNode(nodeId, NodeState.READY, gen);
        }
        return true;
      }
    }
    return false;
  }
}
