package io.gpusched.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.bench.workload.Trace;
import io.gpusched.bench.workload.Trace.NodeRow;
import io.gpusched.bench.workload.Trace.PodRow;
import io.gpusched.NodeSpec;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TraceTest {

  @Test
  void readsNodesWithZeroGpusAndNan() throws Exception {
    String csv =
        "sn,cpu_milli,memory_mib,gpu,model\n"
            + "openb-node-0227,32000,262144,0,nan\n"
            + "\n"
            + "openb-node-0228,128000,786432,8,G3\n";
    List<NodeRow> nodes = Trace.readNodes(new StringReader(csv));
    assertThat(nodes)
        .containsExactly(
            new NodeRow("openb-node-0227", 32000, 262144, 0, ""),
            new NodeRow("openb-node-0228", 128000, 786432, 8, "G3"));
  }

  @Test
  void readsPodsByHeaderNameAndIgnoresFurtherColumns() throws Exception {
    String csv =
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time\n"
            + "openb-pod-0017,88000,327680,8,1000,,Burstable,Succeeded,9437497\n"
            + "openb-pod-0035,16000,32768,1,1000,V100M16|V100M32,LS,Running,9967058\n"
            + "openb-pod-0022,4000,15258,1,220,nan,BE,Running,9679175\n"
            + "openb-pod-0005,20000,65536,0,0,,LS,Running,2759674\n";
    List<PodRow> pods = Trace.readPods(new StringReader(csv));
    assertThat(pods).hasSize(4);
    assertThat(pods.get(0)).isEqualTo(new PodRow("openb-pod-0017", 88000, 327680, 8, 1000, ""));
    assertThat(pods.get(0).requestedGpuMilli()).isEqualTo(8000);
    assertThat(pods.get(1).allowedModels()).containsExactly("V100M16", "V100M32");
    assertThat(pods.get(2).gpuSpec()).isEmpty();
    assertThat(pods.get(2).requestedGpuMilli()).isEqualTo(220);
    assertThat(pods.get(3).requestedGpuMilli()).isZero();
  }

  @Test
  void columnOrderDoesNotMatter() throws Exception {
    String csv = "gpu_spec,gpu_milli,num_gpu,memory_mib,cpu_milli,name\nT4,500,1,1024,2000,p1\n";
    assertThat(Trace.readPods(new StringReader(csv)))
        .containsExactly(new PodRow("p1", 2000, 1024, 1, 500, "T4"));
  }

  @Test
  void podListWithoutOptionalColumnsReads() throws Exception {
    // the shape of published pod lists: no gpu_spec column
    String csv =
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli\n"
            + "p1,2000,1024,1,500\n"
            + "p2,4000,2048,2,1000\n";
    assertThat(Trace.readPods(new StringReader(csv)))
        .containsExactly(
            new PodRow("p1", 2000, 1024, 1, 500, ""), new PodRow("p2", 4000, 2048, 2, 1000, ""));
    // only the truly required columns: no host request, whole GPUs
    String minimal = "num_gpu,name\n1,p3\n";
    assertThat(Trace.readPods(new StringReader(minimal)))
        .containsExactly(new PodRow("p3", 0, 0, 1, 1000, ""));
    assertThat(Trace.readPods(new StringReader("name,num_gpu\nc,0\n")))
        .containsExactly(new PodRow("c", 0, 0, 0, 0, ""));
  }

  @Test
  void nodeListWithoutHostColumnsIsUntracked() throws Exception {
    assertThat(Trace.readNodes(new StringReader("sn,gpu,model\nn1,8,T4\n")))
        .containsExactly(new NodeRow("n1", NodeSpec.UNTRACKED, NodeSpec.UNTRACKED, 8, "T4"));
  }

  @Test
  void missingRequiredColumnIsNamedWithTheColumnsFound() {
    assertThatThrownBy(
            () -> Trace.readPods(new StringReader("name,cpu_milli,memory_mib,gpu_milli\np,1,1,1\n")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("num_gpu")
        .hasMessageContaining("name, cpu_milli, memory_mib, gpu_milli");
    assertThatThrownBy(() -> Trace.readNodes(new StringReader("cpu_milli,gpu,model\n")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("sn")
        .hasMessageContaining("cpu_milli, gpu, model");
  }

  @Test
  void fillExperimentRunsOnAPodListWithoutGpuSpec(@TempDir Path dir) throws Exception {
    Path nodes = dir.resolve("nodes.csv");
    Path pods = dir.resolve("pods.csv");
    Files.writeString(nodes, "sn,cpu_milli,memory_mib,gpu,model\nn1,64000,262144,4,T4\n");
    Files.writeString(
        pods, "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np1,1000,1024,1,500\np2,1000,1024,2,1000\n");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int rc =
        FillExperiment.cli(
            new String[] {"--nodes", nodes.toString(), "--pods", pods.toString(), "--tune", "1.0"},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    assertThat(rc).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("SUMMARY").contains(",100,");
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("2 GPU pods used");
  }

  @Test
  void reportsMissingColumnsAndBadRows() {
    assertThatThrownBy(() -> Trace.readNodes(new StringReader("sn,cpu_milli,memory_mib,gpu\n")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("model");
    String bad = "sn,cpu_milli,memory_mib,gpu,model\nn1,1000,1024,2,T4\nn2,lots,1024,2,T4\n";
    assertThatThrownBy(() -> Trace.readNodes(new StringReader(bad)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("line 3");
  }

  @Test
  void writeThenReadRoundTrips() throws Exception {
    List<NodeRow> nodes = List.of(new NodeRow("a", 1000, 2048, 2, "T4"), new NodeRow("b", 1, 2, 0, ""));
    List<PodRow> pods = List.of(new PodRow("p", 1000, 2048, 1, 250, "T4|P100"));
    StringWriter nw = new StringWriter();
    StringWriter pw = new StringWriter();
    Trace.writeNodes(nodes, nw);
    Trace.writePods(pods, pw);
    assertThat(nw.toString()).startsWith(Trace.NODE_HEADER + "\n");
    assertThat(Trace.readNodes(new StringReader(nw.toString()))).isEqualTo(nodes);
    assertThat(Trace.readPods(new StringReader(pw.toString()))).isEqualTo(pods);
  }

  @Test
  void shippedSmallWorkloadLoadsFromClasspath() {
    List<NodeRow> nodes = Trace.readNodes("classpath:workloads/nodes-small.csv");
    List<PodRow> pods = Trace.readPods("classpath:workloads/pods-small.csv");
    assertThat(nodes).hasSize(60);
    assertThat(pods).hasSize(2000);
    assertThatThrownBy(() -> Trace.readNodes("classpath:workloads/nope.csv"))
        .hasMessageContaining("nope.csv");
  }
}
