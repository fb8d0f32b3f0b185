package io.gpusched.bench.sim;

import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.JobSpec;
import io.gpusched.MigGeometry;
import io.gpusched.PlacementRequest;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * One arrival of a simulated workload: what is submitted when, and how long it really runs.
 *
 * <p>Requests are written as text (see {@link #parseRequest} and the {@code request} column of
 * {@link Workload}): {@code gpu:N} (N whole GPUs anywhere), {@code gpu:N:node} (on one node), {@code
 * mig:PROFILE} (one MIG instance) and {@code share:MILLI:MEMMIB} (a fractional GPU).
 *
 * @param id job id, unique in the workload
 * @param arrivalSeconds submission time, seconds from the start of the simulation (&ge; 0)
 * @param queue queue (tenant) it is charged to
 * @param priority priority inside its queue
 * @param kind free-form class for reports ({@code notebook}, {@code train-short}, ...)
 * @param request the request text (see above)
 * @param model GPU model the job is pinned to, empty for any, or {@code >=NGiB} for any model
 *     with at least N GiB of GPU memory (a model-agnostic request, {@link
 *     Constraints#minGpuMemoryGiB})
 * @param gang gang size: members placed all-or-nothing (&ge; 1)
 * @param durationSeconds real run time without interruption (&gt; 0)
 * @param estimateSeconds the user's run-time estimate given to the scheduler for backfill, 0 for
 *     none
 * @param preemptible whether the scheduler may preempt it (training usually is)
 * @param interactive whether its GPUs are reclaimed when idle (notebooks)
 * @param idleAfterSeconds for interactive jobs: seconds into a run after which its GPUs go idle
 *     (scripted telemetry), 0 for never
 */
public record SimJob(
    String id,
    long arrivalSeconds,
    String queue,
    int priority,
    String kind,
    String request,
    String model,
    int gang,
    long durationSeconds,
    long estimateSeconds,
    boolean preemptible,
    boolean interactive,
    long idleAfterSeconds) {

  /** Validates the values; the request text must parse. */
  public SimJob {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(model, "model");
    if (arrivalSeconds < 0 || durationSeconds <= 0 || estimateSeconds < 0 || gang < 1
        || idleAfterSeconds < 0) {
      throw new IllegalArgumentException("job " + id + ": bad times or gang size");
    }
    parseRequest(request);
    memoryFloorGiB(model);
  }

  /** Returns the placement request of one gang member, with the model constraint if any. */
  public PlacementRequest placementRequest() {
    PlacementRequest r = parseRequest(request);
    if (model.isEmpty()) {
      return r;
    }
    return r.withConstraints(
        model.startsWith(">=") ? Constraints.minGpuMemoryGiB(memoryFloorGiB(model)) : Constraints.models(model));
  }

  /**
   * The N of a {@code >=NGiB} model text, or 0 for a model name.
   *
   * @throws IllegalArgumentException if it starts with {@code >=} but N is not a number, or a
   *     number {@link Constraints#minGpuMemoryGiB} rejects (below 1)
   */
  static int memoryFloorGiB(String model) {
    if (!model.startsWith(">=")) {
      return 0;
    }
    String n = model.substring(2);
    if (n.toLowerCase(Locale.ROOT).endsWith("gib")) {
      n = n.substring(0, n.length() - 3);
    }
    int gib;
    try {
      gib = Integer.parseInt(n.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad model '" + model + "': expected a model name or >=NGiB", e);
    }
    var unused = Constraints.minGpuMemoryGiB(gib); // validates: names the value
    return gib;
  }

  /** Returns a copy pinned to another model text (a name, empty, or {@code >=NGiB}). */
  public SimJob withModel(String model) {
    return new SimJob(id, arrivalSeconds, queue, priority, kind, request, model, gang, durationSeconds,
        estimateSeconds, preemptible, interactive, idleAfterSeconds);
  }

  /** Returns the total GPU-equivalents the job asks for (all members; MIG by compute slices). */
  public double gpuEquivalents() {
    return gang * gpuEquivalents(parseRequest(request).gpus(), model);
  }

  /** Returns whole GPUs the job asks for in all (0 for MIG and shares). */
  public int wholeGpus() {
    GpuDemand d = parseRequest(request).gpus();
    return d instanceof GpuDemand.Whole w ? w.count() * gang : 0;
  }

  /** Builds the scheduler's job spec: grace period and requeue as the simulation configures. */
  public JobSpec toSpec(Duration grace) {
    JobSpec.Builder b =
        JobSpec.builder(placementRequest())
            .id(id)
            .queue(queue)
            .priority(priority)
            .gangSize(gang)
            .preemptible(preemptible)
            .gracePeriod(grace)
            .requeueOnPreemption(true)
            .reclaimWhenIdle(interactive)
            .metadata("kind", kind);
    if (estimateSeconds > 0) {
      b.expectedDuration(Duration.ofSeconds(estimateSeconds));
    }
    return b.build();
  }

  /**
   * Parses a request text.
   *
   * @throws IllegalArgumentException if malformed
   */
  @SuppressWarnings("StatementSwitchToExpressionSwitch") // malformed cases break out to one error
  public static PlacementRequest parseRequest(String text) {
    String[] f = text.trim().toLowerCase(Locale.ROOT).split(":", -1);
    try {
      switch (f[0]) {
        case "gpu":
          if (f.length == 2) {
            return PlacementRequest.wholeGpus(Integer.parseInt(f[1]));
          }
          if (f.length == 3 && f[2].equals("node")) {
            return PlacementRequest.wholeGpus(Integer.parseInt(f[1]), true);
          }
          break;
        case "mig":
          if (f.length == 2) {
            return PlacementRequest.mig(f[1]);
          }
          break;
        case "share":
          if (f.length == 3) {
            return PlacementRequest.share(Integer.parseInt(f[1]), Long.parseLong(f[2]));
          }
          break;
        default:
          break;
      }
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("bad request '" + text + "': " + e.getMessage(), e);
    }
    throw new IllegalArgumentException(
        "bad request '" + text + "': expected gpu:N, gpu:N:node, mig:PROFILE or share:MILLI:MIB");
  }

  /**
   * GPU-equivalents of one demand: whole GPUs count 1, shares milli/1000, MIG instances compute
   * slices over the GPU's (on {@code model}, or on an H100-80GB when none is given).
   */
  static double gpuEquivalents(GpuDemand d, String model) {
    if (d instanceof GpuDemand.Whole w) {
      return w.count();
    }
    if (d instanceof GpuDemand.Share s) {
      return s.milliGpu() / 1000.0;
    }
    String profile = ((GpuDemand.Mig) d).profile();
    GpuModel m = model.isEmpty() ? GpuModels.H100_80GB : GpuModels.byName(model).orElse(GpuModels.H100_80GB);
    MigGeometry g = Objects.requireNonNull(m.mig(), "no MIG on " + m.name());
    return (double) m.migProfile(profile).computeSlices() / g.computeSlices();
  }
}
