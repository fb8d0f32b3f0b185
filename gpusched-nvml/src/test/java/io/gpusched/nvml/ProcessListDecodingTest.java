package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import io.gpusched.nvml.NvmlApi.ProcessInfo;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Process lists as {@code nvmlDeviceGetComputeRunningProcesses_v3} returns them: a scripted native
 * function writes entries at the 24-byte stride of {@code nvml.h} into real native memory, leaving
 * the pad bytes as the driver does (0xAA from a prefill here), and the sizing protocol is driven
 * through INSUFFICIENT_SIZE with the count NVML asks for.
 */
class ProcessListDecodingTest {
  private static final String FN = "nvmlDeviceGetComputeRunningProcesses_v3";
  private static final int INSUFFICIENT = NvmlReturn.ERROR_INSUFFICIENT_SIZE.code();

  /** Writes {@code procs} (pid, used bytes) as a driver would; the list may grow once. */
  private static final class Driver implements JnaNvmlApi.ArrayCall {
    final List<long[]> procs;
    final List<long[]> grown;
    final List<String> calls = new ArrayList<>();
    int fetches;

    Driver(List<long[]> procs, List<long[]> grown) {
      this.procs = procs;
      this.grown = grown;
    }

    @Override
    public int call(Pointer buf, IntByReference count) {
      // the sizing call sees the first list; fetches see the grown one (processes started)
      List<long[]> now = buf == null && fetches == 0 || grown == null ? procs : grown;
      if (buf == null) {
        calls.add("size");
        count.setValue(now.size());
        return now.isEmpty() ? 0 : INSUFFICIENT;
      }
      calls.add("fetch(" + count.getValue() + ")");
      fetches++;
      if (now.size() > count.getValue()) {
        count.setValue(now.size());
        return INSUFFICIENT;
      }
      for (int i = 0; i < now.size(); i++) {
        long at = 24L * i;
        buf.setMemory(at, 24, (byte) 0xAA);
        buf.setInt(at, (int) now.get(i)[0]);
        buf.setLong(at + 8, now.get(i)[1]);
        buf.setInt(at + 16, -1);
        buf.setInt(at + 20, -1);
      }
      count.setValue(now.size());
      return 0;
    }
  }

  private static List<ProcessInfo> read(JnaNvmlApi.ArrayCall call) {
    return JnaNvmlApi.readArray(FN, call, NvmlStructs.ProcessInfo.ALLOCATED, 0,
        JnaNvmlApi::decodeProcess, c -> "text");
  }

  @Test
  void entriesAreDecodedAtTheHeaderStrideDespiteDirtyPadding() {
    var d = new Driver(List.of(new long[] {4242, 536870912L}, new long[] {3_000_000_001L, -1}),
        null);

    List<ProcessInfo> l = read(d);

    assertThat(l).containsExactly(
        new ProcessInfo(4242, 536870912L, -1, -1),
        // pid is unsigned 32-bit; all-ones memory is NVML_VALUE_NOT_AVAILABLE
        new ProcessInfo(3_000_000_001L, -1, -1, -1));
    assertThat(d.calls).containsExactly("size", "fetch(2)");
  }

  @Test
  void insufficientSizeIsRetriedWithTheCountNvmlAsksFor() {
    var one = List.<long[]>of(new long[] {1, 1L << 20});
    var three = List.of(new long[] {1, 1L << 20}, new long[] {2, 2L << 20},
        new long[] {3, 3L << 20});
    var d = new Driver(one, three);

    assertThat(read(d)).extracting(ProcessInfo::pid).containsExactly(1L, 2L, 3L);
    assertThat(d.calls).containsExactly("size", "fetch(1)", "fetch(3)");
  }

  @Test
  void noProcessesIsEmptyAfterTheSizingCall() {
    var d = new Driver(List.of(), List.of());
    assertThat(read(d)).isEmpty();
    assertThat(d.calls).containsExactly("size");
  }

  @Test
  void anInsufficientSizeThatAsksForNoMoreStartsOverWithASizingCall() {
    List<String> calls = new ArrayList<>();
    int[] round = {0};
    JnaNvmlApi.ArrayCall stubborn = (buf, count) -> {
      calls.add(buf == null ? "size" : "fetch(" + count.getValue() + ")");
      if (buf == null) {
        count.setValue(1);
        return INSUFFICIENT;
      }
      if (round[0]++ == 0) {
        return INSUFFICIENT; // count left as offered
      }
      buf.setInt(0, 7);
      count.setValue(1);
      return 0;
    };
    assertThat(read(stubborn)).extracting(ProcessInfo::pid).containsExactly(7L);
    assertThat(calls).containsExactly("size", "fetch(1)", "size", "fetch(1)");
  }

  @Test
  void aFirstGuessSkipsTheSizingCall() {
    List<String> calls = new ArrayList<>();
    JnaNvmlApi.ArrayCall handles = (buf, count) -> {
      calls.add(buf == null ? "size" : "fetch(" + count.getValue() + ")");
      count.setValue(0);
      return 0;
    };
    assertThat(JnaNvmlApi.readArray("nvmlDeviceGetGpuInstances", handles, 8, 7,
        (buf, i) -> buf.getPointer(8L * i), c -> "")).isEmpty();
    assertThat(calls).containsExactly("fetch(7)");
  }

  @Test
  void otherCodesAreTyped() {
    JnaNvmlApi.ArrayCall lost = (buf, count) -> NvmlReturn.ERROR_GPU_IS_LOST.code();
    assertThatThrownBy(() -> read(lost))
        .isInstanceOfSatisfying(NvmlException.class, e -> {
          assertThat(e.is(NvmlReturn.ERROR_GPU_IS_LOST)).isTrue();
          assertThat(e.function()).isEqualTo(FN);
        });
  }

  @Test
  void r535DriversWithTheWideV3EntriesAreRecognised() {
    assertThat(JnaNvmlApi.v3StrideUnsafe("535.43.02")).isTrue();
    assertThat(JnaNvmlApi.v3StrideUnsafe("535.86.10")).isTrue();
    assertThat(JnaNvmlApi.v3StrideUnsafe("535.98")).isFalse();
    assertThat(JnaNvmlApi.v3StrideUnsafe("535.42.01")).isFalse();
    assertThat(JnaNvmlApi.v3StrideUnsafe("580.159.04")).isFalse();
    assertThat(JnaNvmlApi.v3StrideUnsafe("")).isFalse();
    assertThat(JnaNvmlApi.v3StrideUnsafe("abc.def")).isFalse();
  }
}
