package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuCluster;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compiles and runs README's quick start against this build, so the README cannot rot. */
class ReadmeQuickStartTest {

  /** What each README example must print; a new example must be listed here. */
  static final Map<String, List<String>> EXPECTED =
      Map.of(
          "QuickStart", List.of("3g.40gb", "node-2"),
          "QuickScheduler", List.of("start next", "PENDING CAPACITY", "RUNNING"));

  @Test
  void everyJavaExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
    Path readme = findReadme();
    String text = Files.readString(readme);
    int section = text.indexOf("## Quick start");
    assertThat(section).as("README has a Quick start section").isNotNegative();
    Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(text);
    int examples = 0;
    while (m.find()) {
      String source = m.group(1);
      Matcher name = Pattern.compile("public class (\\w+)").matcher(source);
      assertThat(name.find()).as("example declares a public class:%n%s", source).isTrue();
      String cls = name.group(1);
      assertThat(EXPECTED).as("expectations for README example " + cls).containsKey(cls);
      assertThat(source.lines().count()).as(cls + " length").isLessThanOrEqualTo(22);
      String out = compileAndRun(dir.resolve(cls), cls, source);
      for (String expected : EXPECTED.get(cls)) {
        assertThat(out).as(cls + " output").contains(expected);
      }
      examples++;
    }
    assertThat(examples).isEqualTo(EXPECTED.size());
  }

  private String compileAndRun(Path dir, String cls, String source) throws Exception {
    Files.createDirectories(dir);
    Path src = dir.resolve(cls + ".java");
    Files.writeString(src, source);
    String classpath =
        String.join(
            File.pathSeparator,
            location(GpuCluster.class),
            location(GpuClusters.class));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int rc =
        javac.run(
            null,
            null,
            err,
            List.of("-d", dir.toString(), "-cp", classpath, src.toString()).toArray(String[]::new));
    assertThat(rc).as(err.toString(StandardCharsets.UTF_8)).isZero();

    try (URLClassLoader loader =
        new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
      Method main = loader.loadClass(cls).getMethod("main", String[].class);
      PrintStream out = System.out;
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        main.invoke(null, (Object) new String[0]);
      } finally {
        System.setOut(out);
      }
      return captured.toString(StandardCharsets.UTF_8);
    }
  }

  private static String location(Class<?> c) throws Exception {
    return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
  }

  private static Path findReadme() {
    Path p = Path.of("").toAbsolutePath();
    while (p != null) {
      if (Files.exists(p.resolve("README.md")) && Files.exists(p.resolve("mvnw"))) {
        return p.resolve("README.md");
      }
      p = p.getParent();
    }
    throw new IllegalStateException("README.md not found above " + Path.of("").toAbsolutePath());
  }
}
