package io.gpusched.core;

import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerListener;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers events to listeners on an executor, in order when the executor runs tasks in order
 * (the default one-thread executor does). A listener's throwable, of any kind, is logged and
 * never reaches the dispatcher: the other listeners still get the event, and {@link #run} never
 * throws into its caller (the dispatcher publishes in the middle of its bookkeeping). A {@link
 * VirtualMachineError} is rethrown to the event executor's thread after the event was delivered
 * to every listener; when that thread is the caller's (an inline executor), it goes to the
 * {@linkplain #onFatal fatal-error sink} instead.
 */
final class EventBus {

  private static final Logger log = LoggerFactory.getLogger(EventBus.class);

  private final CopyOnWriteArrayList<SchedulerListener> listeners = new CopyOnWriteArrayList<>();
  private final Executor executor;
  private final @Nullable ExecutorService owned;
  private volatile Consumer<VirtualMachineError> fatal = e -> {};

  EventBus(Executor executor, @Nullable ExecutorService owned) {
    this.executor = executor;
    this.owned = owned;
  }

  /** Sets who keeps a {@link VirtualMachineError} that {@link #run} cannot throw to its caller. */
  void onFatal(Consumer<VirtualMachineError> sink) {
    this.fatal = sink;
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
    VirtualMachineError vme = null;
    for (SchedulerListener l : listeners) {
      try {
        l.onEvent(e);
      } catch (Throwable ex) { // Errors and sneaky checked exceptions too
        log.warn("gpusched listener {} failed on {}", l, e, ex);
        if (ex instanceof VirtualMachineError v && vme == null) {
          vme = v;
        }
      }
    }
    if (vme != null) {
      throw vme;
    }
  }

  /**
   * Runs {@code task} on the event executor (in the caller if the executor refuses it). Never
   * throws: whatever comes out of the executor is logged (and a {@link VirtualMachineError} handed
   * to the fatal-error sink).
   */
  void run(Runnable task) {
    try {
      try {
        executor.execute(task);
      } catch (RejectedExecutionException ex) {
        task.run();
      }
    } catch (Throwable ex) {
      log.error("gpusched event delivery failed", ex);
      if (ex instanceof VirtualMachineError v) {
        fatal.accept(v);
      }
    }
  }

  void close() {
    if (owned != null) {
      owned.shutdown();
    }
  }
}
