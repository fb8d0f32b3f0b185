package io.gpusched.bench.workload;

import io.gpusched.NodeSpec;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.List;

/**
 * Node and pod lists in the CSV format of the Alibaba GPU-sharing trace ({@code
 * cluster-trace-gpu-v2023}, used by the FGD paper, Weng et al., USENIX ATC 2023).
 *
 * <p>Nodes: {@code sn,cpu_milli,memory_mib,gpu,model}. Pods: {@code
 * name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,...}; further columns are ignored. Columns
 * are found by header name, so their order does not matter. An empty value or {@code nan} in
 * {@code model} / {@code gpu_spec} means none.
 *
 * <p><b>Required and optional columns.</b> Nodes need {@code sn}, {@code gpu} and {@code model};
 * without {@code cpu_milli} / {@code memory_mib} a node does not track that host resource ({@link
 * NodeSpec#UNTRACKED}). Pods need {@code name} and {@code num_gpu}; a missing {@code cpu_milli} /
 * {@code memory_mib} column means no host request (0), a missing {@code gpu_milli} column means
 * whole GPUs (1000 per GPU, 0 for a pod without GPUs), and a missing {@code gpu_spec} column means
 * any model. So the published pod lists with only {@code name,cpu_milli,memory_mib,num_gpu,
 * gpu_milli} read as they are. A missing required column is an {@link IllegalArgumentException}
 * naming it and the columns found. (An empty value in a present column still reads as 0 or none.)
 *
 * <p>A source is a file path or {@code classpath:<resource>} (e.g. {@code
 * classpath:workloads/nodes-small.csv}, shipped in the benchmarks jar).
 */
public final class Trace {
  private Trace() {}

  /** Prefix of a source read from the classpath instead of the file system. */
  public static final String CLASSPATH = "classpath:";

  /** Node header, in the order {@link #writeNodes} writes it. */
  public static final String NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model";

  /** Pod header, in the order {@link #writePods} writes it. */
  public static final String POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec";

  /**
   * One node row.
   *
   * @param sn node name
   * @param cpuMilli host CPU in milli-cores, {@link NodeSpec#UNTRACKED} when the list has none
   * @param memoryMib host memory in MiB, {@link NodeSpec#UNTRACKED} when the list has none
   * @param gpus GPU count, may be 0
   * @param model GPU model name, empty when the node has no GPU
   */
  public record NodeRow(String sn, long cpuMilli, long memoryMib, int gpus, String model) {}

  /**
   * One pod row.
   *
   * @param name pod name
   * @param cpuMilli CPU request in milli-cores
   * @param memoryMib memory request in MiB
   * @param numGpu GPUs requested, 0..8
   * @param gpuMilli share per GPU in milli when {@code numGpu == 1} (1000 = whole GPU)
   * @param gpuSpec allowed GPU models separated by {@code |}, empty for any
   */
  public record PodRow(
      String name, long cpuMilli, long memoryMib, int numGpu, int gpuMilli, String gpuSpec) {

    /** GPU milli this pod requests: {@code gpuMilli} for one GPU, {@code 1000 * numGpu} else. */
    public long requestedGpuMilli() {
      if (numGpu == 0) {
        return 0;
      }
      return numGpu == 1 ? gpuMilli : 1000L * numGpu;
    }

    /** The allowed model names, empty for any. */
    public List<String> allowedModels() {
      if (gpuSpec.isEmpty()) {
        return List.of();
      }
      List<String> out = new ArrayList<>();
      for (String s : gpuSpec.split("\\|", -1)) {
        if (!s.isBlank()) {
          out.add(s.trim());
        }
      }
      return out;
    }
  }

  /** Reads a node list from a file or {@code classpath:} source. */
  public static List<NodeRow> readNodes(String source) {
    try (Reader r = CsvTable.open(source)) {
      return readNodes(r);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read nodes from " + source, e);
    }
  }

  /** Reads a pod list from a file or {@code classpath:} source. */
  public static List<PodRow> readPods(String source) {
    try (Reader r = CsvTable.open(source)) {
      return readPods(r);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read pods from " + source, e);
    }
  }

  /**
   * Reads a node list.
   *
   * @throws IllegalArgumentException on a missing column or a malformed row (with its line number)
   */
  public static List<NodeRow> readNodes(Reader reader) throws IOException {
    List<NodeRow> out = new ArrayList<>();
    CsvTable t = new CsvTable(reader, "sn", "gpu", "model");
    boolean cpu = t.has("cpu_milli");
    boolean mem = t.has("memory_mib");
    String[] f;
    while ((f = t.next()) != null) {
      try {
        int gpus = (int) num(t.get(f, "gpu"));
        String model = text(t.get(f, "model"));
        out.add(
            new NodeRow(
                t.get(f, "sn"),
                cpu ? num(t.get(f, "cpu_milli")) : NodeSpec.UNTRACKED,
                mem ? num(t.get(f, "memory_mib")) : NodeSpec.UNTRACKED,
                gpus,
                gpus == 0 ? "" : model));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("node list line " + t.line() + ": " + e.getMessage(), e);
      }
    }
    return out;
  }

  /**
   * Reads a pod list.
   *
   * @throws IllegalArgumentException on a missing column or a malformed row (with its line number)
   */
  public static List<PodRow> readPods(Reader reader) throws IOException {
    List<PodRow> out = new ArrayList<>();
    CsvTable t = new CsvTable(reader, "name", "num_gpu");
    boolean cpu = t.has("cpu_milli");
    boolean mem = t.has("memory_mib");
    boolean share = t.has("gpu_milli");
    boolean spec = t.has("gpu_spec");
    String[] f;
    while ((f = t.next()) != null) {
      try {
        int numGpu = (int) num(t.get(f, "num_gpu"));
        out.add(
            new PodRow(
                t.get(f, "name"),
                cpu ? num(t.get(f, "cpu_milli")) : 0,
                mem ? num(t.get(f, "memory_mib")) : 0,
                numGpu,
                share ? (int) num(t.get(f, "gpu_milli")) : numGpu == 0 ? 0 : 1000,
                spec ? text(t.get(f, "gpu_spec")) : ""));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("pod list line " + t.line() + ": " + e.getMessage(), e);
      }
    }
    return out;
  }

  /** Writes a node list with {@link #NODE_HEADER}. */
  public static void writeNodes(List<NodeRow> nodes, Writer w) throws IOException {
    w.write(NODE_HEADER + "\n");
    for (NodeRow n : nodes) {
      w.write(n.sn() + "," + n.cpuMilli() + "," + n.memoryMib() + "," + n.gpus() + "," + n.model()
          + "\n");
    }
    w.flush();
  }

  /** Writes a pod list with {@link #POD_HEADER}. */
  public static void writePods(List<PodRow> pods, Writer w) throws IOException {
    w.write(POD_HEADER + "\n");
    for (PodRow p : pods) {
      w.write(p.name() + "," + p.cpuMilli() + "," + p.memoryMib() + "," + p.numGpu() + ","
          + p.gpuMilli() + "," + p.gpuSpec() + "\n");
    }
    w.flush();
  }

  private static long num(String s) {
    String v = s.trim();
    if (v.isEmpty() || v.equalsIgnoreCase("nan")) {
      return 0;
    }
    if (v.contains(".")) { // some exports write 1000.0
      return Math.round(Double.parseDouble(v));
    }
    return Long.parseLong(v);
  }

  private static String text(String s) {
    String v = s.trim();
    return v.equalsIgnoreCase("nan") || v.equalsIgnoreCase("none") ? "" : v;
  }
}
