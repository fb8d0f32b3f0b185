package io.gpusched.store;

import java.util.Objects;

/**
 * One change of a batch given to {@link SchedulerStore#commit}: the new whole record of a job, a
 * queue or a node, replacing the stored one of the same key (job id, queue name, node id).
 */
public sealed interface StoreChange
    permits StoreChange.PutJob, StoreChange.PutQueue, StoreChange.PutNode {

  /**
   * The job's record now (a new job, or any change of an existing one).
   *
   * @param job the record; replaces the stored job of the same id
   */
  record PutJob(StoredJob job) implements StoreChange {
    /** Validates. */
    public PutJob {
      Objects.requireNonNull(job, "job");
    }
  }

  /**
   * The queue's record now: its spec and decayed usage.
   *
   * @param queue the record; replaces the stored queue of the same name
   */
  record PutQueue(StoredQueue queue) implements StoreChange {
    /** Validates. */
    public PutQueue {
      Objects.requireNonNull(queue, "queue");
    }
  }

  /**
   * The node's record now: its spec and state (a removed node is kept with {@link
   * io.gpusched.NodeState#DOWN}).
   *
   * @param node the record; replaces the stored node of the same id
   */
  record PutNode(StoredNode node) implements StoreChange {
    /** Validates. */
    public PutNode {
      Objects.requireNonNull(node, "node");
    }
  }
}
