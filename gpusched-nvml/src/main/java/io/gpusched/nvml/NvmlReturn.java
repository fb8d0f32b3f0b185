package io.gpusched.nvml;

import java.util.Optional;

/** The {@code nvmlReturn_t} codes of {@code nvml.h} (NVML 13.3), by numeric value. */
public enum NvmlReturn {
  SUCCESS(0),
  ERROR_UNINITIALIZED(1),
  ERROR_INVALID_ARGUMENT(2),
  ERROR_NOT_SUPPORTED(3),
  ERROR_NO_PERMISSION(4),
  ERROR_ALREADY_INITIALIZED(5),
  ERROR_NOT_FOUND(6),
  ERROR_INSUFFICIENT_SIZE(7),
  ERROR_INSUFFICIENT_POWER(8),
  ERROR_DRIVER_NOT_LOADED(9),
  ERROR_TIMEOUT(10),
  ERROR_IRQ_ISSUE(11),
  ERROR_LIBRARY_NOT_FOUND(12),
  ERROR_FUNCTION_NOT_FOUND(13),
  ERROR_CORRUPTED_INFOROM(14),
  ERROR_GPU_IS_LOST(15),
  ERROR_RESET_REQUIRED(16),
  ERROR_OPERATING_SYSTEM(17),
  ERROR_LIB_RM_VERSION_MISMATCH(18),
  ERROR_IN_USE(19),
  ERROR_MEMORY(20),
  ERROR_NO_DATA(21),
  ERROR_VGPU_ECC_NOT_SUPPORTED(22),
  ERROR_INSUFFICIENT_RESOURCES(23),
  ERROR_FREQ_NOT_SUPPORTED(24),
  ERROR_ARGUMENT_VERSION_MISMATCH(25),
  ERROR_DEPRECATED(26),
  ERROR_NOT_READY(27),
  ERROR_GPU_NOT_FOUND(28),
  ERROR_INVALID_STATE(29),
  ERROR_RESET_TYPE_NOT_SUPPORTED(30),
  ERROR_UNKNOWN(999);

  private static final NvmlReturn[] BY_CODE = new NvmlReturn[31];

  static {
    for (NvmlReturn r : values()) {
      if (r.code < BY_CODE.length) {
        BY_CODE[r.code] = r;
      }
    }
  }

  private final int code;

  NvmlReturn(int code) {
    this.code = code;
  }

  /** Returns the numeric {@code nvmlReturn_t} value. */
  public int code() {
    return code;
  }

  /** Returns the C name, e.g. {@code NVML_ERROR_GPU_IS_LOST}. */
  public String nvmlName() {
    return "NVML_" + name();
  }

  /**
   * Returns the constant for a numeric code.
   *
   * @return the constant, or empty for a code this binding does not know (a newer driver's)
   */
  public static Optional<NvmlReturn> of(int code) {
    if (code >= 0 && code < BY_CODE.length) {
      return Optional.ofNullable(BY_CODE[code]);
    }
    return code == ERROR_UNKNOWN.code ? Optional.of(ERROR_UNKNOWN) : Optional.empty();
  }

  /** Returns the C name of a code, or {@code NVML_RETURN_<code>} for a code not known here. */
  public static String nameOf(int code) {
    return of(code).map(NvmlReturn::nvmlName).orElse("NVML_RETURN_" + code);
  }
}
