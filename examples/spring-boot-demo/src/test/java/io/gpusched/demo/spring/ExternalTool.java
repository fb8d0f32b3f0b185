package io.gpusched.demo.spring;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A program a test runs (Debian's {@code prometheus} package: {@code /usr/bin/prometheus}, {@code
 * /usr/bin/promtool}). Missing, the test is skipped, unless the environment variable {@code CI} or
 * {@code GPUSCHED_REQUIRE_PROMETHEUS} is set: {@code .ci/run} installs the package and sets the
 * latter once it is there, so in CI a missing program fails the test.
 */
final class ExternalTool {
  private ExternalTool() {}

  /** Returns the program, or skips (fails under CI) the calling test when it is not executable. */
  static Path require(String path, String debianPackage) {
    Path p = Path.of(path);
    if (!Files.isExecutable(p)) {
      String why = path + " is missing: install Debian's " + debianPackage + " package";
      if (System.getenv("CI") != null || System.getenv("GPUSCHED_REQUIRE_PROMETHEUS") != null) {
        fail(why + " (CI or GPUSCHED_REQUIRE_PROMETHEUS is set, and .ci/run installs it)");
      }
      assumeTrue(false, why + "; test skipped");
    }
    return p;
  }

  /** The exit code and the output (stdout and stderr) of a finished run. */
  record Result(int exitCode, String output) {}

  /** Runs a program to its end (at most {@code timeoutSeconds}) in {@code dir}. */
  static Result run(Path dir, long timeoutSeconds, List<String> command)
      throws IOException, InterruptedException {
    Path out = Files.createTempFile("gpusched-tool", ".log");
    try {
      Process p =
          new ProcessBuilder(command)
              .directory(dir.toFile())
              .redirectErrorStream(true)
              .redirectOutput(out.toFile())
              .start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor();
        fail(command + " did not finish within " + timeoutSeconds + " s:\n" + Files.readString(out));
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  /** The repository's root, seen from this module's directory (Maven runs tests there). */
  static Path repositoryRoot() {
    Path here = Path.of("").toAbsolutePath();
    for (Path p = here; p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("docs")) && Files.isRegularFile(p.resolve("mvnw"))) {
        return p;
      }
    }
    throw new IllegalStateException("no repository root (docs/ and mvnw) above " + here);
  }
}
