package io.gpusched.nvml;

import java.util.Optional;

/**
 * An NVML call returned something other than {@code NVML_SUCCESS}, or its symbol is missing from
 * the loaded library (reported as {@link NvmlReturn#ERROR_FUNCTION_NOT_FOUND}).
 */
public final class NvmlException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int code;
  private final String function;
  private final String errorString;

  /**
   * Creates the exception.
   *
   * @param code the {@code nvmlReturn_t} value
   * @param function the NVML function that failed, e.g. {@code nvmlDeviceGetMemoryInfo}
   * @param errorString the text of {@code nvmlErrorString(code)}, or a description when the library
   *     could not give one
   */
  public NvmlException(int code, String function, String errorString) {
    super(function + " failed: " + NvmlReturn.nameOf(code) + " (" + code + "): " + errorString);
    this.code = code;
    this.function = function;
    this.errorString = errorString;
  }

  /** Returns the numeric {@code nvmlReturn_t} value. */
  public int code() {
    return code;
  }

  /** Returns the C name of the code, e.g. {@code NVML_ERROR_GPU_IS_LOST}. */
  public String codeName() {
    return NvmlReturn.nameOf(code);
  }

  /** Returns the code as a constant, or empty for a code this binding does not know. */
  public Optional<NvmlReturn> nvmlReturn() {
    return NvmlReturn.of(code);
  }

  /** Returns the NVML function that failed. */
  public String function() {
    return function;
  }

  /** Returns the {@code nvmlErrorString} text. */
  public String errorString() {
    return errorString;
  }

  /** Returns whether the code is that constant. */
  public boolean is(NvmlReturn r) {
    return code == r.code();
  }
}
