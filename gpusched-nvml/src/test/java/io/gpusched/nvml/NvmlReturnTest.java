package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class NvmlReturnTest {

  @ParameterizedTest
  @CsvSource({
    "0, NVML_SUCCESS",
    "2, NVML_ERROR_INVALID_ARGUMENT",
    "3, NVML_ERROR_NOT_SUPPORTED",
    "4, NVML_ERROR_NO_PERMISSION",
    "6, NVML_ERROR_NOT_FOUND",
    "7, NVML_ERROR_INSUFFICIENT_SIZE",
    "9, NVML_ERROR_DRIVER_NOT_LOADED",
    "12, NVML_ERROR_LIBRARY_NOT_FOUND",
    "13, NVML_ERROR_FUNCTION_NOT_FOUND",
    "15, NVML_ERROR_GPU_IS_LOST",
    "18, NVML_ERROR_LIB_RM_VERSION_MISMATCH",
    "25, NVML_ERROR_ARGUMENT_VERSION_MISMATCH",
    "30, NVML_ERROR_RESET_TYPE_NOT_SUPPORTED",
    "999, NVML_ERROR_UNKNOWN"
  })
  void codesMapToTheirHeaderNames(int code, String name) {
    assertThat(NvmlReturn.nameOf(code)).isEqualTo(name);
    assertThat(NvmlReturn.of(code).orElseThrow().code()).isEqualTo(code);
  }

  @Test
  void everyCodeFrom0To30IsKnownAndDistinct() {
    for (int c = 0; c <= 30; c++) {
      assertThat(NvmlReturn.of(c)).as("code %d", c).isPresent();
    }
    assertThat(NvmlReturn.values()).hasSize(32);
  }

  @Test
  void unknownCodesAreNamedByNumber() {
    assertThat(NvmlReturn.of(31)).isEmpty();
    assertThat(NvmlReturn.of(-1)).isEmpty();
    assertThat(NvmlReturn.nameOf(31)).isEqualTo("NVML_RETURN_31");
  }

  @Test
  void exceptionCarriesCodeFunctionAndText() {
    var e = new NvmlException(31, "nvmlDeviceGetFoo", "Unknown Error");
    assertThat(e.code()).isEqualTo(31);
    assertThat(e.codeName()).isEqualTo("NVML_RETURN_31");
    assertThat(e.nvmlReturn()).isEmpty();
    assertThat(e.function()).isEqualTo("nvmlDeviceGetFoo");
    assertThat(e.errorString()).isEqualTo("Unknown Error");
    assertThat(e).hasMessage("nvmlDeviceGetFoo failed: NVML_RETURN_31 (31): Unknown Error");
    assertThat(e).isInstanceOf(RuntimeException.class);
  }
}
