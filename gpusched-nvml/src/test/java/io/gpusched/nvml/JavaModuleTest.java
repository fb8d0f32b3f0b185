package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import com.github.benmanes.caffeine.cache.Caffeine;
import com.sun.jna.Native;
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
import org.jspecify.annotations.NullMarked;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The built {@code io.gpusched.nvml} module: it exports its one package, whose public types are
 * the API (the JNA binding in it is package-private), and opens it to JNA alone; and JNA, as an
 * automatic module on the module path, can still build the struct mirrors, read and write their
 * fields, and proxy the package-private library interface. The other tests run on the class path.
 * On a machine with NVML the application also reads the local node through the module path.
 */
class JavaModuleTest {
  /** The public API of the module. */
  static final Set<String> API =
      Set.of(
          "io.gpusched.nvml.Nvml",
          "io.gpusched.nvml.NvmlAvailability",
          "io.gpusched.nvml.NvmlDevice",
          "io.gpusched.nvml.NvmlException",
          "io.gpusched.nvml.NvmlInventory",
          "io.gpusched.nvml.NvmlMigInstance",
          "io.gpusched.nvml.NvmlReturn",
          "io.gpusched.nvml.NvmlTelemetry",
          "io.gpusched.nvml.NvmlTelemetry$Builder",
          "io.gpusched.nvml.NvmlTelemetry$DeviceKey",
          "io.gpusched.nvml.ProcessJob",
          "io.gpusched.nvml.ProcessLauncher",
          "io.gpusched.nvml.ProcessLauncher$Builder",
          "io.gpusched.nvml.ProcessLauncher$ProcessState");

  private static final Path NVML = ModulePath.location(Nvml.class);

  private static final Path JNA = ModulePath.location(Native.class);

  private static final List<Path> RUNTIME =
      List.of(
          ModulePath.location(GpuCluster.class),
          NVML,
          JNA,
          ModulePath.location(LoggerFactory.class),
          ModulePath.location(Caffeine.class));

  @Test
  void exportsThePackageAndOpensItToJnaOnly() throws Exception {
    ModuleDescriptor d = ModulePath.descriptor(NVML);

    assertThat(d.name()).isEqualTo("io.gpusched.nvml");
    assertThat(d.isAutomatic()).isFalse();
    assertThat(d.isOpen()).isFalse();
    assertThat(d.exports()).map(Exports::source).containsExactly("io.gpusched.nvml");
    assertThat(d.exports()).noneMatch(Exports::isQualified);
    assertThat(d.opens())
        .singleElement()
        .satisfies(
            o -> {
              assertThat(o.source()).isEqualTo("io.gpusched.nvml");
              assertThat(o.targets()).containsExactly("com.sun.jna");
            });
    assertThat(ModulePath.descriptor(JNA).name()).isEqualTo("com.sun.jna");
    assertThat(ModulePath.apiTypes(NVML)).isEqualTo(API);
    assertThat(d.requires())
        .filteredOn(r -> r.name().equals("io.gpusched.api"))
        .singleElement()
        .satisfies(r -> assertThat(r.modifiers()).containsExactly(Requires.Modifier.TRANSITIVE));
  }

  @Test
  void jnaReachesTheBindingOnTheModulePath(@TempDir Path dir) throws Exception {
    List<Path> compile = new ArrayList<>(RUNTIME);
    compile.add(ModulePath.location(NullMarked.class));

    String out =
        ModulePath.compileAndRun(
            dir,
            compile,
            RUNTIME,
            Map.of(
                "module-info.java",
                String.join(
                    "\n",
                    "@SuppressWarnings(\"requires-automatic\")",
                    "module app {",
                    "  requires io.gpusched.nvml;",
                    "  requires com.sun.jna;",
                    "}"),
                "app/Main.java",
                APPLICATION),
            "app.Main");

    assertThat(out)
        .contains(
            "named module io.gpusched.nvml",
            "availability NvmlAvailability[",
            "memory size 24 total 85520809984 used 7",
            "info size 24",
            "proxy of io.gpusched.nvml.NvmlLibrary");
    if (Nvml.isAvailable()) {
      assertThat(out).contains("node module-path");
    }
  }

  /**
   * Uses the public API, then does through JNA what {@code JnaNvmlApi} does: builds struct mirrors
   * (JNA reflects on their fields), reads and writes a field through native memory, and proxies
   * {@code NvmlLibrary} (over the C library, so no NVML is needed; its functions bind lazily).
   */
  private static final String APPLICATION =
      String.join(
          "\n",
          "package app;",
          "",
          "import com.sun.jna.Library;",
          "import com.sun.jna.Memory;",
          "import com.sun.jna.Native;",
          "import com.sun.jna.Platform;",
          "import com.sun.jna.Structure;",
          "import io.gpusched.nvml.Nvml;",
          "import io.gpusched.nvml.NvmlInventory;",
          "import java.lang.reflect.Proxy;",
          "",
          "public final class Main {",
          "  private Main() {}",
          "",
          "  public static void main(String[] args) throws Exception {",
          "    Module nvml = Nvml.class.getModule();",
          "    System.out.println((nvml.isNamed() ? \"named \" : \"unnamed \") + nvml);",
          "    System.out.println(\"availability \" + Nvml.availability());",
          "",
          "    Memory native24 = new Memory(24);",
          "    native24.clear();",
          "    native24.setLong(0, 85520809984L);",
          "    Structure memory = Structure.newInstance(struct(\"Memory\"), native24);",
          "    memory.writeField(\"used\", 7L);",
          "    System.out.println(\"memory size \" + memory.size() + \" total \""
              + " + memory.readField(\"total\") + \" used \" + native24.getLong(16));",
          "    Structure info = Structure.newInstance(struct(\"GpuInstanceInfo\"));",
          "    info.write();",
          "    info.read();",
          "    System.out.println(\"info size \" + info.size());",
          "",
          "    Class<? extends Library> binding =",
          "        Class.forName(\"io.gpusched.nvml.NvmlLibrary\").asSubclass(Library.class);",
          "    Library c = Native.load(Platform.C_LIBRARY_NAME, binding);",
          "    if (binding.isInstance(c) && Proxy.isProxyClass(c.getClass())) {",
          "      System.out.println(\"proxy of \" + binding.getName() + \": \" + c);",
          "    }",
          "",
          "    if (Nvml.isAvailable()) {",
          "      System.out.println(\"node \" + NvmlInventory.local().readNode(\"module-path\"));",
          "    }",
          "  }",
          "",
          "  private static Class<? extends Structure> struct(String name) throws Exception {",
          "    return Class.forName(\"io.gpusched.nvml.NvmlStructs$\" + name)"
              + ".asSubclass(Structure.class);",
          "  }",
          "}");
}
