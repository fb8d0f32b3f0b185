package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import org.junit.jupiter.api.Test;

class NvmlAvailabilityTest {

  @Test
  void availabilityNeverThrowsAndExplainsItself() {
    NvmlAvailability a = Nvml.availability();
    assertThat(a.library()).isEqualTo("libnvidia-ml.so.1");
    assertThat(a.available()).isEqualTo(a.cause() == null);
    assertThat(Nvml.isAvailable()).isEqualTo(a.available());
  }

  @Test
  void localInventoryWithoutNvmlIsATypedError() {
    assumeFalse(Nvml.isAvailable(), "NVML is present on this machine");
    assertThatThrownBy(NvmlInventory::local)
        .isInstanceOfSatisfying(NvmlException.class, e -> {
          assertThat(e.is(NvmlReturn.ERROR_LIBRARY_NOT_FOUND)).isTrue();
          assertThat(e.errorString()).isEqualTo(Nvml.availability().cause());
        });
  }

  @Test
  void probeReportsInitFailureAndBalancesASuccess() {
    var ok = new FakeNvmlApi();
    assertThat(Nvml.probe(ok).available()).isTrue();
    assertThat(ok.shutdowns).isEqualTo(ok.inits).isEqualTo(1);

    var bad = new FakeNvmlApi().fail("nvmlInit_v2", NvmlReturn.ERROR_DRIVER_NOT_LOADED);
    NvmlAvailability a = Nvml.probe(bad);
    assertThat(a.available()).isFalse();
    assertThat(a.cause()).contains("NVML_ERROR_DRIVER_NOT_LOADED");
  }

  @Test
  void shortCauseIsTheFirstLineCapped() {
    var a = new NvmlAvailability(false, "libnvidia-ml.so.1", "cannot load\npath 1\npath 2");
    org.assertj.core.api.Assertions.assertThat(a.shortCause()).isEqualTo("cannot load");
    var longOne = new NvmlAvailability(false, "x", "y".repeat(300));
    org.assertj.core.api.Assertions.assertThat(longOne.shortCause()).hasSize(203).endsWith("...");
    org.assertj.core.api.Assertions.assertThat(new NvmlAvailability(true, "x", null).shortCause()).isEmpty();
  }
}
