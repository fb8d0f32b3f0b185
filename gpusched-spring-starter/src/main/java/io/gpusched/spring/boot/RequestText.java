package io.gpusched.spring.boot;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.CapacityClass;
import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.PlacementRequest;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * A placement request as a person writes it: {@code "1 x H100-80GB 3g.40gb"}, {@code "300 milli +
 * 20 GiB"}, {@code "4 x GPU, one node"}, instead of the records' {@code toString}.
 */
public final class RequestText {
  private RequestText() {}

  /**
   * Describes a request: the GPU demand, then host resources and constraints when there are any.
   *
   * @param request the request
   * @return e.g. {@code "2 x A100-80GB, one node + host 8 CPU, 64 GiB"}
   */
  public static String of(PlacementRequest request) {
    return of(request, List.of());
  }

  /**
   * Describes a request, naming the GPU model from its allocations when the request left it open
   * (a {@code 3g.40gb} placed on an H100 reads {@code "1 x H100-80GB 3g.40gb"}).
   *
   * @param request the request
   * @param allocations what it was given (empty while pending)
   * @return the description
   */
  public static String of(PlacementRequest request, List<Allocation> allocations) {
    return ofGpus(request, allocations.stream().flatMap(a -> a.gpus().stream()).toList());
  }

  /**
   * Describes a request, naming the GPU model from the GPUs it was given when the request left it
   * open; for a job that has ended, pass the GPUs of its last start ({@code
   * SchedulerEvent.JobStarted.gpus()}).
   *
   * @param request the request
   * @param gpus the GPUs it was given (empty when none)
   * @return the description
   */
  public static String ofGpus(PlacementRequest request, List<AllocatedGpu> gpus) {
    Constraints c = request.constraints();
    String models =
        !c.gpuModels().isEmpty()
            ? String.join("|", c.gpuModels().stream().sorted().toList())
            : gpus.stream().map(AllocatedGpu::model).distinct().collect(Collectors.joining("|"));
    StringBuilder b = new StringBuilder();
    GpuDemand d = request.gpus();
    if (d instanceof GpuDemand.Whole w) {
      b.append(w.count()).append(" x ").append(models.isEmpty() ? "GPU" : models);
      if (w.sameNode() && w.count() > 1) {
        b.append(", one node");
      }
    } else if (d instanceof GpuDemand.Mig m) {
      b.append("1 x ").append(models.isEmpty() ? "" : models + " ").append(m.profile());
      if (m.noStranding()) {
        b.append(", no stranding");
      }
    } else if (d instanceof GpuDemand.Share s) {
      b.append(s.milliGpu()).append(" milli");
      if (s.memoryMiB() > 0) {
        b.append(" + ").append(mebibytes(s.memoryMiB()));
      }
      if (!models.isEmpty()) {
        b.append(" of ").append(models);
      }
    }
    if (c.minGpuMemoryMiB() > 0) {
      b.append(" (GPU >= ").append(mebibytes(c.minGpuMemoryMiB())).append(')');
    }
    if (request.cpuMillis() > 0 || request.memoryMiB() > 0) {
      b.append(" + host");
      if (request.cpuMillis() > 0) {
        b.append(' ').append(number(request.cpuMillis() / 1000.0)).append(" CPU");
      }
      if (request.memoryMiB() > 0) {
        b.append(request.cpuMillis() > 0 ? ", " : " ").append(mebibytes(request.memoryMiB()));
      }
    }
    if (!c.labels().isEmpty()) {
      b.append(" where ")
          .append(c.labels().entrySet().stream()
              .sorted(java.util.Map.Entry.comparingByKey())
              .map(e -> e.getKey() + "=" + e.getValue())
              .collect(Collectors.joining(", ")));
    }
    if (!c.capacityClasses().isEmpty()) {
      b.append(" on ")
          .append(c.capacityClasses().stream()
              .map(CapacityClass::name)
              .map(n -> n.toLowerCase(Locale.ROOT).replace('_', '-'))
              .sorted()
              .collect(Collectors.joining("|")));
    }
    return b.toString();
  }

  /** {@code 20480} reads {@code "20 GiB"}, {@code 20000} {@code "19.5 GiB"}, {@code 512} {@code "512 MiB"}. */
  static String mebibytes(long mib) {
    if (mib < 1024) {
      return mib + " MiB";
    }
    return number(mib / 1024.0) + " GiB";
  }

  /** At most one decimal, none when whole. */
  private static String number(double v) {
    double r = Math.round(v * 10) / 10.0;
    return r == Math.rint(r) ? Long.toString((long) r) : String.format(Locale.ROOT, "%.1f", r);
  }
}
