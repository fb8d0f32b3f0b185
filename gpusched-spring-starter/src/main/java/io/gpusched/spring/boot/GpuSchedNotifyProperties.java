package io.gpusched.spring.boot;

import io.gpusched.core.JobNotifier;
import java.time.Duration;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Job notifications ({@link JobNotifier}), bound from {@code gpusched.notify.*}. A job's own
 * address is its {@code notify} metadata entry; {@link #getQueues()} gives per-queue defaults.
 * E-mail addresses are sent through Spring Boot's {@code JavaMailSender} when {@code spring.mail.*}
 * configures one.
 */
@ConfigurationProperties("gpusched.notify")
public class GpuSchedNotifyProperties {

  /** Whether to notify job owners (a job is notified only if it or its queue has an address). */
  private boolean enabled = true;

  /** Default address per queue: an http(s) webhook URL or an e-mail address. */
  private Map<String, String> queues = new LinkedHashMap<>();

  /** Which events are sent: STARTED, COMPLETED, FAILED, PREEMPTED, REQUEUED. */
  private Set<JobNotifier.Kind> events = EnumSet.allOf(JobNotifier.Kind.class);

  /** Webhook body: JSON (the event's fields and a text) or SLACK (only {"text": ...}). */
  private JobNotifier.Format format = JobNotifier.Format.JSON;

  /** How many notifications may wait; when full the oldest is dropped and counted. */
  private int capacity = 1000;

  /** Attempts per notification, the first included. */
  private int maxAttempts = 5;

  /** Delay before the first retry; it doubles for each further retry. */
  private Duration initialBackoff = Duration.ofSeconds(1);

  /** Longest delay between retries. */
  private Duration maxBackoff = Duration.ofMinutes(1);

  /** Timeout of one webhook request. */
  private Duration requestTimeout = Duration.ofSeconds(10);

  private final Mail mail = new Mail();

  /** Returns whether notifications are on. */
  public boolean isEnabled() {
    return enabled;
  }

  /** Sets whether notifications are on. */
  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  /** Returns the per-queue default addresses. */
  public Map<String, String> getQueues() {
    return queues;
  }

  /** Sets the per-queue default addresses. */
  public void setQueues(Map<String, String> queues) {
    this.queues = queues;
  }

  /** Returns the kinds sent. */
  public Set<JobNotifier.Kind> getEvents() {
    return events;
  }

  /** Sets the kinds sent. */
  public void setEvents(Set<JobNotifier.Kind> events) {
    this.events = events;
  }

  /** Returns the webhook body format. */
  public JobNotifier.Format getFormat() {
    return format;
  }

  /** Sets the webhook body format. */
  public void setFormat(JobNotifier.Format format) {
    this.format = format;
  }

  /** Returns the queue capacity. */
  public int getCapacity() {
    return capacity;
  }

  /** Sets the queue capacity. */
  public void setCapacity(int capacity) {
    this.capacity = capacity;
  }

  /** Returns the attempts per notification. */
  public int getMaxAttempts() {
    return maxAttempts;
  }

  /** Sets the attempts per notification. */
  public void setMaxAttempts(int maxAttempts) {
    this.maxAttempts = maxAttempts;
  }

  /** Returns the first retry's delay. */
  public Duration getInitialBackoff() {
    return initialBackoff;
  }

  /** Sets the first retry's delay. */
  public void setInitialBackoff(Duration initialBackoff) {
    this.initialBackoff = initialBackoff;
  }

  /** Returns the longest retry delay. */
  public Duration getMaxBackoff() {
    return maxBackoff;
  }

  /** Sets the longest retry delay. */
  public void setMaxBackoff(Duration maxBackoff) {
    this.maxBackoff = maxBackoff;
  }

  /** Returns the webhook request timeout. */
  public Duration getRequestTimeout() {
    return requestTimeout;
  }

  /** Sets the webhook request timeout. */
  public void setRequestTimeout(Duration requestTimeout) {
    this.requestTimeout = requestTimeout;
  }

  /** Returns the e-mail settings. */
  public Mail getMail() {
    return mail;
  }

  /** E-mail settings (the server itself is {@code spring.mail.*}). */
  public static class Mail {
    /** Sender address; without it the mail server's default applies. */
    private @Nullable String from;

    /** Prefix of the subject line. */
    private String subjectPrefix = "[gpusched] ";

    /** Returns the sender address, or {@code null}. */
    public @Nullable String getFrom() {
      return from;
    }

    /** Sets the sender address. */
    public void setFrom(@Nullable String from) {
      this.from = from;
    }

    /** Returns the subject prefix. */
    public String getSubjectPrefix() {
      return subjectPrefix;
    }

    /** Sets the subject prefix. */
    public void setSubjectPrefix(String subjectPrefix) {
      this.subjectPrefix = subjectPrefix;
    }
  }
}
