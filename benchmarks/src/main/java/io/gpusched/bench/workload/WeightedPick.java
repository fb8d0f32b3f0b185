package io.gpusched.bench.workload;

import java.util.Random;

/** Weighted random choice shared by the workload generators and the placement demo. */
public final class WeightedPick {
  private WeightedPick() {}

  /**
   * Returns an index drawn with probability proportional to its weight (one {@code nextInt} per
   * call, so generators stay reproducible).
   *
   * @param rnd the random source
   * @param weights non-negative weights, at least one positive
   */
  public static int index(Random rnd, int[] weights) {
    int total = 0;
    for (int w : weights) {
      total += w;
    }
    int r = rnd.nextInt(total);
    for (int i = 0; i < weights.length; i++) {
      r -= weights[i];
      if (r < 0) {
        return i;
      }
    }
    throw new AssertionError();
  }
}
