package io.gpusched.core;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.gpusched.JobHandle;
import io.gpusched.JobState;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The scheduler's book of jobs by id: the live jobs (not yet retired) and a bounded cache of
 * retained finished ones.
 *
 * <p>Owns the id rules: an id is unique among jobs not yet final, and a final job's id may be
 * taken again at once, even before the dispatcher retired the old job ({@link #claim}). Threads:
 * {@link #claim} runs on the submitting thread, reads on any thread, {@link #retire} on the
 * dispatcher (called by {@link JobTransitions} only). The maps are concurrent; a reader never
 * misses a job being retired and lists an id once.
 */
final class JobBook {

  private final java.util.concurrent.ConcurrentHashMap<String, Job> live =
      new java.util.concurrent.ConcurrentHashMap<>();
  private final Cache<String, Job> finished;
  private final EventBus events;

  /**
   * Test seam: called by {@code submit} with the job that holds the id being submitted, between
   * finding it and taking its place; null (nothing) in production.
   */
  volatile @Nullable Consumer<Job> afterIdTaken;

  /**
   * Test seam: called by the dispatcher while it moves a final job from the live map to the
   * retained finished jobs, between the two steps; null (nothing) in production.
   */
  volatile @Nullable Consumer<Job> betweenLiveAndFinished;

  JobBook(long retainFinished, EventBus events) {
    this.events = events;
    this.finished =
        Caffeine.newBuilder().maximumSize(retainFinished).executor(Runnable::run).build();
  }

  /**
   * Makes {@code j} the live job of its id (submitting thread).
   *
   * @throws IllegalArgumentException if a job of that id is not final
   */
  void claim(Job j) {
    String id = j.id();
    // A job already final may still be listed until the dispatcher retires it (another thread may
    // be dispatching): its id is free for a new submission all the same. If the dispatcher retires
    // it between the two calls, the id is free: claim it again.
    for (; ; ) {
      Job prev = live.putIfAbsent(id, j);
      if (prev == null) {
        break;
      }
      var hook = afterIdTaken;
      if (hook != null) {
        hook.accept(prev);
      }
      JobState ps = prev.state();
      if (!ps.isFinal()) {
        throw new IllegalArgumentException(
            "a job with id " + id + " is " + ps + "; ids are unique among jobs not yet final");
      }
      if (live.replace(id, prev, j)) {
        break;
      }
    }
    finished.invalidate(id);
  }

  /**
   * Takes back a claim whose submission the store did not accept (submitting thread): the job
   * leaves the live jobs unless something already replaced it.
   */
  void unclaim(Job j) {
    live.remove(j.id(), j);
  }

  /** A job recovered from the store in a final state: retained, its futures completed (build). */
  void restoreFinished(Job j, JobState state, long endedAtMillis) {
    finished.put(j.id(), j);
    j.settle(state, endedAtMillis);
  }

  /** The job of that id: the live one, else a retained finished one (any thread). */
  @Nullable Job get(String id) {
    Job j = live.get(id);
    if (j == null) {
      j = finished.getIfPresent(id);
    }
    return j;
  }

  /** The live jobs now (any thread; a weakly consistent view). */
  Collection<Job> live() {
    return live.values();
  }

  /** Every job listed: the live ones, then the retained finished ones (any thread). */
  List<JobHandle> all() {
    var out = new ArrayList<JobHandle>(live.values());
    out.addAll(finishedNotLive(out));
    return out;
  }

  /**
   * The retained finished jobs whose ids are not among {@code liveJobs} (read just before) nor
   * live now: a job being retired is in both maps for a moment, and a resubmitted id belongs to
   * the new job.
   */
  List<Job> finishedNotLive(List<? extends JobHandle> liveJobs) {
    var ids = new HashSet<String>();
    liveJobs.forEach(j -> ids.add(j.id()));
    var out = new ArrayList<Job>();
    for (Job j : finished.asMap().values()) {
      if (!ids.contains(j.id()) && !live.containsKey(j.id())) {
        out.add(j);
      }
    }
    return out;
  }

  /** Moves a final job to the retained ones and completes its futures (dispatcher). */
  void retire(Job j, JobState to, long now) {
    // Retained first, then out of the live map: a reader never misses it (jobs() drops the copy it
    // may see in both). If a resubmission took the id meanwhile (or before), the old job is not
    // kept: the new one owns the id, and submit dropped the retained entry only if it was there.
    finished.put(j.id(), j);
    var hook = betweenLiveAndFinished;
    if (hook != null) {
      hook.accept(j);
    }
    if (!live.remove(j.id(), j)) {
      finished.asMap().remove(j.id(), j);
    }
    j.endedAtMillis = now;
    events.run(() -> j.settle(to, now));
  }
}
