package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;

/** Every bean of the starter backs off from the application's; auto-configurations are public final. */
class AutoConfigurationShapeTest {
  static final List<Class<?>> AUTO_CONFIGURATIONS =
      List.of(
          GpuSchedAutoConfiguration.class,
          GpuSchedMetricsAutoConfiguration.class,
          GpuSchedEndpointAutoConfiguration.class,
          GpuSchedHealthAutoConfiguration.class,
          GpuSchedNotifyAutoConfiguration.class,
          GpuSchedReplicaAutoConfiguration.class);

  @Test
  void everyBeanIsConditionalOnMissingBean() {
    List<Method> beans = new ArrayList<>();
    for (Class<?> c : AUTO_CONFIGURATIONS) {
      collect(c, beans);
    }
    assertThat(beans).hasSizeGreaterThanOrEqualTo(8);
    assertThat(beans)
        .allSatisfy(m -> assertThat(m.isAnnotationPresent(ConditionalOnMissingBean.class)).as(m.toString()).isTrue());
  }

  @Test
  void autoConfigurationsArePublicFinalWithoutPublicMembers() {
    for (Class<?> c : AUTO_CONFIGURATIONS) {
      assertThat(Modifier.isPublic(c.getModifiers()) && Modifier.isFinal(c.getModifiers())).as(c.getName()).isTrue();
      for (Method m : c.getDeclaredMethods()) {
        assertThat(Modifier.isPublic(m.getModifiers())).as(m.toString()).isFalse();
      }
    }
  }

  @Test
  void importsFileListsThemAll() throws Exception {
    try (var in =
        getClass()
            .getResourceAsStream(
                "/META-INF/spring/org.springframework.boot.autoconfigure.AutoConfiguration.imports")) {
      assertThat(in).isNotNull();
      String text = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(text.lines().filter(l -> !l.isBlank()).toList())
          .containsExactlyElementsOf(AUTO_CONFIGURATIONS.stream().map(Class::getName).toList());
    }
  }

  private static void collect(Class<?> c, List<Method> out) {
    for (Method m : c.getDeclaredMethods()) {
      if (m.isAnnotationPresent(Bean.class)) {
        out.add(m);
      }
    }
    for (Class<?> nested : c.getDeclaredClasses()) {
      collect(nested, out);
    }
  }
}
