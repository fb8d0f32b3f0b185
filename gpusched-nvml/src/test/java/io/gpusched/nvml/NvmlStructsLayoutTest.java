package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
  void deviceAttributes() {
    // nvml-abi.md: 40 bytes, eight unsigned ints at 0..28, memorySizeMB@32
    assertThat(new NvmlStructs.DeviceAttributes().size()).isEqualTo(40);
    Memory m = new Memory(40);
    for (int i = 0; i < 8; i++) {
      m.setInt(4L * i, 200 + i);
    }
    m.setLong(32, 40448);
    var s = new NvmlStructs.DeviceAttributes(m);
    assertThat(new int[] {s.multiprocessorCount, s.sharedCopyEngineCount, s.sharedDecoderCount,
            s.sharedEncoderCount, s.sharedJpegCount, s.sharedOfaCount, s.gpuInstanceSliceCount,
            s.computeInstanceSliceCount})
        .containsExactly(200, 201, 202, 203, 204, 205, 206, 207);
    assertThat(s.memorySizeMB).isEqualTo(40448);
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
  void utilization() {
    assertThat(new NvmlStructs.Utilization().size()).isEqualTo(8);
    Memory m = new Memory(8);
    m.setInt(0, 97);
    m.setInt(4, 41);
    var s = new NvmlStructs.Utilization(m);
    assertThat(s.gpu).isEqualTo(97);
    assertThat(s.memory).isEqualTo(41);
  }

  @Test
  void processInfoV2() {
    assertThat(new NvmlStructs.ProcessInfo().size())
        .isEqualTo(NvmlStructs.ProcessInfo.SIZE)
        .isEqualTo(24);
    Memory m = new Memory(24);
    m.setInt(0, 4242);
    m.setInt(4, 0xAAAAAAAA);
    m.setLong(8, 536870912L);
    m.setInt(16, -1);
    m.setInt(20, -1);
    var s = new NvmlStructs.ProcessInfo(m);
    assertThat(s.pid).isEqualTo(4242);
    assertThat(s.usedGpuMemory).isEqualTo(536870912L);
    assertThat(s.gpuInstanceId).isEqualTo(-1);
    assertThat(s.computeInstanceId).isEqualTo(-1);
  }

  @Test
  void gpuInstanceInfo() {
    assertThat(new NvmlStructs.GpuInstanceInfo().size()).isEqualTo(24);
    Memory m = new Memory(24);
    m.setPointer(0, m);
    m.setInt(8, 2);
    m.setInt(12, 9);
    m.setInt(16, 4);
    m.setInt(20, 4);
    var s = new NvmlStructs.GpuInstanceInfo(m);
    assertThat(s.device).isEqualTo(m);
    assertThat(s.id).isEqualTo(2);
    assertThat(s.profileId).isEqualTo(9);
    assertThat(s.placement.start).isEqualTo(4);
    assertThat(s.placement.size).isEqualTo(4);
  }

  /** {@code nvmlComputeInstanceProfileInfo_t} (v1): nine unsigned ints, 36 bytes. */
  @Test
  void computeInstanceProfileInfoV1() {
    assertThat(new NvmlStructs.ComputeInstanceProfileInfo().size()).isEqualTo(36);
    Memory m = new Memory(36);
    for (int i = 0; i < 9; i++) {
      m.setInt(4L * i, 100 + i);
    }
    var s = new NvmlStructs.ComputeInstanceProfileInfo(m);
    assertThat(s.id).isEqualTo(100);
    assertThat(s.sliceCount).isEqualTo(101);
    assertThat(s.instanceCount).isEqualTo(102);
    assertThat(s.multiprocessorCount).isEqualTo(103);
    assertThat(s.sharedOfaCount).isEqualTo(108);
  }

  /** {@code nvmlComputeInstanceInfo_t}: device@0, gpuInstance@8, id@16, profileId@20, placement@24. */
  @Test
  void computeInstanceInfo() {
    assertThat(new NvmlStructs.ComputeInstanceInfo().size()).isEqualTo(32);
    Memory m = new Memory(32);
    m.setPointer(0, m);
    m.setPointer(8, m.share(8));
    m.setInt(16, 3);
    m.setInt(20, 2);
    m.setInt(24, 0);
    m.setInt(28, 3);
    var s = new NvmlStructs.ComputeInstanceInfo(m);
    assertThat(s.device).isEqualTo(m);
    assertThat(s.gpuInstance).isEqualTo(m.share(8));
    assertThat(s.id).isEqualTo(3);
    assertThat(s.profileId).isEqualTo(2);
    assertThat(s.placement.start).isEqualTo(0);
    assertThat(s.placement.size).isEqualTo(3);
  }

  @Test
  void sampleValuesByType() {
    Memory m = new Memory(NvmlStructs.SAMPLE_SIZE * 2L);
    m.setLong(0, 1_700_000_000_000_000L);
    m.setInt(8, 0xFFFFFFFF);
    m.setLong(16, 1_700_000_000_166_666L);
    m.setDouble(24, 42.9);
    assertThat(JnaNvmlApi.decodeSample(m, 0, 1))
        .isEqualTo(new NvmlApi.Sample(1_700_000_000_000_000L, 4294967295L));
    assertThat(JnaNvmlApi.decodeSample(m, 1, 0))
        .isEqualTo(new NvmlApi.Sample(1_700_000_000_166_666L, 42));
    Memory v = new Memory(8);
    v.setLong(0, -5);
    assertThat(NvmlStructs.valueAsLong(v, 0, 3)).isEqualTo(-5);
    assertThat(NvmlStructs.valueAsLong(v, 0, 4)).isEqualTo(-5);
    assertThat(NvmlStructs.valueAsLong(v, 0, 5)).isEqualTo(-5);
    v.setLong(0, 0);
    v.setShort(0, (short) 0xFFFF);
    assertThat(NvmlStructs.valueAsLong(v, 0, 6)).isEqualTo(65535);
    v.setLong(0, 77);
    assertThat(NvmlStructs.valueAsLong(v, 0, 2)).isEqualTo(77);
    assertThatThrownBy(() -> NvmlStructs.valueAsLong(v, 0, 7))
        .isInstanceOf(IllegalArgumentException.class);
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
