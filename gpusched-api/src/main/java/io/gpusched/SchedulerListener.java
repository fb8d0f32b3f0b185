package io.gpusched;

/**
 * Receives every {@link SchedulerEvent}, in the order the scheduler produced them.
 *
 * <p>Listeners are called on the scheduler's event executor, never on the dispatching path, so a
 * slow listener delays other listeners but never scheduling. An exception thrown by a listener is
 * logged and otherwise ignored.
 */
@FunctionalInterface
public interface SchedulerListener {

  /**
   * Called once per event.
   *
   * @param event the event
   */
  void onEvent(SchedulerEvent event);
}
