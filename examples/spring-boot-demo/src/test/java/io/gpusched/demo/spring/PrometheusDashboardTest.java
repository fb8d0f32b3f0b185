package io.gpusched.demo.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Every PromQL expression of the Grafana dashboard {@code docs/grafana/gpusched.json} works against
 * the example service: a real Prometheus server (Debian's {@code prometheus}, on a free loopback
 * port with its own configuration and storage in a temporary folder) scrapes the service's {@code
 * /actuator/prometheus} every second while jobs run, and then each panel query and each template
 * variable query returns at least one series through Prometheus's HTTP API. The alert rules are
 * loaded too and must all evaluate without error on the real series. NVML stays on, as in the
 * service's configuration, so that {@code gpusched_nvml_failing} exists; the static nodes are kept
 * beside any local GPU, so that the jobs below fit on every machine.
 */
@SpringBootTest(
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {"gpusched.nvml.static-nodes=keep", "demo.data-directory=./target/demo-data/${random.uuid}"})
@DirtiesContext // its 30-second jobs would hold GPUs a later test sharing the context expects free
class PrometheusDashboardTest {
  /** The longest the test waits for every query to answer with series. */
  private static final Duration DEADLINE = Duration.ofSeconds(45);

  /** Grafana's variables, as the queries see them with "All" selected. */
  private static final Map<String, String> VARIABLES =
      Map.of("$__rate_interval", "30s", "$queue", ".*", "$job", ".*");

  private static final Pattern LABEL_VALUES =
      Pattern.compile("label_values\\(\\s*([^,]+?)\\s*,\\s*(\\w+)\\s*\\)");

  private final HttpClient http = HttpClient.newHttpClient();

  @LocalServerPort int port;

  @TempDir Path tmp;

  @Test
  void everyDashboardQueryReturnsSeries() throws Exception {
    Path prometheus = ExternalTool.require("/usr/bin/prometheus", "prometheus");
    Path root = ExternalTool.repositoryRoot();
    Map<String, String> queries = dashboardQueries(root.resolve("docs/grafana/gpusched.json"));
    assertThat(queries).hasSizeGreaterThanOrEqualTo(15);

    int promPort = freePort();
    Path config = tmp.resolve("prometheus.yml");
    Files.copy(root.resolve("docs/prometheus/gpusched-alerts.yml"), tmp.resolve("gpusched-alerts.yml"));
    Files.writeString(
        config,
        String.join(
            "\n",
            "global:",
            "  scrape_interval: 1s",
            "  evaluation_interval: 1s",
            "rule_files:",
            "  - gpusched-alerts.yml",
            "scrape_configs:",
            "  - job_name: gpusched",
            "    metrics_path: /actuator/prometheus",
            "    static_configs:",
            "      - targets: ['127.0.0.1:" + port + "']",
            ""));
    Path log = tmp.resolve("prometheus.log");
    Process server =
        new ProcessBuilder(
                prometheus.toString(),
                "--config.file=" + config,
                "--storage.tsdb.path=" + tmp.resolve("data"),
                "--web.listen-address=127.0.0.1:" + promPort,
                "--log.level=warn")
            .directory(tmp.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    try {
      submitJobs();
      String base = "http://127.0.0.1:" + promPort;
      Map<String, String> empty = new LinkedHashMap<>(queries);
      long until = System.nanoTime() + DEADLINE.toNanos();
      while (!empty.isEmpty() && System.nanoTime() < until && server.isAlive()) {
        empty.entrySet().removeIf(q -> series(base, q.getValue()) > 0);
        if (!empty.isEmpty()) {
          Thread.sleep(500);
        }
      }
      assertThat(empty)
          .as("queries without series (Prometheus log:\n%s)", tail(log))
          .isEmpty();
      assertThat(ruleHealth(base)).as("alert rules that failed to evaluate").isEmpty();
    } finally {
      server.destroy();
      if (!server.waitFor(10, TimeUnit.SECONDS)) {
        server.destroyForcibly().waitFor();
      }
    }
  }

  /**
   * The dashboard's queries (panel title and refId as the key): every {@code expr} of a panel
   * target, and for each template variable {@code label_values(m, l)} the series query {@code m},
   * with Grafana's variables replaced.
   */
  static Map<String, String> dashboardQueries(Path dashboard) throws IOException {
    JsonNode root = JsonMapper.builder().build().readTree(Files.readString(dashboard));
    Map<String, String> queries = new LinkedHashMap<>();
    for (JsonNode panel : root.path("panels")) {
      for (JsonNode target : panel.path("targets")) {
        queries.put(
            panel.path("title").asString() + " / " + target.path("refId").asString(),
            substitute(target.path("expr").asString()));
      }
    }
    for (JsonNode variable : root.path("templating").path("list")) {
      String q = variable.path("definition").asString();
      Matcher m = LABEL_VALUES.matcher(q);
      assertThat(m.matches()).as("variable query %s is label_values(metric, label)", q).isTrue();
      queries.put("variable " + variable.path("name").asString(), substitute(m.group(1)));
    }
    Set<String> unreplaced = new LinkedHashSet<>();
    queries.values().forEach(q -> { if (q.contains("$")) unreplaced.add(q); });
    assertThat(unreplaced).as("queries with a Grafana variable this test does not know").isEmpty();
    return queries;
  }

  private static String substitute(String expr) {
    String e = expr;
    for (Map.Entry<String, String> v : VARIABLES.entrySet()) {
      e = e.replace(v.getKey(), v.getValue());
    }
    return e;
  }

  /** Jobs of each kind in each queue, a few finishing within the test, one no node can host. */
  private void submitJobs() throws Exception {
    List<String> bodies = new ArrayList<>();
    bodies.add("{\"queue\":\"research\",\"kind\":\"whole\",\"count\":1,\"durationSeconds\":1}");
    bodies.add("{\"queue\":\"research\",\"kind\":\"whole\",\"count\":2,\"durationSeconds\":30}");
    bodies.add("{\"queue\":\"prod\",\"kind\":\"mig\",\"profile\":\"3g.40gb\",\"durationSeconds\":1}");
    bodies.add("{\"queue\":\"prod\",\"kind\":\"mig\",\"profile\":\"1g.10gb\",\"durationSeconds\":30}");
    bodies.add(
        "{\"queue\":\"interactive\",\"kind\":\"share\",\"milliGpu\":300,\"memoryMiB\":1024,\"durationSeconds\":30}");
    bodies.add("{\"queue\":\"interactive\",\"kind\":\"whole\",\"count\":64,\"sameNode\":true,\"durationSeconds\":1}");
    for (String body : bodies) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/api/jobs"))
                  .header("Content-Type", "application/json")
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    }
  }

  /** The number of series an instant query returns now; 0 while Prometheus is not up yet. */
  private int series(String base, String query) {
    try {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(
                      URI.create(
                          base + "/api/v1/query?query=" + URLEncoder.encode(query, StandardCharsets.UTF_8)))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() == 400 || r.statusCode() == 422) {
        throw new AssertionError("Prometheus rejects " + query + ": " + r.body());
      }
      if (r.statusCode() != 200) {
        return 0;
      }
      JsonNode data = JsonMapper.builder().build().readTree(r.body()).path("data");
      return data.path("result").size();
    } catch (IOException e) {
      return 0; // not listening yet
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Rules whose last evaluation failed, with the error; empty when every rule is healthy. */
  private List<String> ruleHealth(String base) throws Exception {
    HttpResponse<String> r =
        http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/rules")).build(), HttpResponse.BodyHandlers.ofString());
    JsonNode groups = JsonMapper.builder().build().readTree(r.body()).path("data").path("groups");
    List<String> bad = new ArrayList<>();
    int rules = 0;
    for (JsonNode g : groups) {
      for (JsonNode rule : g.path("rules")) {
        rules++;
        String health = rule.path("health").asString();
        if (health.equals("err")) {
          bad.add(rule.path("name").asString() + ": " + rule.path("lastError").asString());
        }
      }
    }
    assertThat(rules).as("rules loaded").isEqualTo(8);
    return bad;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }
}
