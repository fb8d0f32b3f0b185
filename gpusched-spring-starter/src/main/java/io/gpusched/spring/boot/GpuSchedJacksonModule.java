package io.gpusched.spring.boot;

import io.gpusched.Allocation;
import io.gpusched.JobHandle;
import tools.jackson.core.JsonGenerator;
import tools.jackson.databind.SerializationContext;
import tools.jackson.databind.ValueSerializer;
import tools.jackson.databind.module.SimpleModule;

/**
 * Jackson 3 module that writes a {@link JobHandle} as its {@link JobView} and an {@link Allocation}
 * as its {@link AllocationView} (without it they serialize as {@code {}} and {@code
 * {"active":true}}). The starter registers it as a bean when Jackson is on the classpath, and
 * Spring Boot adds every such bean to its {@code JsonMapper}, so a controller can return jobs and
 * allocations directly.
 */
public final class GpuSchedJacksonModule extends SimpleModule {
  private static final long serialVersionUID = 1L;

  /** Creates the module. */
  public GpuSchedJacksonModule() {
    super("gpusched");
    addSerializer(JobHandle.class, new ViewSerializer<>(JobView::of));
    addSerializer(Allocation.class, new ViewSerializer<>(AllocationView::of));
  }

  /** Writes a value as the view {@code toView} makes of it. */
  private static final class ViewSerializer<T> extends ValueSerializer<T> {
    private final java.util.function.Function<T, Object> toView;

    ViewSerializer(java.util.function.Function<T, Object> toView) {
      this.toView = toView;
    }

    @Override
    public void serialize(T value, JsonGenerator gen, SerializationContext ctxt) {
      ctxt.writeValue(gen, toView.apply(value));
    }
  }
}
