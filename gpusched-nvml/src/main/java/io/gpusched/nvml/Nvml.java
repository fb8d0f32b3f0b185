package io.gpusched.nvml;

import com.sun.jna.Native;
import com.sun.jna.Platform;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads {@code libnvidia-ml.so.1} (by its versioned soname, which exists wherever the driver is
 * installed, unlike the unversioned {@code libnvidia-ml.so}) lazily, and reports whether it can be
 * used. Loading never throws: a missing library or driver is an {@link #availability()} result.
 * While NVML is not available it is tried again, with a backoff from {@link Loader#FIRST_RETRY}
 * doubling to {@link Loader#MAX_RETRY}, so a driver installed or loaded after the process started
 * is seen; once it is available, that is kept.
 */
public final class Nvml {
  private static final Logger LOG = LoggerFactory.getLogger(Nvml.class);

  /** The library name loaded: {@code libnvidia-ml.so.1}, or {@code nvml} on Windows. */
  public static final String LIBRARY = Platform.isWindows() ? "nvml" : "libnvidia-ml.so.1";

  /** What was refused for lack of privilege, by a key of its reporter; see {@link #availability()}. */
  private static final Map<String, String> NEEDS_PRIVILEGE = new ConcurrentSkipListMap<>();

  private Nvml() {}

  private static final class Holder {
    static final Loader LOADER = new Loader(
        () -> new JnaNvmlApi(Native.load(LIBRARY, NvmlLibrary.class), LIBRARY), System::nanoTime);
  }

  /**
   * Loads NVML and probes it, again after a backoff while it is not available. Thread-safe (its
   * methods are synchronized; they are not on any hot path).
   */
  static final class Loader {
    /** The wait before the first retry; it doubles after each failed one. */
    static final Duration FIRST_RETRY = Duration.ofSeconds(5);

    /** The longest wait between two retries. */
    static final Duration MAX_RETRY = Duration.ofMinutes(5);

    private final Supplier<NvmlApi> load;
    private final LongSupplier nanoTime;
    private @Nullable NvmlApi api;
    private @Nullable NvmlAvailability availability;
    private long nextTryNanos;
    private long backoffNanos = FIRST_RETRY.toNanos();

    /**
     * @param load loads the library and returns the API over it; may throw {@link
     *     UnsatisfiedLinkError} or {@link NoClassDefFoundError}
     * @param nanoTime a monotonic clock in nanoseconds
     */
    Loader(Supplier<NvmlApi> load, LongSupplier nanoTime) {
      this.load = Objects.requireNonNull(load, "load");
      this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    }

    /** Returns the last result, first loading and probing if NVML is unavailable and it is time. */
    synchronized NvmlAvailability availability() {
      NvmlAvailability a = availability;
      if (a != null && (a.available() || nanoTime.getAsLong() - nextTryNanos < 0)) {
        return a;
      }
      a = tryLoad();
      if (a.available()) {
        LOG.info("NVML is available ({})", LIBRARY);
      } else {
        nextTryNanos = nanoTime.getAsLong() + backoffNanos;
        LOG.debug("NVML is not available, next try in {} s: {}",
            Duration.ofNanos(backoffNanos).toSeconds(), a.cause());
        backoffNanos = Math.min(backoffNanos * 2, MAX_RETRY.toNanos());
      }
      availability = a;
      return a;
    }

    private NvmlAvailability tryLoad() {
      NvmlApi loaded = api;
      if (loaded == null) {
        try {
          loaded = load.get();
        } catch (UnsatisfiedLinkError | NoClassDefFoundError e) {
          return new NvmlAvailability(false, LIBRARY, "cannot load " + LIBRARY + ": " + e);
        }
        api = loaded; // a loaded library stays loaded; only the probe is repeated
      }
      return probe(loaded);
    }

    /** Returns the API when NVML is available (by {@link #availability()}), else null. */
    synchronized @Nullable NvmlApi api() {
      return availability().available() ? api : null;
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
   * Returns whether NVML can be used: the library loads and {@code nvmlInit_v2} succeeds; and what
   * NVML refused here for lack of privilege ({@link NvmlAvailability#needsPrivilege()}, reported by
   * {@link NvmlInventory} and {@link NvmlTelemetry} as they meet it). The first call loads the
   * library. An available answer is kept for the life of the process; an unavailable one is probed
   * again on a call after the backoff (5 s, doubling to 5 min), so a driver loaded later is seen.
   */
  public static NvmlAvailability availability() {
    NvmlAvailability a = Holder.LOADER.availability();
    List<String> limits = needsPrivilege();
    return limits.isEmpty() ? a
        : new NvmlAvailability(a.available(), a.library(), a.cause(), limits);
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
    NvmlApi api = Holder.LOADER.api();
    if (api == null) {
      throw new NvmlException(NvmlReturn.ERROR_LIBRARY_NOT_FOUND.code(), "nvmlInit_v2",
          String.valueOf(Holder.LOADER.availability().cause()));
    }
    return api;
  }

  /** Records (or, with a null message, clears) what NVML refused a reporter for lack of privilege. */
  static void needsPrivilege(String key, @Nullable String message) {
    if (message == null) {
      NEEDS_PRIVILEGE.remove(key);
    } else {
      NEEDS_PRIVILEGE.put(key, message);
    }
  }

  /** The lines of {@link NvmlAvailability#needsPrivilege()}, ordered by reporter key. */
  static List<String> needsPrivilege() {
    return new ArrayList<>(NEEDS_PRIVILEGE.values());
  }
}
