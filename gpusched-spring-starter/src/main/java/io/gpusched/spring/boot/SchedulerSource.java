package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.JobState;
import io.gpusched.store.ReplicaStatus;
import io.gpusched.store.SchedulerReplica;
import io.gpusched.store.StoreException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Where the {@code gpusched} endpoint finds its scheduler: the application's {@link GpuScheduler}
 * bean, or with replicas ({@code gpusched.store.replica.enabled}) the scheduler of this replica
 * while it leads. A follower has none: it answers from the database what it can (the replica's
 * status, jobs per state) and refuses what only the leader can do (node reads and changes) with a
 * message naming the leader.
 */
final class SchedulerSource {
  private final @Nullable GpuScheduler scheduler;
  private final @Nullable SchedulerReplica replica;

  private SchedulerSource(@Nullable GpuScheduler scheduler, @Nullable SchedulerReplica replica) {
    this.scheduler = scheduler;
    this.replica = replica;
  }

  static SchedulerSource of(GpuScheduler scheduler) {
    return new SchedulerSource(Objects.requireNonNull(scheduler, "scheduler"), null);
  }

  static SchedulerSource of(SchedulerReplica replica) {
    return new SchedulerSource(null, Objects.requireNonNull(replica, "replica"));
  }

  /** The scheduler now: the bean, or the replica's while it leads. */
  Optional<GpuScheduler> scheduler() {
    if (scheduler != null) {
      return Optional.of(scheduler);
    }
    return Objects.requireNonNull(replica).leader();
  }

  /** The replica, or null for a single scheduler. */
  @Nullable SchedulerReplica replica() {
    return replica;
  }

  /** The replica's status as the endpoint shows it. */
  static Map<String, Object> status(ReplicaStatus s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", s.role().name());
    m.put("epoch", s.epoch());
    m.put("storeReachable", s.storeReachable());
    m.put("leader", s.leader());
    m.put("takeovers", s.takeovers());
    return m;
  }

  /**
   * The snapshot: the scheduler's (with the replica's status under {@code replica}); on a follower
   * the replica's status, the jobs per state the database holds (a count over its job table), and
   * its queues and nodes as last committed ({@link SchedulerViews#storedQueue}, {@link
   * SchedulerViews#storedNode}), or {@code jobsError} when the database cannot be read.
   */
  Map<String, Object> snapshot() {
    Optional<GpuScheduler> s = scheduler();
    Map<String, Object> out = new LinkedHashMap<>();
    if (replica != null) {
      out.put("replica", status(replica.status()));
    }
    if (s.isPresent()) {
      out.putAll(SchedulerViews.snapshot(s.get().snapshot()));
    } else if (replica != null) {
      try {
        Map<JobState, Integer> counts = new LinkedHashMap<>();
        replica.jobCounts().forEach((k, v) -> counts.put(k, (int) Math.min(Integer.MAX_VALUE, v)));
        out.put("jobs", SchedulerViews.jobsByState(counts));
        out.put("queues", replica.queues().stream()
            .sorted(java.util.Comparator.comparing(q -> q.spec().name()))
            .map(SchedulerViews::storedQueue).toList());
        out.put("nodes", replica.nodes().stream().map(SchedulerViews::storedNode).toList());
        out.put("jobsFrom", "the database (this replica follows)");
      } catch (StoreException e) { // the status above says the store is unreachable too
        out.put("jobsError", String.valueOf(e.getMessage()));
      }
    }
    return out;
  }

  /**
   * Why a follower cannot serve a node read or change: which replica leads, so the caller can go
   * there.
   */
  String notLeading(String what) {
    SchedulerReplica r = Objects.requireNonNull(replica);
    ReplicaStatus s = r.status();
    String leader = s.leader();
    return leader == null
        ? "no replica leads now (epoch " + s.epoch() + "); " + what + " needs the leader: retry shortly"
        : "this replica follows in epoch " + s.epoch() + "; " + what + " is served by the leader " + leader
            + ": send it there";
  }
}
