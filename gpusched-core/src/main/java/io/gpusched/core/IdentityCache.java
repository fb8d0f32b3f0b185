package io.gpusched.core;

import java.util.function.Function;
import java.util.function.ToIntFunction;

/**
 * A small cache keyed by object identity, in front of a slower lookup, for keys that callers
 * usually pass as the same instance (request profile names are constants in most programs). A key
 * may sit in its home slot or in one of the {@value #PROBES} slots after it (linear probing), so a
 * few keys whose identity hashes share a slot do not evict each other on every call. With one slot
 * per key, six profile names in 16 slots share a slot with a probability of about 2/3 (the
 * birthday bound), and then every placement of either name missed and allocated a new entry: in
 * one JFR recording of FRAGMENTATION_AWARE's MIG benchmark most allocation samples were such
 * entries, and its bytes per pair varied from run to run (146 to 170). A miss loads the value and writes it to the first empty
 * slot of its probe window, or over its home slot when the window is full. Entries are immutable
 * and reach other threads through a plain array (racy but benign: a reader sees a whole entry or an
 * older one, and any entry it sees maps its key correctly; a racing writer may overwrite another
 * key's entry, which is then loaded again), so a hit costs a few array reads and identity
 * compares, with no lock.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
@EnginePart
final class IdentityCache<K, V> {
  /** Slots looked at per key: its home slot and the ones after it. */
  static final int PROBES = 4;

  private static final class Entry<K, V> {
    final K key;
    final V value;

    Entry(K key, V value) {
      this.key = key;
      this.value = value;
    }
  }

  private final Entry<?, ?>[] entries;
  private final Function<K, V> load;
  private final ToIntFunction<Object> hash;

  /** A cache of {@code size} slots (a power of two, at least {@value #PROBES}) in front of {@code load}. */
  IdentityCache(int size, Function<K, V> load) {
    this(size, load, System::identityHashCode);
  }

  /** As {@link #IdentityCache(int, Function)} with another hash of the keys (tests). */
  IdentityCache(int size, Function<K, V> load, ToIntFunction<Object> hash) {
    if (Integer.bitCount(size) != 1 || size < PROBES) {
      throw new IllegalArgumentException("size must be a power of two of at least " + PROBES + ": " + size);
    }
    this.entries = new Entry<?, ?>[size];
    this.load = load;
    this.hash = hash;
  }

  /** The value for {@code key}, loaded on a miss. */
  @SuppressWarnings("unchecked") // every entry in this cache is an Entry<K, V>
  V get(K key) {
    int mask = entries.length - 1;
    int home = hash.applyAsInt(key) & mask;
    int empty = -1;
    for (int i = 0; i < PROBES; i++) {
      int slot = (home + i) & mask;
      Entry<?, ?> e = entries[slot];
      if (e == null) {
        empty = slot;
        break; // entries are never removed: the key is not further on
      }
      if (e.key == key) {
        return (V) e.value;
      }
    }
    V v = load.apply(key);
    entries[empty >= 0 ? empty : home] = new Entry<>(key, v);
    return v;
  }
}
