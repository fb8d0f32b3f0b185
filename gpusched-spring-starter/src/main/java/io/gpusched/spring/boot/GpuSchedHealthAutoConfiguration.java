package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The health indicator {@code gpusched} when Spring Boot's health module is on the classpath;
 * {@code management.health.gpusched.enabled=false} turns it off.
 */
@AutoConfiguration(after = GpuSchedAutoConfiguration.class)
@ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
@ConditionalOnBooleanProperty(name = "gpusched.enabled", matchIfMissing = true)
@ConditionalOnBean(GpuScheduler.class)
public final class GpuSchedHealthAutoConfiguration {

  /** Nested so that the class condition above is evaluated before this one is loaded. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnEnabledHealthIndicator("gpusched")
  static class IndicatorConfiguration {

    @Bean
    @ConditionalOnMissingBean(name = "gpuschedHealthIndicator")
    GpuSchedHealthIndicator gpuschedHealthIndicator(
        GpuScheduler scheduler,
        ObjectProvider<GpuSchedLifecycle> lifecycle,
        ObjectProvider<GpuSchedNvml> nvml) {
      return new GpuSchedHealthIndicator(
          scheduler, lifecycle.getIfAvailable(), nvml.getIfAvailable());
    }
  }
}
