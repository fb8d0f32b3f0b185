package io.gpusched.nvml;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import java.io.PrintWriter;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassNameFilter;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs the tests of {@code io.gpusched.nvml} matching a JUnit tag expression (first argument,
 * default {@code gpu}), leaving out classes whose name matches the optional second argument (a
 * regular expression), with the JUnit Platform launcher alone: {@code run-gpu-tests.sh} uses it on
 * a machine without Maven.
 * Prints one {@code TEST} line per test and a {@code GPU-TESTS} summary line. Exit status: 0 when
 * at least one test ran and none failed, 1 when one failed, 3 when none ran (all skipped).
 */
final class GpuTestMain {
  private GpuTestMain() {}

  public static void main(String[] args) {
    String tags = args.length > 0 ? args[0] : "gpu";
    LauncherDiscoveryRequestBuilder builder = LauncherDiscoveryRequestBuilder.request()
        .selectors(selectPackage("io.gpusched.nvml"))
        .filters(TagFilter.includeTags(tags));
    if (args.length > 1) {
      builder.filters(ClassNameFilter.excludeClassNamePatterns(args[1]));
    }
    LauncherDiscoveryRequest request = builder.build();
    SummaryGeneratingListener summary = new SummaryGeneratingListener();
    TestExecutionListener printer = new TestExecutionListener() {
      @Override
      public void executionSkipped(TestIdentifier id, String reason) {
        System.out.println("TEST " + id.getDisplayName() + ": SKIPPED (" + reason + ")");
      }

      @Override
      public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (id.isTest() || result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
          String why = result.getThrowable().map(t -> " (" + t + ")").orElse("");
          System.out.println("TEST " + id.getDisplayName() + ": " + result.getStatus() + why);
        }
      }
    };
    LauncherFactory.create().execute(request, summary, printer);
    TestExecutionSummary s = summary.getSummary();
    s.printFailuresTo(new PrintWriter(System.out, true), 30);
    System.out.printf("GPU-TESTS tags=%s found=%d successful=%d failed=%d aborted=%d skipped=%d%n",
        tags, s.getTestsFoundCount(), s.getTestsSucceededCount(), s.getTotalFailureCount(),
        s.getTestsAbortedCount(), s.getTestsSkippedCount());
    System.out.flush();
    System.exit(s.getTotalFailureCount() > 0 ? 1 : s.getTestsSucceededCount() == 0 ? 3 : 0);
  }
}
