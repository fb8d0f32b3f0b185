package io.gpusched.spring.boot;

import io.gpusched.GpuScheduler;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.actuate.endpoint.InvalidEndpointRequestException;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.Selector;
import org.springframework.boot.actuate.endpoint.annotation.WriteOperation;

/**
 * {@link GpuSchedEndpoint} plus a write operation on a node: {@code POST
 * /actuator/gpusched/{node}} with {@code {"action": "cordon" | "uncordon" | "drain",
 * "deadline": "PT5M"}}. Exposed only with {@code gpusched.endpoint.write-enabled=true}. On a
 * replica that follows, a change is refused (over HTTP 409, naming the leader): node changes are
 * not forwarded through the inbox.
 */
@Endpoint(id = "gpusched")
public class GpuSchedWritableEndpoint extends GpuSchedEndpoint {

  GpuSchedWritableEndpoint(GpuScheduler scheduler) {
    super(scheduler);
  }

  GpuSchedWritableEndpoint(SchedulerSource source) {
    super(source);
  }

  /**
   * Cordons, uncordons or drains a node.
   *
   * @param node node id
   * @param action cordon, uncordon or drain
   * @param deadline for drain: ISO-8601 duration until its jobs are released (default 0)
   * @return the node after the change
   * @throws IllegalStateException on a replica that does not lead, naming the leader
   */
  @WriteOperation
  public @Nullable Map<String, Object> change(
      @Selector String node, String action, @Nullable String deadline) {
    GpuScheduler scheduler =
        source.scheduler().orElseThrow(() -> new IllegalStateException(source.notLeading("a node change")));
    try {
      switch (action.toLowerCase(Locale.ROOT)) {
        case "cordon" -> scheduler.cordon(node);
        case "uncordon" -> scheduler.uncordon(node);
        case "drain" ->
            scheduler.drain(node, deadline == null ? Duration.ZERO : Duration.parse(deadline));
        default ->
            throw new InvalidEndpointRequestException(
                "unknown action " + action + "; use cordon, uncordon or drain", "unknown action");
      }
    } catch (IllegalArgumentException | java.time.format.DateTimeParseException e) {
      throw new InvalidEndpointRequestException(
          java.util.Objects.requireNonNullElse(e.getMessage(), e.toString()), "invalid node or deadline");
    }
    return node(node);
  }
}
