package io.gpusched.demo.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The example service keeps its state in an H2 file database by default: a job accepted before a
 * restart is still there after it, in the same state, and the database is where {@code
 * demo.data-directory} says.
 */
class DemoRestartTest {
  private final HttpClient http = HttpClient.newHttpClient();

  @TempDir Path data;

  private ConfigurableApplicationContext start() {
    // arguments, not default properties: those lose to application.yml
    return new SpringApplicationBuilder(DemoApplication.class)
        .run(
            "--server.port=0",
            "--gpusched.nvml.enabled=false",
            "--demo.data-directory=" + data,
            "--demo.log-directory=" + data.resolve("logs"));
  }

  private HttpResponse<String> send(ConfigurableApplicationContext app, String method, String path, String json)
      throws Exception {
    int port = ((WebServerApplicationContext) app).getWebServer().getPort();
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
    b.method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void aPendingAndAFinishedJobSurviveARestart() throws Exception {
    String pending;
    String done;
    try (ConfigurableApplicationContext app = start()) {
      // no node has 64 GPUs: the job waits (UNSCHEDULABLE) for as long as it is not cancelled
      var p = send(app, "POST", "/api/jobs",
          "{\"queue\":\"research\",\"kind\":\"whole\",\"count\":64,\"sameNode\":true,\"durationSeconds\":1}");
      assertThat(p.statusCode()).isEqualTo(201);
      pending = p.body().replaceFirst("^\\{\"id\":\"([^\"]+)\".*", "$1");
      var d = send(app, "POST", "/api/jobs",
          "{\"queue\":\"prod\",\"kind\":\"share\",\"milliGpu\":500,\"memoryMiB\":1024,\"durationSeconds\":0.2}");
      done = d.body().replaceFirst("^\\{\"id\":\"([^\"]+)\".*", "$1");
      Awaitility.await().atMost(Duration.ofSeconds(20))
          .until(() -> send(app, "GET", "/api/jobs/" + done, null).body().contains("\"state\":\"COMPLETED\""));
    }
    try (Stream<Path> files = Files.list(data)) {
      assertThat(files.map(f -> f.getFileName().toString())).contains("gpusched.mv.db");
    }
    try (ConfigurableApplicationContext app = start()) {
      assertThat(send(app, "GET", "/api/jobs/" + pending, null).body())
          .contains("\"state\":\"PENDING\"", "\"queue\":\"research\"");
      assertThat(send(app, "GET", "/api/jobs/" + done, null).body()).contains("\"state\":\"COMPLETED\"");
      assertThat(send(app, "DELETE", "/api/jobs/" + pending, null).body()).contains("\"state\":\"CANCELLED\"");
    }
  }
}
