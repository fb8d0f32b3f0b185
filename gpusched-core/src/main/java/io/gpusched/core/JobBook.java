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
   * @return the final job that held the id and that {@code j} displaced (still live, or retained),
   *     for {@link #unclaim} to put back; null if the id was free
   * @throws IllegalArgumentException if a job of that id is not final
   */
  @Nullable Job claim(Job j) {
    String id = j.id();
    // A job already final may still be listed until the dispatcher retires it (another thread may
    // be dispatching): its id is free for a new submission all the same. If the dispatcher retires
    // it between the two calls, the id is free: claim it again.
    Job displaced = null;
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
        displaced = prev;
        break;
      }
    }
    Job retained = finished.asMap().remove(id);
    return displaced != null ? displaced : retained;
  }

  /**
   * Takes back a claim whose submission the store did not accept (submitting thread): the job
   * leaves the live jobs unless something already replaced it, and the final job it displaced (see
   * {@link #claim}) is retained again, so {@code job(id)} answers as if the submission had never
   * been made. A displaced job that the dispatcher had not yet retired stays retained when it is
   * ({@link #retire} keeps it while no live job holds its id).
   */
  void unclaim(Job j, @Nullable Job displaced) {
    if (live.remove(j.id(), j) && displaced != null && !live.containsKey(j.id())) {
      finished.asMap().putIfAbsent(j.id(), displaced);
      if (live.containsKey(j.id())) { // a new submission claimed the id meanwhile: it owns it
        finished.asMap().remove(j.id(), displaced);
      }
    }
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
    // may see in both). If a resubmission holds the id now, the old job is not kept: the new one
    // owns the id, and submit dropped the retained entry only if it was there. If no job holds it
    // (a resubmission took it and gave it back when the store refused it), the old job stays
    // retained, also when that happens between this check and the removal (checked again); a
    // resubmission claiming the id after the check removes the entry itself (claim).
    finished.put(j.id(), j);
    var hook = betweenLiveAndFinished;
    if (hook != null) {
      hook.accept(j);
    }
    if (!live.remove(j.id(), j) && live.containsKey(j.id())) {
      finished.asMap().remove(j.id(), j);
      if (!live.containsKey(j.id())) {
        finished.asMap().putIfAbsent(j.id(), j);
      }
    }
    j.endedAtMillis = now;
    events.run(() -> j.settle(to, now));
  }
}
