package io.gpusched.core;

/**
 * GPUs taken but not yet published, with what was added to each word, the host resources charged
 * (per GPU) and the holder position on the GPU (see {@link GpuSlot#register}). Built and read by
 * one placing thread.
 */
@EnginePart
final class Reservation {
  final GpuSlot[] slots;
  final long[] deltas;
  final long[] cpu;
  final long[] mem;
  final int[] owner;
  int n;

  Reservation(int capacity) {
    slots = new GpuSlot[capacity];
    deltas = new long[capacity];
    cpu = new long[capacity];
    mem = new long[capacity];
    owner = new int[capacity];
  }

  /** Records GPU {@code s} taken with {@code delta}, host {@code c}/{@code m} charged, at holder {@code position}. */
  void add(GpuSlot s, long delta, long c, long m, int position) {
    slots[n] = s;
    deltas[n] = delta;
    cpu[n] = c;
    mem[n] = m;
    owner[n] = position;
    n++;
  }
}
