package io.gpusched.core;

import io.gpusched.JobSpec;
import io.gpusched.store.StoredAllocation;
import io.gpusched.store.StoredJob;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link JdbcStore} knows its database holds for each job, so that a commit writes only
 * what changed: a job's spec only when its row may not hold it yet (a new submission, or a job this
 * store does not know), its GPU rows only when its allocations changed (a start, an end), and
 * otherwise a plain update of the row's small columns.
 *
 * <h2>What an entry means</h2>
 *
 * <ul>
 *   <li><b>{@link Known}</b> (seq, spec, allocations): the row of this job exists with this
 *       submission number and spec, and its GPU rows are exactly these allocations. Kept for jobs
 *       that are not final (the live ones), so the map holds at most the live jobs.
 *   <li><b>{@link #UNKNOWN}</b>: the job may have GPU rows; nothing is known of its row.
 *   <li><b>no entry</b>: once {@link #loaded}, the job has no GPU rows (every job that may have
 *       some has an entry); nothing is known of its row. Before, no entry means {@link #UNKNOWN}.
 * </ul>
 *
 * A row can still vanish under a {@link Known} entry only if something else deleted it (a prune
 * deletes final jobs, which have no entry; an operator): the update then touches no row and the
 * commit writes the job in full instead ({@link Plan#updates}), so a put is never lost.
 *
 * <p>Entries change only around commits: {@link #plan} decides from them; {@link #committed} (the
 * commit succeeded) records what the rows now hold; {@link #failed} (it failed, or its outcome is
 * unknown: the driver may have lost the answer to a commit that happened) keeps, for each job of
 * the batch, whether it may have GPU rows, knowing nothing else. Thread-safe (a concurrent map);
 * commits of one store come from one thread at a time (see {@link
 * io.gpusched.store.SchedulerStore}).
 */
final class JobRows {

  /**
   * The row and GPU rows of a job as a successful commit (or the load) left them; {@code spec}
   * null only in {@link #UNKNOWN}.
   */
  record Known(long seq, @Nullable JobSpec spec, List<StoredAllocation> allocations) {}

  /** Sentinel: the job may have GPU rows; its row is not known. */
  private static final Known UNKNOWN = new Known(0, null, List.of());

  private final ConcurrentHashMap<String, Known> known = new ConcurrentHashMap<>();
  private volatile boolean loaded;

  /**
   * What one commit writes for its jobs.
   *
   * @param updates jobs whose row holds their submission and spec: update the small columns only
   *     (a job whose row turns out to be missing is written in full instead)
   * @param full jobs written in full: the row with its spec, inserted or replaced
   * @param deleteGpus jobs whose GPU rows are deleted (they may have some, and they changed)
   * @param insertGpus jobs whose allocations are inserted as GPU rows (after the delete)
   */
  record Plan(
      List<StoredJob> updates, List<StoredJob> full, List<StoredJob> deleteGpus, List<StoredJob> insertGpus) {

    /**
     * The plan for jobs of {@link #updates} whose row was missing: they are written in full, their
     * GPU rows deleted and inserted again.
     */
    Plan withMissing(Collection<StoredJob> missing) {
      if (missing.isEmpty()) {
        return this;
      }
      var f = new ArrayList<>(full);
      var d = new ArrayList<>(deleteGpus);
      var i = new ArrayList<>(insertGpus);
      for (StoredJob j : missing) {
        f.add(j);
        if (!d.contains(j)) {
          d.add(j);
        }
        if (!j.allocations().isEmpty() && !i.contains(j)) {
          i.add(j);
        }
      }
      return new Plan(List.of(), f, d, i);
    }
  }

  /** The load read every row: {@code jobs} is what the database holds. */
  void loaded(Collection<StoredJob> jobs) {
    known.clear();
    for (StoredJob j : jobs) {
      if (!j.state().isFinal()) {
        known.put(j.id(), new Known(j.sequence(), j.spec(), j.allocations()));
      }
    }
    loaded = true;
  }

  /** Decides what to write for {@code jobs} (each id once). */
  Plan plan(Collection<StoredJob> jobs) {
    var updates = new ArrayList<StoredJob>();
    var full = new ArrayList<StoredJob>();
    var deleteGpus = new ArrayList<StoredJob>();
    var insertGpus = new ArrayList<StoredJob>();
    boolean wasLoaded = loaded;
    for (StoredJob j : jobs) {
      Known k = known.get(j.id());
      if (k == null && !wasLoaded) {
        k = UNKNOWN;
      }
      JobSpec spec = k == null ? null : k.spec;
      boolean sameRun = k != null && spec != null && k.seq == j.sequence() && spec.equals(j.spec());
      (sameRun ? updates : full).add(j);
      if (sameRun && k != null && k.allocations.equals(j.allocations())) {
        continue; // GPU rows unchanged
      }
      if (k != null && (k.spec == null || !k.allocations.isEmpty())) {
        deleteGpus.add(j);
      }
      if (!j.allocations().isEmpty()) {
        insertGpus.add(j);
      }
    }
    return new Plan(updates, full, deleteGpus, insertGpus);
  }

  /** The commit that wrote {@code jobs} succeeded. */
  void committed(Collection<StoredJob> jobs) {
    for (StoredJob j : jobs) {
      if (j.state().isFinal() && j.allocations().isEmpty()) {
        known.remove(j.id()); // its GPU rows were deleted (or never were)
      } else {
        known.put(j.id(), new Known(j.sequence(), j.spec(), j.allocations()));
      }
    }
  }

  /** The commit that tried to write {@code jobs} failed, or its outcome is unknown. */
  void failed(Collection<StoredJob> jobs) {
    boolean wasLoaded = loaded;
    for (StoredJob j : jobs) {
      Known k = known.get(j.id());
      boolean mayHaveRows =
          !j.allocations().isEmpty() || (k == null ? !wasLoaded : k.spec == null || !k.allocations.isEmpty());
      if (mayHaveRows) {
        known.put(j.id(), UNKNOWN);
      } else {
        known.remove(j.id());
      }
    }
  }

  /** Entries held (tests: at most the live jobs). */
  int size() {
    return known.size();
  }
}
