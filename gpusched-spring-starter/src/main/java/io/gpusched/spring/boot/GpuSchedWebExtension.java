package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import io.gpusched.NodeUsage;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.web.WebEndpointResponse;
import org.springframework.boot.actuate.endpoint.web.annotation.EndpointWebExtension;

/**
 * The {@code gpusched} endpoint over HTTP, with a reason in every error: {@code GET
 * /actuator/gpusched/{node}} answers 404 with {@code {"status":404,"error":"Not Found","message":"no
 * node zz; nodes: [...]"}} for an unknown node. {@link Writable} adds {@code POST
 * /actuator/gpusched/{node}}, whose errors are 404 (unknown node) or 400 (no action, an unknown
 * action, a deadline that is not an ISO-8601 duration such as {@code PT5M}), each with its reason
 * in the same shape, and logged at WARN; a change that succeeds is logged at INFO.
 */
@EndpointWebExtension(endpoint = GpuSchedEndpoint.class)
public class GpuSchedWebExtension {
  private static final Logger LOG = LoggerFactory.getLogger(GpuSchedWebExtension.class);

  final GpuScheduler scheduler;

  GpuSchedWebExtension(GpuScheduler scheduler) {
    this.scheduler = scheduler;
  }

  /**
   * Returns one node, or 404 with the reason.
   *
   * @param node node id
   * @return the node (200) or the error (404)
   */
  @ReadOperation
  public WebEndpointResponse<Map<String, Object>> node(@Selector String node) {
    return find(node)
        .map(n -> new WebEndpointResponse<>(SchedulerViews.node(n), 200))
        .orElseGet(() -> error(404, "Not Found", unknownNode(node)));
  }

  Optional<NodeUsage> find(String node) {
    return scheduler.snapshot().cluster().nodes().stream().filter(n -> n.nodeId().equals(node)).findFirst();
  }

  String unknownNode(String node) {
    List<String> ids = scheduler.snapshot().cluster().nodes().stream().map(NodeUsage::nodeId).toList();
    return "no node " + node + "; nodes: " + ids;
  }

  static WebEndpointResponse<Map<String, Object>> error(int status, String error, String message) {
    Map<String, Object> body = new LinkedHashMap<>();
    body.put("status", status);
    body.put("error", error);
    body.put("message", message);
    return new WebEndpointResponse<>(body, status);
  }

  /** Adds the write operation; registered with {@code gpusched.endpoint.write-enabled=true}. */
  @EndpointWebExtension(endpoint = GpuSchedEndpoint.class)
  public static class Writable extends GpuSchedWebExtension {

    Writable(GpuScheduler scheduler) {
      super(scheduler);
    }

    /**
     * Cordons, uncordons or drains a node.
     *
     * @param node node id
     * @param action cordon, uncordon or drain
     * @param deadline for drain: ISO-8601 duration until its jobs are released (default 0)
     * @return the node after the change (200), or the error with its reason (400, 404)
     */
    @org.springframework.boot.actuate.endpoint.annotation.WriteOperation
    public WebEndpointResponse<Map<String, Object>> change(
        @Selector String node, @Nullable String action, @Nullable String deadline) {
      if (find(node).isEmpty()) {
        return rejected(node, 404, "Not Found", unknownNode(node));
      }
      if (action == null || action.isBlank()) {
        return rejected(node, 400, "Bad Request",
            "no action; send {\"action\": \"cordon\" | \"uncordon\" | \"drain\", \"deadline\": \"PT5M\"}");
      }
      try {
        switch (action.toLowerCase(Locale.ROOT)) {
          case "cordon" -> scheduler.cordon(node);
          case "uncordon" -> scheduler.uncordon(node);
          case "drain" -> scheduler.drain(node, deadline == null ? Duration.ZERO : parse(deadline));
          default -> {
            return rejected(node, 400, "Bad Request",
                "unknown action " + action + "; use cordon, uncordon or drain");
          }
        }
      } catch (DateTimeParseException e) {
        return rejected(node, 400, "Bad Request",
            "deadline " + deadline + " is not an ISO-8601 duration; write e.g. PT5M for 5 minutes");
      } catch (IllegalArgumentException e) {
        // gone in between, or a value the scheduler refuses (a deadline too far ahead)
        return find(node).isEmpty()
            ? rejected(node, 404, "Not Found", unknownNode(node))
            : rejected(node, 400, "Bad Request", String.valueOf(e.getMessage()));
      }
      LOG.info("gpusched: actuator {} of node {}{}", action.toLowerCase(Locale.ROOT), node,
          deadline == null ? "" : " (deadline " + deadline + ")");
      return node(node);
    }

    private static Duration parse(String deadline) {
      Duration d = Duration.parse(deadline);
      if (d.isNegative()) {
        throw new IllegalArgumentException("deadline " + deadline + " is negative");
      }
      return d;
    }

    private static WebEndpointResponse<Map<String, Object>> rejected(
        String node, int status, String error, String message) {
      LOG.warn("gpusched: actuator change of node {} rejected ({}): {}", node, status, message);
      return error(status, error, message);
    }
  }
}
