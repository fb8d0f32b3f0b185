package io.gpusched.demo.spring;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;

@SpringBootTest(
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = "gpusched.nvml.enabled=false")
class DemoApiTest {
  private final HttpClient http = HttpClient.newHttpClient();

  @LocalServerPort int port;

  private HttpResponse<String> send(String method, String path, String json) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://localhost:" + port + path))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, application/problem+json");
    b.method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The job id in a submission's JSON answer. */
  private static String jobId(HttpResponse<String> r) {
    return r.body().replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
  }

  @Test
  void submitRunsAndCompletesAJob() throws Exception {
    var r = send("POST", "/api/jobs",
        "{\"queue\":\"research\",\"kind\":\"mig\",\"profile\":\"3g.40gb\",\"durationSeconds\":0.5}");
    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(r.body()).contains("\"queue\":\"research\"");
    String id = jobId(r);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> send("GET", "/api/jobs/" + id, null).body().contains("\"state\":\"COMPLETED\""));
  }

  @Test
  void aJobNoNodeCanHostSaysSo() throws Exception {
    var r = send("POST", "/api/jobs",
        "{\"queue\":\"research\",\"kind\":\"whole\",\"count\":64,\"sameNode\":true,\"durationSeconds\":1}");
    assertThat(r.statusCode()).isEqualTo(201);
    String id = jobId(r);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> send("GET", "/api/jobs/" + id, null).body().contains("\"pendingReason\":\"UNSCHEDULABLE\""));
    assertThat(send("DELETE", "/api/jobs/" + id, null).body()).contains("\"state\":\"CANCELLED\"", "\"pendingReason\":null");
  }

  @Test
  void cancelAPendingOrRunningJob() throws Exception {
    var r = send("POST", "/api/jobs",
        "{\"queue\":\"prod\",\"kind\":\"share\",\"milliGpu\":500,\"memoryMiB\":1024,\"durationSeconds\":60}");
    assertThat(r.statusCode()).isEqualTo(201);
    String id = jobId(r);
    var c = send("DELETE", "/api/jobs/" + id, null);
    assertThat(c.body()).contains("\"state\":\"CANCELLED\"");
    assertThat(send("GET", "/api/jobs/nope", null).statusCode()).isEqualTo(404);
  }

  @Test
  void invalidRequestsAreProblemDetails() throws Exception {
    var r = send("POST", "/api/jobs", "{\"queue\":\"research\",\"kind\":\"tpu\",\"durationSeconds\":0}");
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).contains("application/problem+json"));
    assertThat(r.body()).contains("\"errors\"").contains("\"field\":\"kind\"").contains("\"rejected\":\"tpu\"")
        .contains("\"field\":\"durationSeconds\"").contains("\"status\":400");
    var q = send("POST", "/api/jobs", "{\"queue\":\"nope\",\"kind\":\"whole\",\"durationSeconds\":1}");
    assertThat(q.statusCode()).isEqualTo(400);
    assertThat(q.body()).contains("unknown queue").contains("\"field\":\"queue\"");
    var m = send("POST", "/api/jobs", "{\"queue\":\"research\",\"kind\":\"mig\",\"profile\":\"9g.1tb\",\"durationSeconds\":1}");
    assertThat(m.statusCode()).isEqualTo(400);
    assertThat(m.body()).contains("no MIG GPU in the cluster has this profile").contains("3g.40gb");
  }

  @Test
  void serverSentEventsCarryTheState() throws Exception {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create("http://localhost:" + port + "/api/events"))
            .header("Accept", "text/event-stream")
            .build();
    HttpResponse<java.util.stream.Stream<String>> r = http.send(req, HttpResponse.BodyHandlers.ofLines());
    assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).startsWith("text/event-stream"));
    try (var lines = r.body()) {
      List<String> first = lines.limit(2).toList();
      assertThat(first.get(0)).isEqualTo("event:state");
      assertThat(first.get(1)).startsWith("data:{").contains("\"nodes\"").contains("\"jobList\"").contains("\"history\"");
    }
  }

  @Test
  void nodesCordonAndActuator() throws Exception {
    assertThat(send("GET", "/api/nodes", null).body()).contains("a100-whole").contains("h200-shared");
    assertThat(send("POST", "/api/nodes/a100-whole/cordon", null).body()).contains("\"state\":\"CORDONED\"");
    assertThat(send("POST", "/api/nodes/a100-whole/uncordon", null).body()).contains("\"state\":\"READY\"");
    assertThat(send("POST", "/api/nodes/zz/cordon", null).statusCode()).isEqualTo(400);
    var health = send("GET", "/actuator/health", null);
    assertThat(health.body()).contains("\"gpusched\"").contains("\"status\":\"UP\"");
    assertThat(send("GET", "/actuator/gpusched", null).body()).contains("\"queues\"").contains("research");
    var write = send("POST", "/actuator/gpusched/a100-whole", "{\"action\":\"cordon\"}");
    assertThat(write.body()).contains("CORDONED");
    send("POST", "/actuator/gpusched/a100-whole", "{\"action\":\"uncordon\"}");
    assertThat(send("GET", "/actuator/metrics/gpusched.gpus", null).body()).contains("\"state\"");
  }
}
