package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.GpuMode;
import io.gpusched.NodeSpec;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * The books of the running jobs: what each job holds (by pool, by model, in total, its cost rate),
 * what each queue and pool uses, which job owns each allocation, and the running jobs ordered by
 * their expected end.
 *
 * <p>Only {@link JobTransitions} books a job in ({@link #account}, at its start) and out ({@link
 * #unaccount}, when it stops or ends); the rest of the scheduler reads. Threads: the dispatcher
 * only, except {@link #owners}, which callers read too (drain and node loss look up the jobs on a
 * node), hence concurrent.
 */
@SuppressWarnings("NonAtomicVolatileUpdate") // one writer, the dispatcher; others only read
final class Ledger {

  /** Allocation id → job; written by the dispatcher, read by callers (drain) too. */
  final Map<Long, Job> owners = new ConcurrentHashMap<>();
  /** Whole GPUs held by the scheduler's running jobs, per node. */
  final Map<String, Integer> wholeUsed = new HashMap<>();
  /** The jobs holding GPUs, in start order. */
  final LinkedHashSet<Job> running = new LinkedHashSet<>();
  /** The jobs holding GPUs by expected end (backfill's shadow time). */
  final TreeSet<Job> runningByEnd =
      new TreeSet<>(Comparator.<Job>comparingLong(j -> j.endBoundMillis).thenComparingLong(j -> j.seq));
  /** Jobs asked to stop by the scheduler and not yet stopped (their deadlines are timed). */
  final LinkedHashSet<Job> preempting = new LinkedHashSet<>();

  /** Ended runs' cost per UTC day and queue (written here, read by snapshots). */
  final CostDays costDays = new CostDays();

  private final Capacity capacity;
  private final FairShare fairShare;
  /** Bumped whenever the running set changes or time passes: preemption plans again after it. */
  private long runningVersion;

  Ledger(Capacity capacity, FairShare fairShare) {
    this.capacity = capacity;
    this.fairShare = fairShare;
  }

  long runningVersion() {
    return runningVersion;
  }

  /** Time passed: minimum run times may have elapsed, so preemption may plan again. */
  void timePassed() {
    runningVersion++;
  }

  /** What a start will add to the books, computed before the job's state changes. */
  @SuppressWarnings("ArrayRecordComponent") // a private carrier, never compared or hashed
  record Accounting(long[] poolMilli, long[] modelMilli, long total, double costPerMs) {}

  /**
   * Computes a start's accounting. May learn nodes the engine placed on but the books do not know
   * yet (added to the cluster on another thread, or directly on the cluster underneath), through
   * {@code learnNode}. Returns {@code null} when such a node is already gone again (its
   * allocations died with it), and throws nothing that the caller cannot undo: the job is still
   * PENDING.
   */
  @Nullable Accounting prepare(List<Allocation> allocs, Predicate<String> learnNode) {
    for (Allocation a : allocs) {
      for (AllocatedGpu g : a.gpus()) {
        if (!capacity.nodes.containsKey(g.nodeId()) && !learnNode.test(g.nodeId())) {
          return null;
        }
        capacity.poolOf(g); // creates the pool (and model) if new, before the arrays are sized
      }
    }
    long[] poolMilli = new long[capacity.poolMode.size()];
    long[] modelMilli = new long[capacity.models.size()];
    long total = 0;
    double costPerMs = 0;
    for (Allocation a : allocs) {
      for (AllocatedGpu g : a.gpus()) {
        long m = capacity.milli(g);
        int p = capacity.poolOf(g);
        poolMilli[p] += m;
        modelMilli[capacity.poolModel[p]] += m;
        total += m;
        NodeSpec n = capacity.nodes.get(g.nodeId());
        if (n != null) {
          costPerMs += n.pricePerGpuHour() * capacity.fraction(g) / 3_600_000.0;
        }
      }
    }
    return new Accounting(poolMilli, modelMilli, total, costPerMs);
  }

  /**
   * Bumped by every {@link #account} and {@link #unaccount} that books something: the queues'
   * current usage moved (dispatcher).
   */
  long usageChanges;

  /** Books a started job. Plain arithmetic on sized arrays: cannot fail after the transition. */
  void account(Job j, List<Allocation> allocs, Accounting acct, long now) {
    usageChanges++;
    j.poolMilli = acct.poolMilli();
    j.modelMilli = acct.modelMilli();
    j.usedMilli = acct.total();
    j.costPerMs = acct.costPerMs();
    for (Allocation a : allocs) {
      owners.put(a.id(), j);
      for (AllocatedGpu g : a.gpus()) {
        if (g.mode() == GpuMode.WHOLE) {
          wholeUsed.merge(g.nodeId(), 1, Integer::sum);
        }
      }
    }
    QueueState q = j.queue;
    q.ensureModels(j.modelMilli.length);
    for (int p = 0; p < j.poolMilli.length; p++) {
      capacity.poolUsed[p] += j.poolMilli[p];
    }
    for (int m = 0; m < j.modelMilli.length; m++) {
      q.modelMilli[m] += j.modelMilli[m];
    }
    capacity.totalUsed += j.usedMilli;
    q.usedMilli += j.usedMilli;
    q.runningJobs++;
    q.running.add(j);
    running.add(j);
    Duration bound = j.spec.runTimeBound(); // at most JobSpec.MAX_DURATION: no overflow
    j.endBoundMillis = bound == null ? Long.MAX_VALUE : now + bound.toMillis();
    runningByEnd.add(j);
    j.accounted = true;
    runningVersion++;
    fairShare.updateDominant(q);
  }

  /** Books a job out (it stopped or ended); nothing if it is not booked. */
  void unaccount(Job j, long now) {
    if (!j.accounted) {
      return;
    }
    usageChanges++;
    j.accounted = false;
    QueueState q = j.queue;
    for (int p = 0; p < j.poolMilli.length; p++) {
      capacity.poolUsed[p] -= j.poolMilli[p];
    }
    for (int m = 0; m < j.modelMilli.length; m++) {
      q.modelMilli[m] -= j.modelMilli[m];
    }
    capacity.totalUsed -= j.usedMilli;
    q.usedMilli -= j.usedMilli;
    q.runningJobs--;
    q.running.remove(j);
    running.remove(j);
    runningByEnd.remove(j);
    preempting.remove(j);
    double runCost = j.runCost(now);
    j.accruedCost += runCost;
    q.endedCost += runCost;
    costDays.addRun(q.spec.name(), j.costPerMs, j.startedAtMillis, now);
    for (Allocation a : j.heldAllocations()) {
      owners.remove(a.id());
      for (AllocatedGpu g : a.gpus()) {
        if (g.mode() == GpuMode.WHOLE) {
          wholeUsed.computeIfPresent(g.nodeId(), (k, v) -> v > 1 ? v - 1 : null);
        }
      }
    }
    if (j.stopFor != null) {
      j.stopFor.victims.remove(j);
      j.stopFor = null;
    }
    j.idle = false;
    runningVersion++;
    fairShare.updateDominant(q);
  }
}
