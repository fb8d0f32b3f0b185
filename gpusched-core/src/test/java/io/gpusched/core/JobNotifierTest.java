package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.SchedulerEvent;
import io.gpusched.StopReason;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link JobNotifier} against a real in-process HTTP server (the JDK's {@code
 * com.sun.net.httpserver}) and a real scheduler. No timing asserts: every wait is a bounded await
 * on a latch or a queue.
 */
class JobNotifierTest {
  private static final long WAIT_S = 20;

  /** One POST the server received. */
  record Post(String path, String contentType, String body) {}

  private HttpServer server;
  private ExecutorService serverThreads;
  private final BlockingQueue<Post> posts = new LinkedBlockingQueue<>();
  /** Status the server answers; 200 unless a test changes it. */
  private final AtomicInteger status = new AtomicInteger(200);
  private volatile CountDownLatch serverGate = new CountDownLatch(0);
  private final AtomicInteger requests = new AtomicInteger();
  private String base;

  @BeforeEach
  void startServer() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    serverThreads = Executors.newFixedThreadPool(4);
    server.setExecutor(serverThreads);
    server.createContext("/", this::handle);
    server.start();
    base = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      requests.incrementAndGet();
      String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      try {
        if (!serverGate.await(WAIT_S * 3, TimeUnit.SECONDS)) {
          throw new IOException("gate never opened");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      posts.add(
          new Post(
              ex.getRequestURI().getPath(),
              ex.getRequestHeaders().getFirst("Content-Type"),
              body));
      ex.sendResponseHeaders(status.get(), -1);
    }
  }

  @AfterEach
  void stopServer() {
    serverGate.countDown();
    server.stop(0);
    serverThreads.shutdownNow();
  }

  private Post next() throws InterruptedException {
    Post p = posts.poll(WAIT_S, TimeUnit.SECONDS);
    assertThat(p).as("a POST within %d s", WAIT_S).isNotNull();
    return p;
  }

  /** Waits (bounded) until the condition holds, then asserts it. */
  private static void awaitTrue(java.util.function.BooleanSupplier condition)
      throws InterruptedException {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
    while (!condition.getAsBoolean() && System.nanoTime() < until) {
      Thread.sleep(5);
    }
    assertThat(condition.getAsBoolean()).as("condition within %d s", WAIT_S).isTrue();
  }

  private static GpuScheduler scheduler(int gpus, JobLauncher launcher) {
    return builder(gpus, launcher).build();
  }

  private static GpuSchedulers.Builder builder(int gpus, JobLauncher launcher) {
    return GpuSchedulers.newBuilder()
        .nodes(List.of(NodeSpec.builder("n1").gpus(gpus, GpuModels.H100_80GB, GpuMode.WHOLE).build()))
        .queue(QueueSpec.of("research"))
        .queue(QueueSpec.of("interns"))
        .launcher(launcher);
  }

  private static JobSpec job(String id, String queue, String notify) {
    JobSpec.Builder b = JobSpec.builder(PlacementRequest.wholeGpus(1)).id(id).queue(queue);
    if (notify != null) {
      b.metadata(JobNotifier.METADATA_KEY, notify);
    }
    return b.preemptible(true).gracePeriod(Duration.ZERO).build();
  }

  @Test
  void eachKindIsPostedAsJsonAndTheJobsOwnAddressOverridesTheQueueDefault() throws Exception {
    try (JobNotifier notifier =
            JobNotifier.builder().queueDefault("research", base + "/research").build();
        GpuScheduler s = scheduler(1, j -> {})) {
      notifier.attach(s);
      JobHandle a = s.submit(job("a", "research", null));
      Post started = next();
      assertThat(started.path()).isEqualTo("/research");
      assertThat(started.contentType()).startsWith("application/json");
      assertThat(started.body())
          .startsWith("{\"event\":\"STARTED\",\"jobId\":\"a\",\"queue\":\"research\",\"at\":\"")
          .contains("\"attempt\":1,", "\"gpus\":[\"n1/0\"]", "\"text\":\"Job a started (attempt 1) on n1/0\"");
      assertThat(a.complete()).isTrue();
      Post completed = next();
      assertThat(completed.path()).isEqualTo("/research");
      assertThat(completed.body())
          .startsWith("{\"event\":\"COMPLETED\",\"jobId\":\"a\",")
          .contains("\"runTimeMillis\":", "\"cost\":", "\"text\":\"Job a completed after ");

      // the job's own address wins over the queue default; a quote in the reason is escaped
      JobHandle b = s.submit(job("b", "research", base + "/alice"));
      assertThat(next().body()).contains("\"event\":\"STARTED\",\"jobId\":\"b\"");
      assertThat(b.fail("exit code 3: \"boom\"")).isTrue();
      Post failed = next();
      assertThat(failed.path()).isEqualTo("/alice");
      assertThat(failed.body())
          .contains(
              "\"event\":\"FAILED\"",
              "\"reason\":\"exit code 3: \\\"boom\\\"\"",
              "\"text\":\"Job b failed: exit code 3: \\\"boom\\\"\"");

      // a job with no address and no queue default is not notified; the next POST is c's
      s.submit(job("quiet", "interns", null)).cancel();
      JobHandle c = s.submit(job("c", "interns", base + "/carol"));
      assertThat(next().path()).isEqualTo("/carol"); // c STARTED
      // a high-priority preemptor: c is preempted for priority and requeued
      s.submit(
          JobSpec.builder(PlacementRequest.wholeGpus(1)).id("boss").queue("interns").priority(9)
              .build());
      Post preempted = next();
      assertThat(preempted.path()).isEqualTo("/carol");
      assertThat(preempted.body())
          .contains(
              "\"event\":\"PREEMPTED\"",
              "\"reason\":\"PRIORITY\"",
              "\"requeued\":true",
              "\"text\":\"Job c was preempted (priority) and requeued\"");
      awaitTrue(() -> notifier.delivered() == 6);
      assertThat(posts).isEmpty();
    }
  }

  @Test
  void aLostNodeIsReportedAsRequeuedAndSlackFormatSendsOnlyText() throws Exception {
    try (JobNotifier notifier =
            JobNotifier.builder()
                .queueDefault("research", base + "/hook")
                .format(JobNotifier.Format.SLACK)
                .events(Set.of(JobNotifier.Kind.REQUEUED))
                .build();
        GpuScheduler s = scheduler(1, j -> {})) {
      notifier.attach(s);
      s.submit(job("a", "research", null));
      s.nodeDown("n1");
      Post p = next();
      assertThat(p.body()).isEqualTo("{\"text\":\"Job a was requeued: its node was lost\"}");
      // STARTED was not selected, so nothing else came
      assertThat(posts.poll(200, TimeUnit.MILLISECONDS)).isNull();
    }
  }

  @Test
  void aFailingServerIsRetriedWithBackoffThenGivenUp() throws Exception {
    status.set(500);
    try (JobNotifier notifier =
        JobNotifier.builder()
            .queueDefault("research", base + "/down")
            .maxAttempts(3)
            .backoff(Duration.ofMillis(20), Duration.ofMillis(40))
            .build()) {
      notifier.onEvent(
          new SchedulerEvent.JobFailed(Instant.EPOCH, "x", "research", "exit code 1"));
      for (int i = 0; i < 3; i++) {
        assertThat(next().body()).contains("\"jobId\":\"x\"");
      }
      awaitTrue(() -> notifier.givenUp() == 1);
      assertThat(notifier.delivered()).isZero();
      assertThat(notifier.pending()).isZero();
      // bounded: no fourth attempt
      assertThat(posts.poll(300, TimeUnit.MILLISECONDS)).isNull();
      assertThat(requests.get()).isEqualTo(3);
    }
  }

  @Test
  void aBlockedServerNeverDelaysDispatchAndAFullQueueDropsTheOldest() throws Exception {
    serverGate = new CountDownLatch(1); // the server holds every request until the test opens it
    int jobs = 40;
    CountDownLatch allStarted = new CountDownLatch(jobs);
    try (JobNotifier notifier =
            JobNotifier.builder()
                .queueDefault("research", base + "/slow")
                .events(Set.of(JobNotifier.Kind.STARTED))
                .capacity(5)
                .requestTimeout(Duration.ofSeconds(WAIT_S * 2))
                .build();
        // events delivered inline, on the dispatching thread: a notifier that blocked in onEvent
        // would block dispatch itself
        GpuScheduler s =
            builder(4, j -> allStarted.countDown()).eventExecutor(Runnable::run).build()) {
      notifier.attach(s);
      // first job: its POST reaches the server and blocks there, holding the sender thread
      JobHandle first = s.submit(job("j0", "research", null));
      awaitTrue(() -> requests.get() == 1); // the first POST is held by the server
      first.complete();
      // the other jobs start, four GPUs at a time, while the server still blocks the sender
      for (int i = 1; i < jobs; i++) {
        s.submit(job("j" + i, "research", null));
      }
      long until1 = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
      while (allStarted.getCount() > 0 && System.nanoTime() < until1) {
        for (JobHandle r : s.jobs()) {
          if (r.state() == JobState.RUNNING) {
            r.complete();
          }
        }
        Thread.onSpinWait();
      }
      assertThat(allStarted.await(WAIT_S, TimeUnit.SECONDS))
          .as("every job started while the webhook blocked")
          .isTrue();
      assertThat(requests.get()).as("still one request, still blocked").isEqualTo(1);
      // 39 STARTED notifications queued behind the held one, capacity 5 (the held one counts)
      awaitTrue(() -> notifier.dropped() == jobs - 5);
      assertThat(notifier.pending()).isEqualTo(5);

      serverGate.countDown();
      List<String> ids = new java.util.ArrayList<>();
      for (int i = 0; i < 5; i++) {
        String body = next().body();
        ids.add(body.substring(body.indexOf("\"jobId\":\"") + 9, body.indexOf("\",\"queue\"")));
      }
      // the held one, then the newest four: the oldest were dropped
      assertThat(ids).containsExactly("j0", "j36", "j37", "j38", "j39");
      assertThat(posts.poll(200, TimeUnit.MILLISECONDS)).isNull();
    }
  }

  @Test
  void onEventNeverThrowsAndBadAddressesAreSkipped() throws Exception {
    try (JobNotifier notifier =
        JobNotifier.builder().queueDefault("research", "ftp://nowhere").maxAttempts(5).build()) {
      notifier.onEvent(new SchedulerEvent.JobFailed(Instant.EPOCH, "x", "research", "r"));
      notifier.onEvent(
          new SchedulerEvent.JobPreempted(
              Instant.EPOCH, "y", "other", StopReason.PRIORITY, Duration.ZERO, false));
      awaitTrue(() -> notifier.givenUp() == 1); // an ftp address is given up at once
      assertThat(requests.get()).isZero();
    }
  }

  @Test
  void badConfigurationNamesTheBadValue() {
    assertThatThrownBy(() -> JobNotifier.builder().capacity(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0");
    assertThatThrownBy(() -> JobNotifier.builder().queueDefault("q", " "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("q");
    assertThatThrownBy(() -> JobNotifier.builder().backoff(Duration.ofSeconds(2), Duration.ofSeconds(1)))
        .hasMessageContaining("PT2S");
    assertThatThrownBy(() -> JobNotifier.builder().events(Set.of()))
        .hasMessageContaining("[]");
  }
}
