package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuSpec;
import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Drives {@link NvmlInventory} through {@link FakeNvmlApi}: no GPU or NVML needed. */
class NvmlInventoryTest {

  private static NvmlInventory inventory(FakeNvmlApi api) {
    return new NvmlInventory(api, Map.of());
  }

  @Test
  void h100WithMigDisabledIsTheCatalogModelWhole() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0));

    NodeSpec node = inventory(api).readNode("gpu-a-01");

    assertThat(node.id()).isEqualTo("gpu-a-01");
    assertThat(node.labels())
        .containsEntry(NvmlInventory.DRIVER_LABEL, "580.159.04")
        .containsEntry(NvmlInventory.NVML_LABEL, "13.580.159.04");
    assertThat(node.gpus()).hasSize(1);
    GpuSpec gpu = node.gpus().get(0);
    assertThat(gpu.index()).isZero();
    assertThat(gpu.uuid()).isEqualTo(FakeGpus.H100_UUID);
    assertThat(gpu.model()).isSameAs(GpuModels.H100_80GB);
    assertThat(gpu.mode()).isEqualTo(GpuMode.WHOLE);
    assertThat(api.inits).isEqualTo(1);
    assertThat(api.shutdowns).isEqualTo(1);
  }

  @Test
  void nvmlGeometryOfTheH100EqualsTheCatalogs() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0));
    api.init();

    MigGeometry g = MigGeometryReader.read(api, 0, FakeGpus.H100_TOTAL);

    assertThat(g).isEqualTo(GpuModels.H100_80GB.mig());
  }

  @Test
  void deviceRecordCarriesNvmlFacts() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 1));

    NvmlDevice d = inventory(api).readDevices().get(0);

    assertThat(d.nvmlName()).isEqualTo("NVIDIA H100 80GB HBM3");
    assertThat(d.pciBusId()).isEqualTo("00000000:00:06.0");
    assertThat(d.memoryTotalBytes()).isEqualTo(FakeGpus.H100_TOTAL);
    assertThat(d.migCapable()).isTrue();
    assertThat(d.migEnabled()).isFalse();
    assertThat(d.migPendingEnabled()).isTrue();
    assertThat(d.mode()).isEqualTo(GpuMode.WHOLE);
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void migEnabledGpuIsMigDynamic() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(1, 1)).add(FakeGpus.h200(0));

    NodeSpec node = inventory(api).readNode("n");

    assertThat(node.gpus().get(0).mode()).isEqualTo(GpuMode.MIG_DYNAMIC);
    assertThat(node.gpus().get(0).model()).isSameAs(GpuModels.H100_80GB);
    assertThat(node.gpus().get(1).mode()).isEqualTo(GpuMode.WHOLE);
  }

  @Test
  void nvmlGeometryOverridesTheCatalogWhereTheyDiffer() {
    var api = new FakeNvmlApi().add(FakeGpus.h200(1));

    GpuModel m = inventory(api).readNode("n").gpus().get(0).model();

    assertThat(m.name()).isEqualTo(GpuModels.H200_141GB.name());
    assertThat(m).isNotEqualTo(GpuModels.H200_141GB);
    assertThat(m.memoryMiB()).isEqualTo(FakeGpus.H200_TOTAL >> 20);
    assertThat(m.migProfile("1g.18gb").memoryMiB()).isEqualTo(16384);
    assertThat(m.migProfile("7g.141gb").memoryMiB()).isEqualTo(143360);
    assertThat(m.migProfile("1g.35gb").placementStarts()).containsExactly(0, 2, 4, 6);
    assertThat(m.mig().profiles()).extracting(MigProfile::name)
        .containsExactly(
            "1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb");
  }

  @Test
  void unknownMigCapableModelIsBuiltFromNvml() {
    // H100 PCIe: same profile ids and placements as SXM, 114 SMs (nvml-abi.md A.4)
    var pcie = FakeGpus.hopper("NVIDIA H100 PCIe", "GPU-pcie", FakeGpus.H100_TOTAL, 0, 0,
        new long[] {9856, 19968, 19968, 40192, 40192, 80896}, new int[] {14, 14, 30, 46, 62, 114});
    var api = new FakeNvmlApi().add(pcie);

    GpuModel m = inventory(api).readNode("n").gpus().get(0).model();

    assertThat(m.name()).isEqualTo("H100-PCIe");
    assertThat(m.smCount()).isEqualTo(114);
    assertThat(m.memoryMiB()).isEqualTo(81559);
    MigGeometry g = m.mig();
    assertThat(g.computeSlices()).isEqualTo(7);
    assertThat(g.memorySlices()).isEqualTo(8);
    assertThat(m.migProfile("3g.40gb"))
        .isEqualTo(new MigProfile("3g.40gb", 9, 3, 4, 40192, 46, 2, List.of(0, 4)));
    assertThat(m.migProfile("1g.10gb+me").isMediaExtension()).isTrue();
  }

  @Test
  void unknownGpuWithoutMigNeedsARegisteredModel() {
    var api = new FakeNvmlApi().add(FakeGpus.l40s());

    assertThatThrownBy(() -> inventory(api).readNode("n"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("NVIDIA L40S")
        .hasMessageContaining("withModel");
    assertThat(api.shutdowns).isEqualTo(api.inits);

    GpuModel l40s = new GpuModel("L40S", 46068, 142, null);
    NodeSpec node = inventory(api).withModel("NVIDIA L40S", l40s).readNode("n");
    assertThat(node.gpus().get(0).model()).isSameAs(l40s);
    assertThat(node.gpus().get(0).mode()).isEqualTo(GpuMode.WHOLE);
  }

  @Test
  void missingPlacementFunctionFallsBackToTheCatalog() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(1, 1))
        .fail("nvmlDeviceGetGpuInstancePossiblePlacements_v2", NvmlReturn.ERROR_FUNCTION_NOT_FOUND);

    GpuSpec gpu = inventory(api).readNode("n").gpus().get(0);

    assertThat(gpu.model()).isSameAs(GpuModels.H100_80GB);
    assertThat(gpu.mode()).isEqualTo(GpuMode.MIG_DYNAMIC);
  }

  @Test
  void placementsWithoutPrivilegeFallBackToTheCatalog() {
    var api = new FakeNvmlApi().add(FakeGpus.h200(0))
        .fail("nvmlDeviceGetGpuInstancePossiblePlacements_v2", NvmlReturn.ERROR_NO_PERMISSION);

    assertThat(inventory(api).readNode("n").gpus().get(0).model())
        .isSameAs(GpuModels.H200_141GB);
  }

  @Test
  void missingMigModeFunctionMeansWhole() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(1, 1))
        .fail("nvmlDeviceGetMigMode", NvmlReturn.ERROR_FUNCTION_NOT_FOUND);

    NvmlDevice d = inventory(api).readDevices().get(0);

    assertThat(d.migCapable()).isFalse();
    assertThat(d.mode()).isEqualTo(GpuMode.WHOLE);
    assertThat(d.model()).isSameAs(GpuModels.H100_80GB);
  }

  @Test
  void missingPciFunctionLeavesTheBusIdEmpty() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0))
        .fail("nvmlDeviceGetPciInfo_v3", NvmlReturn.ERROR_FUNCTION_NOT_FOUND);

    assertThat(inventory(api).readDevices().get(0).pciBusId()).isEmpty();
  }

  @Test
  void migEnabledUnknownGpuWithoutGeometryIsAnError() {
    var pcie = FakeGpus.hopper("NVIDIA H100 PCIe", "GPU-pcie", FakeGpus.H100_TOTAL, 1, 1,
        new long[] {9856, 19968, 19968, 40192, 40192, 80896}, new int[] {14, 14, 30, 46, 62, 114});
    var api = new FakeNvmlApi().add(pcie)
        .fail("nvmlDeviceGetGpuInstanceProfileInfo", NvmlReturn.ERROR_FUNCTION_NOT_FOUND);

    assertThatThrownBy(() -> inventory(api).readNode("n"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("NVIDIA H100 PCIe");
  }

  @Test
  void lostGpuIsATypedExceptionAndNvmlIsStillShutDown() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0)).add(FakeGpus.h200(0))
        .fail("nvmlDeviceGetMemoryInfo", 1, NvmlReturn.ERROR_GPU_IS_LOST);

    assertThatThrownBy(() -> inventory(api).readNode("n"))
        .isInstanceOfSatisfying(NvmlException.class, e -> {
          assertThat(e.code()).isEqualTo(15);
          assertThat(e.codeName()).isEqualTo("NVML_ERROR_GPU_IS_LOST");
          assertThat(e.nvmlReturn()).contains(NvmlReturn.ERROR_GPU_IS_LOST);
          assertThat(e.function()).isEqualTo("nvmlDeviceGetMemoryInfo");
          assertThat(e.errorString()).contains("GPU_IS_LOST");
        });
    assertThat(api.inits).isEqualTo(1);
    assertThat(api.shutdowns).isEqualTo(1);
  }

  @Test
  void lostGpuDuringProfileEnumerationPropagates() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0))
        .fail("nvmlDeviceGetGpuInstanceProfileInfo", NvmlReturn.ERROR_GPU_IS_LOST);

    assertThatThrownBy(() -> inventory(api).readDevices())
        .isInstanceOfSatisfying(NvmlException.class,
            e -> assertThat(e.is(NvmlReturn.ERROR_GPU_IS_LOST)).isTrue());
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void failedInitIsNotShutDown() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0))
        .fail("nvmlInit_v2", NvmlReturn.ERROR_DRIVER_NOT_LOADED);

    assertThatThrownBy(() -> inventory(api).readNode("n"))
        .isInstanceOfSatisfying(NvmlException.class,
            e -> assertThat(e.is(NvmlReturn.ERROR_DRIVER_NOT_LOADED)).isTrue());
    assertThat(api.shutdowns).isZero();
  }

  @Test
  void nodeWithoutGpusIsValid() {
    assertThat(inventory(new FakeNvmlApi()).readNode("cpu-only").gpus()).isEmpty();
  }

  @Test
  void catalogNamesAndModelNames() {
    assertThat(NvmlInventory.catalogModel("NVIDIA H100 80GB HBM3")).contains(GpuModels.H100_80GB);
    assertThat(NvmlInventory.catalogModel("NVIDIA H200")).contains(GpuModels.H200_141GB);
    assertThat(NvmlInventory.catalogModel("NVIDIA L40S")).isEmpty();
    assertThat(NvmlInventory.modelName("NVIDIA RTX PRO 6000  Blackwell"))
        .isEqualTo("RTX-PRO-6000-Blackwell");
    assertThat(NvmlInventory.modelName("Tesla T4")).isEqualTo("Tesla-T4");
  }
}
