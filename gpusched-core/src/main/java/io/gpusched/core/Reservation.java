package io.gpusched.core;

/**
 * GPUs taken but not yet published, with what was added to each word, the host resources charged
 * (per GPU) and the holder position on the GPU (see {@link GpuSlot#register}). Built and read by
 * one placing thread.
 */
@EnginePart
final class Reservation {
  /** Longs per GPU in {@link #words}: delta, host CPU, host memory, holder position. */
  static final int STRIDE = 4;

  final GpuSlot[] slots;
  /**
   * Per GPU {@code i}, at {@code STRIDE * i}: the delta added to its word, the host CPU and memory
   * charged, the holder position. One array (handed to the allocation as it is), not four.
   */
  final long[] words;
  int n;

  Reservation(int capacity) {
    slots = new GpuSlot[capacity];
    words = new long[STRIDE * capacity];
  }

  /** Records GPU {@code s} taken with {@code delta}, host {@code c}/{@code m} charged, at holder {@code position}. */
  void add(GpuSlot s, long delta, long c, long m, int position) {
    slots[n] = s;
    int k = STRIDE * n;
    words[k] = delta;
    words[k + 1] = c;
    words[k + 2] = m;
    words[k + 3] = position;
    n++;
  }

  long delta(int i) {
    return words[STRIDE * i];
  }

  long cpu(int i) {
    return words[STRIDE * i + 1];
  }

  long mem(int i) {
    return words[STRIDE * i + 2];
  }

  int owner(int i) {
    return (int) words[STRIDE * i + 3];
  }
}
