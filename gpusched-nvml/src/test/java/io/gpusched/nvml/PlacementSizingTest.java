package io.gpusched.nvml;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import io.gpusched.nvml.NvmlApi.Placement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The two-call sizing protocol of {@code nvmlDeviceGetGpuInstancePossiblePlacements_v2}, driven by
 * a scripted native function that writes into real native memory.
 */
class PlacementSizingTest {
  private static final String FN = "nvmlDeviceGetGpuInstancePossiblePlacements_v2";
  private static final int SUCCESS = 0;
  private static final int INSUFFICIENT = NvmlReturn.ERROR_INSUFFICIENT_SIZE.code();

  /** A native function whose placement list is {@code lists[call / 2]}: it may grow per round. */
  private static final class Scripted implements JnaNvmlApi.ArrayCall {
    final List<List<Placement>> rounds;
    final int sizingCode;
    final List<String> calls = new ArrayList<>();
    int round;

    Scripted(int sizingCode, List<List<Placement>> rounds) {
      this.sizingCode = sizingCode;
      this.rounds = rounds;
    }

    @Override
    public int call(Pointer buf, IntByReference count) {
      List<Placement> now = rounds.get(Math.min(round, rounds.size() - 1));
      if (buf == null) {
        calls.add("size");
        count.setValue(now.size());
        return now.isEmpty() ? SUCCESS : sizingCode;
      }
      calls.add("fetch(" + count.getValue() + ")");
      round++;
      List<Placement> after = rounds.get(Math.min(round, rounds.size() - 1));
      if (after.size() > count.getValue()) {
        count.setValue(after.size());
        return INSUFFICIENT;
      }
      for (int i = 0; i < after.size(); i++) {
        buf.setInt(8L * i, after.get(i).start());
        buf.setInt(8L * i + 4, after.get(i).size());
      }
      count.setValue(after.size());
      return SUCCESS;
    }
  }

  private static List<Placement> halves() {
    return List.of(new Placement(0, 4), new Placement(4, 4));
  }

  @Test
  void sizingAnswerInsufficientSizeIsNormal() {
    var f = new Scripted(INSUFFICIENT, List.of(halves()));
    assertThat(JnaNvmlApi.readPlacements(FN, f, c -> "x")).isEqualTo(halves());
    assertThat(f.calls).containsExactly("size", "fetch(2)");
  }

  @Test
  void sizingAnswerSuccessIsNormal() {
    var f = new Scripted(SUCCESS, List.of(halves()));
    assertThat(JnaNvmlApi.readPlacements(FN, f, c -> "x")).isEqualTo(halves());
  }

  @Test
  void countGrowingBetweenCallsIsRetried() {
    var three = List.of(new Placement(0, 2), new Placement(2, 2), new Placement(4, 2));
    var f = new Scripted(INSUFFICIENT, List.of(halves(), three, three));
    assertThat(JnaNvmlApi.readPlacements(FN, f, c -> "x")).isEqualTo(three);
    // the retry takes the count NVML asked for, without a second sizing call
    assertThat(f.calls).containsExactly("size", "fetch(2)", "fetch(3)");
  }

  @Test
  void countThatKeepsGrowingGivesUp() {
    List<List<Placement>> rounds = new ArrayList<>();
    for (int n = 1; n <= 8; n++) {
      List<Placement> l = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        l.add(new Placement(i, 1));
      }
      rounds.add(l);
    }
    var f = new Scripted(INSUFFICIENT, rounds);
    assertThatThrownBy(() -> JnaNvmlApi.readPlacements(FN, f, c -> "x"))
        .isInstanceOfSatisfying(NvmlException.class,
            e -> assertThat(e.is(NvmlReturn.ERROR_INSUFFICIENT_SIZE)).isTrue());
  }

  @Test
  void noPlacementsIsEmpty() {
    var f = new Scripted(INSUFFICIENT, List.of(List.of()));
    assertThat(JnaNvmlApi.readPlacements(FN, f, c -> "x")).isEmpty();
    assertThat(f.calls).containsExactly("size");
  }

  @Test
  void errorOnTheSizingCallIsTyped() {
    JnaNvmlApi.ArrayCall denied = (buf, count) -> NvmlReturn.ERROR_NO_PERMISSION.code();
    assertThatThrownBy(() -> JnaNvmlApi.readPlacements(FN, denied, c -> "Insufficient Permissions"))
        .isInstanceOfSatisfying(NvmlException.class, e -> {
          assertThat(e.is(NvmlReturn.ERROR_NO_PERMISSION)).isTrue();
          assertThat(e.function()).isEqualTo(FN);
          assertThat(e.errorString()).isEqualTo("Insufficient Permissions");
        });
  }
}
