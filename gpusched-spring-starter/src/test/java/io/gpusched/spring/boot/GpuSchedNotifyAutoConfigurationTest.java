package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import com.sun.net.httpserver.HttpServer;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.core.JobNotifier;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jakarta.mail.internet.MimeMessage;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.mail.autoconfigure.MailSenderAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.mail.javamail.JavaMailSender;

/**
 * The notifier the starter configures, against a real in-process SMTP server (GreenMail) and a real
 * HTTP server (the JDK's). Bounded waits only.
 */
class GpuSchedNotifyAutoConfigurationTest {

  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(
                  GpuSchedAutoConfiguration.class,
                  MailSenderAutoConfiguration.class,
                  GpuSchedNotifyAutoConfiguration.class))
          .withPropertyValues(
              "gpusched.nodes[0].id=a", "gpusched.nodes[0].model=h100_80gb", "gpusched.nodes[0].gpus=1");

  @Test
  void withSpringMailConfiguredAJobsEmailAddressGetsAMailAndQueueDefaultsGetWebhooks()
      throws Exception {
    GreenMail smtp = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTP));
    smtp.start();
    HttpServer http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    BlockingQueue<String> posts = new LinkedBlockingQueue<>();
    http.createContext(
        "/",
        ex -> {
          try (ex) {
            posts.add(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            ex.sendResponseHeaders(204, -1);
          }
        });
    http.start();
    try {
      runner
          .withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class))
          .withBean(SimpleMeterRegistry.class)
          .withPropertyValues(
              "spring.mail.host=127.0.0.1",
              "spring.mail.port=" + smtp.getSmtp().getPort(),
              "gpusched.notify.mail.from=gpusched@example.com",
              "gpusched.notify.format=SLACK",
              "gpusched.notify.events=STARTED,COMPLETED",
              "gpusched.notify.queues.default=http://127.0.0.1:" + http.getAddress().getPort() + "/q")
          .run(
              ctx -> {
                assertThat(ctx).hasNotFailed().hasSingleBean(JobNotifier.class);
                assertThat(ctx).hasSingleBean(JavaMailSender.class);
                GpuScheduler s = ctx.getBean(GpuScheduler.class);
                JobHandle a =
                    s.submit(
                        JobSpec.builder(PlacementRequest.wholeGpus(1))
                            .id("train-1")
                            .metadata(JobNotifier.METADATA_KEY, "alice@example.com")
                            .build());
                assertThat(smtp.waitForIncomingEmail(20_000, 1)).isTrue();
                MimeMessage m = smtp.getReceivedMessages()[0];
                assertThat(m.getAllRecipients()[0].toString()).isEqualTo("alice@example.com");
                assertThat(m.getFrom()[0].toString()).isEqualTo("gpusched@example.com");
                assertThat(m.getSubject()).isEqualTo("[gpusched] Job train-1 started (attempt 1) on a/0");
                assertThat(com.icegreen.greenmail.util.GreenMailUtil.getBody(m))
                    .contains("event: STARTED", "job: train-1", "attempt: 1");
                a.complete();
                assertThat(smtp.waitForIncomingEmail(20_000, 2)).isTrue();
                assertThat(smtp.getReceivedMessages()[1].getSubject())
                    .startsWith("[gpusched] Job train-1 completed after ");

                // a job without its own address goes to its queue's webhook, as Slack text
                s.submit(JobSpec.builder(PlacementRequest.wholeGpus(1)).id("b").build());
                assertThat(posts.poll(20, TimeUnit.SECONDS))
                    .isEqualTo("{\"text\":\"Job b started (attempt 1) on a/0\"}");

                MeterRegistry registry = ctx.getBean(MeterRegistry.class);
                assertThat(registry.get("gpusched.notifications.dropped").functionCounter().count())
                    .isZero();
                // the webhook's answer reaches the notifier just after the server saw the POST
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (registry.get("gpusched.notifications.delivered").functionCounter().count() < 3
                    && System.nanoTime() < until) {
                  Thread.sleep(5);
                }
                assertThat(registry.get("gpusched.notifications.delivered").functionCounter().count())
                    .isEqualTo(3);
              });
    } finally {
      http.stop(0);
      smtp.stop();
    }
  }

  @Test
  void withoutSpringMailThereIsNoMailTransportAndNotifyCanBeTurnedOff() {
    runner.run(
        ctx -> {
          assertThat(ctx).hasNotFailed().hasSingleBean(JobNotifier.class);
          assertThat(ctx).doesNotHaveBean(JavaMailSender.class).doesNotHaveBean(JobNotifier.Transport.class);
        });
    runner
        .withClassLoader(new FilteredClassLoader(JavaMailSender.class))
        .withPropertyValues("spring.mail.host=127.0.0.1")
        .run(ctx -> assertThat(ctx).hasNotFailed().doesNotHaveBean(JobNotifier.Transport.class));
    runner
        .withPropertyValues("gpusched.notify.enabled=false")
        .run(ctx -> assertThat(ctx).hasNotFailed().doesNotHaveBean(JobNotifier.class));
  }
}
