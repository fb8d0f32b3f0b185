package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** {@link IdentityCache}: keys whose hashes share a slot, misses, identity and bad sizes. */
class IdentityCacheTest {

  /** Distinct key instances (equal strings would not matter: the cache compares identity). */
  private static List<String> keys(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(new String("profile-" + i));
    }
    return out;
  }

  @Test
  void keysWhoseHashesShareASlotAreAllCachedWithinTheProbeWindow() {
    AtomicInteger loads = new AtomicInteger();
    // every key hashes to slot 5: before probing, each call after the first evicted the last key
    IdentityCache<String, Integer> cache =
        new IdentityCache<>(16, k -> { loads.incrementAndGet(); return k.length(); }, k -> 5);
    List<String> keys = keys(IdentityCache.PROBES);
    for (int round = 0; round < 3; round++) {
      for (String k : keys) {
        assertThat(cache.get(k)).isEqualTo(k.length());
      }
    }
    assertThat(loads).as("one load per key, then hits only").hasValue(IdentityCache.PROBES);
  }

  @Test
  void aKeyBeyondAFullWindowTakesItsHomeSlotAndTheOthersStillHit() {
    AtomicInteger loads = new AtomicInteger();
    IdentityCache<String, Integer> cache =
        new IdentityCache<>(16, k -> { loads.incrementAndGet(); return 1; }, k -> 14); // wraps round
    List<String> keys = keys(IdentityCache.PROBES + 1);
    keys.forEach(cache::get);
    assertThat(loads).hasValue(IdentityCache.PROBES + 1);
    String last = keys.get(IdentityCache.PROBES);
    cache.get(last); // in the home slot now: a hit
    assertThat(loads).hasValue(IdentityCache.PROBES + 1);
    for (String k : keys.subList(1, IdentityCache.PROBES)) {
      cache.get(k); // the window's other slots (15, 0, 1) kept theirs
    }
    assertThat(loads).hasValue(IdentityCache.PROBES + 1);
    cache.get(keys.get(0)); // the one whose home slot was taken over is loaded again
    assertThat(loads).hasValue(IdentityCache.PROBES + 2);
  }

  @Test
  void anEqualKeyOfAnotherIdentityIsLoadedItself() {
    AtomicInteger loads = new AtomicInteger();
    IdentityCache<String, Integer> cache = new IdentityCache<>(16, k -> loads.incrementAndGet());
    String a = new String("1g.10gb");
    String b = new String("1g.10gb");
    assertThat(cache.get(a)).isEqualTo(1);
    assertThat(cache.get(a)).isEqualTo(1);
    assertThat(cache.get(b)).as("equal but not the same instance").isEqualTo(2);
  }

  @Test
  void aSizeThatIsNotAPowerOfTwoOrSmallerThanTheWindowIsRefused() {
    assertThatThrownBy(() -> new IdentityCache<String, String>(12, k -> k))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("12");
    assertThatThrownBy(() -> new IdentityCache<String, String>(2, k -> k))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("at least " + IdentityCache.PROBES + ": 2");
  }
}
