package io.gpusched.spring.boot;

import io.gpusched.core.GpuSchedulers;

/**
 * Adjusts the scheduler builder after the properties were applied and before it is built: a clock,
 * an event executor, nodes from elsewhere. Beans of this type are applied in {@link
 * org.springframework.core.annotation.Order} order.
 */
@FunctionalInterface
public interface GpuSchedulerBuilderCustomizer {

  /**
   * Customizes the builder.
   *
   * @param builder the builder, already configured from {@code gpusched.*}
   */
  void customize(GpuSchedulers.Builder builder);
}
