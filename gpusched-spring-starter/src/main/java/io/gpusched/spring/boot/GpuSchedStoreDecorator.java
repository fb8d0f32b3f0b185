package io.gpusched.spring.boot;

import io.gpusched.store.SchedulerStore;
import java.util.function.UnaryOperator;

/**
 * Wraps the scheduler's store before the scheduler (or each leader of a replica) gets it; the
 * starter's one is {@link GpuSchedStoreMeters} (commit meters). A bean of this type is applied by
 * the auto-configured scheduler and replica. The wrapper must pass every call through and rethrow
 * what the store throws.
 */
@FunctionalInterface
public interface GpuSchedStoreDecorator extends UnaryOperator<SchedulerStore> {}
