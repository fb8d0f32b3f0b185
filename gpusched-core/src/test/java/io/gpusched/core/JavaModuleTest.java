package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Caffeine;
import io.gpusched.GpuCluster;
import io.gpusched.testing.ModulePath;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleDescriptor.Exports;
import java.lang.module.ModuleDescriptor.Requires;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.jctools.queues.MpscUnboundedArrayQueue;
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The built {@code io.gpusched.core} module. The other tests run the core on the class path, as
 * Spring Boot applications do; these check the module path: that the descriptor exports exactly
 * the public API and opens nothing, and that an application module compiled against it runs the
 * README's examples and cannot reach the internals by reflection.
 */
class JavaModuleTest {
  /**
   * The public API: the two entry points and their builders, the store factories, and the job
   * notifier with its nested types, all in the exported package.
   */
  static final Set<String> API =
      Set.of(
          "io.gpusched.core.GpuClusters",
          "io.gpusched.core.GpuClusters$Builder",
          "io.gpusched.core.GpuSchedulers",
          "io.gpusched.core.GpuSchedulers$Builder",
          "io.gpusched.core.SchedulerStores",
          "io.gpusched.core.SchedulerReplicas",
          "io.gpusched.core.SchedulerReplicas$Builder",
          "io.gpusched.core.JobNotifier",
          "io.gpusched.core.JobNotifier$Builder",
          "io.gpusched.core.JobNotifier$Format",
          "io.gpusched.core.JobNotifier$Kind",
          "io.gpusched.core.JobNotifier$Notification",
          "io.gpusched.core.JobNotifier$Transport");

  private static final Path CORE = ModulePath.location(GpuClusters.class);

  /** What the core needs at run time: the API module, slf4j, JCTools and Caffeine. */
  private static final List<Path> RUNTIME =
      List.of(
          ModulePath.location(GpuCluster.class),
          CORE,
          ModulePath.location(LoggerFactory.class),
          ModulePath.location(MpscUnboundedArrayQueue.class),
          ModulePath.location(Caffeine.class));

  @Test
  void exportsExactlyThePublicApiAndOpensNothing() throws Exception {
    ModuleDescriptor d = ModulePath.descriptor(CORE);

    assertThat(d.name()).isEqualTo("io.gpusched.core");
    assertThat(d.isAutomatic()).isFalse();
    assertThat(d.isOpen()).isFalse();
    assertThat(d.opens()).isEmpty();
    assertThat(d.exports()).map(Exports::source).containsExactly("io.gpusched.core");
    assertThat(d.exports()).noneMatch(Exports::isQualified);
    assertThat(ModulePath.apiTypes(CORE)).isEqualTo(API);
    assertThat(d.requires())
        .filteredOn(r -> r.name().equals("io.gpusched.api"))
        .singleElement()
        .satisfies(r -> assertThat(r.modifiers()).containsExactly(Requires.Modifier.TRANSITIVE));
    assertThat(d.provides()).isEmpty();
    assertThat(d.uses()).isEmpty();
  }

  @Test
  void anApplicationModuleRunsTheReadmeExamplesAndCannotOpenTheInternals(@TempDir Path dir)
      throws Exception {
    String internal = internalClass();
    List<Path> compile = new ArrayList<>(RUNTIME);
    compile.add(ModulePath.location(NullMarked.class));

    String out =
        ModulePath.compileAndRun(
            dir,
            compile,
            RUNTIME,
            Map.of(
                // requires the core alone: the API module comes with it (requires transitive)
                "module-info.java", "module app { requires io.gpusched.core; }",
                "app/Main.java", APPLICATION),
            "app.Main",
            internal);

    assertThat(out)
        .contains(
            "named module io.gpusched.core",
            "placed",
            "3g.40gb",
            "node-2",
            "next PENDING",
            "start next",
            "next RUNNING",
            "cannot open " + internal);
  }

  /** A class of the module that is not API and not an interface (so it has a constructor). */
  private static String internalClass() throws Exception {
    List<String> candidates = new ArrayList<>();
    for (String name : ModulePath.classes(CORE)) {
      Class<?> c = Class.forName(name, false, JavaModuleTest.class.getClassLoader());
      if (!API.contains(name) && !c.isInterface()) {
        candidates.add(name);
      }
    }
    assertThat(candidates)
        .as("internal classes of the core, besides %s", API)
        .isNotEmpty()
        .allMatch(n -> !API.contains(n));
    return candidates.stream().sorted().collect(Collectors.toList()).get(0);
  }

  /** The README's two examples as a module, then a reflective reach into the core's internals. */
  private static final String APPLICATION =
      String.join(
          "\n",
          "package app;",
          "",
          "import io.gpusched.*;",
          "import io.gpusched.core.GpuClusters;",
          "import io.gpusched.core.GpuSchedulers;",
          "import java.lang.reflect.InaccessibleObjectException;",
          "import java.util.List;",
          "",
          "public final class Main {",
          "  private Main() {}",
          "",
          "  public static void main(String[] args) throws Exception {",
          "    Module core = GpuClusters.class.getModule();",
          "    System.out.println((core.isNamed() ? \"named \" : \"unnamed \") + core);",
          "    GpuCluster cluster = GpuClusters.newBuilder()",
          "        .node(NodeSpec.builder(\"node-1\").gpus(4, GpuModels.H100_80GB,"
              + " GpuMode.MIG_DYNAMIC).build())",
          "        .node(NodeSpec.builder(\"node-2\").gpus(8, GpuModels.A100_80GB,"
              + " GpuMode.WHOLE).build())",
          "        .build();",
          "    Allocation slice = cluster.place(PlacementRequest.mig(\"3g.40gb\")).orElseThrow();",
          "    Allocation gang = cluster.place(PlacementRequest.wholeGpus(4, true)).orElseThrow();",
          "    System.out.println(\"placed \" + slice.gpus() + \" \" + gang.gpus());",
          "    slice.release();",
          "    gang.release();",
          "",
          "    GpuScheduler scheduler = GpuSchedulers.newBuilder()",
          "        .nodes(List.of(NodeSpec.builder(\"node-1\").gpus(2, GpuModels.H100_80GB,"
              + " GpuMode.WHOLE).build()))",
          "        .queue(QueueSpec.of(\"research\"))",
          "        .launcher(job -> System.out.println(\"start \" + job.id()))",
          "        .build();",
          "    JobHandle big = scheduler.submit(",
          "        JobSpec.builder(PlacementRequest.wholeGpus(2)).id(\"big\").queue(\"research\").build());",
          "    JobHandle next = scheduler.submit(",
          "        JobSpec.builder(PlacementRequest.wholeGpus(1)).id(\"next\").queue(\"research\").build());",
          "    System.out.println(\"next \" + next.state());",
          "    big.complete();",
          "    System.out.println(\"next \" + next.state());",
          "    scheduler.close();",
          "",
          "    Class<?> internal = Class.forName(args[0]);",
          "    try {",
          "      internal.getDeclaredConstructors()[0].setAccessible(true);",
          "      System.out.println(\"opened \" + internal.getName());",
          "    } catch (InaccessibleObjectException e) {",
          "      System.out.println(\"cannot open \" + internal.getName());",
          "    }",
          "  }",
          "}");
}
