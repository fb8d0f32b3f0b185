package io.gpusched.bench.sim;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuMode;
import io.gpusched.GpuProcess;
import io.gpusched.GpuSample;
import io.gpusched.GpuTelemetry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Scripted telemetry of the simulated GPUs: a device (GPU or MIG instance) is busy while any job on
 * it is busy; an interactive job goes idle {@link SimJob#idleAfterSeconds()} into its run and stays
 * idle. Readings are taken every {@code periodMillis} of simulated time. Busy devices report 85%
 * utilization and one process; idle ones 0% and (MIG instances, which report no utilization, as on
 * NVML) no process. Devices without a job report nothing.
 */
final class SimTelemetry implements GpuTelemetry {
  private static final int MAX_HISTORY = 512;

  private final SimClock clock;
  private final long periodMillis;
  private final Map<String, List<Simulator.Run>> byDevice = new HashMap<>();
  private final Map<String, Boolean> migDevice = new HashMap<>();

  SimTelemetry(SimClock clock, long periodMillis) {
    this.clock = clock;
    this.periodMillis = periodMillis;
  }

  private static String key(String uuid, int slot) {
    return uuid + "#" + slot;
  }

  private static String key(AllocatedGpu g) {
    return key(g.gpuUuid(), g.mode() == GpuMode.MIG_DYNAMIC || g.mode() == GpuMode.MIG_STATIC
        ? g.migStartSlot() : GpuSample.WHOLE_GPU);
  }

  void attach(Simulator.Run r, List<AllocatedGpu> gpus) {
    for (AllocatedGpu g : gpus) {
      String k = key(g);
      byDevice.computeIfAbsent(k, x -> new ArrayList<>()).add(r);
      migDevice.put(k, g.migProfile() != null);
    }
  }

  void detach(Simulator.Run r, List<AllocatedGpu> gpus) {
    for (AllocatedGpu g : gpus) {
      String k = key(g);
      List<Simulator.Run> l = byDevice.get(k);
      if (l != null) {
        l.remove(r);
        if (l.isEmpty()) {
          byDevice.remove(k);
        }
      }
    }
  }

  /** Since when all jobs on the device are idle (absolute millis), or MAX_VALUE if busy. */
  private long idleSince(List<Simulator.Run> runs) {
    long since = Long.MIN_VALUE;
    for (Simulator.Run r : runs) {
      since = Math.max(since, r.idleAtMillis());
    }
    return since;
  }

  private long lastReading() {
    long now = clock.millis();
    return now - Math.floorMod(now, periodMillis);
  }

  @Override
  public Optional<GpuSample> latest(String gpuUuid, int migStartSlot) {
    String k = key(gpuUuid, migStartSlot);
    List<Simulator.Run> runs = byDevice.get(k);
    if (runs == null || runs.isEmpty()) {
      return Optional.empty();
    }
    long ts = lastReading();
    return Optional.of(sample(gpuUuid, migStartSlot, ts, idleSince(runs) <= ts, Boolean.TRUE.equals(migDevice.get(k))));
  }

  @Override
  public List<GpuSample> history(String gpuUuid, int migStartSlot, long sinceMillis) {
    String k = key(gpuUuid, migStartSlot);
    List<Simulator.Run> runs = byDevice.get(k);
    if (runs == null || runs.isEmpty()) {
      return List.of();
    }
    long last = lastReading();
    long idle = idleSince(runs);
    boolean mig = Boolean.TRUE.equals(migDevice.get(k));
    if (idle > last) {
      return last >= sinceMillis ? List.of(sample(gpuUuid, migStartSlot, last, false, mig)) : List.of();
    }
    long from = Math.max(sinceMillis, idle);
    from = Math.max(from, last - (MAX_HISTORY - 1) * periodMillis);
    long first = from + Math.floorMod(-from, periodMillis); // first reading at or after from
    List<GpuSample> out = new ArrayList<>();
    for (long t = first; t <= last; t += periodMillis) {
      out.add(sample(gpuUuid, migStartSlot, t, true, mig));
    }
    return List.copyOf(out);
  }

  private static GpuSample sample(String uuid, int slot, long ts, boolean idle, boolean mig) {
    GpuSample.Builder b = GpuSample.builder(uuid, ts).migStartSlot(slot).memory(idle ? 0 : 8_192, 81_920);
    if (mig) {
      b.processes(idle ? List.of() : List.of(new GpuProcess(4242, 8_192)));
    } else {
      b.utilizationPercent(idle ? 0 : 85).processes(List.of(new GpuProcess(4242, 8_192)));
    }
    return b.build();
  }
}
