package io.gpusched.demo.spring;

import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * A job submission.
 *
 * @param queue queue name
 * @param kind {@code whole}, {@code mig} or {@code share}
 * @param count whole GPUs (kind whole)
 * @param sameNode whether whole GPUs must share a node
 * @param profile MIG profile, e.g. 3g.40gb (kind mig)
 * @param milliGpu compute share in milli-GPU (kind share)
 * @param memoryMiB GPU memory of a share in MiB (kind share)
 * @param priority priority inside the queue
 * @param durationSeconds how long the demo job "runs"
 * @param preemptible whether the job may be preempted
 */
record JobRequest(
    @NotBlank String queue,
    @NotBlank @Pattern(regexp = "whole|mig|share", message = "must be whole, mig or share") String kind,
    @Min(1) @Max(64) @Nullable Integer count,
    @Nullable Boolean sameNode,
    @Nullable String profile,
    @Min(1) @Max(1000) @Nullable Integer milliGpu,
    @Min(0) @Nullable Long memoryMiB,
    @Min(-1000) @Max(1000) @Nullable Integer priority,
    @DecimalMin("0.1") @DecimalMax("3600") double durationSeconds,
    @Nullable Boolean preemptible) {}
