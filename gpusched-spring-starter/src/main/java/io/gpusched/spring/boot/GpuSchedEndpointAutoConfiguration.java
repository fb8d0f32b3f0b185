package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import org.springframework.boot.actuate.autoconfigure.endpoint.condition.ConditionalOnAvailableEndpoint;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/**
 * The actuator endpoint {@code gpusched} when the actuator is on the classpath and the endpoint is
 * available (enabled and exposed); its write operation only with {@code
 * gpusched.endpoint.write-enabled=true}.
 */
@AutoConfiguration(after = GpuSchedAutoConfiguration.class)
@ConditionalOnClass({Endpoint.class, ConditionalOnAvailableEndpoint.class})
@ConditionalOnBooleanProperty(name = "gpusched.enabled", matchIfMissing = true)
@ConditionalOnBean(GpuScheduler.class)
public final class GpuSchedEndpointAutoConfiguration {

  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnAvailableEndpoint
  GpuSchedEndpoint gpuschedEndpoint(GpuScheduler scheduler, GpuSchedProperties properties) {
    return properties.getEndpoint().isWriteEnabled()
        ? new GpuSchedWritableEndpoint(scheduler)
        : new GpuSchedEndpoint(scheduler);
  }

  /** Over HTTP: errors with their reason and status (see {@link GpuSchedWebExtension}). */
  @Bean
  @ConditionalOnMissingBean
  @ConditionalOnBean(GpuSchedEndpoint.class)
  GpuSchedWebExtension gpuschedWebExtension(GpuScheduler scheduler, GpuSchedProperties properties) {
    return properties.getEndpoint().isWriteEnabled()
        ? new GpuSchedWebExtension.Writable(scheduler)
        : new GpuSchedWebExtension(scheduler);
  }
}
