package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.MigInstance;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Existing MIG instances in the inventory, through {@link FakeNvmlApi}. */
class MigInstancesInventoryTest {

  private static NvmlInventory inventory(FakeNvmlApi api) {
    return new NvmlInventory(api, Map.of());
  }

  @Test
  void existingInstancesMakeAMigStaticGpu() {
    var api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());

    NvmlDevice d = inventory(api).readDevices().get(0);

    assertThat(d.mode()).isEqualTo(GpuMode.MIG_STATIC);
    assertThat(d.migInstances()).containsExactly(
        new NvmlMigInstance(7, 19, "1g.10gb", 0, 1, List.of(FakeGpus.MIG_1G)),
        new NvmlMigInstance(3, 14, "2g.20gb", 2, 2, List.of(FakeGpus.MIG_2G)),
        new NvmlMigInstance(2, 9, "3g.40gb", 4, 4, List.of(FakeGpus.MIG_3G)));
    GpuSpec spec = inventory(api).readNode("n").gpus().get(0);
    assertThat(spec.mode()).isEqualTo(GpuMode.MIG_STATIC);
    assertThat(spec.staticInstances()).containsExactly(
        new MigInstance("1g.10gb", 0), new MigInstance("2g.20gb", 2),
        new MigInstance("3g.40gb", 4));
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void aGpuInstanceWithoutComputeInstanceHasNoMigDevice() {
    var gpu = FakeGpus.h100(1, 1).instance(new NvmlApi.GpuInstance(1, 0, 0, 8));
    NvmlDevice d = inventory(new FakeNvmlApi().add(gpu)).readDevices().get(0);
    assertThat(d.migInstances())
        .containsExactly(new NvmlMigInstance(1, 0, "7g.80gb", 0, 8, List.of()));
  }

  @Test
  void migDisabledReadsNoInstances() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0));
    NvmlDevice d = inventory(api).readDevices().get(0);
    assertThat(d.migInstances()).isEmpty();
    assertThat(d.toGpuSpec().staticInstances()).isEmpty();
  }

  @Test
  void unreadableInstancesFallBackToMigDynamic() {
    for (NvmlReturn code :
        List.of(NvmlReturn.ERROR_NO_PERMISSION, NvmlReturn.ERROR_FUNCTION_NOT_FOUND)) {
      var api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances())
          .fail("nvmlDeviceGetGpuInstances", code);
      NvmlDevice d = inventory(api).readDevices().get(0);
      assertThat(d.mode()).as("%s", code).isEqualTo(GpuMode.MIG_DYNAMIC);
      assertThat(d.migInstances()).isEmpty();
    }
  }

  @Test
  void aLostGpuWhileListingInstancesIsTyped() {
    var api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances())
        .fail("nvmlDeviceGetGpuInstanceId", 0, 2, NvmlReturn.ERROR_GPU_IS_LOST);
    assertThatThrownBy(() -> inventory(api).readDevices())
        .isInstanceOfSatisfying(NvmlException.class,
            e -> assertThat(e.is(NvmlReturn.ERROR_GPU_IS_LOST)).isTrue());
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void insufficientSizeFromTheInstanceListIsTyped() {
    // the fake answers INSUFFICIENT_SIZE when more instances exist than the profile allows
    var gpu = FakeGpus.h100(1, 1)
        .instance(new NvmlApi.GpuInstance(1, 0, 0, 8))
        .instance(new NvmlApi.GpuInstance(2, 0, 0, 8));
    assertThatThrownBy(() -> inventory(new FakeNvmlApi().add(gpu)).readDevices())
        .isInstanceOfSatisfying(NvmlException.class,
            e -> assertThat(e.is(NvmlReturn.ERROR_INSUFFICIENT_SIZE)).isTrue());
  }
}
