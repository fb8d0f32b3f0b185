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
    properties = {"gpusched.nvml.enabled=false", "demo.log-directory=target/demo-logs/${random.uuid}",
        "demo.data-directory=./target/demo-data/${random.uuid}"})
class DemoApiTest {
  private final HttpClient http = HttpClient.newHttpClient();

  @LocalServerPort int port;

  private HttpResponse<String> send(String method, String path, String json) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, application/problem+json");
    b.method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The job id in a submission's JSON answer. */
  private static String jobId(HttpResponse<String> r) {
    return r.body().replaceFirst("^\\{\"id\":\"([^\"]+)\".*", "$1");
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
    // neither a command nor a duration: a field error, not "Failed to read request"
    var d = send("POST", "/api/jobs", "{\"queue\":\"research\",\"kind\":\"whole\"}");
    assertThat(d.statusCode()).isEqualTo(400);
    assertThat(d.body()).contains("\"errors\"").contains("\"field\":\"durationSeconds\"").contains("give a command");
    // a field of the wrong type names the field
    var t = send("POST", "/api/jobs", "{\"queue\":\"research\",\"kind\":\"whole\",\"durationSeconds\":\"soon\"}");
    assertThat(t.statusCode()).isEqualTo(400);
    assertThat(t.body()).contains("\"errors\"").contains("\"field\":\"durationSeconds\"");
    var bad = send("POST", "/api/jobs", "{\"kind\":\"whole\",\"commandLine\":\"sh -c 'unclosed\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("\"field\":\"commandLine\"").contains("unclosed");
    var m = send("POST", "/api/jobs", "{\"queue\":\"research\",\"kind\":\"mig\",\"profile\":\"9g.1tb\",\"durationSeconds\":1}");
    assertThat(m.statusCode()).isEqualTo(400);
    assertThat(m.body()).contains("no MIG GPU in the cluster has this profile").contains("3g.40gb");
    var ws = send("POST", "/api/jobs", "{\"kind\":\"whole\",\"withoutStranding\":true,\"durationSeconds\":1}");
    assertThat(ws.statusCode()).isEqualTo(400);
    assertThat(ws.body()).contains("\"field\":\"withoutStranding\"").contains("mig jobs only");
  }

  @Test
  void aMigJobCanAskForAPlaceThatStrandsNoCompute() throws Exception {
    var r = send("POST", "/api/jobs",
        "{\"kind\":\"mig\",\"profile\":\"1g.20gb\",\"withoutStranding\":true,\"command\":[\"true\"]}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    assertThat(r.body()).contains("1g.20gb, no stranding");
    String id = jobId(r);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> send("GET", "/api/jobs/" + id, null).body().contains("\"state\":\"COMPLETED\""));
    // an H100's 1g.20gb strands nothing only at compute slice 6 (memory slices 6-7)
    assertThat(send("GET", "/api/jobs/" + id, null).body())
        .contains("\"request\":\"1 x H100-80GB 1g.20gb, no stranding\"")
        .containsPattern("\"cudaVisibleDevices\":\"MIG-GPU-h100-mig-\\d-1g\\.20gb@6\"");
  }

  @Test
  void aCommandRunsAsAProcessWithItsLogExitCodeAndLabelledDevices() throws Exception {
    var r = send("POST", "/api/jobs",
        "{\"queue\":\"prod\",\"kind\":\"whole\",\"commandLine\":\"sh -c 'echo hello from $GPUSCHED_JOB_ID; echo \\\"cvd=$CUDA_VISIBLE_DEVICES\\\"; exit 3'\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    assertThat(r.body()).contains("\"command\":\"sh -c 'echo hello from $GPUSCHED_JOB_ID;");
    String id = jobId(r);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> send("GET", "/api/jobs/" + id, null).body().contains("\"state\":\"FAILED\""));
    String job = send("GET", "/api/jobs/" + id + "?logLines=20", null).body();
    assertThat(job)
        .contains("\"exitCode\":3")
        .contains("hello from " + id)
        .contains("\"endReason\":\"exit status 3")
        .containsPattern("\"cudaVisibleDevices\":\"GPU-[a-z0-9-]+-\\d\"")
        .containsPattern("cvd=GPU-[a-z0-9-]+-\\d")
        .contains("\"kind\":\"submitted\"", "\"kind\":\"started\"", "\"kind\":\"failed\"");

    // a MIG job on the simulated GPUs gets a label too
    var mig = send("POST", "/api/jobs", "{\"kind\":\"mig\",\"profile\":\"1g.10gb\",\"command\":[\"true\"]}");
    assertThat(mig.statusCode()).as(mig.body()).isEqualTo(201);
    assertThat(mig.body()).as("no queue given: the first one").contains("\"queue\":\"research\"");
    String migId = jobId(mig);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> send("GET", "/api/jobs/" + migId, null).body().contains("\"exitCode\":0"));
    assertThat(send("GET", "/api/jobs/" + migId, null).body())
        .contains("\"state\":\"COMPLETED\"")
        .containsPattern("\"cudaVisibleDevices\":\"MIG-GPU-h100-mig-\\d-1g\\.10gb@\\d\"")
        .contains("\"request\":\"1 x H100-80GB 1g.10gb\"");
  }

  @Test
  void serverSentEventsCarryTheState() throws Exception {
    HttpRequest req =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/events"))
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
    // an unknown node is 404 whether read or changed, with its reason
    var unknown = send("POST", "/api/nodes/zz/cordon", null);
    assertThat(unknown.statusCode()).isEqualTo(404);
    assertThat(unknown.body()).contains("no node zz");
    var health = send("GET", "/actuator/health", null);
    assertThat(health.body()).contains("\"gpusched\"").contains("\"status\":\"UP\"");
    assertThat(send("GET", "/actuator/gpusched", null).body()).contains("\"queues\"").contains("research");
    var write = send("POST", "/actuator/gpusched/a100-whole", "{\"action\":\"cordon\"}");
    assertThat(write.body()).contains("CORDONED");
    send("POST", "/actuator/gpusched/a100-whole", "{\"action\":\"uncordon\"}");
    // every actuator error has a status that fits and its reason
    var noNode = send("GET", "/actuator/gpusched/zz", null);
    assertThat(noNode.statusCode()).isEqualTo(404);
    assertThat(noNode.body()).contains("\"message\":\"no node zz; nodes: [h100-mig, a100-whole, h200-shared]\"");
    var noNodePost = send("POST", "/actuator/gpusched/zz", "{\"action\":\"cordon\"}");
    assertThat(noNodePost.statusCode()).isEqualTo(404);
    assertThat(noNodePost.body()).contains("no node zz");
    var badAction = send("POST", "/actuator/gpusched/a100-whole", "{\"action\":\"explode\"}");
    assertThat(badAction.statusCode()).isEqualTo(400);
    assertThat(badAction.body()).contains("unknown action explode; use cordon, uncordon or drain");
    var badDeadline = send("POST", "/actuator/gpusched/a100-whole", "{\"action\":\"drain\",\"deadline\":\"5m\"}");
    assertThat(badDeadline.statusCode()).isEqualTo(400);
    assertThat(badDeadline.body()).contains("deadline 5m is not an ISO-8601 duration; write e.g. PT5M");
    var empty = send("POST", "/actuator/gpusched/a100-whole", "{}");
    assertThat(empty.statusCode()).isEqualTo(400);
    assertThat(empty.body()).contains("no action");
    assertThat(send("GET", "/actuator/gpusched/a100-whole", null).body()).as("nothing changed").contains("\"state\":\"READY\"");
    assertThat(send("GET", "/actuator/metrics/gpusched.gpus", null).body()).contains("\"state\"");
  }
}
