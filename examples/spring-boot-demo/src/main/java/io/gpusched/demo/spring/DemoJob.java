package io.gpusched.demo.spring;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import io.gpusched.JobHandle;
import io.gpusched.nvml.ProcessJob;
import io.gpusched.nvml.ProcessLauncher;
import io.gpusched.spring.boot.JobView;
import io.gpusched.spring.boot.RequestText;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A job as the example's API and dashboard show it: the starter's {@link JobView} (its fields at the
 * top level), plus what the process launcher knows.
 *
 * @param job the job
 * @param command what it runs, as one line
 * @param cudaVisibleDevices what its latest process was given (on simulated GPUs a label)
 * @param exitCode its latest process's exit status, once it exited
 * @param logTail the last lines of its latest log (empty when not asked for)
 * @param events its life: submitted, started, preempted, requeued...
 */
record DemoJob(
    @JsonUnwrapped JobView job,
    String command,
    @Nullable String cudaVisibleDevices,
    @Nullable Integer exitCode,
    List<String> logTail,
    List<JobActivity.Event> events) {

  private static JobView withRequest(JobView v, String request) {
    return new JobView(v.id(), v.queue(), v.priority(), v.state(), v.pendingReason(), request,
        v.preemptible(), v.allocations(), v.submittedAt(), v.startedAt(), v.endedAt(), v.endReason(),
        v.attempts(), v.cost(), v.metadata());
  }

  /**
   * What the launcher knows of a job's latest process.
   *
   * @param cudaVisibleDevices what it was given
   * @param exitCode its exit status, once it exited
   * @param logTail the last lines of its log
   */
  record ProcessFacts(@Nullable String cudaVisibleDevices, @Nullable Integer exitCode, List<String> logTail) {
    static final ProcessFacts NONE = new ProcessFacts(null, null, List.of());

    /** Reads them (a few small files); nothing for a job that never started. */
    static ProcessFacts read(JobHandle j, ProcessLauncher launcher, int logLines) {
      if (j.startedAt().isEmpty()) {
        return NONE;
      }
      return new ProcessFacts(
          launcher.visibleDevices(j.id()).orElse(null),
          launcher.exitStatus(j.id()).orElse(null),
          logLines > 0 ? launcher.tail(j.id(), logLines) : List.of());
    }
  }

  static DemoJob of(JobHandle j, ProcessFacts facts, JobActivity activity) {
    String command;
    try {
      ProcessJob pj = ProcessJob.from(j.spec());
      command = pj.isShell() ? "sh -c " + CommandLine.join(pj.command()) : CommandLine.join(pj.command());
    } catch (RuntimeException e) {
      command = "(no command: " + e.getMessage() + ")";
    }
    JobView view = JobView.of(j);
    if (view.allocations().isEmpty() && j.startedAt().isPresent()) {
      // ended (or requeued): name the model it ran on, as it read while it ran
      view = withRequest(view, RequestText.ofGpus(j.spec().request(), activity.lastGpus(j.id())));
    }
    return new DemoJob(
        view,
        command,
        facts.cudaVisibleDevices(),
        facts.exitCode(),
        facts.logTail(),
        activity.of(j.id()));
  }
}
