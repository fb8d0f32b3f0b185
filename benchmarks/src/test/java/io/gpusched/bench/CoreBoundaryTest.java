package io.gpusched.bench;

import io.gpusched.core.GpuSchedulers;
import io.gpusched.testing.CoreBoundary;
import io.gpusched.testing.ModulePath;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The benchmarks, the simulator and the demos run on the class path, where the core's module
 * descriptor is not enforced: their main classes use only the core's exported API and none sits in
 * a core package, so they measure what an application can build (ArchUnit).
 */
class CoreBoundaryTest {
  @Test
  void theBenchmarksUseOnlyTheCoresExportedApi() throws Exception {
    CoreBoundary.check(
        ModulePath.location(GpuSchedulers.class), List.of(ModulePath.location(Demo.class)));
  }
}
