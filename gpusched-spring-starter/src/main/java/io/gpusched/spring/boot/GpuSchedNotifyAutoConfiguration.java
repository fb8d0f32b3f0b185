package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.core.JobNotifier;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Map;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.mail.SimpleMailMessage;
import org.springframework.mail.javamail.JavaMailSender;

/**
 * Notifies job owners ({@link JobNotifier}, configured by {@link GpuSchedNotifyProperties}) when
 * the starter's {@link GpuScheduler} is present: webhooks always, e-mail when Spring Boot's mail
 * support provides a {@link JavaMailSender} ({@code spring.mail.host} set), and the notifier's
 * counters as Micrometer meters ({@code gpusched.notifications.dropped}, {@code .delivered}, {@code
 * .given-up}, {@code .pending}) when a {@link MeterRegistry} is present.
 */
@AutoConfiguration(
    after = GpuSchedAutoConfiguration.class,
    afterName = {
      "org.springframework.boot.mail.autoconfigure.MailSenderAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration"
    })
@ConditionalOnBooleanProperty(name = "gpusched.enabled", matchIfMissing = true)
@ConditionalOnBooleanProperty(name = "gpusched.notify.enabled", matchIfMissing = true)
@ConditionalOnBean(GpuScheduler.class)
@EnableConfigurationProperties(GpuSchedNotifyProperties.class)
public final class GpuSchedNotifyAutoConfiguration {

  /**
   * The notifier. It is a {@link io.gpusched.SchedulerListener} bean, so the starter's scheduler
   * takes it as a listener when it is built; {@link #gpuschedNotifierMetadata} then lets it read
   * the jobs' {@code notify} metadata.
   */
  @Bean(destroyMethod = "close")
  @ConditionalOnMissingBean
  JobNotifier gpuschedJobNotifier(
      GpuSchedNotifyProperties p, ObjectProvider<JobNotifier.Transport> mail) {
    JobNotifier.Builder b =
        JobNotifier.builder()
            .queueDefaults(p.getQueues())
            .events(p.getEvents())
            .format(p.getFormat())
            .capacity(p.getCapacity())
            .maxAttempts(p.getMaxAttempts())
            .backoff(p.getInitialBackoff(), p.getMaxBackoff())
            .requestTimeout(p.getRequestTimeout());
    mail.ifAvailable(b::mail);
    return b.build();
  }

  /**
   * Once every singleton exists (the scheduler took the notifier as a listener), points the
   * notifier at the scheduler's jobs for their {@code notify} metadata. An application that
   * defines its own scheduler bean gets the same, provided it registers the notifier as a listener
   * (the starter's scheduler does this for every {@code SchedulerListener} bean).
   */
  @Bean
  @ConditionalOnMissingBean(name = "gpuschedNotifierMetadata")
  SmartInitializingSingleton gpuschedNotifierMetadata(
      ObjectProvider<JobNotifier> notifier, ObjectProvider<GpuScheduler> scheduler) {
    return () -> notifier.ifAvailable(n -> scheduler.ifAvailable(n::readMetadataFrom));
  }

  /** E-mail through Spring Boot's {@link JavaMailSender}, when {@code spring.mail.*} gives one. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(JavaMailSender.class)
  @ConditionalOnBean(JavaMailSender.class)
  static class MailConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "gpuschedMailTransport")
    JobNotifier.Transport gpuschedMailTransport(JavaMailSender sender, GpuSchedNotifyProperties p) {
      return (address, n) -> {
        SimpleMailMessage m = new SimpleMailMessage();
        if (p.getMail().getFrom() != null) {
          m.setFrom(p.getMail().getFrom());
        }
        m.setTo(address);
        m.setSubject(p.getMail().getSubjectPrefix() + n.text());
        StringBuilder body = new StringBuilder(n.text()).append("\n\n");
        body.append("event: ").append(n.kind()).append('\n');
        body.append("job: ").append(n.jobId()).append('\n');
        body.append("queue: ").append(n.queue()).append('\n');
        body.append("at: ").append(n.at()).append('\n');
        for (Map.Entry<String, Object> e : n.fields().entrySet()) {
          body.append(e.getKey()).append(": ").append(e.getValue()).append('\n');
        }
        m.setText(body.toString());
        sender.send(m);
      };
    }
  }

  /** The notifier's counters as meters, when Micrometer and a registry are present. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(MeterBinder.class)
  @ConditionalOnBean(MeterRegistry.class)
  static class MetricsConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "gpuschedNotifierMetrics")
    MeterBinder gpuschedNotifierMetrics(JobNotifier notifier) {
      return registry -> {
        FunctionCounter.builder("gpusched.notifications.dropped", notifier, JobNotifier::dropped)
            .description("Notifications dropped because the notifier's queue was full")
            .register(registry);
        FunctionCounter.builder("gpusched.notifications.delivered", notifier, JobNotifier::delivered)
            .description("Notifications delivered")
            .register(registry);
        FunctionCounter.builder("gpusched.notifications.given-up", notifier, JobNotifier::givenUp)
            .description("Notifications given up after their last attempt failed")
            .register(registry);
        Gauge.builder("gpusched.notifier.pending", notifier, JobNotifier::pending)
            .description("Notifications waiting to be sent or retried")
            .baseUnit("notifications")
            .register(registry);
      };
    }
  }
}
