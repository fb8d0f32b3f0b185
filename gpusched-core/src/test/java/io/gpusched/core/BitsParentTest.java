package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/**
 * The fourth level of {@link Bits}: one bit of a shared word array per bitset, set while the bitset
 * may be non-empty. Sequentially it follows emptiness exactly; under concurrent sets and clears it
 * may be left set on an empty bitset (a hint) but never clear on a non-empty one once updates stop.
 */
class BitsParentTest {

  @Test
  void theParentBitFollowsEmptiness() {
    long[] parent = new long[2];
    Bits a = new Bits(64, parent, 70);
    Bits b = new Bits(64, parent, 3);
    assertThat(Bits.parentSet(parent, 70)).isFalse();
    a.set(5);
    assertThat(Bits.parentSet(parent, 70)).isTrue();
    assertThat(Bits.parentSet(parent, 3)).isFalse();
    a.ensureCapacity(3 * Bits.SEGMENT_BITS);
    a.set(2 * Bits.SEGMENT_BITS + 9); // another segment
    a.clear(5);
    assertThat(Bits.parentSet(parent, 70)).as("another segment still holds a bit").isTrue();
    a.clear(2 * Bits.SEGMENT_BITS + 9);
    assertThat(Bits.parentSet(parent, 70)).isFalse();
    b.set(64);
    b.set(65);
    b.clear(64);
    assertThat(Bits.parentSet(parent, 3)).isTrue();
    b.clear(65);
    assertThat(Bits.parentSet(parent, 3)).isFalse();
    assertThat(parent).containsExactly(0L, 0L);
  }

  @Test
  void pastSixtyFourSegmentsTheParentBitStaysSet() {
    long[] parent = new long[1];
    Bits big = new Bits(64, parent, 0);
    big.set(1);
    big.ensureCapacity(65 * Bits.SEGMENT_BITS); // top no longer covers every segment
    big.clear(1);
    assertThat(Bits.parentSet(parent, 0)).isTrue();
    assertThat(Bits.parentSet(new long[] {0}, 0)).isFalse();
    long[] born = new long[1];
    new Bits(65 * Bits.SEGMENT_BITS, born, 0);
    assertThat(Bits.parentSet(born, 0)).as("born past 64 segments").isTrue();
  }

  /**
   * Threads set and clear random bits of three bitsets sharing one parent word, in several
   * segments; once they stop, every non-empty bitset has its parent bit, and every set bit is
   * found by a search.
   */
  @RepeatedTest(20)
  void concurrentSetsAndClearsLeaveNoNonEmptyBitsetWithoutItsParentBit() throws Exception {
    long[] parent = new long[1];
    Bits[] sets = {new Bits(3 * Bits.SEGMENT_BITS, parent, 0), new Bits(3 * Bits.SEGMENT_BITS, parent, 1),
        new Bits(3 * Bits.SEGMENT_BITS, parent, 63)};
    int[] candidates = {0, 1, 63, 64, Bits.SEGMENT_BITS, Bits.SEGMENT_BITS + 1, 2 * Bits.SEGMENT_BITS + 700};
    int threads = 4;
    CyclicBarrier start = new CyclicBarrier(threads);
    AtomicReference<Throwable> failed = new AtomicReference<>();
    var all = new ArrayList<Thread>();
    for (int t = 0; t < threads; t++) {
      Thread th =
          new Thread(
              () -> {
                try {
                  start.await();
                  ThreadLocalRandom r = ThreadLocalRandom.current();
                  for (int i = 0; i < 20_000; i++) {
                    Bits b = sets[r.nextInt(sets.length)];
                    int bit = candidates[r.nextInt(candidates.length)];
                    if (r.nextBoolean()) {
                      b.set(bit);
                    } else {
                      b.clear(bit);
                    }
                  }
                } catch (Throwable e) {
                  failed.compareAndSet(null, e);
                }
              });
      th.start();
      all.add(th);
    }
    for (Thread th : all) {
      th.join();
    }
    assertThat(failed.get()).isNull();
    int[] index = {0, 1, 63};
    for (int k = 0; k < sets.length; k++) {
      boolean nonEmpty = false;
      for (int bit : candidates) {
        if (sets[k].get(bit)) {
          nonEmpty = true;
          assertThat(sets[k].nextSetBit(bit, null)).as("bit %d reachable", bit).isEqualTo(bit);
        }
      }
      if (nonEmpty) {
        assertThat(Bits.parentSet(parent, index[k])).as("parent bit of non-empty bitset %d", k).isTrue();
      }
    }
  }
}
