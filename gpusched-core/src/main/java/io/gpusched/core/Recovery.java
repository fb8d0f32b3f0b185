package io.gpusched.core;

import io.gpusched.GpuCluster;
import io.gpusched.JobState;
import io.gpusched.NodeState;
import io.gpusched.StopReason;
import io.gpusched.store.StoredAllocation;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredNode;
import io.gpusched.store.StoredQueue;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rebuilds a durable scheduler's state from what its store holds (see {@link
 * GpuSchedulers.Builder#store} and {@code docs/durability.md}): nodes, queues and their usage,
 * pending and running jobs (the latter on exactly their GPUs), the reconciliation with the
 * launcher, and the stops to send again. Constructor thread only, before the scheduler is
 * published; {@link #releaseRestored} undoes the allocations of a recovery that failed.
 */
final class Recovery {

  private static final Logger log = LoggerFactory.getLogger(Recovery.class);

  private final GpuCluster cluster;
  private final InstantSource clock;
  private final NodeLifecycle nodes;
  private final Capacity capacity;
  private final PendingLanes lanes;
  private final FairShare fairShare;
  private final JobTransitions transitions;
  private final JobBook book;
  private final Ledger ledger;
  private final CommandLoop loop;
  private final AtomicLong seq;

  Recovery(
      GpuCluster cluster,
      InstantSource clock,
      NodeLifecycle nodes,
      Capacity capacity,
      PendingLanes lanes,
      FairShare fairShare,
      JobTransitions transitions,
      JobBook book,
      Ledger ledger,
      CommandLoop loop,
      AtomicLong seq) {
    this.cluster = cluster;
    this.clock = clock;
    this.nodes = nodes;
    this.capacity = capacity;
    this.lanes = lanes;
    this.fairShare = fairShare;
    this.transitions = transitions;
    this.book = book;
    this.ledger = ledger;
    this.loop = loop;
    this.seq = seq;
  }

  /** Every allocation {@link #recoverJobs} restored so far (cleared by {@link #recovered}). */
  private final List<io.gpusched.Allocation> restoredAllocations = new ArrayList<>();


  /**
   * How to take back each change {@link #recoverNodes} made to the cluster, in the order made
   * (cleared by {@link #recovered}): a failed build on a cluster given with {@code cluster(...)}
   * leaves its nodes as they were.
   */
  private final List<Runnable> nodeUndo = new ArrayList<>();

  /** The recovery was committed: what it restored is the scheduler's now. */
  void recovered() {
    restoredAllocations.clear();
    nodeUndo.clear();
  }

  /** A recovery that failed: gives back every allocation it restored, then undoes its node changes. */
  void releaseRestored(Throwable cause) {
    for (io.gpusched.Allocation a : restoredAllocations) {
      try {
        a.release();
      } catch (RuntimeException r) {
        cause.addSuppressed(r);
      }
    }
    restoredAllocations.clear();
    for (int i = nodeUndo.size() - 1; i >= 0; i--) { // newest first, once the GPUs are free again
      try {
        nodeUndo.get(i).run();
      } catch (RuntimeException r) {
        cause.addSuppressed(r);
      }
    }
    nodeUndo.clear();
  }

  /**
   * Applies the stored nodes to the cluster before they are booked (constructor): removed nodes
   * are removed, nodes added at run time are added again in their order (a node of the builder
   * that was removed and added again at run time moves to its place in that order), cordoned and
   * draining nodes get their state back.
   */
  void recoverNodes(List<StoredNode> stored) {
    var sorted = new ArrayList<>(stored);
    sorted.sort(java.util.Comparator.comparingLong(StoredNode::sequence));
    var present = new java.util.HashMap<String, io.gpusched.NodeSpec>();
    cluster.nodes().forEach(n -> present.put(n.id(), n));
    var states = new java.util.HashMap<String, NodeState>();
    cluster.snapshot().nodes().forEach(u -> states.put(u.nodeId(), u.state()));
    for (StoredNode n : sorted) {
      String id = n.spec().id();
      io.gpusched.NodeSpec was = present.get(id);
      if (was != null && (n.state() == NodeState.DOWN || n.addedAtRunTime())) {
        cluster.removeNode(id, false);
        present.remove(id);
        NodeState wasState = states.getOrDefault(id, NodeState.READY);
        nodeUndo.add(
            () -> {
              cluster.addNode(was);
              if (wasState != NodeState.READY) {
                cluster.setNodeState(id, wasState);
              }
            });
      }
    }
    for (StoredNode n : sorted) {
      if (n.addedAtRunTime() && n.state() != NodeState.DOWN) {
        String id = n.spec().id();
        cluster.addNode(n.spec());
        present.put(id, n.spec());
        nodeUndo.add(() -> cluster.removeNode(id, false));
        nodes.recoveredRunTimeNode(id);
      }
    }
    for (StoredNode n : sorted) {
      String id = n.spec().id();
      if ((n.state() == NodeState.CORDONED || n.state() == NodeState.DRAINING) && present.containsKey(id)) {
        NodeState wasState = states.getOrDefault(id, NodeState.READY); // READY: added just above
        cluster.setNodeState(id, n.state());
        nodeUndo.add(() -> cluster.setNodeState(id, wasState));
      }
    }
  }

  /** Restores each stored queue's decayed usage, start counter and ended cost (constructor). */
  void recoverQueues(List<StoredQueue> stored) {
    long decayedAt = Long.MIN_VALUE;
    int models = capacity.models.size();
    for (StoredQueue sq : stored) {
      QueueState q = lanes.queues.get(sq.spec().name());
      if (q == null) {
        continue; // cannot happen: build() adds every stored queue
      }
      q.ensureModels(models);
      sq.decayedShare()
          .forEach(
              (model, share) -> {
                int m = capacity.modelIndexOf(model);
                if (m >= 0) { // a model no node has now: its history does not matter until one comes
                  q.ewmaShare[m] = share;
                }
              });
      q.lastStart = sq.lastStart();
      q.endedCost = sq.endedCost();
      if (sq.decayedAtMillis() >= 0) {
        decayedAt = Math.max(decayedAt, sq.decayedAtMillis());
      }
    }
    if (decayedAt != Long.MIN_VALUE) {
      fairShare.restoreLastDecay(decayedAt);
    }
    for (QueueState q : lanes.queueList) {
      fairShare.updateDominant(q);
    }
  }

  /**
   * Sets each queue's dominant share to the stored one (constructor, after the jobs were booked,
   * which recomputed it): the scheduler refreshes a queue's share when its usage changes or time
   * passes, not when capacity changes, so the stored value may differ from a fresh computation,
   * and the queue order after the restart must be the order before it.
   */
  void recoverDominantShares(List<StoredQueue> stored) {
    for (StoredQueue sq : stored) {
      QueueState q = lanes.queues.get(sq.spec().name());
      if (q != null) {
        q.dominantShare = sq.dominantShare();
      }
    }
  }

  /**
   * Recreates the stored jobs (constructor): final ones retained, pending ones queued in their
   * submission order, running and preempting ones on exactly their recorded GPUs, booked in their
   * start order. Returns the recovered jobs that hold GPUs.
   *
   * @throws IllegalStateException if a running job's recorded GPUs cannot be restored
   */
  List<Job> recoverJobs(List<StoredJob> stored) {
    var sorted = new ArrayList<>(stored);
    sorted.sort(java.util.Comparator.comparingLong(StoredJob::sequence));
    long now = clock.millis();
    var holders = new ArrayList<Job>();
    var records = new java.util.IdentityHashMap<Job, StoredJob>();
    long maxSeq = 0;
    long maxStart = 0;
    for (StoredJob sj : sorted) {
      maxSeq = Math.max(maxSeq, sj.sequence());
      maxStart = Math.max(maxStart, sj.startOrder());
      QueueState q = lanes.queues.get(sj.spec().queue());
      if (q == null) {
        throw new IllegalStateException(
            "job " + sj.id() + " of the store is in queue " + sj.spec().queue() + ", which the store does not hold");
      }
      Job j = new Job(transitions, sj.spec(), sj.sequence(), q, sj.submittedAtMillis());
      j.queuedAtMillis = sj.queuedAtMillis();
      j.startedAtMillis = sj.startedAtMillis();
      j.endReason = sj.endReason();
      j.accruedCost = sj.accruedCost();
      j.checkpointRef = sj.checkpointRef();
      j.startOrder = sj.startOrder();
      j.attempts = sj.attempts();
      j.lastHeartbeatMillis = now; // a lease restarts at the recovery
      StopReason unsent = sj.stopReason();
      if (sj.stopDeadlineMillis() >= 0 && unsent != null) {
        // a stop committed and perhaps never handed to the launcher (PREEMPTING: always sent again)
        // RUNNING: the stop of its previous run, which the record of its new run carries
        int run = sj.state() == JobState.RUNNING ? sj.attempts() - 1 : sj.attempts();
        resend.add(new Resend(j, unsent, sj.stopDeadlineMillis(), run));
        if (sj.state() != JobState.PREEMPTING) {
          j.unsentStop = new Job.UnsentStop(unsent, sj.stopDeadlineMillis(), run);
        }
      }
      if (sj.state().isFinal()) {
        transitions.restoreState(j, sj.state(), sj.attempts(), sj.stopReason());
        book.restoreFinished(j, sj.state(), sj.endedAtMillis());
      } else if (sj.state() == JobState.PENDING) {
        transitions.restoreState(j, JobState.PENDING, sj.attempts(), sj.stopReason());
        book.claim(j);
        lanes.enqueuePending(j);
      } else {
        holders.add(j);
        records.put(j, sj);
      }
    }
    seq.set(maxSeq);
    transitions.restoreStarts(maxStart);
    holders.sort(java.util.Comparator.comparingLong((Job j) -> j.startOrder).thenComparingLong(j -> j.seq));
    for (Job j : holders) {
      StoredJob sj = java.util.Objects.requireNonNull(records.get(j), "holders are stored jobs");
      var allocs = new ArrayList<io.gpusched.Allocation>();
      for (StoredAllocation a : sj.allocations()) {
        try {
          allocs.add(cluster.restore(sj.spec().request().withHost(a.cpuMillis(), a.memoryMiB()), a.gpus()));
        } catch (RuntimeException e) {
          allocs.forEach(io.gpusched.Allocation::release);
          throw new IllegalStateException(
              "cannot recover running job " + sj.id() + " on its recorded GPUs " + a.gpus() + ": "
                  + e.getMessage(),
              e);
        }
      }
      restoredAllocations.addAll(allocs);
      Ledger.Accounting acct = ledger.prepare(allocs, nodes::learnNode);
      if (acct == null) {
        throw new IllegalStateException("cannot recover running job " + sj.id() + ": its node is gone");
      }
      transitions.restoreRunning(
          j, allocs, acct, sj.state(), sj.attempts(), sj.stopReason(), sj.startedAtMillis(),
          sj.stopDeadlineMillis());
      book.claim(j);
    }
    return holders;
  }

  /** A stop the store holds as committed but perhaps not sent (constructor). */
  private record Resend(Job job, StopReason why, long deadlineMillis, int run) {}

  /** The stops to send again after recovery (constructor only). */
  private final List<Resend> resend = new ArrayList<>();

  /**
   * Sends recovered stops again (constructor): with {@code preempting} false, before the
   * reconciliation, each stop a record says was committed but perhaps not handed to the launcher
   * (a cancel, a lease or time limit, a node loss, an idle reclaim; for a job that runs again, the
   * stop of its previous run); with {@code preempting} true, after it, the stop of each PREEMPTING
   * job the host did not report GONE. A host may therefore get a stop twice for one run.
   */
  void resendStops(boolean preempting) {
    for (Resend r : resend) {
      Job j = r.job();
      boolean isPreempting = j.rawState() == JobState.PREEMPTING;
      if (preempting ? isPreempting : j.unsentStop != null) {
        transitions.resendStop(j, r.why(), r.deadlineMillis(), r.run());
      }
    }
    if (preempting) {
      resend.clear();
    }
  }

  /**
   * Asks the launcher about each recovered running job (constructor, before the builder returns):
   * GONE ones are requeued or failed, then their bookings run at once.
   */
  void reconcile(io.gpusched.JobLauncher launcher, List<Job> recovered, @Nullable NodeRecovery nodeRecovery) {
    boolean gone = false;
    for (Job j : recovered) {
      io.gpusched.Reconciliation r;
      try {
        r = launcher.reconcile(j.view(j.run()));
      } catch (Throwable e) {
        log.warn("gpusched launcher failed to reconcile {}; taken as UNKNOWN", j, e);
        loop.absorb(e);
        r = null;
      }
      NodeRecovery nr = nodeRecovery;
      if (r == io.gpusched.Reconciliation.RUNNING && nr != null) { // the host says it runs there
        for (io.gpusched.Allocation a : j.view(j.run()).allocations()) {
          a.gpus().forEach(g -> nr.confirm(g.nodeId()));
        }
      }
      if (r == io.gpusched.Reconciliation.GONE) {
        transitions.recoveredGone(j);
        gone = true;
      }
    }
    if (gone) {
      loop.runCommands(); // books them and commits, before the builder returns
    }
  }
}
