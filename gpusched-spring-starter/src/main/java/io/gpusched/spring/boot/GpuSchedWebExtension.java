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
 *
 * <p>With replicas, a replica that does not lead answers node reads and changes with 409 Conflict
 * and a message naming the leader ({@code "this replica follows in epoch 3; a node change is served
 * by the leader sched-1: send it there"}), or saying that none leads now. Node changes are refused
 * rather than forwarded: the inbox carries submits and cancels only, and a cordon or drain sent to
 * the leader takes effect there at once.
 */
@EndpointWebExtension(endpoint = GpuSchedEndpoint.class)
public class GpuSchedWebExtension {
  private static final Logger LOG = LoggerFactory.getLogger(GpuSchedWebExtension.class);

  final SchedulerSource source;

  GpuSchedWebExtension(GpuScheduler scheduler) {
    this(SchedulerSource.of(scheduler));
  }

  GpuSchedWebExtension(SchedulerSource source) {
    this.source = source;
  }

  /**
   * Returns one node, or 404 with the reason (409 on a replica that does not lead).
   *
   * @param node node id
   * @return the node (200) or the error (404, 409)
   */
  @ReadOperation
  public WebEndpointResponse<Map<String, Object>> node(@Selector String node) {
    if (source.scheduler().isEmpty()) {
      return error(409, "Conflict", source.notLeading("reading node " + node));
    }
    return find(node)
        .map(n -> new WebEndpointResponse<>(SchedulerViews.node(n), 200))
        .orElseGet(() -> error(404, "Not Found", unknownNode(node)));
  }

  Optional<NodeUsage> find(String node) {
    return source.scheduler()
        .flatMap(s -> s.snapshot().cluster().nodes().stream().filter(n -> n.nodeId().equals(node)).findFirst());
  }

  String unknownNode(String node) {
    List<String> ids =
        source.scheduler()
            .map(s -> s.snapshot().cluster().nodes().stream().map(NodeUsage::nodeId).toList())
            .orElse(List.of());
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

    Writable(SchedulerSource source) {
      super(source);
    }

    /**
     * Cordons, uncordons or drains a node.
     *
     * @param node node id
     * @param action cordon, uncordon or drain
     * @param deadline for drain: ISO-8601 duration until its jobs are released (default 0)
     * @return the node after the change (200), or the error with its reason (400, 404; 409 on a
     *     replica that does not lead, naming the leader)
     */
    @org.springframework.boot.actuate.endpoint.annotation.WriteOperation
    public WebEndpointResponse<Map<String, Object>> change(
        @Selector String node, @Nullable String action, @Nullable String deadline) {
      Optional<GpuScheduler> current = source.scheduler();
      if (current.isEmpty()) {
        return rejected(node, 409, "Conflict", source.notLeading("a node change"));
      }
      GpuScheduler scheduler = current.get();
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
      } catch (IllegalStateException e) {
        if (source.replica() == null || !scheduler.isClosed()) {
          throw e;
        }
        return stoppedLeading(node);
      } catch (IllegalArgumentException e) {
        // gone in between, or a value the scheduler refuses (a deadline too far ahead)
        return find(node).isEmpty()
            ? rejected(node, 404, "Not Found", unknownNode(node))
            : rejected(node, 400, "Bad Request", String.valueOf(e.getMessage()));
      }
      if (source.replica() != null && scheduler.isClosed()) {
        return stoppedLeading(node);
      }
      LOG.info("gpusched: actuator {} of node {}{}", action.toLowerCase(Locale.ROOT), node,
          deadline == null ? "" : " (deadline " + deadline + ")");
      return node(node);
    }

    private WebEndpointResponse<Map<String, Object>> stoppedLeading(String node) {
      return rejected(node, 409, "Conflict",
          "this replica stopped leading during the change, which may not have been applied: "
              + source.notLeading("a node change"));
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
