package io.gpusched.bench.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuDemand;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class WorkloadTest {

  @Test
  void generatorIsDeterministicAndRealistic() {
    Workload a = WorkloadGenerator.generate(36, 1.0, 7);
    Workload b = WorkloadGenerator.generate(36, 1.0, 7);
    assertThat(a).isEqualTo(b);
    assertThat(WorkloadGenerator.generate(36, 1.0, 8)).isNotEqualTo(a);
    assertThat(a.jobs()).extracting(SimJob::kind)
        .contains("notebook", "train-short", "train-long", "gang-16", "inference");
    assertThat(a.jobs()).anyMatch(j -> j.wholeGpus() == 16 && j.gang() == 2);
    assertThat(a.jobs()).anyMatch(j -> j.request().startsWith("mig:"));
    assertThat(a.jobs()).anyMatch(j -> j.interactive() && j.idleAfterSeconds() > 0);
    // over a long span, the offered H100 work matches the documented per-job mean within 10%
    Workload year = WorkloadGenerator.generate(24 * 200, 1.0, 11);
    double h100Hours = 0;
    for (SimJob j : year.jobs()) {
      if (j.model().equals("H100-80GB")) {
        h100Hours += j.gpuEquivalents() * j.durationSeconds() / 3_600.0;
      }
    }
    assertThat(h100Hours / year.jobs().size())
        .isBetween(0.9 * WorkloadGenerator.H100_GPU_HOURS_PER_JOB, 1.1 * WorkloadGenerator.H100_GPU_HOURS_PER_JOB);
  }

  @Test
  void shippedFileIsTheGeneratorsOutput() {
    Workload shipped = Workload.read(Workload.SHIPPED);
    assertThat(shipped).isEqualTo(WorkloadGenerator.generate(36, 1.0, 7));
    assertThat(shipped.queues()).containsExactlyInAnyOrder("research", "product", "notebooks");
  }

  @Test
  void csvRoundTrip() throws IOException {
    Workload w = WorkloadGenerator.generate(6, 1.0, 1);
    StringWriter out = new StringWriter();
    w.write(out);
    assertThat(Workload.read(new StringReader(out.toString()))).isEqualTo(w);
  }

  @Test
  void optionalColumnsDefaultAndErrorsNameTheLine() throws IOException {
    Workload w = Workload.read(new StringReader(
        "# comment\nid,arrival_s,queue,request,duration_s\nx,5,q,mig:3g.40gb,60\ny,1,q,share:250:4096,30\n"));
    assertThat(w.jobs()).extracting(SimJob::id).containsExactly("y", "x");
    SimJob x = w.jobs().get(1);
    assertThat(x.gang()).isEqualTo(1);
    assertThat(x.preemptible()).isFalse();
    assertThat(x.gpuEquivalents()).isEqualTo(3.0 / 7);
    assertThat(w.jobs().get(0).gpuEquivalents()).isEqualTo(0.25);
    assertThatThrownBy(() -> Workload.read(new StringReader(
        "id,arrival_s,queue,request,duration_s\nx,5,q,gpu:1,60\nz,5,q,tpu:1,60\n")))
        .hasMessageContaining("line 3").hasMessageContaining("tpu:1");
  }

  @Test
  void parsesRequests() {
    assertThat(SimJob.parseRequest("gpu:8:node").gpus()).isEqualTo(new GpuDemand.Whole(8, true));
    assertThat(SimJob.parseRequest("gpu:2").gpus()).isEqualTo(new GpuDemand.Whole(2, false));
    assertThat(SimJob.parseRequest("mig:1g.10gb").gpus()).isEqualTo(new GpuDemand.Mig("1g.10gb"));
    assertThat(SimJob.parseRequest("share:300:8192").gpus()).isEqualTo(new GpuDemand.Share(300, 8192));
    assertThatThrownBy(() -> SimJob.parseRequest("gpu:x")).isInstanceOf(IllegalArgumentException.class);
  }
}
