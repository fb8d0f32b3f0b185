package io.gpusched.spring.boot;

import io.gpusched.JobHandle;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A {@link JobHandle} as JSON-friendly data, read at one moment. Spring Boot's Jackson writes a
 * {@code JobHandle} returned from a controller as this (see {@link GpuSchedJacksonModule}); a
 * controller may also return {@code JobView.of(handle)} itself, or a list of them.
 *
 * @param id the job's id
 * @param queue its queue
 * @param priority its priority in the queue
 * @param state its state ({@code PENDING}, {@code RUNNING}, {@code COMPLETED}...)
 * @param pendingReason why it waits ({@code CAPACITY}, {@code QUOTA}...), while pending
 * @param request what it asked for, in words ({@link RequestText}), naming the model once placed
 * @param preemptible whether it may be preempted
 * @param allocations what it holds now (empty unless it runs)
 * @param submittedAt when it was submitted
 * @param startedAt when its latest attempt started
 * @param endedAt when it ended
 * @param endReason why it failed or ended, when it did
 * @param attempts how many times it started
 * @param cost what its GPU time cost so far ({@code pricePerGpuHour} x GPU-hours)
 * @param metadata the job's metadata
 */
public record JobView(
    String id,
    String queue,
    int priority,
    String state,
    @Nullable String pendingReason,
    String request,
    boolean preemptible,
    List<AllocationView> allocations,
    Instant submittedAt,
    @Nullable Instant startedAt,
    @Nullable Instant endedAt,
    @Nullable String endReason,
    int attempts,
    double cost,
    Map<String, String> metadata) {

  /** Copies the collections. */
  public JobView {
    allocations = List.copyOf(allocations);
    metadata = Map.copyOf(metadata);
  }

  /**
   * Returns the view of a job as it is now.
   *
   * @param j the job
   * @return its view
   */
  public static JobView of(JobHandle j) {
    var allocations = j.allocations();
    return new JobView(
        j.id(),
        j.spec().queue(),
        j.spec().priority(),
        j.state().name(),
        j.pendingReason().map(Enum::name).orElse(null),
        RequestText.of(j.spec().request(), allocations),
        j.spec().preemptible(),
        allocations.stream().map(AllocationView::of).toList(),
        j.submittedAt(),
        j.startedAt().orElse(null),
        j.endedAt().orElse(null),
        j.endReason().orElse(null),
        j.attempts(),
        j.cost(),
        j.spec().metadata());
  }
}
