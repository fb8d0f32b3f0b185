package io.gpusched;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.testing.ModulePath;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleDescriptor.Exports;
import java.lang.module.ModuleDescriptor.Requires;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built {@code io.gpusched.api} module: what its descriptor exports and requires, and that an
 * application module runs on it with nothing else on the module path.
 */
class JavaModuleTest {
  private static final Path API = ModulePath.location(GpuCluster.class);

  @Test
  void exportsTheModelAndStorePackagesAndRequiresJSpecifyAtCompileTimeOnly() {
    ModuleDescriptor d = ModulePath.descriptor(API);

    assertThat(d.name()).isEqualTo("io.gpusched.api");
    assertThat(d.isAutomatic()).isFalse();
    assertThat(d.isOpen()).isFalse();
    assertThat(d.opens()).isEmpty();
    assertThat(d.exports())
        .map(Exports::source)
        .containsExactlyInAnyOrder("io.gpusched", "io.gpusched.store");
    assertThat(d.exports()).noneMatch(Exports::isQualified);
    assertThat(d.requires())
        .filteredOn(r -> !r.name().equals("java.base"))
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.name()).isEqualTo("org.jspecify");
              assertThat(r.modifiers())
                  .containsExactlyInAnyOrder(Requires.Modifier.STATIC, Requires.Modifier.TRANSITIVE);
            });
  }

  @Test
  void anApplicationModuleCompilesAgainstItAndRunsWithoutJSpecify(@TempDir Path dir)
      throws Exception {
    String out =
        ModulePath.compileAndRun(
            dir,
            List.of(API, ModulePath.location(NullMarked.class)),
            List.of(API),
            Map.of(
                "module-info.java",
                "module app { requires io.gpusched.api; }",
                "app/Main.java",
                String.join(
                    "\n",
                    "package app;",
                    "import io.gpusched.GpuModels;",
                    "import io.gpusched.PlacementRequest;",
                    "public final class Main {",
                    "  private Main() {}",
                    "  public static void main(String[] args) {",
                    "    System.out.println(GpuModels.byName(\"H100-80GB\").orElseThrow().name());",
                    "    System.out.println(PlacementRequest.mig(\"3g.40gb\"));",
                    "    System.out.println(Main.class.getModule().getName() + \" reads \"",
                    "        + GpuModels.class.getModule().getName());",
                    "  }",
                    "}")),
            "app.Main");

    assertThat(out).contains("H100-80GB", "3g.40gb", "app reads io.gpusched.api");
  }
}
