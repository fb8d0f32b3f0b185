package io.gpusched.core;

import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredNode;
import io.gpusched.store.StoredQueue;
import io.gpusched.store.StoredState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link SchedulerStore} in this JVM's memory: it outlives a scheduler (build another one on it
 * to "restart") but not the process. Each commit applies its batch under one monitor, so a load
 * sees whole batches only. Never fails.
 */
final class InMemoryStore implements SchedulerStore {

  private final Map<String, StoredJob> jobs = new LinkedHashMap<>();
  private final Map<String, StoredQueue> queues = new LinkedHashMap<>();
  private final Map<String, StoredNode> nodes = new LinkedHashMap<>();

  @Override
  public synchronized StoredState load() {
    return new StoredState(
        new ArrayList<>(jobs.values()), new ArrayList<>(queues.values()), new ArrayList<>(nodes.values()));
  }

  @Override
  public synchronized void commit(List<StoreChange> changes) {
    Objects.requireNonNull(changes, "changes");
    for (StoreChange c : changes) {
      Objects.requireNonNull(c, "change");
    }
    for (StoreChange c : changes) {
      if (c instanceof StoreChange.PutJob p) {
        jobs.put(p.job().id(), p.job());
      } else if (c instanceof StoreChange.PutQueue p) {
        queues.put(p.queue().spec().name(), p.queue());
      } else if (c instanceof StoreChange.PutNode p) {
        nodes.put(p.node().spec().id(), p.node());
      }
    }
  }

  @Override
  public synchronized int pruneFinishedJobs(long endedBeforeMillis, int limit) {
    if (limit <= 0) {
      throw new IllegalArgumentException("limit must be > 0, was " + limit);
    }
    List<StoredJob> due = new ArrayList<>();
    for (StoredJob j : jobs.values()) {
      if (j.state().isFinal() && j.endedAtMillis() < endedBeforeMillis) {
        due.add(j);
      }
    }
    due.sort(java.util.Comparator.comparingLong(StoredJob::endedAtMillis));
    int n = Math.min(limit, due.size());
    for (int i = 0; i < n; i++) {
      jobs.remove(due.get(i).id());
    }
    return n;
  }

  @Override
  public String toString() {
    return "InMemoryStore[" + jobs.size() + " jobs]";
  }
}
