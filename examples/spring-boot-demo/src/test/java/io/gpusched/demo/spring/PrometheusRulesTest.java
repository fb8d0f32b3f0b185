package io.gpusched.demo.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The alert rules of {@code docs/prometheus/gpusched-alerts.yml} pass {@code promtool check rules}
 * and the synthetic-series tests of {@code gpusched-alerts.test.yml} (each alert fires where it
 * should and stays quiet where it should not).
 */
class PrometheusRulesTest {

  @Test
  void alertRulesAreValidAndFireOnTheirSyntheticSeries() throws Exception {
    Path promtool = ExternalTool.require("/usr/bin/promtool", "prometheus");
    Path dir = ExternalTool.repositoryRoot().resolve("docs/prometheus");
    var check =
        ExternalTool.run(dir, 60, List.of(promtool.toString(), "check", "rules", "gpusched-alerts.yml"));
    assertThat(check.exitCode()).as(check.output()).isZero();
    assertThat(check.output()).contains("SUCCESS");
    var test =
        ExternalTool.run(
            dir, 60, List.of(promtool.toString(), "test", "rules", "gpusched-alerts.test.yml"));
    assertThat(test.exitCode()).as(test.output()).isZero();
    assertThat(test.output()).contains("SUCCESS").doesNotContain("FAILED");
  }
}
