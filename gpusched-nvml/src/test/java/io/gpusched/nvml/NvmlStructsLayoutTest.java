package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.jna.Memory;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Sizes and field offsets of the JNA structs against gcc's layout of {@code nvml.h} on x86_64
 * (nvml-abi.md B.3): each field is written at its C offset into native memory and read back
 * through the struct.
 */
class NvmlStructsLayoutTest {

  @Test
  void memoryV1() {
    assertThat(new NvmlStructs.Memory().size()).isEqualTo(24);
    Memory m = new Memory(24);
    m.setLong(0, 85520809984L);
    m.setLong(8, 85017493504L);
    m.setLong(16, 503316480L);
    var s = new NvmlStructs.Memory(m);
    assertThat(s.total).isEqualTo(85520809984L);
    assertThat(s.free).isEqualTo(85017493504L);
    assertThat(s.used).isEqualTo(503316480L);
  }

  @Test
  void gpuInstanceProfileInfoV1() {
    assertThat(new NvmlStructs.GpuInstanceProfileInfo().size()).isEqualTo(48);
    Memory m = new Memory(48);
    for (int i = 0; i < 10; i++) {
      m.setInt(4L * i, 100 + i);
    }
    m.setLong(40, 81152);
    var s = new NvmlStructs.GpuInstanceProfileInfo(m);
    assertThat(new int[] {s.id, s.isP2pSupported, s.sliceCount, s.instanceCount,
            s.multiprocessorCount, s.copyEngineCount, s.decoderCount, s.encoderCount, s.jpegCount,
            s.ofaCount})
        .containsExactly(100, 101, 102, 103, 104, 105, 106, 107, 108, 109);
    assertThat(s.memorySizeMB).isEqualTo(81152);
  }

  @Test
  void placementArrayStride() {
    assertThat(new NvmlStructs.GpuInstancePlacement().size())
        .isEqualTo(NvmlStructs.GpuInstancePlacement.SIZE)
        .isEqualTo(8);
    Memory m = new Memory(16);
    m.setInt(0, 0);
    m.setInt(4, 4);
    m.setInt(8, 4);
    m.setInt(12, 4);
    var second = new NvmlStructs.GpuInstancePlacement(m.share(8));
    assertThat(second.start).isEqualTo(4);
    assertThat(second.size).isEqualTo(4);
  }

  @Test
  void pciInfo() {
    assertThat(new NvmlStructs.PciInfo().size()).isEqualTo(68);
    Memory m = new Memory(68);
    m.clear();
    m.write(0, "0000:00:06.0".getBytes(StandardCharsets.US_ASCII), 0, 12);
    m.setInt(16, 0);
    m.setInt(20, 0);
    m.setInt(24, 6);
    m.setInt(28, 0x233010DE);
    m.setInt(32, 0x16C110DE);
    m.write(36, "00000000:00:06.0".getBytes(StandardCharsets.US_ASCII), 0, 16);
    var s = new NvmlStructs.PciInfo(m);
    assertThat(NvmlStructs.cString(s.busIdLegacy)).isEqualTo("0000:00:06.0");
    assertThat(s.device).isEqualTo(6);
    assertThat(s.pciDeviceId).isEqualTo(0x233010DE);
    assertThat(s.pciSubSystemId).isEqualTo(0x16C110DE);
    assertThat(NvmlStructs.cString(s.busId)).isEqualTo("00000000:00:06.0");
  }

  @Test
  void cStringStopsAtNulOrBufferEnd() {
    byte[] buf = new byte[96];
    byte[] text = "NVIDIA H100 80GB HBM3".getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(text, 0, buf, 0, text.length);
    assertThat(NvmlStructs.cString(buf)).isEqualTo("NVIDIA H100 80GB HBM3");
    assertThat(NvmlStructs.cString(text)).isEqualTo("NVIDIA H100 80GB HBM3");
    assertThat(NvmlStructs.cString(new byte[4])).isEmpty();
  }
}
