package io.gpusched.store;

import java.util.List;

/**
 * Durable state of a scheduler: the jobs (spec, state, attempts, stop reason, exact allocations of
 * the running ones), the queues (spec and decayed fair-share usage) and the nodes (state, and the
 * specs of nodes added at run time).
 *
 * <p>The scheduler calls {@link #load} once, while it is built, and then {@link #commit} with
 * batches of changes. Each change replaces the whole record it names (a put), so committing a
 * batch twice leaves the same state as committing it once: a scheduler retries a batch whose
 * commit failed.
 *
 * <p><b>Thread-safety.</b> Implementations must be thread-safe. A scheduler commits from one thread
 * at a time, in order; {@link #load} is not called concurrently with {@link #commit} by the same
 * scheduler. One store serves one scheduler at a time: two schedulers committing to the same store
 * overwrite each other's records. Several replicas of a scheduler share one database through
 * {@link SchedulerReplica}, whose leader alone commits, fenced by its epoch.
 *
 * <p>Implementations: {@code io.gpusched.core.SchedulerStores.inMemory()} (a store that lives as
 * long as the JVM, for tests and simulations) and {@code SchedulerStores.jdbc(DataSource)}.
 */
public interface SchedulerStore {

  /**
   * Reads the whole stored state.
   *
   * @return the state; {@link StoredState#EMPTY} for a store that holds nothing yet
   * @throws StoreException if the store is unreachable, its schema is another version or foreign,
   *     or a record cannot be read back (the message names it); nothing is written
   */
  StoredState load();

  /**
   * Writes a batch of changes as one transaction: after a normal return every change is durable;
   * after an exception none is. Within a batch, a later change of the same record wins. An empty
   * batch does nothing.
   *
   * @param changes the changes, in the order they were made; not modified, not kept
   * @throws StoreException if the batch could not be committed; nothing of it was written
   */
  void commit(List<StoreChange> changes);

  /**
   * Deletes, as one transaction, up to {@code limit} final jobs ({@link io.gpusched.JobState#isFinal()})
   * that ended before {@code endedBeforeMillis}, oldest first, and what else the store keeps that
   * nothing needs any more (on JDBC: followers' inbox rows the leader rejected, beyond the newest
   * thousand). A job whose record changed meanwhile (its id reused by a new submission) is not
   * deleted. The scheduler calls it from its timer tick, off the placement path, in batches; see
   * {@code GpuSchedulers.Builder.finishedJobRetention}.
   *
   * <p>The default deletes nothing and returns 0 (a store that does not grow, or cannot prune).
   *
   * @param endedBeforeMillis the scheduler's clock: jobs that ended before this are deleted
   * @param limit the most jobs to delete (positive)
   * @return how many jobs were deleted; less than {@code limit} when no more are due
   * @throws StoreException if the store could not prune; nothing of the batch was deleted
   */
  default int pruneFinishedJobs(long endedBeforeMillis, int limit) {
    return 0;
  }
}
