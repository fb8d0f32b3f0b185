package io.gpusched.core;

import io.gpusched.GpuMode;
import io.gpusched.GpuModel;

/**
 * The occupancy-word layout and state space of one kind of GPU (a model in a mode). Immutable and
 * strategy-independent; decision tables built on top of it live in {@link Tables}.
 *
 * <p>Every GPU's occupancy is one {@code long}. A placement adds a <em>delta</em> to the word and a
 * release subtracts the same delta: the layouts below are chosen so that addition never carries
 * between fields of a feasible placement (bit masks are added only where their bits are clear,
 * counters never exceed their field). Zero is always the empty GPU.
 *
 * <p>A word maps to a dense <em>state id</em> in {@code 0..stateCount()-1}; the placement index keeps
 * one bitset of GPUs per state id.
 */
@EnginePart
abstract class Space {
  final GpuModel model;
  final GpuMode mode;

  Space(GpuModel model, GpuMode mode) {
    this.model = model;
    this.mode = mode;
  }

  abstract int stateCount();

  abstract int state(long word);

  /** Allocated capacity of the GPU in milli-GPU, 0..1000. */
  abstract int allocatedMilli(long word);

  /** Free fraction of the GPU, 0..1, as strategies see it. */
  abstract double freeFraction(int state);

  /** The delta that takes an empty GPU whole, or 0 if GPUs of this space cannot be taken whole. */
  long wholeDelta() {
    return 0;
  }

  /**
   * What a dead word (its node was removed: see {@link GangClaims#DEAD}) reads as: a valid word
   * of this space on which nothing can be placed, so every search passes over the GPU.
   */
  abstract long deadWord();

  /** A WHOLE GPU: word 0 free, 1 taken. */
  static final class Whole extends Space {
    Whole(GpuModel model) {
      super(model, GpuMode.WHOLE);
    }

    @Override
    int stateCount() {
      return 2;
    }

    @Override
    int state(long word) {
      return word == 0 ? 0 : 1;
    }

    @Override
    int allocatedMilli(long word) {
      return word == 0 ? 0 : 1000;
    }

    @Override
    double freeFraction(int state) {
      return state == 0 ? 1 : 0;
    }

    @Override
    long wholeDelta() {
      return 1;
    }

    @Override
    long deadWord() {
      return 1;
    }
  }

  /**
   * A SHARED GPU. Word: bits 0-10 milli-GPU used (0..1000), bits 11-42 GPU memory used in MiB.
   * States bucket the free amounts: {@value #MILLI_BUCKETS} buckets of {@value #MILLI_STEP} milli
   * (the last is exactly 1000) times {@value #MEM_BUCKETS} buckets of 1/16 of the memory (the last is
   * exactly all of it), so the empty GPU is a state of its own. Within a bucket GPUs differ by less
   * than a bucket; every hit is checked against the exact word before a CAS.
   */
  static final class Shared extends Space {
    static final int MILLI_STEP = 25;
    static final int MILLI_BUCKETS = 1000 / MILLI_STEP + 1;
    static final int MEM_BUCKETS = 17;
    static final int MILLI_BITS = 11;
    static final long MILLI_MASK = (1L << MILLI_BITS) - 1;
    static final long MAX_MEMORY_MIB = (1L << 32) - 1;

    final long memoryMiB;

    Shared(GpuModel model) {
      super(model, GpuMode.SHARED);
      if (model.memoryMiB() > MAX_MEMORY_MIB) {
        throw new IllegalArgumentException(
            "GPU memory of " + model.name() + " is too large for SHARED mode: " + model.memoryMiB());
      }
      this.memoryMiB = model.memoryMiB();
    }

    static int milliUsed(long word) {
      return (int) (word & MILLI_MASK);
    }

    static long memUsed(long word) {
      return word >>> MILLI_BITS;
    }

    static long delta(int milli, long memMiB) {
      return milli | (memMiB << MILLI_BITS);
    }

    boolean fits(long word, int milli, long memMiB) {
      return milliUsed(word) + milli <= 1000 && memUsed(word) + memMiB <= memoryMiB;
    }

    int memBucket(long freeMem) {
      return (int) (freeMem * 16 / memoryMiB);
    }

    static int milliBucket(int freeMilli) {
      return freeMilli / MILLI_STEP;
    }

    static int stateOf(int milliBucket, int memBucket) {
      return milliBucket * MEM_BUCKETS + memBucket;
    }

    @Override
    int stateCount() {
      return MILLI_BUCKETS * MEM_BUCKETS;
    }

    @Override
    int state(long word) {
      return stateOf(milliBucket(1000 - milliUsed(word)), memBucket(memoryMiB - memUsed(word)));
    }

    /** A representative free milli of a state's bucket (its middle; exact for the full bucket). */
    static int freeMilliOf(int state) {
      int b = state / MEM_BUCKETS;
      return b == MILLI_BUCKETS - 1 ? 1000 : b * MILLI_STEP + MILLI_STEP / 2;
    }

    /** A representative free memory fraction of a state's bucket. */
    static double freeMemFractionOf(int state) {
      int b = state % MEM_BUCKETS;
      return b == MEM_BUCKETS - 1 ? 1.0 : (b + 0.5) / 16.0;
    }

    @Override
    int allocatedMilli(long word) {
      return milliUsed(word);
    }

    @Override
    double freeFraction(int state) {
      return Math.min(freeMilliOf(state) / 1000.0, freeMemFractionOf(state));
    }

    @Override
    long wholeDelta() {
      return delta(1000, memoryMiB);
    }

    @Override
    long deadWord() {
      return wholeDelta();
    }
  }
}
