package io.gpusched.spring.boot;

import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerListener;
import org.springframework.context.ApplicationEventPublisher;

/**
 * Publishes every scheduler event as a Spring application event. The event records are published
 * as payloads, so {@code @EventListener void on(SchedulerEvent.JobStarted e)} receives them; they
 * arrive on the scheduler's event thread, in the order the scheduler produced them.
 */
final class SpringEventBridge implements SchedulerListener {
  private final ApplicationEventPublisher publisher;

  SpringEventBridge(ApplicationEventPublisher publisher) {
    this.publisher = publisher;
  }

  @Override
  public void onEvent(SchedulerEvent event) {
    publisher.publishEvent(event);
  }
}
