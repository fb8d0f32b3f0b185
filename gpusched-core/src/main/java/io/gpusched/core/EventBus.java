package io.gpusched.core;

import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerListener;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers events to listeners on an executor, in order when the executor runs tasks in order
 * (the default one-thread executor does). A listener's exception is logged and never reaches the
 * dispatcher.
 */
final class EventBus {

  private static final Logger log = LoggerFactory.getLogger(EventBus.class);

  private final CopyOnWriteArrayList<SchedulerListener> listeners = new CopyOnWriteArrayList<>();
  private final Executor executor;
  private final @Nullable ExecutorService owned;

  EventBus(Executor executor, @Nullable ExecutorService owned) {
    this.executor = executor;
    this.owned = owned;
  }

  void add(SchedulerListener l) {
    listeners.add(l);
  }

  boolean remove(SchedulerListener l) {
    return listeners.remove(l);
  }

  void publish(SchedulerEvent e) {
    if (listeners.isEmpty()) {
      return;
    }
    run(() -> deliver(e));
  }

  private void deliver(SchedulerEvent e) {
    for (SchedulerListener l : listeners) {
      try {
        l.onEvent(e);
      } catch (RuntimeException | LinkageError | AssertionError ex) {
        log.warn("gpusched listener {} failed on {}", l, e, ex);
      }
    }
  }

  /** Runs {@code task} on the event executor (in the caller if the executor refuses it). */
  void run(Runnable task) {
    try {
      executor.execute(task);
    } catch (RejectedExecutionException ex) {
      task.run();
    }
  }

  void close() {
    if (owned != null) {
      owned.shutdown();
    }
  }
}
