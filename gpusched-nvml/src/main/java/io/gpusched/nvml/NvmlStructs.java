package io.gpusched.nvml;

import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/**
 * JNA mirrors of the NVML structs this module passes, laid out as gcc lays out {@code nvml.h} on
 * x86_64 Linux (sizes and offsets in the class docs; see {@code NvmlStructsLayoutTest}). This class
 * never loads a native library, so the layouts can be tested without NVML.
 */
final class NvmlStructs {
  private NvmlStructs() {}

  /** {@code nvmlMemory_t} (v1), 24 bytes: total@0, free@8, used@16, all bytes. */
  @FieldOrder({"total", "free", "used"})
  public static final class Memory extends Structure {
    public long total;
    public long free;
    public long used;

    public Memory() {}

    public Memory(Pointer p) {
      super(p);
      read();
    }
  }

  /**
   * {@code nvmlGpuInstanceProfileInfo_t} (v1), 48 bytes: ten {@code unsigned int}s at 0..36, then
   * memorySizeMB@40.
   */
  @FieldOrder({
    "id",
    "isP2pSupported",
    "sliceCount",
    "instanceCount",
    "multiprocessorCount",
    "copyEngineCount",
    "decoderCount",
    "encoderCount",
    "jpegCount",
    "ofaCount",
    "memorySizeMB"
  })
  public static final class GpuInstanceProfileInfo extends Structure {
    public int id;
    public int isP2pSupported;
    public int sliceCount;
    public int instanceCount;
    public int multiprocessorCount;
    public int copyEngineCount;
    public int decoderCount;
    public int encoderCount;
    public int jpegCount;
    public int ofaCount;
    public long memorySizeMB;

    public GpuInstanceProfileInfo() {}

    public GpuInstanceProfileInfo(Pointer p) {
      super(p);
      read();
    }
  }

  /** {@code nvmlGpuInstancePlacement_t}, 8 bytes: start@0, size@4 (memory slices). */
  @FieldOrder({"start", "size"})
  public static final class GpuInstancePlacement extends Structure {
    /** Bytes per element in a placement array. */
    static final int SIZE = 8;

    public int start;
    public int size;

    public GpuInstancePlacement() {}

    public GpuInstancePlacement(Pointer p) {
      super(p);
      read();
    }
  }

  /**
   * {@code nvmlPciInfo_t} (as filled by {@code nvmlDeviceGetPciInfo_v3}), 68 bytes:
   * busIdLegacy@0:char[16], domain@16, bus@20, device@24, pciDeviceId@28, pciSubSystemId@32,
   * busId@36:char[32].
   */
  @FieldOrder({"busIdLegacy", "domain", "bus", "device", "pciDeviceId", "pciSubSystemId", "busId"})
  public static final class PciInfo extends Structure {
    public byte[] busIdLegacy = new byte[16];
    public int domain;
    public int bus;
    public int device;
    public int pciDeviceId;
    public int pciSubSystemId;
    public byte[] busId = new byte[32];

    public PciInfo() {}

    public PciInfo(Pointer p) {
      super(p);
      read();
    }
  }

  /**
   * {@code nvmlDeviceAttributes_t}, 40 bytes: multiprocessorCount, sharedCopyEngineCount,
   * sharedDecoderCount, sharedEncoderCount, sharedJpegCount, sharedOfaCount, gpuInstanceSliceCount,
   * computeInstanceSliceCount ({@code unsigned int}s at 0..28), memorySizeMB@32 (MiB).
   */
  @FieldOrder({
    "multiprocessorCount",
    "sharedCopyEngineCount",
    "sharedDecoderCount",
    "sharedEncoderCount",
    "sharedJpegCount",
    "sharedOfaCount",
    "gpuInstanceSliceCount",
    "computeInstanceSliceCount",
    "memorySizeMB"
  })
  public static final class DeviceAttributes extends Structure {
    public int multiprocessorCount;
    public int sharedCopyEngineCount;
    public int sharedDecoderCount;
    public int sharedEncoderCount;
    public int sharedJpegCount;
    public int sharedOfaCount;
    public int gpuInstanceSliceCount;
    public int computeInstanceSliceCount;
    public long memorySizeMB;

    public DeviceAttributes() {}

    public DeviceAttributes(Pointer p) {
      super(p);
      read();
    }
  }

  /** {@code nvmlUtilization_t}, 8 bytes: gpu@0, memory@4 (percent of the last sample period). */
  @FieldOrder({"gpu", "memory"})
  public static final class Utilization extends Structure {
    public int gpu;
    public int memory;

    public Utilization() {}

    public Utilization(Pointer p) {
      super(p);
      read();
    }
  }

  /**
   * {@code nvmlProcessInfo_t} (= {@code nvmlProcessInfo_v2_t}, as written by {@code
   * nvmlDeviceGetComputeRunningProcesses_v2} and {@code _v3}), 24 bytes: pid@0:uint, 4 pad bytes
   * the driver leaves untouched, usedGpuMemory@8:ull (bytes; all ones = not available),
   * gpuInstanceId@16, computeInstanceId@20 (0xFFFFFFFF when not MIG).
   */
  @FieldOrder({"pid", "pad", "usedGpuMemory", "gpuInstanceId", "computeInstanceId"})
  public static final class ProcessInfo extends Structure {
    /** Bytes per element of a process array (the stride of the current {@code nvml.h}). */
    static final int SIZE = 24;

    /**
     * Bytes allocated per element: R535.43-535.97 drivers wrote 32-byte entries through {@code _v3}
     * without a version bump (nvml-abi.md B.6 #2), so buffers are over-allocated to that.
     */
    static final int ALLOCATED = 32;

    public int pid;
    public int pad;
    public long usedGpuMemory;
    public int gpuInstanceId;
    public int computeInstanceId;

    public ProcessInfo() {}

    public ProcessInfo(Pointer p) {
      super(p);
      read();
    }
  }

  /**
   * {@code nvmlGpuInstanceInfo_t}, 24 bytes: device@0:nvmlDevice_t, id@8, profileId@12,
   * placement@16:{start,size}.
   */
  @FieldOrder({"device", "id", "profileId", "placement"})
  public static final class GpuInstanceInfo extends Structure {
    @SuppressWarnings("NullAway.Init") // filled from native memory by read()
    public Pointer device;
    public int id;
    public int profileId;
    public GpuInstancePlacement placement = new GpuInstancePlacement();

    public GpuInstanceInfo() {}

    public GpuInstanceInfo(Pointer p) {
      super(p);
      read();
    }
  }

  /**
   * {@code nvmlComputeInstanceProfileInfo_t} (v1), 36 bytes: nine {@code unsigned int}s, id@0,
   * sliceCount@4, instanceCount@8, multiprocessorCount@12, sharedCopyEngineCount@16,
   * sharedDecoderCount@20, sharedEncoderCount@24, sharedJpegCount@28, sharedOfaCount@32 (as
   * {@code nvml.h} declares it; read through the {@code search} tool, see {@link NvmlLibrary}).
   */
  @FieldOrder({
    "id",
    "sliceCount",
    "instanceCount",
    "multiprocessorCount",
    "sharedCopyEngineCount",
    "sharedDecoderCount",
    "sharedEncoderCount",
    "sharedJpegCount",
    "sharedOfaCount"
  })
  public static final class ComputeInstanceProfileInfo extends Structure {
    public int id;
    public int sliceCount;
    public int instanceCount;
    public int multiprocessorCount;
    public int sharedCopyEngineCount;
    public int sharedDecoderCount;
    public int sharedEncoderCount;
    public int sharedJpegCount;
    public int sharedOfaCount;

    public ComputeInstanceProfileInfo() {}

    public ComputeInstanceProfileInfo(Pointer p) {
      super(p);
      read();
    }
  }

  /**
   * {@code nvmlComputeInstanceInfo_t}, 32 bytes: device@0:nvmlDevice_t,
   * gpuInstance@8:nvmlGpuInstance_t, id@16, profileId@20, placement@24:{start,size}
   * (shared/reference/nvml-abi.md B.4).
   */
  @FieldOrder({"device", "gpuInstance", "id", "profileId", "placement"})
  public static final class ComputeInstanceInfo extends Structure {
    @SuppressWarnings("NullAway.Init") // filled from native memory by read()
    public Pointer device;

    @SuppressWarnings("NullAway.Init") // filled from native memory by read()
    public Pointer gpuInstance;

    public int id;
    public int profileId;
    public GpuInstancePlacement placement = new GpuInstancePlacement();

    public ComputeInstanceInfo() {}

    public ComputeInstanceInfo(Pointer p) {
      super(p);
      read();
    }
  }

  /** {@code nvmlSample_t}, 16 bytes: timeStamp@0:ull (CPU microseconds), sampleValue@8:nvmlValue_t. */
  static final int SAMPLE_SIZE = 16;

  /** Offset of {@code sampleValue} in {@code nvmlSample_t}. */
  static final int SAMPLE_VALUE_OFFSET = 8;

  /**
   * Reads an {@code nvmlValue_t} union of type {@code nvmlValueType_t} as a long: DOUBLE (0) is
   * truncated; UNSIGNED_INT (1) and UNSIGNED_SHORT (6) are zero-extended; UNSIGNED_LONG (2) is the
   * platform's {@code unsigned long}; the 64-bit types (3, 4) and SIGNED_INT (5) are as stored.
   *
   * @throws IllegalArgumentException for an unknown value type
   */
  static long valueAsLong(Pointer p, long offset, int valueType) {
    return switch (valueType) {
      case 0 -> (long) p.getDouble(offset);
      case 1 -> Integer.toUnsignedLong(p.getInt(offset));
      case 2 -> p.getNativeLong(offset).longValue();
      case 3, 4 -> p.getLong(offset);
      case 5 -> p.getInt(offset);
      case 6 -> Short.toUnsignedInt(p.getShort(offset));
      default -> throw new IllegalArgumentException("unknown nvmlValueType_t " + valueType);
    };
  }

  /** Decodes a NUL-terminated ASCII C string held in a byte buffer. */
  static String cString(byte[] buf) {
    int n = 0;
    while (n < buf.length && buf[n] != 0) {
      n++;
    }
    return new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII);
  }
}
