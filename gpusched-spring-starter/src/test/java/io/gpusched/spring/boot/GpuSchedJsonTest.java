package io.gpusched.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.Allocation;
import io.gpusched.Constraints;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.PlacementRequest;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.jackson.autoconfigure.JacksonAutoConfiguration;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import tools.jackson.databind.json.JsonMapper;

/**
 * Jobs and allocations through Spring Boot's own {@code JsonMapper}, as a controller returning them
 * gets them: views with the fields a person needs, and requests in words ({@link RequestText}).
 */
class GpuSchedJsonTest {
  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(JacksonAutoConfiguration.class, GpuSchedAutoConfiguration.class))
          .withPropertyValues(
              "gpusched.nodes[0].id=h100",
              "gpusched.nodes[0].model=H100-80GB",
              "gpusched.nodes[0].gpus=1",
              "gpusched.nodes[0].mode=mig-dynamic",
              "gpusched.nodes[0].price-per-gpu-hour=2",
              "gpusched.nodes[1].id=h200",
              "gpusched.nodes[1].model=H200-141GB",
              "gpusched.nodes[1].mode=shared");

  @Test
  void aJobHandleAndAnAllocationSerializeAsViews() {
    runner.run(
        ctx -> {
          GpuScheduler s = ctx.getBean(GpuScheduler.class);
          JobHandle mig = s.submit(JobSpec.builder(PlacementRequest.mig("3g.40gb")).id("m").metadata("owner", "ann").build());
          JobHandle share = s.submit(JobSpec.builder(PlacementRequest.share(300, 20 * 1024)).id("s").build());
          JobHandle big =
              s.submit(JobSpec.builder(PlacementRequest.wholeGpus(4, true)).id("big").priority(3).build());

          // the defect: without the module a plain mapper has nothing to write
          JsonMapper plain = JsonMapper.builder().build();
          assertThat(plain.writeValueAsString(mig.allocations().get(0))).isEqualTo("{\"active\":true}");

          JsonMapper boot = ctx.getBean(JsonMapper.class);
          String m = boot.writeValueAsString(mig);
          assertThat(m)
              .contains("\"id\":\"m\"", "\"queue\":\"default\"", "\"state\":\"RUNNING\"")
              .contains("\"request\":\"1 x H100-80GB 3g.40gb\"")
              .contains("\"node\":\"h100\"", "\"index\":0", "\"uuid\":\"GPU-h100-0\"")
              .contains("\"migProfile\":\"3g.40gb\"", "\"what\":\"3g.40gb at slot ")
              .contains("\"submittedAt\":\"" + mig.submittedAt() + "\"")
              .contains("\"attempts\":1", "\"cost\":", "\"metadata\":{\"owner\":\"ann\"}");
          assertThat(boot.writeValueAsString(share))
              .contains("\"request\":\"300 milli + 20 GiB of H200-141GB\"")
              .contains("\"what\":\"300 milli + 20 GiB\"");
          assertThat(boot.writeValueAsString(big))
              .contains("\"state\":\"PENDING\"", "\"pendingReason\":\"UNSCHEDULABLE\"")
              .contains("\"request\":\"4 x GPU, one node\"", "\"allocations\":[]", "\"priority\":3");
          Allocation a = share.allocations().get(0);
          assertThat(boot.writeValueAsString(a))
              .contains("\"active\":true", "\"node\":\"h200\"", "\"milliGpu\":300", "\"memoryMiB\":20480");
          assertThat(boot.writeValueAsString(java.util.List.of(mig, share))).startsWith("[{\"id\":\"m\"");
        });
  }

  @Test
  void requestsReadAsAPersonWritesThem() {
    assertThat(RequestText.of(PlacementRequest.wholeGpus(1))).isEqualTo("1 x GPU");
    assertThat(RequestText.of(PlacementRequest.wholeGpus(1).withConstraints(Constraints.minGpuMemoryGiB(40))))
        .isEqualTo("1 x GPU (GPU >= 40 GiB)");
    assertThat(RequestText.of(PlacementRequest.wholeGpus(8, true).withHost(64_000, 512 * 1024)))
        .isEqualTo("8 x GPU, one node + host 64 CPU, 512 GiB");
    assertThat(RequestText.of(PlacementRequest.mig("1g.10gb").withConstraints(Constraints.models("A100-80GB"))))
        .isEqualTo("1 x A100-80GB 1g.10gb");
    assertThat(RequestText.of(PlacementRequest.mig("1g.20gb").withoutStranding()))
        .isEqualTo("1 x 1g.20gb, no stranding");
    assertThat(RequestText.of(PlacementRequest.share(300, 20_000))).isEqualTo("300 milli + 19.5 GiB");
    assertThat(RequestText.of(PlacementRequest.share(250, 512).withHost(500, 0))).isEqualTo("250 milli + 512 MiB + host 0.5 CPU");
    assertThat(RequestText.of(PlacementRequest.wholeGpus(2).withConstraints(Constraints.NONE.withLabel("zone", "eu"))))
        .isEqualTo("2 x GPU where zone=eu");
  }
}
