package io.gpusched;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * When a GPU or MIG device counts as idle.
 *
 * <p>A single reading is <em>idle-looking</em> when it is fresh (at most {@link #maxSampleAge()}
 * old, and at most {@code maxSampleAge} ahead of the evaluation time: a reading dated further in
 * the future, from a skewed clock, is not evidence of anything now), not {@linkplain
 * GpuSample#lost() lost}, and:
 *
 * <ul>
 *   <li>for a device that reports utilization: utilization &le; {@link #maxUtilizationPercent()}
 *       and, if {@link #requireNoProcesses()}, a known and empty process list;
 *   <li>for a device that reports no utilization (NVML MIG devices): a known and empty process
 *       list and memory used &le; {@link #maxMemoryUsedMiBWithoutUtilization()} (when memory is
 *       reported). Without a process list such a device is never idle.
 * </ul>
 *
 * <p>A device is <em>idle</em> when its readings have been idle-looking without a break for at
 * least {@link #window()}: a busy, lost or stale reading, or a gap between readings longer than
 * {@code maxSampleAge}, restarts the window. Missing telemetry therefore never counts as idle.
 *
 * <p>Immutable and thread-safe; the evaluation methods are pure functions of their arguments.
 *
 * @param maxUtilizationPercent highest utilization (0..100) that still counts as idle
 * @param window how long readings must stay idle-looking (positive)
 * @param requireNoProcesses whether a device with utilization readings must also have no process
 * @param maxMemoryUsedMiBWithoutUtilization memory (MiB, &ge; 0) a device without utilization
 *     readings may use and still be idle (the driver's own reservation shows up as used)
 * @param maxSampleAge how old the newest reading may be, and the longest gap between readings
 *     (positive)
 */
public record IdlePolicy(
    int maxUtilizationPercent,
    Duration window,
    boolean requireNoProcesses,
    long maxMemoryUsedMiBWithoutUtilization,
    Duration maxSampleAge) {

  /**
   * Defaults: utilization &le; 5 % for 30 minutes, processes not required to be absent, MIG devices
   * idle below 1 GiB used and without processes, readings at most 2 minutes apart.
   */
  public static final IdlePolicy DEFAULT =
      new IdlePolicy(5, Duration.ofMinutes(30), false, 1024, Duration.ofMinutes(2));

  /**
   * Validates the components.
   *
   * @throws IllegalArgumentException naming the bad component
   */
  public IdlePolicy {
    if (maxUtilizationPercent < 0 || maxUtilizationPercent > 100) {
      throw new IllegalArgumentException(
          "maxUtilizationPercent must be in 0..100, was " + maxUtilizationPercent);
    }
    positive(window, "window");
    positive(maxSampleAge, "maxSampleAge");
    Checks.requireNonNegative(
        maxMemoryUsedMiBWithoutUtilization, "maxMemoryUsedMiBWithoutUtilization");
  }

  private static void positive(Duration d, String what) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive, was " + d);
    }
    Checks.requireAtMostMax(d, what);
  }

  /**
   * Returns whether {@code now - then > limit} in exact arithmetic: a difference that overflows a
   * long (a reading at {@code Long.MIN_VALUE} seen at {@code Long.MAX_VALUE}) is very old when
   * {@code now > then}, never fresh.
   */
  private static boolean olderThan(long now, long then, long limit) {
    long age = now - then;
    boolean overflow = ((now ^ then) & (now ^ age)) < 0;
    return overflow ? now > then : age > limit;
  }

  /** Returns a copy with another window. */
  public IdlePolicy withWindow(Duration window) {
    return new IdlePolicy(
        maxUtilizationPercent,
        window,
        requireNoProcesses,
        maxMemoryUsedMiBWithoutUtilization,
        maxSampleAge);
  }

  /**
   * Returns whether one reading looks idle at {@code nowMillis} (see the class comment).
   *
   * @param sample the reading
   * @param nowMillis the current time, epoch milliseconds
   */
  public boolean looksIdle(GpuSample sample, long nowMillis) {
    long limit = maxSampleAge.toMillis();
    if (sample.lost()
        || olderThan(nowMillis, sample.timestampMillis(), limit)
        || olderThan(sample.timestampMillis(), nowMillis, limit)) { // dated too far ahead
      return false;
    }
    var processes = sample.processes();
    if (sample.utilizationPercent() != GpuSample.UNAVAILABLE) {
      if (sample.utilizationPercent() > maxUtilizationPercent) {
        return false;
      }
      return !requireNoProcesses || (processes != null && processes.isEmpty());
    }
    if (processes == null || !processes.isEmpty()) {
      return false;
    }
    return sample.memoryUsedMiB() == GpuSample.UNAVAILABLE
        || sample.memoryUsedMiB() <= maxMemoryUsedMiBWithoutUtilization;
  }

  /**
   * Returns since when a device has been idle-looking without a break, given its readings.
   *
   * @param historyOldestFirst readings of one device, oldest first (as {@link
   *     GpuTelemetry#history} returns them)
   * @param nowMillis the current time, epoch milliseconds
   * @return the timestamp of the first reading of the current unbroken idle-looking run, or empty
   *     when the newest reading is not idle-looking (or there is none)
   */
  public OptionalLong idleSince(List<GpuSample> historyOldestFirst, long nowMillis) {
    long maxGap = maxSampleAge.toMillis();
    long since = 0;
    boolean found = false; // no sentinel: a reading may be taken at Long.MIN_VALUE
    long next = nowMillis;
    for (int i = historyOldestFirst.size() - 1; i >= 0; i--) {
      GpuSample s = historyOldestFirst.get(i);
      if (olderThan(next, s.timestampMillis(), maxGap)
          || olderThan(s.timestampMillis(), next, maxGap) // ahead of now, or of the next reading
          || !looksIdle(s, s.timestampMillis())) {
        break;
      }
      since = s.timestampMillis();
      found = true;
      next = s.timestampMillis();
    }
    return found ? OptionalLong.of(since) : OptionalLong.empty();
  }

  /**
   * Returns whether the readings show the device idle for at least {@link #window()}.
   *
   * @param historyOldestFirst readings of one device, oldest first
   * @param nowMillis the current time, epoch milliseconds
   */
  public boolean isIdle(List<GpuSample> historyOldestFirst, long nowMillis) {
    OptionalLong since = idleSince(historyOldestFirst, nowMillis);
    return since.isPresent() && olderThan(nowMillis, since.getAsLong(), window.toMillis() - 1);
  }
}
