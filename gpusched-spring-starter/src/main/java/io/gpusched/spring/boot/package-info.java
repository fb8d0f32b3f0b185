/**
 * Spring Boot 4.1 auto-configuration of gpusched: the scheduler from {@code gpusched.*}
 * properties, NVML discovery, Micrometer meters, the actuator endpoint and health indicator, and
 * scheduler events as Spring application events. See {@code docs/spring-boot.md}.
 */
@NullMarked
package io.gpusched.spring.boot;

import org.jspecify.annotations.NullMarked;
