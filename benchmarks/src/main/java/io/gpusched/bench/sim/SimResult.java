package io.gpusched.bench.sim;

import io.gpusched.JobState;
import io.gpusched.StopReason;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What one simulation measured: per-job outcomes, periodic samples and counters, plus the derived
 * figures the reports print. Times are seconds of simulated time.
 *
 * @param variant the scheduler configuration
 * @param queues queue names, in the order of the per-queue arrays
 * @param weights queue weights
 * @param jobs one outcome per workload job
 * @param samples utilization and shares every {@link SimConfig#sampleSeconds()}
 * @param stops launcher stop requests by reason
 * @param events scheduler events by type (as delivered to the listener)
 * @param lostGpuSeconds work thrown away by preemption, drain and node loss (GPU-equivalent
 *     seconds since the last checkpoint), to be redone
 * @param reclaimedGpuSeconds GPU time held by idle notebooks that were reclaimed
 * @param busyGpuSeconds GPU time held by jobs
 * @param costByQueue cost per queue (node price x GPU-equivalents x hours held)
 * @param jobsLost jobs whose final state the simulator cannot explain (must be 0)
 * @param anomalies what the simulator found odd, with times
 * @param endSeconds when the simulation ended
 * @param lastArrivalSeconds when the last job arrived (the end of the loaded period)
 * @param windowSeconds fairness window
 * @param eventsProcessed simulation events processed
 * @param wallMillis wall-clock time of the run
 */
@SuppressWarnings("ArrayRecordComponent") // a result carrier, never compared or hashed
public record SimResult(
    SimConfig.Variant variant,
    List<String> queues,
    double[] weights,
    List<JobOutcome> jobs,
    List<Sample> samples,
    Map<StopReason, Integer> stops,
    Map<String, Integer> events,
    double lostGpuSeconds,
    double reclaimedGpuSeconds,
    double busyGpuSeconds,
    double[] costByQueue,
    int jobsLost,
    List<String> anomalies,
    long endSeconds,
    long lastArrivalSeconds,
    long windowSeconds,
    long eventsProcessed,
    long wallMillis) {

  /**
   * One job's outcome.
   *
   * @param job the workload entry
   * @param state its state in the scheduler at the end ({@code null} if never submitted)
   * @param firstStartSeconds first start, or -1
   * @param endSeconds when it reached a final state (completion exact, others to the sample), or -1
   * @param starts how many times it started
   * @param lostGpuSeconds work it lost
   * @param cost what it cost
   * @param lost whether the simulator counts it lost
   */
  public record JobOutcome(
      SimJob job,
      @Nullable JobState state,
      long firstStartSeconds,
      long endSeconds,
      int starts,
      double lostGpuSeconds,
      double cost,
      boolean lost) {

    /** Seconds from arrival to first start; for a job that never started, to {@code end}. */
    public long waitSeconds(long end) {
      return (firstStartSeconds >= 0 ? firstStartSeconds : end) - job.arrivalSeconds();
    }
  }

  /**
   * One sample.
   *
   * @param atSeconds when
   * @param capacityGpus GPUs of the nodes up
   * @param usedGpus GPU-equivalents held by jobs
   * @param pendingJobs jobs waiting
   * @param usedByQueue GPU-equivalents held, per queue
   * @param demandByQueue GPU-equivalents held plus asked for by waiting jobs, per queue
   * @param entitledByQueue weighted max-min fair share of the capacity given the demands, per queue
   */
  @SuppressWarnings("ArrayRecordComponent") // a result carrier, never compared or hashed
  public record Sample(
      long atSeconds,
      double capacityGpus,
      double usedGpus,
      int pendingJobs,
      double[] usedByQueue,
      double[] demandByQueue,
      double[] entitledByQueue) {

    /** Used over capacity, percent. */
    public double utilizationPercent() {
      return capacityGpus == 0 ? 0 : 100 * usedGpus / capacityGpus;
    }
  }

  /** Mean utilization (percent) over the samples up to the last arrival (the loaded period). */
  public double meanUtilizationPercent() {
    double s = 0;
    int n = 0;
    for (Sample x : samples) {
      if (x.atSeconds() <= lastArrivalSeconds) {
        s += x.utilizationPercent();
        n++;
      }
    }
    return n == 0 ? 0 : s / n;
  }

  /** Waits (seconds, first start minus arrival) of a queue's submitted jobs, or of all if null. */
  public double[] waits(@Nullable String queue) {
    List<Double> out = new ArrayList<>();
    for (JobOutcome j : jobs) {
      if (j.state() != null && (queue == null || j.job().queue().equals(queue))) {
        out.add((double) j.waitSeconds(endSeconds));
      }
    }
    return out.stream().mapToDouble(Double::doubleValue).sorted().toArray();
  }

  /** Completion times (end minus arrival, seconds) of completed jobs of a queue, or all if null. */
  public double[] completionTimes(@Nullable String queue) {
    List<Double> out = new ArrayList<>();
    for (JobOutcome j : jobs) {
      if (j.state() == JobState.COMPLETED && (queue == null || j.job().queue().equals(queue))) {
        out.add((double) (j.endSeconds() - j.job().arrivalSeconds()));
      }
    }
    return out.stream().mapToDouble(Double::doubleValue).sorted().toArray();
  }

  /** The p-th percentile (0..100, nearest rank) of sorted values; 0 for none. */
  public static double percentile(double[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    int rank = (int) Math.ceil(p / 100.0 * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  /** Mean of values; 0 for none. */
  public static double mean(double[] v) {
    return v.length == 0 ? 0 : Arrays.stream(v).sum() / v.length;
  }

  /** Jobs per final (or current) state. */
  public Map<String, Integer> jobsByState() {
    Map<String, Integer> m = new java.util.TreeMap<>();
    for (JobOutcome j : jobs) {
      m.merge(j.state() == null ? "REJECTED" : j.state().name(), 1, Integer::sum);
    }
    return m;
  }

  /** Jobs not in a final state when the simulation ended (accounted for, but unfinished). */
  public int unfinished() {
    int n = 0;
    for (JobOutcome j : jobs) {
      if (j.state() != null && !j.state().isFinal()) {
        n++;
      }
    }
    return n;
  }

  /** Longest wait (seconds) of jobs asking for at least {@code gpus} whole GPUs in all. */
  public long longestWaitOfGangs(int gpus) {
    long max = 0;
    for (JobOutcome j : jobs) {
      if (j.state() != null && j.job().wholeGpus() >= gpus) {
        max = Math.max(max, j.waitSeconds(endSeconds));
      }
    }
    return max;
  }

  /** Preemptions for priority or quota reclaim (stop requests the scheduler chose to make). */
  public int policyPreemptions() {
    return stops.getOrDefault(StopReason.PRIORITY, 0) + stops.getOrDefault(StopReason.QUOTA_RECLAIM, 0);
  }

  /**
   * Share received over entitlement per queue, over the loaded period: the sum of GPU-equivalents
   * held over the sum of the weighted max-min fair share, across samples (1.0 = got exactly its
   * entitlement; NaN when it never had demand).
   */
  public double[] shareOverEntitlement() {
    int n = queues.size();
    double[] got = new double[n];
    double[] ent = new double[n];
    for (Sample s : samples) {
      if (s.atSeconds() > lastArrivalSeconds) {
        continue;
      }
      for (int i = 0; i < n; i++) {
        got[i] += s.usedByQueue()[i];
        ent[i] += s.entitledByQueue()[i];
      }
    }
    double[] out = new double[n];
    for (int i = 0; i < n; i++) {
      out[i] = ent[i] == 0 ? Double.NaN : got[i] / ent[i];
    }
    return out;
  }

  /**
   * Jain's fairness index per window over the loaded period: {@code (sum x)^2 / (n sum x^2)} over
   * the queues with an entitlement in the window, with {@code x} = mean received / mean entitled in
   * the window. 1 = every queue got the same fraction of its entitlement. Windows with fewer than
   * two such queues are left out.
   *
   * @return {window start seconds, index} pairs
   */
  public List<double[]> jainByWindow() {
    List<double[]> out = new ArrayList<>();
    int n = queues.size();
    long window = windowSeconds;
    for (long start = 0; start < lastArrivalSeconds; start += window) {
      double[] got = new double[n];
      double[] ent = new double[n];
      for (Sample s : samples) {
        if (s.atSeconds() >= start && s.atSeconds() < start + window) {
          for (int i = 0; i < n; i++) {
            got[i] += s.usedByQueue()[i];
            ent[i] += s.entitledByQueue()[i];
          }
        }
      }
      double sum = 0;
      double sq = 0;
      int k = 0;
      for (int i = 0; i < n; i++) {
        if (ent[i] > 1e-9) {
          double x = got[i] / ent[i];
          sum += x;
          sq += x * x;
          k++;
        }
      }
      if (k >= 2 && sq > 0) {
        out.add(new double[] {start, sum * sum / (k * sq)});
      }
    }
    return out;
  }

  /** Mean of {@link #jainByWindow()}; 1 when there is no window with two queues. */
  public double meanJain() {
    List<double[]> w = jainByWindow();
    return w.isEmpty() ? 1 : w.stream().mapToDouble(x -> x[1]).average().orElse(1);
  }

  /** Minimum of {@link #jainByWindow()}; 1 when there is none. */
  public double minJain() {
    return jainByWindow().stream().mapToDouble(x -> x[1]).min().orElse(1);
  }

  /** Total cost. */
  public double totalCost() {
    return Arrays.stream(costByQueue).sum();
  }
}
