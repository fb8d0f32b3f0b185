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

  /** Decodes a NUL-terminated ASCII C string held in a byte buffer. */
  static String cString(byte[] buf) {
    int n = 0;
    while (n < buf.length && buf[n] != 0) {
      n++;
    }
    return new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII);
  }
}
