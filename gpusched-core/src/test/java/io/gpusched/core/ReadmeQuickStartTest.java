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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compiles and runs README's quick start against this build, so the README cannot rot. */
class ReadmeQuickStartTest {

  @Test
  void quickStartCompilesAndRuns(@TempDir Path dir) throws Exception {
    Path readme = findReadme();
    String text = Files.readString(readme);
    int section = text.indexOf("## Quick start");
    assertThat(section).as("README has a Quick start section").isNotNegative();
    Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(text.substring(section));
    assertThat(m.find()).as("Quick start has a java block").isTrue();
    String source = m.group(1);
    assertThat(source.lines().count()).as("quick start length").isLessThanOrEqualTo(20);

    Path src = dir.resolve("QuickStart.java");
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
      Method main = loader.loadClass("QuickStart").getMethod("main", String[].class);
      PrintStream out = System.out;
      ByteArrayOutputStream captured = new ByteArrayOutputStream();
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        main.invoke(null, (Object) new String[0]);
      } finally {
        System.setOut(out);
      }
      assertThat(captured.toString(StandardCharsets.UTF_8)).contains("3g.40gb").contains("node-2");
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
