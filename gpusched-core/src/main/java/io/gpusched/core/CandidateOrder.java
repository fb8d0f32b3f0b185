package io.gpusched.core;

import java.util.Comparator;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * An ordered candidate list for one request shape in one group: the GPU states and node buckets
 * to search, best first. An <em>entry</em> {@code >= 0} is a GPU state; a negative entry is a node
 * bucket, made by {@link #nodeBucket} and read back by {@link #freeOf}. Entries with equal scores
 * and the same kind form a <em>tie group</em> ({@code tieEnd[i]} is one past the last entry of
 * {@code i}'s group), searched together so that ties go to the lowest index.
 *
 * <p>A large tie group of GPU states also has a <em>mask</em> ({@code tieMasks[i]} at its first
 * entry {@code i}): bit {@code s} set for each state {@code s} of the group, so that a search can
 * intersect it with the group's {@linkplain GroupIndex#stateSummary summary of non-empty states}
 * and visit only the states that may hold a GPU, instead of every entry ({@link
 * GroupCursor#next}); {@code positionOf[s]} is state {@code s}'s entry index, or -1.
 *
 * @param entries the entries, best first
 * @param scores each entry's score (lower is better)
 * @param tieEnd for each entry, one past the end of its tie group
 * @param tieMasks for the first entry of each tie group of at least {@link #MASKED_TIE} GPU states,
 *     the mask of its states; null elsewhere
 * @param positionOf for each GPU state, its entry index in this order, or -1
 */
@EnginePart
@SuppressWarnings("ArrayRecordComponent") // arrays for the hot path; never compared or hashed
record CandidateOrder(
    int[] entries, double[] scores, int[] tieEnd, long[] @Nullable [] tieMasks, int[] positionOf) {
  static final CandidateOrder EMPTY =
      new CandidateOrder(new int[0], new double[0], new int[0], new long[0][], new int[0]);

  /** The smallest tie group of GPU states that gets a mask (smaller ones are walked entry by entry). */
  static final int MASKED_TIE = 8;

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

  /** Rows by score, then kind (a stable sort: equal rows keep their order). */
  private static final Comparator<Row> BY_SCORE_THEN_KIND =
      Comparator.comparingDouble(Row::score).thenComparingInt(Row::kind);

  /** Sorts rows by score, then kind, and groups ties. */
  static CandidateOrder of(List<Row> rows) {
    rows.sort(BY_SCORE_THEN_KIND);
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
    int maxState = -1;
    for (int x : e) {
      maxState = Math.max(maxState, x);
    }
    int[] positionOf = new int[maxState + 1];
    java.util.Arrays.fill(positionOf, -1);
    for (int i = 0; i < n; i++) {
      if (e[i] >= 0) {
        positionOf[e[i]] = i;
      }
    }
    long[][] masks = new long[n][];
    for (int i = 0; i < n; i = tie[i]) {
      if (tie[i] - i >= MASKED_TIE && !isNodeBucket(e[i])) {
        int top = 0;
        for (int k = i; k < tie[i]; k++) {
          top = Math.max(top, e[k]);
        }
        long[] m = new long[(top >>> 6) + 1];
        for (int k = i; k < tie[i]; k++) {
          m[e[k] >>> 6] |= 1L << e[k];
        }
        masks[i] = m;
      }
    }
    return new CandidateOrder(e, s, tie, masks, positionOf);
  }
}
