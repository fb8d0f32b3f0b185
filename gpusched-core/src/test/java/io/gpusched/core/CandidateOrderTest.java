package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * {@link CandidateOrder#of} sorts the rows of a build by runs of equal score and kind: the result
 * must be the stable sort by score ({@link Double#compare}), then kind, that it replaces, with the
 * same tie groups and the same masks, whatever the scores (many repeats, runs split apart, NaN,
 * both zeros, infinities), and a builder reused from build to build must build what a fresh one
 * does.
 */
class CandidateOrderTest {
  private record Row(int entry, double score, int kind) {}

  /** A builder reused by every try, as DecisionTables reuses one per thread for share orders. */
  private static final CandidateOrder.Rows REUSED = new CandidateOrder.Rows(1);

  private static void assertSameOrder(CandidateOrder actual, CandidateOrder expected) {
    assertThat(actual.entries()).containsExactly(expected.entries());
    assertThat(actual.scores()).containsExactly(expected.scores());
    assertThat(actual.tieEnd()).containsExactly(expected.tieEnd());
    assertThat(actual.positionOf()).containsExactly(expected.positionOf());
    assertThat(actual.maskWords()).containsExactly(expected.maskWords());
    assertThat(actual.maskOff()).containsExactly(expected.maskOff());
    assertThat(actual.maskFrom()).containsExactly(expected.maskFrom());
    assertThat(actual.maskLen()).containsExactly(expected.maskLen());
  }

  @Property(tries = 300)
  void sortsAsAStableSortByScoreThenKind(
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 800) int n,
      @ForAll @IntRange(min = 1, max = 40) int distinctScores) {
    Random r = new Random(seed);
    double[] palette = new double[distinctScores];
    double[] special = {
      Double.NaN, 0.0, -0.0, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MAX_VALUE
    };
    for (int i = 0; i < palette.length; i++) {
      palette[i] = r.nextInt(8) == 0 ? special[r.nextInt(special.length)] : r.nextInt(50) - 25.5;
    }
    List<Row> rows = new ArrayList<>();
    CandidateOrder.Rows built = new CandidateOrder.Rows(1);
    REUSED.reset(); // the builder of every try: its scratch still holds the earlier tries' rows

    int state = 0;
    int bucket = 1;
    for (int i = 0; i < n; i++) {
      int kind = r.nextInt(10) == 0 ? CandidateOrder.NODE_BUCKET : CandidateOrder.GPU_STATE;
      int entry = kind == CandidateOrder.NODE_BUCKET ? CandidateOrder.nodeBucket(bucket++) : state++;
      // runs: usually the score of the row before, so that equal rows come in runs
      double score =
          i > 0 && r.nextInt(4) != 0 ? rows.get(i - 1).score() : palette[r.nextInt(palette.length)];
      rows.add(new Row(entry, score, kind));
      built.add(entry, score, kind);
      REUSED.add(entry, score, kind);
    }
    CandidateOrder o = CandidateOrder.of(built);
    assertSameOrder(CandidateOrder.of(REUSED), o);

    List<Row> expected = new ArrayList<>(rows);
    expected.sort(Comparator.comparingDouble(Row::score).thenComparingInt(Row::kind));
    assertThat(o.entries()).containsExactly(expected.stream().mapToInt(Row::entry).toArray());
    assertThat(o.scores()).containsExactly(expected.stream().mapToDouble(Row::score).toArray());
    for (int i = 0; i < n; i++) {
      int end = i + 1;
      while (end < n
          && expected.get(end).score() == expected.get(i).score()
          && expected.get(end).kind() == expected.get(i).kind()) {
        end++;
      }
      assertThat(o.tieEnd()[i]).as("tie end of entry %d", i).isEqualTo(end);
      boolean groupStart = i == 0 || o.tieEnd()[i - 1] == i;
      boolean masked =
          groupStart
              && end - i >= CandidateOrder.MASKED_TIE
              && !CandidateOrder.isNodeBucket(o.entries()[i]);
      assertThat(o.hasMask(i)).as("mask at entry %d", i).isEqualTo(masked);
      if (masked) {
        for (int k = i; k < end; k++) {
          int s = o.entries()[k];
          int w = (s >>> 6) - o.maskFrom()[i];
          assertThat(w).isBetween(0, o.maskLen()[i] - 1);
          assertThat(o.maskWords()[o.maskOff()[i] + w] & (1L << s)).isNotZero();
          assertThat(o.positionOf()[s]).isEqualTo(k);
        }
        long bits = 0;
        for (int w = 0; w < o.maskLen()[i]; w++) {
          bits += Long.bitCount(o.maskWords()[o.maskOff()[i] + w]);
        }
        assertThat(bits).as("mask bits of the tie group at %d", i).isEqualTo(end - i);
      }
    }
  }
}
