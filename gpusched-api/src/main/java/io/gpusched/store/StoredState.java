package io.gpusched.store;

import java.util.List;
import java.util.Objects;

/**
 * Everything a {@link SchedulerStore} holds, as {@link SchedulerStore#load} returns it.
 *
 * @param jobs every stored job, in any order (the scheduler orders them by {@link
 *     StoredJob#sequence()})
 * @param queues every stored queue
 * @param nodes every stored node, removed ones included (state DOWN)
 */
public record StoredState(List<StoredJob> jobs, List<StoredQueue> queues, List<StoredNode> nodes) {

  /** A store that holds nothing. */
  public static final StoredState EMPTY = new StoredState(List.of(), List.of(), List.of());

  /** Validates and copies. */
  public StoredState {
    jobs = List.copyOf(Objects.requireNonNull(jobs, "jobs"));
    queues = List.copyOf(Objects.requireNonNull(queues, "queues"));
    nodes = List.copyOf(Objects.requireNonNull(nodes, "nodes"));
  }

  /** Returns whether nothing is stored. */
  public boolean isEmpty() {
    return jobs.isEmpty() && queues.isEmpty() && nodes.isEmpty();
  }
}
