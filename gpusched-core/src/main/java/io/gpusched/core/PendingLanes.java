package io.gpusched.core;

import io.gpusched.JobState;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulingPolicy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The queues and their pending jobs: each queue's lanes ({@link QueueState}), the global order of
 * lane heads for FIFO and PRIORITY, and the preemptors (pending jobs waiting for their victims'
 * capacity).
 *
 * <p>Owns the job order the policy sets, the membership of pending jobs in lanes and the
 * preemptor set, and each pending job's demand estimate ({@link #refreshDemand}). The queue list
 * itself is fixed at build time. Threads: the dispatcher only (lanes are changed by commands and
 * passes); the queue specs and the volatile counters in {@link QueueState} are read by any thread.
 */
final class PendingLanes {

  final Map<String, QueueState> queues = new LinkedHashMap<>();
  final List<QueueState> queueList = new ArrayList<>();
  /** Lane heads of every queue in one policy order (FIFO and PRIORITY passes walk it). */
  final TreeSet<Job> globalHeads;
  /** Pending jobs that preempted others and wait for the capacity their victims free. */
  final LinkedHashSet<Job> preemptors = new LinkedHashSet<>();

  private final Capacity capacity;

  PendingLanes(SchedulingPolicy policy, Collection<QueueSpec> specs, Capacity capacity) {
    this.capacity = capacity;
    Comparator<Job> order =
        policy == SchedulingPolicy.FIFO
            ? Comparator.comparingLong(j -> j.seq)
            : Comparator.<Job>comparingInt(j -> j.spec.priority())
                .reversed()
                .thenComparingLong(j -> j.seq);
    this.globalHeads = new TreeSet<>(order);
    for (QueueSpec q : specs) {
      QueueState s = new QueueState(q, queueList.size(), order);
      queues.put(q.name(), s);
      queueList.add(s);
    }
  }

  /** Puts a PENDING job not yet in a lane into its queue's lane. */
  void enqueuePending(Job j) {
    if (j.rawState() == JobState.PENDING && !j.inLane) {
      j.queue.add(j, globalHeads);
      refreshDemand(j);
    }
  }

  /** Recomputes the job's demand estimate and compatible pools if the pools changed since. */
  void refreshDemand(Job j) {
    if (j.poolsVersion != capacity.version) {
      j.poolsVersion = capacity.version;
      j.demandMilli = capacity.estimate(j.spec.request()) * j.spec.gangSize();
      j.compatPools = capacity.compatiblePools(j.spec.request());
    }
  }

  /** Takes a job that left PENDING (cancelled) out of its lane and the preemptors. */
  void leavePending(Job j) {
    j.queue.remove(j, globalHeads);
    if (preemptors.remove(j)) {
      for (Job v : j.victims) {
        v.stopFor = null;
      }
      j.victims.clear();
    }
  }

  /** Takes a job that just started out of its lane and the preemptors. */
  void started(Job j) {
    j.queue.remove(j, globalHeads);
    preemptors.remove(j);
    j.victims.clear();
  }
}
