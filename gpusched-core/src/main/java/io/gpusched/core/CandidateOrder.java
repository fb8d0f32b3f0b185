package io.gpusched.core;

import java.util.Comparator;
import java.util.List;

/**
 * An ordered candidate list for one request shape in one group: the GPU states and node buckets
 * to search, best first. An <em>entry</em> {@code >= 0} is a GPU state; a negative entry is a node
 * bucket, made by {@link #nodeBucket} and read back by {@link #freeOf}. Entries with equal scores
 * and the same kind form a <em>tie group</em> ({@code tieEnd[i]} is one past the last entry of
 * {@code i}'s group), searched together so that ties go to the lowest index.
 *
 * @param entries the entries, best first
 * @param scores each entry's score (lower is better)
 * @param tieEnd for each entry, one past the end of its tie group
 */
@EnginePart
@SuppressWarnings("ArrayRecordComponent") // arrays for the hot path; never compared or hashed
record CandidateOrder(int[] entries, double[] scores, int[] tieEnd) {
  static final CandidateOrder EMPTY = new CandidateOrder(new int[0], new double[0], new int[0]);

  /** Row kind: a GPU state. */
  static final int GPU_STATE = 0;

  /** Row kind: a node bucket (on equal scores, after GPU states). */
  static final int NODE_BUCKET = 1;

  /** Row kind: the last resort of a share order, the empty state itself (after everything). */
  static final int LAST_RESORT = 2;

  /**
   * One candidate while an order is built.
   *
   * @param entry a GPU state, or a {@link #nodeBucket}
   * @param score the strategy's score (lower is better)
   * @param kind {@link #GPU_STATE}, {@link #NODE_BUCKET} or {@link #LAST_RESORT}
   */
  record Row(int entry, double score, int kind) {}

  /** The entry of the bucket of nodes with {@code free} empty GPUs. */
  static int nodeBucket(int free) {
    return -1 - free;
  }

  /** Whether an entry is a node bucket (else a GPU state). */
  static boolean isNodeBucket(int entry) {
    return entry < 0;
  }

  /** The empty-GPU count of a node-bucket entry. */
  static int freeOf(int nodeBucketEntry) {
    return -1 - nodeBucketEntry;
  }

  /** Sorts rows by score, then kind, and groups ties. */
  static CandidateOrder of(List<Row> rows) {
    rows.sort(Comparator.comparingDouble(Row::score).thenComparingInt(Row::kind));
    int n = rows.size();
    int[] e = new int[n];
    double[] s = new double[n];
    int[] tie = new int[n];
    for (int i = 0; i < n; i++) {
      e[i] = rows.get(i).entry();
      s[i] = rows.get(i).score();
    }
    for (int i = n - 1; i >= 0; i--) {
      boolean sameAsNext =
          i + 1 < n && s[i] == s[i + 1] && rows.get(i).kind() == rows.get(i + 1).kind();
      tie[i] = sameAsNext ? tie[i + 1] : i + 1;
    }
    return new CandidateOrder(e, s, tie);
  }
}
