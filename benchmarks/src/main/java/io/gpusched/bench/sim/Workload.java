package io.gpusched.bench.sim;

import io.gpusched.bench.workload.CsvTable;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A simulated workload: jobs sorted by arrival, read from and written to CSV.
 *
 * <p>CSV columns (by header name, any order; {@code #} starts a comment line): {@code
 * id,arrival_s,queue,priority,kind,request,model,gang,duration_s,estimate_s,preemptible,interactive,idle_after_s}.
 * Only {@code id, arrival_s, queue, request, duration_s} are required; the others default to
 * priority 0, kind {@code job}, any model, gang 1, no estimate, not preemptible, not interactive,
 * never idle. See {@link SimJob} for the meaning and {@link SimJob#parseRequest} for {@code
 * request}. A small workload ships as {@value #SHIPPED}.
 *
 * @param jobs the jobs, sorted by arrival (ties keep file order)
 */
public record Workload(List<SimJob> jobs) {

  /** The workload the demo and tests use, in the benchmarks jar. */
  public static final String SHIPPED = "classpath:workloads/sim-small.csv";

  /** Header {@link #write} writes. */
  public static final String HEADER =
      "id,arrival_s,queue,priority,kind,request,model,gang,duration_s,estimate_s,preemptible,"
          + "interactive,idle_after_s";

  /** Sorts and copies; ids must be unique. */
  public Workload {
    List<SimJob> sorted = new ArrayList<>(jobs);
    sorted.sort(Comparator.comparingLong(SimJob::arrivalSeconds));
    Set<String> ids = new HashSet<>();
    for (SimJob j : sorted) {
      if (!ids.add(j.id())) {
        throw new IllegalArgumentException("duplicate job id " + j.id());
      }
    }
    jobs = List.copyOf(sorted);
  }

  /** Returns the queue names in order of first appearance. */
  public List<String> queues() {
    List<String> out = new ArrayList<>();
    for (SimJob j : jobs) {
      if (!out.contains(j.queue())) {
        out.add(j.queue());
      }
    }
    return out;
  }

  /** Returns the arrival time of the last job, seconds. */
  public long lastArrivalSeconds() {
    return jobs.isEmpty() ? 0 : jobs.get(jobs.size() - 1).arrivalSeconds();
  }

  /** Returns the GPU-seconds of work the jobs ask for (GPU-equivalents x duration). */
  public double gpuSeconds() {
    double s = 0;
    for (SimJob j : jobs) {
      s += j.gpuEquivalents() * j.durationSeconds();
    }
    return s;
  }

  /** Reads a workload from a file path or a {@code classpath:} resource. */
  public static Workload read(String source) {
    try (Reader r = CsvTable.open(source)) {
      return read(r);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read workload " + source, e);
    }
  }

  /**
   * Reads a workload.
   *
   * @throws IllegalArgumentException on a missing column or a malformed row, with its line
   */
  public static Workload read(Reader reader) throws IOException {
    CsvTable t = new CsvTable(reader, "id", "arrival_s", "queue", "request", "duration_s");
    List<SimJob> jobs = new ArrayList<>();
    String[] f;
    while ((f = t.next()) != null) {
      try {
        jobs.add(
            new SimJob(
                t.get(f, "id").trim(),
                Long.parseLong(t.get(f, "arrival_s").trim()),
                t.get(f, "queue").trim(),
                Integer.parseInt(t.get(f, "priority", "0")),
                t.get(f, "kind", "job"),
                t.get(f, "request").trim(),
                t.get(f, "model", ""),
                Integer.parseInt(t.get(f, "gang", "1")),
                Long.parseLong(t.get(f, "duration_s").trim()),
                Long.parseLong(t.get(f, "estimate_s", "0")),
                Boolean.parseBoolean(t.get(f, "preemptible", "false")),
                Boolean.parseBoolean(t.get(f, "interactive", "false")),
                Long.parseLong(t.get(f, "idle_after_s", "0"))));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("workload line " + t.line() + ": " + e.getMessage(), e);
      }
    }
    return new Workload(jobs);
  }

  /** Writes the workload with {@link #HEADER}. */
  public void write(Writer w) throws IOException {
    w.write(HEADER + "\n");
    for (SimJob j : jobs) {
      w.write(
          String.join(
                  ",",
                  j.id(),
                  Long.toString(j.arrivalSeconds()),
                  j.queue(),
                  Integer.toString(j.priority()),
                  j.kind(),
                  j.request(),
                  j.model(),
                  Integer.toString(j.gang()),
                  Long.toString(j.durationSeconds()),
                  Long.toString(j.estimateSeconds()),
                  Boolean.toString(j.preemptible()),
                  Boolean.toString(j.interactive()),
                  Long.toString(j.idleAfterSeconds()))
              + "\n");
    }
    w.flush();
  }
}
