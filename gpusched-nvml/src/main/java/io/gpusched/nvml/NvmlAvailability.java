package io.gpusched.nvml;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Whether NVML can be used in this process, and what it cannot do here without more privilege.
 *
 * @param available whether the library loaded and {@code nvmlInit_v2} succeeded
 * @param library the library name that was tried, e.g. {@code libnvidia-ml.so.1}
 * @param cause why NVML is not available, or {@code null} when it is
 * @param needsPrivilege one plain line per reading that NVML refused for lack of privilege
 *     ({@code NVML_ERROR_NO_PERMISSION}: root or the MIG-monitor capability is needed) and what
 *     gpusched does instead, e.g. that idle detection is off for a GPU; empty when nothing was
 *     refused (see docs/nvml.md, "Privileges")
 */
public record NvmlAvailability(
    boolean available, String library, @Nullable String cause, List<String> needsPrivilege) {

  /**
   * Validates and copies the list.
   *
   * @throws IllegalArgumentException if an available result has a cause or an unavailable one none
   */
  public NvmlAvailability {
    Objects.requireNonNull(library, "library");
    needsPrivilege = List.copyOf(needsPrivilege);
    if (available != (cause == null)) {
      throw new IllegalArgumentException("a cause is given exactly when NVML is not available");
    }
  }

  /**
   * A result with nothing refused for lack of privilege.
   *
   * @throws IllegalArgumentException if an available result has a cause or an unavailable one none
   */
  public NvmlAvailability(boolean available, String library, @Nullable String cause) {
    this(available, library, cause, List.of());
  }

  /**
   * Returns the first line of {@link #cause()}, at most 200 characters (JNA's load errors list
   * every path it tried), or an empty string when NVML is available. For log lines and messages.
   */
  public String shortCause() {
    if (cause == null) {
      return "";
    }
    String line = cause.strip().lines().findFirst().orElse("").strip();
    return line.length() <= 200 ? line : line.substring(0, 200) + "...";
  }
}
