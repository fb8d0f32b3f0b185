package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.SchedulerEvent;
import io.gpusched.SchedulerListener;
import io.gpusched.StopReason;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells a job's owner when the job starts, completes, fails, is preempted or is requeued after a
 * node loss: a {@link SchedulerListener} that turns those events into webhook POSTs (JSON, or
 * Slack-compatible {@code {"text": ...}}) or, with a {@link Transport} for it, e-mails.
 *
 * <pre>{@code
 * JobNotifier notifier = JobNotifier.builder()
 *     .queueDefault("research", "https://hooks.example.com/research")
 *     .format(JobNotifier.Format.SLACK)
 *     .build();
 * notifier.attach(scheduler);   // reads each job's "notify" metadata through scheduler.job(id)
 * scheduler.submit(JobSpec.builder(req).queue("research")
 *     .metadata(JobNotifier.METADATA_KEY, "https://hooks.example.com/alice").build());
 * }</pre>
 *
 * <h2>Addressing</h2>
 *
 * A job's address is its {@value #METADATA_KEY} metadata entry if it has one, else its queue's
 * default (given to the builder), else it is not notified. An {@code http://} or {@code https://}
 * address gets a webhook POST; a {@code mailto:} address, or one with an {@code @} and no scheme,
 * goes to the mail transport if one was configured. Any other address is logged once per
 * notification, given up without retries and counted in {@link #givenUp()}; bad metadata never
 * reaches the scheduler as an exception.
 *
 * <h2>Delivery</h2>
 *
 * {@link #onEvent} only resolves the address (a map lookup) and enqueues; it is lock-free, never
 * blocks and never throws. Delivery runs on the notifier's own daemon threads: one sender and one
 * retry timer. A failed delivery (an exception, or an HTTP status outside 2xx) is retried after
 * {@code initialBackoff}, doubling up to {@code maxBackoff}, at most {@code maxAttempts} times in
 * all; then it is given up and counted ({@link #givenUp()}). Notifications waiting to be sent or
 * retried are bounded by {@code capacity}: when full, the oldest waiting one is dropped and counted
 * ({@link #dropped()}). Delivery is at most once per attempt and best effort: notifications still
 * waiting at {@link #close()} or at process exit are lost. Order is the event order for first
 * attempts; a retried notification may arrive after later ones.
 */
public final class JobNotifier implements SchedulerListener, AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(JobNotifier.class);

  /** The job metadata key that holds the job's own notification address. */
  public static final String METADATA_KEY = "notify";

  /** What a notification is about. */
  public enum Kind {
    /** The job started (each attempt). */
    STARTED,
    /** The job completed. */
    COMPLETED,
    /** The job failed (by its host, a time limit, a lease expiry or a launcher error). */
    FAILED,
    /** The job lost its GPUs to preemption, drain, spot interruption or idle reclaim. */
    PREEMPTED,
    /** The job's node was lost and the job is pending again. */
    REQUEUED
  }

  /** The body of a webhook POST. */
  public enum Format {
    /** A JSON object with the event's fields and a human-readable {@code text}. */
    JSON,
    /** Only {@code {"text": ...}}, which Slack (and Mattermost, Rocket.Chat) incoming hooks take. */
    SLACK
  }

  /**
   * One notification.
   *
   * @param kind what happened
   * @param jobId the job
   * @param queue its queue
   * @param at when, by the scheduler's clock
   * @param fields the event's details (attempt, reason, run time...), in a fixed order
   * @param text a one-line human-readable summary
   */
  public record Notification(
      Kind kind, String jobId, String queue, Instant at, Map<String, Object> fields, String text) {
    /** Copies the fields, keeping their order. */
    public Notification {
      fields = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** Returns the JSON object the {@link Format#JSON} webhook posts. */
    public String toJson() {
      StringBuilder b = new StringBuilder(256).append('{');
      field(b, "event", kind.name()).append(',');
      field(b, "jobId", jobId).append(',');
      field(b, "queue", queue).append(',');
      field(b, "at", at.toString());
      for (Map.Entry<String, Object> e : fields.entrySet()) {
        field(b.append(','), e.getKey(), e.getValue());
      }
      field(b.append(','), "text", text);
      return b.append('}').toString();
    }

    /** Returns the Slack-compatible {@code {"text": ...}} object. */
    public String toSlackJson() {
      return field(new StringBuilder(text.length() + 16).append('{'), "text", text)
          .append('}')
          .toString();
    }
  }

  /** Delivers a notification to an address that is not a webhook, such as e-mail. */
  @FunctionalInterface
  public interface Transport {
    /**
     * Sends one notification; called on the notifier's sender thread.
     *
     * @param address the address as written (a {@code mailto:} prefix removed)
     * @param notification what to send
     * @throws Exception to have the delivery retried
     */
    void send(String address, Notification notification) throws Exception;
  }

  private final Map<String, String> queueDefaults;
  private final Set<Kind> kinds;
  private final Format format;
  private final int capacity;
  private final int maxAttempts;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final Duration requestTimeout;
  private final HttpClient http;
  private final @Nullable Transport mail;

  private volatile Function<String, Optional<JobHandle>> jobs = id -> Optional.empty();

  private final ConcurrentLinkedDeque<Delivery> waiting = new ConcurrentLinkedDeque<>();
  /** Notifications waiting to be sent or retried, and those in backoff: bounded by capacity. */
  private final AtomicInteger pending = new AtomicInteger();
  private final Semaphore ready = new Semaphore(0);
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong delivered = new AtomicLong();
  private final AtomicLong givenUp = new AtomicLong();
  private final Thread sender;
  private final ScheduledExecutorService retries;
  private volatile boolean closed;

  private JobNotifier(Builder b) {
    this.queueDefaults = Map.copyOf(b.queueDefaults);
    this.kinds = Set.copyOf(b.kinds);
    this.format = b.format;
    this.capacity = b.capacity;
    this.maxAttempts = b.maxAttempts;
    this.initialBackoff = b.initialBackoff;
    this.maxBackoff = b.maxBackoff;
    this.requestTimeout = b.requestTimeout;
    this.http =
        b.httpClient != null
            ? b.httpClient
            : HttpClient.newBuilder().connectTimeout(b.requestTimeout).build();
    this.mail = b.mail;
    this.retries =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "gpusched-notifier-retry");
              t.setDaemon(true);
              return t;
            });
    this.sender = new Thread(this::sendLoop, "gpusched-notifier");
    sender.setDaemon(true);
    sender.start();
  }

  /** Returns a builder with the defaults listed on its methods. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Reads jobs' {@value #METADATA_KEY} metadata through {@code scheduler.job(id)} from now on, and
   * adds this notifier as the scheduler's listener.
   *
   * @param scheduler the scheduler to notify for
   * @return this notifier
   */
  public JobNotifier attach(GpuScheduler scheduler) {
    readMetadataFrom(scheduler);
    scheduler.addListener(this);
    return this;
  }

  /**
   * Reads jobs' {@value #METADATA_KEY} metadata through {@code scheduler.job(id)} from now on, for
   * a notifier that was given to {@link GpuSchedulers.Builder#listener} before the scheduler
   * existed. Until this is called, only queue defaults are used.
   *
   * @param scheduler the scheduler whose jobs this notifier hears about
   * @return this notifier
   */
  public JobNotifier readMetadataFrom(GpuScheduler scheduler) {
    Objects.requireNonNull(scheduler, "scheduler");
    this.jobs = scheduler::job;
    return this;
  }

  /**
   * Turns the event into a notification and enqueues it, if its kind is selected and its job has
   * an address. Lock-free; never blocks and never throws.
   */
  @Override
  public void onEvent(SchedulerEvent event) {
    try {
      if (closed || !(event instanceof SchedulerEvent.JobEvent je)) {
        return;
      }
      Notification n = toNotification(event);
      if (n == null || !kinds.contains(n.kind())) {
        return;
      }
      String address = address(je.jobId(), je.queue());
      if (address != null) {
        enqueue(new Delivery(address, n));
      }
    } catch (RuntimeException e) {
      log.warn("notification for {} not queued", event, e);
    }
  }

  private @Nullable String address(String jobId, String queue) {
    String own =
        jobs.apply(jobId).map(h -> h.spec().metadata().get(METADATA_KEY)).orElse(null);
    if (own != null && !own.isBlank()) {
      return own.strip();
    }
    return queueDefaults.get(queue);
  }

  private void enqueue(Delivery d) {
    waiting.offerLast(d);
    if (pending.incrementAndGet() > capacity) {
      // full: drop the oldest waiting one (the new one itself if all others are in backoff)
      Delivery oldest = waiting.pollFirst();
      if (oldest != null) {
        pending.decrementAndGet();
        dropped.incrementAndGet();
        log.debug("notification queue full, dropped {} for {}", oldest.n.kind(), oldest.n.jobId());
      }
    }
    ready.release();
  }

  private void sendLoop() {
    while (!closed) {
      try {
        ready.acquire();
      } catch (InterruptedException e) {
        return;
      }
      Delivery d = waiting.pollFirst();
      if (d == null) {
        continue; // dropped while waiting
      }
      d.attempts++;
      boolean ok = sendOnce(d);
      if (ok) {
        pending.decrementAndGet();
        delivered.incrementAndGet();
      } else if (d.attempts >= maxAttempts || closed) {
        pending.decrementAndGet();
        givenUp.incrementAndGet();
        if (!d.unsendable) {
          log.warn(
              "gave up notifying {} of {} {} after {} attempts",
              d.address, d.n.jobId(), d.n.kind(), d.attempts);
        }
      } else {
        long delay = backoffMillis(d.attempts);
        try {
          var unused = retries.schedule(() -> requeue(d), delay, TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) { // closed meanwhile
          pending.decrementAndGet();
          givenUp.incrementAndGet();
        }
      }
    }
  }

  /** Puts a notification back after its backoff; it is counted in {@code pending} all along. */
  private void requeue(Delivery d) {
    waiting.offerLast(d);
    ready.release();
  }

  private long backoffMillis(int attemptsSoFar) {
    long base = initialBackoff.toMillis();
    long max = maxBackoff.toMillis();
    int shift = Math.min(attemptsSoFar - 1, 30);
    long d = base << shift;
    return d < 0 || d > max ? max : d;
  }

  private boolean sendOnce(Delivery d) {
    String a = d.address;
    try {
      if (a.startsWith("http://") || a.startsWith("https://")) {
        String body = format == Format.SLACK ? d.n.toSlackJson() : d.n.toJson();
        HttpRequest req =
            HttpRequest.newBuilder(URI.create(a))
                .timeout(requestTimeout)
                .header("Content-Type", "application/json; charset=utf-8")
                .header("User-Agent", "gpusched-notifier")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8))
                .build();
        HttpResponse<Void> res = http.send(req, HttpResponse.BodyHandlers.discarding());
        if (res.statusCode() / 100 == 2) {
          return true;
        }
        log.debug("webhook {} answered {} for {}", a, res.statusCode(), d.n.jobId());
        return false;
      }
      String mailAddress = a.startsWith("mailto:") ? a.substring(7) : a;
      if (mail != null && (a.startsWith("mailto:") || (a.indexOf('@') > 0 && a.indexOf(':') < 0))) {
        mail.send(mailAddress, d.n);
        return true;
      }
      log.warn(
          "job {}: notification address '{}' is neither http(s) nor (with mail configured) e-mail;"
              + " not sent",
          d.n.jobId(),
          a);
      d.unsendable = true;
      d.attempts = maxAttempts; // retrying cannot help
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } catch (Exception e) {
      log.debug("notifying {} of {} failed: {}", a, d.n.jobId(), e.toString());
      return false;
    }
  }

  private static @Nullable Notification toNotification(SchedulerEvent e) {
    Map<String, Object> f = new LinkedHashMap<>();
    if (e instanceof SchedulerEvent.JobStarted s) {
      f.put("attempt", s.attempt());
      f.put("waitedMillis", s.waited().toMillis());
      List<String> gpus = new ArrayList<>(s.gpus().size());
      for (AllocatedGpu g : s.gpus()) {
        gpus.add(
            g.nodeId()
                + "/"
                + g.gpuIndex()
                + (g.migProfile() != null ? "/" + g.migProfile() + "@" + g.migStartSlot() : ""));
      }
      f.put("gpus", gpus);
      return new Notification(
          Kind.STARTED,
          s.jobId(),
          s.queue(),
          s.at(),
          f,
          "Job " + s.jobId() + " started (attempt " + s.attempt() + ") on " + String.join(", ", gpus));
    }
    if (e instanceof SchedulerEvent.JobCompleted c) {
      f.put("runTimeMillis", c.runTime().toMillis());
      f.put("cost", c.cost());
      return new Notification(
          Kind.COMPLETED,
          c.jobId(),
          c.queue(),
          c.at(),
          f,
          "Job " + c.jobId() + " completed after " + human(c.runTime()));
    }
    if (e instanceof SchedulerEvent.JobFailed x) {
      f.put("reason", x.reason());
      return new Notification(
          Kind.FAILED, x.jobId(), x.queue(), x.at(), f, "Job " + x.jobId() + " failed: " + x.reason());
    }
    if (e instanceof SchedulerEvent.JobPreempted p) {
      f.put("reason", p.reason().name());
      f.put("requeued", p.requeued());
      f.put("lostRunTimeMillis", p.lostRunTime().toMillis());
      boolean nodeLoss = p.reason() == StopReason.NODE_LOST && p.requeued();
      String what = p.reason().name().toLowerCase(Locale.ROOT).replace('_', ' ');
      return new Notification(
          nodeLoss ? Kind.REQUEUED : Kind.PREEMPTED,
          p.jobId(),
          p.queue(),
          p.at(),
          f,
          nodeLoss
              ? "Job " + p.jobId() + " was requeued: its node was lost"
              : "Job "
                  + p.jobId()
                  + " was preempted ("
                  + what
                  + ")"
                  + (p.requeued() ? " and requeued" : ""));
    }
    return null;
  }

  private static String human(Duration d) {
    long s = d.toSeconds();
    return s >= 3600
        ? (s / 3600) + "h" + (s % 3600 / 60) + "m"
        : s >= 60 ? (s / 60) + "m" + (s % 60) + "s" : d.toMillis() + "ms";
  }

  private static StringBuilder field(StringBuilder b, String name, Object value) {
    string(b, name).append(':');
    if (value instanceof Number || value instanceof Boolean) {
      return b.append(value);
    }
    if (value instanceof List<?> list) {
      b.append('[');
      for (int i = 0; i < list.size(); i++) {
        string(i > 0 ? b.append(',') : b, String.valueOf(list.get(i)));
      }
      return b.append(']');
    }
    return string(b, String.valueOf(value));
  }

  private static StringBuilder string(StringBuilder b, String s) {
    SpecCodec.Json.quote(s, b); // one JSON string writer in the module
    return b;
  }

  /** Returns how many notifications were dropped because the queue was full. */
  public long dropped() {
    return dropped.get();
  }

  /** Returns how many notifications were delivered. */
  public long delivered() {
    return delivered.get();
  }

  /** Returns how many notifications were given up after their last attempt failed. */
  public long givenUp() {
    return givenUp.get();
  }

  /** Returns how many notifications wait to be sent or retried (at most the capacity). */
  public int pending() {
    return Math.max(0, pending.get());
  }

  /**
   * Stops delivery: events are no longer taken, the sender and the retry timer stop, and
   * notifications still waiting are lost. Idempotent.
   */
  @Override
  public void close() {
    closed = true;
    retries.shutdownNow();
    sender.interrupt();
  }

  private static final class Delivery {
    final String address;
    final Notification n;
    int attempts; // sender thread only
    boolean unsendable; // an address no transport takes (sender thread only)

    Delivery(String address, Notification n) {
      this.address = address;
      this.n = n;
    }
  }

  /** Builder of {@link JobNotifier}; not thread-safe, {@link #build()} validates. */
  public static final class Builder {
    private final Map<String, String> queueDefaults = new LinkedHashMap<>();
    private Set<Kind> kinds = EnumSet.allOf(Kind.class);
    private Format format = Format.JSON;
    private int capacity = 1000;
    private int maxAttempts = 5;
    private Duration initialBackoff = Duration.ofSeconds(1);
    private Duration maxBackoff = Duration.ofMinutes(1);
    private Duration requestTimeout = Duration.ofSeconds(10);
    private @Nullable HttpClient httpClient;
    private @Nullable Transport mail;

    private Builder() {}

    /**
     * Sets the address of the jobs of {@code queue} that have no {@value #METADATA_KEY} metadata
     * (default: none, so they are not notified).
     */
    public Builder queueDefault(String queue, String address) {
      queueDefaults.put(requireText(queue, "queue"), requireText(address, "address of " + queue));
      return this;
    }

    /** Adds {@link #queueDefault} for each entry of the map. */
    public Builder queueDefaults(Map<String, String> defaults) {
      defaults.forEach(this::queueDefault);
      return this;
    }

    /** Sets which kinds are sent (default: all); must not be empty. */
    public Builder events(Set<Kind> kinds) {
      if (kinds.isEmpty()) {
        throw new IllegalArgumentException("events must name at least one kind, was " + kinds);
      }
      this.kinds = EnumSet.copyOf(kinds);
      return this;
    }

    /** Sets the webhook body (default {@link Format#JSON}). */
    public Builder format(Format format) {
      this.format = Objects.requireNonNull(format, "format");
      return this;
    }

    /** Sets how many notifications may wait (default 1000, at least 1). */
    public Builder capacity(int capacity) {
      if (capacity < 1) {
        throw new IllegalArgumentException("capacity must be >= 1, was " + capacity);
      }
      this.capacity = capacity;
      return this;
    }

    /** Sets the attempts per notification, the first included (default 5, 1..100). */
    public Builder maxAttempts(int maxAttempts) {
      if (maxAttempts < 1 || maxAttempts > 100) {
        throw new IllegalArgumentException("maxAttempts must be in 1..100, was " + maxAttempts);
      }
      this.maxAttempts = maxAttempts;
      return this;
    }

    /** Sets the first retry's delay (default 1 s) and the longest (default 1 min). */
    public Builder backoff(Duration initial, Duration max) {
      if (initial.isNegative() || initial.isZero() || max.compareTo(initial) < 0) {
        throw new IllegalArgumentException(
            "backoff needs 0 < initial <= max, was " + initial + ", " + max);
      }
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /** Sets the timeout of one webhook request (default 10 s). */
    public Builder requestTimeout(Duration timeout) {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("requestTimeout must be positive, was " + timeout);
      }
      this.requestTimeout = timeout;
      return this;
    }

    /** Sets the HTTP client (default: a new one with the request timeout as connect timeout). */
    public Builder httpClient(HttpClient client) {
      this.httpClient = Objects.requireNonNull(client, "client");
      return this;
    }

    /** Sets the transport for e-mail addresses (default: none, so they are not sent). */
    public Builder mail(Transport transport) {
      this.mail = Objects.requireNonNull(transport, "transport");
      return this;
    }

    /** Builds the notifier and starts its delivery threads; {@link #close()} stops them. */
    public JobNotifier build() {
      return new JobNotifier(this);
    }

    private static String requireText(String s, String what) {
      Objects.requireNonNull(s, what);
      if (s.isBlank()) {
        throw new IllegalArgumentException(what + " must not be blank, was '" + s + "'");
      }
      return s.strip();
    }
  }
}
