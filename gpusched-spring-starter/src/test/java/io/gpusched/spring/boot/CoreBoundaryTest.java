package io.gpusched.spring.boot;

import io.gpusched.core.GpuSchedulers;
import io.gpusched.nvml.Nvml;
import io.gpusched.testing.CoreBoundary;
import io.gpusched.testing.ModulePath;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The starter runs on the class path, where the core's module descriptor is not enforced: its main
 * classes, and those of gpusched-nvml, use only the core's exported API and none sits in a core
 * package (ArchUnit).
 */
class CoreBoundaryTest {
  @Test
  void theStarterAndNvmlUseOnlyTheCoresExportedApi() throws Exception {
    CoreBoundary.check(
        ModulePath.location(GpuSchedulers.class),
        List.of(
            ModulePath.location(GpuSchedAutoConfiguration.class), ModulePath.location(Nvml.class)));
  }
}
