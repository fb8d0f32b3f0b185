package io.gpusched.demo.spring;

import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A job submission.
 *
 * @param queue queue name (default: the scheduler's first queue)
 * @param kind {@code whole}, {@code mig} or {@code share}
 * @param count whole GPUs (kind whole)
 * @param sameNode whether whole GPUs must share a node
 * @param profile MIG profile, e.g. 3g.40gb (kind mig)
 * @param withoutStranding whether the MIG instance may go only where it strands no compute slice,
 *     waiting otherwise ({@code PlacementRequest.withoutStranding()}; kind mig only)
 * @param milliGpu compute share in milli-GPU (kind share)
 * @param memoryMiB GPU memory of a share in MiB (kind share)
 * @param priority priority inside the queue
 * @param command the program and its arguments, run without a shell
 * @param commandLine instead of {@code command}: one line split into arguments with shell-like
 *     quoting ({@code sh -c 'echo hello; sleep 2'}), still run without a shell
 * @param durationSeconds how long the job is expected to run; without a command the job runs
 *     {@code sleep} for this long
 * @param preemptible whether the job may be preempted
 */
record JobRequest(
    @Nullable String queue,
    @NotBlank @Pattern(regexp = "whole|mig|share", message = "must be whole, mig or share") String kind,
    @Min(1) @Max(64) @Nullable Integer count,
    @Nullable Boolean sameNode,
    @Nullable String profile,
    @Nullable Boolean withoutStranding,
    @Min(1) @Max(1000) @Nullable Integer milliGpu,
    @Min(0) @Nullable Long memoryMiB,
    @Min(-1000) @Max(1000) @Nullable Integer priority,
    @Size(min = 1, max = 256) @Nullable List<String> command,
    @Size(max = 4096) @Nullable String commandLine,
    @DecimalMin("0.1") @DecimalMax("86400") @Nullable Double durationSeconds,
    @Nullable Boolean preemptible) {}
