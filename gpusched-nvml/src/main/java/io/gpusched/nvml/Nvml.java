package io.gpusched.nvml;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads {@code libnvidia-ml.so.1} (by its versioned soname, which exists wherever the driver is
 * installed, unlike the unversioned {@code libnvidia-ml.so}) once, lazily, and reports whether it
 * can be used. Loading never throws: a missing library or driver is an {@link #availability()}
 * result.
 */
public final class Nvml {
  private static final Logger LOG = LoggerFactory.getLogger(Nvml.class);

  /** The library name loaded: {@code libnvidia-ml.so.1}, or {@code nvml} on Windows. */
  public static final String LIBRARY = Platform.isWindows() ? "nvml" : "libnvidia-ml.so.1";

  private Nvml() {}

  private static final class Holder {
    static final @Nullable NvmlLibrary LIB;
    static final NvmlAvailability AVAILABILITY;

    static {
      NvmlLibrary lib = null;
      NvmlAvailability availability;
      try {
        lib = Native.load(LIBRARY, NvmlLibrary.class);
        availability = probe(new JnaNvmlApi(lib, LIBRARY));
      } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
        availability = new NvmlAvailability(false, LIBRARY, "cannot load " + LIBRARY + ": " + e);
      }
      if (!availability.available()) {
        LOG.debug("NVML is not available: {}", availability.cause());
      }
      LIB = lib;
      AVAILABILITY = availability;
    }
  }

  /** Initialises and shuts NVML down once, to see that the driver answers. */
  static NvmlAvailability probe(NvmlApi api) {
    try {
      api.init();
    } catch (NvmlException e) {
      return new NvmlAvailability(false, LIBRARY, e.getMessage());
    }
    try {
      api.shutdown();
    } catch (NvmlException e) {
      LOG.debug("nvmlShutdown after the availability probe failed", e);
    }
    return new NvmlAvailability(true, LIBRARY, null);
  }

  /**
   * Returns whether NVML can be used: the library loads and {@code nvmlInit_v2} succeeds. The
   * first call loads the library; the answer is cached for the life of the process.
   */
  public static NvmlAvailability availability() {
    return Holder.AVAILABILITY;
  }

  /** Returns whether {@link #availability()} says NVML can be used. */
  public static boolean isAvailable() {
    return availability().available();
  }

  /**
   * Returns the JNA-backed API.
   *
   * @throws NvmlException with {@link NvmlReturn#ERROR_LIBRARY_NOT_FOUND} when NVML is not
   *     available; the message carries the cause
   */
  static NvmlApi api() {
    NvmlLibrary lib = Holder.LIB;
    NvmlAvailability a = Holder.AVAILABILITY;
    if (lib == null || !a.available()) {
      throw new NvmlException(
          NvmlReturn.ERROR_LIBRARY_NOT_FOUND.code(), "nvmlInit_v2", String.valueOf(a.cause()));
    }
    return new JnaNvmlApi(lib, LIBRARY);
  }
}
