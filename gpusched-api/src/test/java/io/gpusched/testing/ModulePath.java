package io.gpusched.testing;

import java.io.File;
import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReader;
import java.lang.module.ModuleReference;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Test support for the Java module checks of gpusched-api, gpusched-core and gpusched-nvml (shared
 * through gpusched-api's test jar). The tests themselves run on the class path; this reads the
 * built modules' descriptors and classes, and compiles and runs a small application module against
 * them in a fresh JVM on the module path, as an application that says {@code requires
 * io.gpusched.core} would be compiled and launched.
 */
public final class ModulePath {
  /** How long the launched application may run before the check gives up on it. */
  private static final long RUN_LIMIT_SECONDS = 120;

  private ModulePath() {}

  /** The classes directory or jar that {@code type} was loaded from. */
  public static Path location(Class<?> type) {
    try {
      return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException("no location for " + type, e);
    }
  }

  /** The one module found at {@code location}: its descriptor, whether declared or automatic. */
  public static ModuleReference module(Path location) {
    Set<ModuleReference> found = ModuleFinder.of(location).findAll();
    if (found.size() != 1) {
      throw new IllegalStateException("expected one module at " + location + ", found " + found);
    }
    return found.iterator().next();
  }

  /** The descriptor of the module at {@code location}. */
  public static ModuleDescriptor descriptor(Path location) {
    return module(location).descriptor();
  }

  /** The binary names of every class in the module at {@code location}, sorted. */
  public static List<String> classes(Path location) throws IOException {
    try (ModuleReader reader = module(location).open();
        Stream<String> entries = reader.list()) {
      return entries
          .filter(e -> e.endsWith(".class") && !e.endsWith("module-info.class"))
          .map(e -> e.substring(0, e.length() - ".class".length()).replace('/', '.'))
          .sorted()
          .collect(Collectors.toList());
    }
  }

  /**
   * The types that code in another module can name: in a package the module exports to everyone,
   * declared public, and enclosed only by public types. Loads the classes (without initialising
   * them) through this class's loader, so the module's classes must be on the test class path.
   */
  public static Set<String> apiTypes(Path location) throws IOException, ClassNotFoundException {
    ModuleDescriptor d = descriptor(location);
    Set<String> exported =
        d.exports().stream()
            .filter(e -> !e.isQualified())
            .map(ModuleDescriptor.Exports::source)
            .collect(Collectors.toSet());
    Set<String> api = new TreeSet<>();
    for (String name : classes(location)) {
      Class<?> c = Class.forName(name, false, ModulePath.class.getClassLoader());
      if (exported.contains(c.getPackageName()) && visible(c)) {
        api.add(name);
      }
    }
    return api;
  }

  private static boolean visible(Class<?> c) {
    for (Class<?> k = c; k != null; k = k.getEnclosingClass()) {
      if (!Modifier.isPublic(k.getModifiers()) || k.isAnonymousClass() || k.isLocalClass()) {
        return false;
      }
    }
    return true;
  }

  /**
   * Compiles an application module with the JDK's {@code javac -Xlint:all -Werror} against {@code
   * compilePath}, then runs {@code mainClass} of module {@code app} in a new JVM with {@code
   * runPath} and the compiled application as its module path ({@code java -p ... -m app/mainClass
   * args}), and returns what it printed.
   *
   * @param sources source file paths relative to the module root (for example {@code
   *     module-info.java} and {@code app/Main.java}) mapped to their text
   * @throws AssertionError if the compiler reports anything or the run does not exit with 0; the
   *     message carries the compiler's or the program's output
   */
  public static String compileAndRun(
      Path dir,
      List<Path> compilePath,
      List<Path> runPath,
      Map<String, String> sources,
      String mainClass,
      String... args)
      throws IOException, InterruptedException {
    Path src = dir.resolve("src");
    Path out = dir.resolve("out");
    List<String> javac =
        new ArrayList<>(
            List.of(tool("javac"), "-Xlint:all", "-Werror", "-d", out.toString(), "--module-path"));
    javac.add(join(compilePath));
    for (Map.Entry<String, String> e : sources.entrySet()) {
      Path file = src.resolve(e.getKey());
      Files.createDirectories(file.getParent());
      Files.writeString(file, e.getValue());
      javac.add(file.toString());
    }
    run(javac, dir.resolve("javac.log"));

    List<Path> modulePath = new ArrayList<>(runPath);
    modulePath.add(out);
    List<String> java =
        new ArrayList<>(
            List.of(tool("java"), "--module-path", join(modulePath), "--module", "app/" + mainClass));
    java.addAll(List.of(args));
    return run(java, dir.resolve("java.log"));
  }

  /** Runs {@code command} and returns its output, which must be empty for javac. */
  private static String run(List<String> command, Path log)
      throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean exited = p.waitFor(RUN_LIMIT_SECONDS, TimeUnit.SECONDS);
    if (!exited) {
      p.destroyForcibly().waitFor();
    }
    String output = Files.readString(log);
    if (!exited) {
      throw new AssertionError(command + " did not exit:\n" + output);
    }
    boolean javac = command.get(0).equals(tool("javac"));
    if (p.exitValue() != 0 || (javac && !output.isBlank())) {
      throw new AssertionError(command + " exited " + p.exitValue() + ":\n" + output);
    }
    return output;
  }

  /** A tool of the JDK running the tests. */
  private static String tool(String name) {
    return Path.of(System.getProperty("java.home"), "bin", name).toString();
  }

  private static String join(List<Path> paths) {
    return paths.stream().map(Path::toString).collect(Collectors.joining(File.pathSeparator));
  }
}
