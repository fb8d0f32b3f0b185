package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * Binds {@link GpuSchedMetrics} to the application's meter registries (Spring Boot binds every
 * {@link MeterBinder} bean) when Micrometer and a {@link MeterRegistry} are present, and times the
 * scheduler's placement calls as {@code gpusched.placement.latency} through a {@link
 * GpuSchedulerBuilderCustomizer}. With {@code gpusched.nvml.enabled} it adds the gauge {@code
 * gpusched.nvml.failing}: 1 while NVML fails although it found the GPUs at start-up (what the
 * health indicator reports), else 0.
 */
@AutoConfiguration(
    after = GpuSchedAutoConfiguration.class,
    afterName = {
      "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
      "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration"
    })
@ConditionalOnClass(MeterBinder.class)
@ConditionalOnBooleanProperty(name = "gpusched.enabled", matchIfMissing = true)
@ConditionalOnBean({MeterRegistry.class, GpuScheduler.class})
public final class GpuSchedMetricsAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean
  GpuSchedMetrics gpuschedMetrics(GpuScheduler scheduler) {
    return new GpuSchedMetrics(scheduler);
  }

  @Bean
  @ConditionalOnMissingBean(name = "gpuschedNvmlMetrics")
  MeterBinder gpuschedNvmlMetrics(ObjectProvider<GpuSchedNvml> nvml) {
    return registry -> {
      GpuSchedNvml n = nvml.getIfAvailable();
      if (n != null) {
        Gauge.builder("gpusched.nvml.failing", n, x -> x.check().isPresent() ? 1 : 0)
            .description("1 while NVML fails although it found the GPUs at start-up, else 0")
            .register(registry);
      }
    };
  }

  @Bean
  @ConditionalOnMissingBean(name = "gpuschedPlacementTimers")
  GpuSchedulerBuilderCustomizer gpuschedPlacementTimers(MeterRegistry registry) {
    PlacementTimers timers = new PlacementTimers(registry);
    return b -> b.placementObserver(timers);
  }
}
