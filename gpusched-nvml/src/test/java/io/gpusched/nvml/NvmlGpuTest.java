package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuModels;
import io.gpusched.GpuSpec;
import io.gpusched.NodeSpec;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * Runs against the real {@code libnvidia-ml.so.1}; skipped where NVML is not available. Read-only.
 */
@Tag("gpu")
@EnabledIf("io.gpusched.nvml.Nvml#isAvailable")
class NvmlGpuTest {

  @Test
  void readsTheLocalNode() {
    NodeSpec node = NvmlInventory.local().readNode("local");

    assertThat(node.gpus()).isNotEmpty();
    assertThat(node.labels().get(NvmlInventory.DRIVER_LABEL)).isNotBlank();
    for (GpuSpec gpu : node.gpus()) {
      assertThat(gpu.uuid()).startsWith("GPU-");
    }
  }

  @Test
  void devicesHaveNamesBusIdsAndMemory() {
    for (NvmlDevice d : NvmlInventory.local().readDevices()) {
      assertThat(d.nvmlName()).isNotBlank();
      assertThat(d.memoryTotalBytes()).isPositive();
      if (d.nvmlName().equals("NVIDIA H100 80GB HBM3")) {
        assertThat(d.model().name()).isEqualTo(GpuModels.H100_80GB.name());
      }
    }
  }

  /** Total memory against {@code nvidia-smi} on the same board; skipped where it is absent. */
  @Test
  void totalMemoryMatchesNvidiaSmi() throws InterruptedException {
    Map<Integer, String[]> smi = NvidiaSmi.gpus();
    for (NvmlDevice d : NvmlInventory.local().readDevices()) {
      String[] row = smi.get(d.index());
      assertThat(row).as("nvidia-smi row of GPU %d", d.index()).isNotNull();
      System.out.println("GPU-CHECK gpu " + d.index() + " memory.total MiB: binding="
          + (d.memoryTotalBytes() >> 20) + (d.memoryDerived() ? " (derived)" : "")
          + " nvidia-smi=" + row[4]);
      if (!d.memoryDerived()) {
        assertThat((double) (d.memoryTotalBytes() >> 20)).isEqualTo(NvidiaSmi.num(row[4]));
      }
    }
  }
}
