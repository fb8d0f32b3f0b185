package io.gpusched.spring.boot;

import org.springframework.boot.context.properties.bind.BindHandler;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.bind.handler.NoUnboundElementsBindHandler;
import org.springframework.boot.context.properties.source.UnboundElementsSourceFilter;
import org.springframework.core.env.Environment;

/**
 * Rejects keys under {@code gpusched.*} that no property has ({@code gpusched.queus},
 * {@code gpusched.nodes[0].gpu}): a typo would otherwise be ignored and the scheduler start with a
 * configuration nobody wrote. Environment variables and system properties are not checked (a
 * {@code GPUSCHED_...} variable meant for something else must not stop the application), as with
 * Spring Boot's own {@code ignoreUnknownFields = false}.
 */
final class KnownKeys {
  private KnownKeys() {}

  /**
   * Every {@code gpusched.*} property: {@link GpuSchedProperties} and {@code gpusched.notify.*}
   * ({@link GpuSchedNotifyProperties}, bound on its own). Only for this check; not itself a
   * {@code @ConfigurationProperties} type.
   */
  public static class Tree extends GpuSchedProperties {
    private GpuSchedNotifyProperties notify = new GpuSchedNotifyProperties();

    /** Returns {@code gpusched.notify.*}. */
    public GpuSchedNotifyProperties getNotify() {
      return notify;
    }

    /** Sets {@code gpusched.notify.*}. */
    public void setNotify(GpuSchedNotifyProperties notify) {
      this.notify = notify;
    }
  }

  /**
   * Binds {@code gpusched.*} once more, failing on what no property takes.
   *
   * @throws org.springframework.boot.context.properties.bind.BindException whose cause, an {@code
   *     UnboundConfigurationPropertiesException}, lists the unknown keys and where they were set
   *     (Spring Boot's failure analyzer prints them)
   */
  static void check(Environment environment) {
    Binder.get(environment)
        .bind(
            "gpusched",
            Bindable.of(Tree.class),
            new NoUnboundElementsBindHandler(BindHandler.DEFAULT, new UnboundElementsSourceFilter()));
  }
}
