package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuModels;
import io.gpusched.GpuSample;
import io.gpusched.IdlePolicy;
import io.gpusched.NodeSpec;
import io.gpusched.nvml.NvmlApi.GpuInstance;
import io.gpusched.nvml.NvmlApi.ProcessInfo;
import io.gpusched.nvml.NvmlTelemetryTest.ManualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 16: NVML as an ordinary user (no root, no MIG-monitor capability) and with restricted
 * devices, through {@link FakeNvmlApi} answering {@code NO_PERMISSION} where real drivers do.
 */
class NvmlPrivilegeTest {
  private static final long MIB = 1L << 20;
  private static final String UUID = FakeGpus.H100_UUID;

  /** Makes the calls that need a privileged user answer NO_PERMISSION (parent memory in MIG mode too). */
  private static FakeNvmlApi unprivileged(FakeNvmlApi api, boolean migMode) {
    api.fail("nvmlDeviceGetGpuInstances", NvmlReturn.ERROR_NO_PERMISSION)
        .fail("nvmlDeviceGetGpuInstancePossiblePlacements_v2", NvmlReturn.ERROR_NO_PERMISSION);
    if (migMode) {
      api.fail("nvmlDeviceGetMemoryInfo", 0, NvmlReturn.ERROR_NO_PERMISSION);
    }
    return api;
  }

  // ------------------------------------------------------------------ item 1: MIG memory info

  @Test
  void migParentMemoryWithoutPermissionFallsBackToTheCatalogAndIsMarkedDerived() {
    var api = unprivileged(new FakeNvmlApi().add(FakeGpus.h100WithMigInstances()), true);
    var inventory = new NvmlInventory(api, Map.of());

    NvmlDevice d = inventory.readDevices().get(0);
    assertThat(d.memoryTotalBytes()).isEqualTo(GpuModels.H100_80GB.memoryMiB() * MIB);
    assertThat(d.memoryDerived()).isTrue();
    assertThat(d.model()).isSameAs(GpuModels.H100_80GB);

    NodeSpec node = inventory.readNode("n");
    assertThat(node.gpus()).hasSize(1);
    assertThat(node.labels()).containsEntry(NvmlInventory.MEMORY_DERIVED_LABEL, "0");
    assertThat(Nvml.availability().needsPrivilege())
        .anySatisfy(s -> assertThat(s).contains(UUID).contains("derived"));
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void aReadableMemoryIsNotMarkedDerived() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0));
    var inventory = new NvmlInventory(api, Map.of());
    assertThat(inventory.readDevices().get(0).memoryDerived()).isFalse();
    assertThat(inventory.readNode("n").labels())
        .doesNotContainKey(NvmlInventory.MEMORY_DERIVED_LABEL);
  }

  // ------------------------------------------------------------------ item 3: restricted device

  @Test
  void aRestrictedDeviceIsSkippedAndTheRestReported() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0)).add(FakeGpus.h200(0))
        .add(FakeGpus.hopper("NVIDIA H100 80GB HBM3", "GPU-third", FakeGpus.H100_TOTAL, 0, 0,
            new long[] {9984, 20096, 20096, 40448, 40448, 81152},
            new int[] {16, 26, 32, 60, 64, 132}));
    api.restricted.add(1);
    var inventory = new NvmlInventory(api, Map.of());

    assertThat(inventory.readDevices()).extracting(NvmlDevice::index).containsExactly(0, 2);
    NodeSpec node = inventory.readNode("n");
    assertThat(node.gpus()).extracting(g -> g.uuid()).containsExactly(UUID, "GPU-third");
    assertThat(api.shutdowns).isEqualTo(api.inits);
  }

  @Test
  void aRestrictedDeviceIsSkippedBySamplingWithoutErrors() {
    var api = new FakeNvmlApi().add(FakeGpus.h100(0, 0)).add(FakeGpus.h200(0));
    api.restricted.add(0);
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(new ManualClock()).buildUnstarted()) {
      t.sampleOnce();
      t.sampleOnce();
      assertThat(t.snapshot()).hasSize(1);
      assertThat(t.suppressedErrors()).isZero();
      assertThat(t.errorsReported()).isZero();
    }
  }

  // ------------------------------------------------------------------ item 2: per-MIG telemetry

  /** An H100 with a 4g.40gb at 0:4 (GI 1) and a 3g.40gb at 4:4 (GI 2): both starts are forced. */
  private static FakeNvmlApi.Device h100FourPlusThree() {
    return FakeGpus.h100(1, 1)
        .instance(new GpuInstance(1, 5, 0, 4))
        .instance(new GpuInstance(2, 9, 4, 4))
        .mig(new FakeNvmlApi.MigDevice("MIG-4g", 1, 40448 * MIB, 30 * MIB).attributes(4, 40448))
        .mig(new FakeNvmlApi.MigDevice("MIG-3g", 2, 40448 * MIB, 20 * MIB).attributes(3, 40448));
  }

  @Test
  void migDevicesAreMappedToTheirStartsWithoutThePrivilegedListWhereOnlyOnePlacementFits() {
    var api = unprivileged(new FakeNvmlApi().add(h100FourPlusThree()), true);
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(new ManualClock()).buildUnstarted()) {
      for (int i = 0; i < 3; i++) {
        t.sampleOnce();
      }
      assertThat(t.latest(UUID, 0).orElseThrow().memoryUsedMiB()).isEqualTo(30);
      assertThat(t.latest(UUID, 4).orElseThrow().memoryUsedMiB()).isEqualTo(20);
      assertThat(t.limitations()).isEmpty();
      // the refused list is asked once, not on every pass for every MIG device
      assertThat(api.callsByFunction.get("nvmlDeviceGetGpuInstances")).isEqualTo(1);
    }
  }

  @Test
  void ambiguousMigDevicesTurnIdleDetectionOffForTheirGpuAndSaySo() {
    var gpu = FakeGpus.h100WithMigInstances();
    gpu.migDevices.get(0).processes = List.of(new ProcessInfo(777, 20 * MIB, 2, 0)); // 3g busy
    var api = unprivileged(new FakeNvmlApi().add(gpu), true);
    var clock = new ManualClock();
    IdlePolicy policy = IdlePolicy.DEFAULT;
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(clock).buildUnstarted()) {
      long end = clock.millis() + policy.window().toMillis() + Duration.ofMinutes(2).toMillis();
      while (clock.millis() < end) {
        t.sampleOnce();
        clock.advance(Duration.ofSeconds(30));
      }
      // nothing is keyed by a guessed start slot
      assertThat(t.snapshot().keySet()).extracting(NvmlTelemetry.DeviceKey::migStartSlot)
          .containsExactly(GpuSample.WHOLE_GPU);
      // the GPU runs work on a MIG device it cannot map: it must never look idle
      assertThat(t.idle(UUID, GpuSample.WHOLE_GPU, policy)).isFalse();
      assertThat(t.idleSince(UUID, GpuSample.WHOLE_GPU, policy)).isEmpty();
      assertThat(t.limitations()).containsKey(UUID);
      assertThat(t.limitations().get(UUID)).contains("idle detection is off");
      assertThat(Nvml.availability().needsPrivilege())
          .anySatisfy(s -> assertThat(s).contains(UUID).contains("idle detection is off"));
      assertThat(api.callsByFunction.get("nvmlDeviceGetGpuInstances")).isEqualTo(1);
    }
    // closed: its line is gone (other lines, e.g. the inventory's derived memory, may remain)
    assertThat(Nvml.availability().needsPrivilege())
        .noneSatisfy(s -> assertThat(s).contains(UUID).contains("idle detection is off"));
  }

  @Test
  void withThePrivilegedListEveryMigDeviceIsMappedAndNothingIsLimited() {
    var api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(new ManualClock()).buildUnstarted()) {
      t.sampleOnce();
      assertThat(t.snapshot()).hasSize(4);
      assertThat(t.limitations()).isEmpty();
    }
  }

  @Test
  void aLoneSevenSliceInstanceMapsToZeroFromTheCatalogWhenProfilesAreRefusedToo() {
    var gpu = FakeGpus.h100(1, 1)
        .instance(new GpuInstance(4, 0, 0, 8))
        .mig(new FakeNvmlApi.MigDevice("MIG-7g", 4, 81152 * MIB, 40 * MIB).attributes(7, 81152));
    var api = unprivileged(new FakeNvmlApi().add(gpu), true)
        .fail("nvmlDeviceGetGpuInstanceProfileInfo", NvmlReturn.ERROR_NO_PERMISSION);
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(new ManualClock()).buildUnstarted()) {
      t.sampleOnce();
      assertThat(t.latest(UUID, 0).orElseThrow().memoryUsedMiB()).isEqualTo(40);
      assertThat(t.limitations()).isEmpty();
    }
  }

  @Test
  void withoutAttributesNothingIsMappedAndIdleDetectionIsOff() {
    var gpu = h100FourPlusThree();
    gpu.migDevices.forEach(m -> m.sliceCount = 0); // nvmlDeviceGetAttributes_v2 NOT_SUPPORTED
    var api = unprivileged(new FakeNvmlApi().add(gpu), true);
    try (NvmlTelemetry t = NvmlTelemetry.builder(api).clock(new ManualClock()).buildUnstarted()) {
      t.sampleOnce();
      assertThat(t.snapshot()).hasSize(1);
      assertThat(t.latest(UUID, GpuSample.WHOLE_GPU).orElseThrow().processes()).isNull();
      assertThat(t.idle(UUID, GpuSample.WHOLE_GPU, IdlePolicy.DEFAULT)).isFalse();
      assertThat(t.limitations().get(UUID)).contains("2 of 2 MIG devices");
    }
  }

  @Test
  void aStartIsForcedOnlyWhenEveryPlacementAgrees() {
    var half = List.of(new NvmlApi.Placement(0, 4), new NvmlApi.Placement(4, 4));
    var first = List.of(new NvmlApi.Placement(0, 4));
    var anyOne = new ArrayList<NvmlApi.Placement>();
    for (int s = 0; s < 7; s++) {
      anyOne.add(new NvmlApi.Placement(s, 1));
    }
    assertThat(MigSlotDeducer.forcedStarts(Map.of(1, first, 2, half)))
        .containsExactlyInAnyOrderEntriesOf(Map.of(1, 0, 2, 4));
    assertThat(MigSlotDeducer.forcedStarts(Map.of(1, half, 2, half))).isEmpty();
    // a 3g at 0:4 or 4:4 and three 1g: the 3g can sit either side, nothing is forced
    assertThat(MigSlotDeducer.forcedStarts(Map.of(1, half, 2, anyOne, 3, anyOne, 4, anyOne)))
        .isEmpty();
    // two 4-slice instances that both need slot 0: no placement at all, nothing mapped
    assertThat(MigSlotDeducer.forcedStarts(Map.of(1, first, 2, first))).isEmpty();
  }

  // ------------------------------------------------------------------ item 5: one MIG handle

  @Test
  void aMigDeviceRecreatedBetweenTwoReadsIsNeverPairedWrongly() {
    var api = new FakeNvmlApi().add(FakeGpus.h100WithMigInstances());
    FakeNvmlApi.Device d = api.devices.get(0);
    List<String> before = new ArrayList<>();
    for (FakeNvmlApi.MigDevice m : d.migDevices) {
      before.add(m == null ? null : m.uuid + "@" + m.gpuInstanceId);
    }
    // MIG device 0 (the 3g on GI 2) is destroyed and another made on GI 9 while it is being read
    api.onCall = fn -> {
      if (fn.equals("nvmlDeviceGetUUID")) {
        if (d.migDevices.get(0).gpuInstanceId == 2) {
          d.migDevices.set(0, new FakeNvmlApi.MigDevice("MIG-recreated", 9, MIB, 0));
        }
      }
    };
    api.init();
    List<MigInstanceReader.MigDeviceRef> refs = MigInstanceReader.migDevices(api, 0);
    List<String> pairs = refs.stream().map(r -> r.uuid() + "@" + r.gpuInstanceId()).toList();
    before.add("MIG-recreated@9");
    assertThat(before).containsAll(pairs);
  }
}
