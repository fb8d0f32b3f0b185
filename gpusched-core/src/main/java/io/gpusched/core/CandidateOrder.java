package io.gpusched.core;

/**
 * An ordered candidate list for one request shape in one group: the GPU states and node buckets
 * to search, best first. An <em>entry</em> {@code >= 0} is a GPU state; a negative entry is a node
 * bucket, made by {@link #nodeBucket} and read back by {@link #freeOf}. Entries with equal scores
 * and the same kind form a <em>tie group</em> ({@code tieEnd[i]} is one past the last entry of
 * {@code i}'s group), searched together so that ties go to the lowest index.
 *
 * <p>A large tie group of GPU states also has a <em>mask</em> at its first entry {@code i}: bit
 * {@code s} set for each state {@code s} of the group, so that a search can intersect it with the
 * group's {@linkplain GroupIndex#stateSummary summary of non-empty states} and visit only the
 * states that may hold a GPU, instead of every entry ({@link GroupCursor#next});
 * {@code positionOf[s]} is state {@code s}'s entry index, or -1. The masks of an order lie in one
 * array, each trimmed to its words that have bits ({@code maskLen[i]} words from {@code
 * maskOff[i]}, standing for summary words {@code maskFrom[i]} on): a walk that skips many empty
 * tie groups reads them from consecutive memory, not one object each.
 *
 * @param entries the entries, best first
 * @param scores each entry's score (lower is better)
 * @param tieEnd for each entry, one past the end of its tie group
 * @param positionOf for each GPU state, its entry index in this order, or -1
 * @param maskWords the words of all masks
 * @param maskOff for the first entry of each tie group of at least {@link #MASKED_TIE} GPU states,
 *     where its mask's words start in {@code maskWords}; -1 elsewhere (no mask)
 * @param maskFrom for the first entry of a tie group with a mask, the summary word its first mask
 *     word stands for
 * @param maskLen for the first entry of a tie group with a mask, its number of mask words
 */
@EnginePart
@SuppressWarnings("ArrayRecordComponent") // arrays for the hot path; never compared or hashed
record CandidateOrder(
    int[] entries,
    double[] scores,
    int[] tieEnd,
    int[] positionOf,
    long[] maskWords,
    int[] maskOff,
    int[] maskFrom,
    int[] maskLen) {
  static final CandidateOrder EMPTY =
      new CandidateOrder(
          new int[0], new double[0], new int[0], new int[0], new long[0], new int[0], new int[0],
          new int[0]);

  /** The same order without masks: every tie group is walked entry by entry (for tests). */
  CandidateOrder withoutMasks() {
    int[] none = new int[entries.length];
    java.util.Arrays.fill(none, -1);
    return new CandidateOrder(
        entries, scores, tieEnd, positionOf, new long[0], none, new int[entries.length],
        new int[entries.length]);
  }

  /** Whether the tie group starting at entry {@code i} has a mask. */
  boolean hasMask(int i) {
    return maskOff[i] >= 0;
  }

  /** The smallest tie group of GPU states that gets a mask (smaller ones are walked entry by entry). */
  static final int MASKED_TIE = 8;

  /** Row kind: a GPU state. */
  static final int GPU_STATE = 0;

  /** Row kind: a node bucket (on equal scores, after GPU states). */
  static final int NODE_BUCKET = 1;

  /** Row kind: the last resort of a share order, the empty state itself (after everything). */
  static final int LAST_RESORT = 2;

  /** The score of {@code entry} in this order, or NaN if the order does not have it. */
  double scoreOf(int entry) {
    for (int i = 0; i < entries.length; i++) {
      if (entries[i] == entry) {
        return scores[i];
      }
    }
    return Double.NaN;
  }

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

  /**
   * The candidates of an order while it is built: parallel primitive arrays, so that a build
   * (share orders are rebuilt after every relearn of the mix) allocates no object per candidate.
   * A builder can be {@linkplain #reset reused} for the next build, with its sort's scratch
   * arrays: only the built order's own arrays are then allocated ({@link DecisionTables} keeps one
   * per thread for share orders). Not thread-safe: one builder per build at a time.
   */
  static final class Rows {
    int[] entry;
    double[] score;
    int[] kind;
    int n;
    // the sort's scratch, grown as needed and reused by later builds of this builder
    private int[] runStart = new int[0];
    private int[] byRun = new int[0];
    private int[] tmp = new int[0];
    private int[] idx = new int[0];
    private int[] kinds = new int[0];

    /** Empties the builder for the next build, keeping its arrays. */
    void reset() {
      n = 0;
    }

    /** An empty builder with room for {@code capacity} rows (grown as needed). */
    Rows(int capacity) {
      int c = Math.max(1, capacity);
      entry = new int[c];
      score = new double[c];
      kind = new int[c];
    }

    /**
     * Adds a candidate.
     *
     * @param e a GPU state, or a {@link #nodeBucket}
     * @param sc the strategy's score (lower is better)
     * @param k {@link #GPU_STATE}, {@link #NODE_BUCKET} or {@link #LAST_RESORT}
     */
    void add(int e, double sc, int k) {
      if (n == entry.length) {
        entry = java.util.Arrays.copyOf(entry, 2 * n);
        score = java.util.Arrays.copyOf(score, 2 * n);
        kind = java.util.Arrays.copyOf(kind, 2 * n);
      }
      entry[n] = e;
      score[n] = sc;
      kind[n] = k;
      n++;
    }

    /** Whether row {@code a} sorts before row {@code b}: by score, then kind, then as added. */
    private boolean before(int a, int b) {
      int c = Double.compare(score[a], score[b]);
      if (c != 0) {
        return c < 0;
      }
      return kind[a] != kind[b] ? kind[a] < kind[b] : a < b;
    }

    /**
     * The rows' indices by score, then kind, then the order they were added in. Consecutive rows
     * with the same score and kind (a run; for example the memory buckets of one milli bucket of a
     * share order, which fragmentation scores alike) stay together and in order in the result, as
     * no other row falls between them; so the runs are sorted, by their first row, and expanded.
     * A build therefore costs about {@code runs × log(runs)} comparisons rather than {@code n ×
     * log(n)}. The result is this builder's scratch: valid until its next sort.
     */
    int[] sorted() {
      if (runStart.length < n + 1) {
        int c = Math.max(n + 1, 2 * runStart.length);
        runStart = new int[c];
        byRun = new int[c];
        tmp = new int[c];
        idx = new int[c];
      }
      int[] runStart = this.runStart;
      int runs = 0;
      for (int i = 0; i < n; i++) {
        if (i == 0 || Double.compare(score[i], score[i - 1]) != 0 || kind[i] != kind[i - 1]) {
          runStart[runs++] = i;
        }
      }
      runStart[runs] = n;
      int[] byRun = this.byRun;
      for (int r = 0; r < runs; r++) {
        byRun[r] = r;
      }
      int[] tmp = this.tmp;
      for (int width = 1; width < runs; width *= 2) { // bottom-up merge sort of the runs
        for (int lo = 0; lo < runs - width; lo += 2 * width) {
          int mid = lo + width;
          int hi = Math.min(lo + 2 * width, runs);
          if (!before(runStart[byRun[mid]], runStart[byRun[mid - 1]])) {
            continue; // already in order
          }
          System.arraycopy(byRun, lo, tmp, lo, hi - lo);
          int i = lo;
          int j = mid;
          for (int k = lo; k < hi; k++) {
            if (j >= hi || (i < mid && !before(runStart[tmp[j]], runStart[tmp[i]]))) {
              byRun[k] = tmp[i++];
            } else {
              byRun[k] = tmp[j++];
            }
          }
        }
      }
      int[] idx = this.idx;
      int k = 0;
      for (int r = 0; r < runs; r++) {
        for (int i = runStart[byRun[r]]; i < runStart[byRun[r] + 1]; i++) {
          idx[k++] = i;
        }
      }
      return idx;
    }
  }

  /** Sorts rows by score, then kind (equal rows keep the order they were added in), and groups ties. */
  static CandidateOrder of(Rows rows) {
    int n = rows.n;
    int[] order = rows.sorted();
    int[] e = new int[n];
    double[] s = new double[n];
    if (rows.kinds.length < n) {
      rows.kinds = new int[Math.max(n, 2 * rows.kinds.length)];
    }
    int[] kinds = rows.kinds; // scratch: only e, s and the arrays below are the order's
    int[] tie = new int[n];
    for (int i = 0; i < n; i++) {
      e[i] = rows.entry[order[i]];
      s[i] = rows.score[order[i]];
      kinds[i] = rows.kind[order[i]];
    }
    for (int i = n - 1; i >= 0; i--) {
      boolean sameAsNext = i + 1 < n && s[i] == s[i + 1] && kinds[i] == kinds[i + 1];
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
    int[] off = new int[n];
    int[] from = new int[n];
    int[] len = new int[n];
    java.util.Arrays.fill(off, -1);
    long[] words = new long[0];
    int used = 0;
    for (int i = 0; i < n; i = tie[i]) {
      if (tie[i] - i >= MASKED_TIE && !isNodeBucket(e[i])) {
        int top = 0;
        int bottom = Integer.MAX_VALUE;
        for (int k = i; k < tie[i]; k++) {
          top = Math.max(top, e[k]);
          bottom = Math.min(bottom, e[k]);
        }
        int w0 = bottom >>> 6;
        int count = (top >>> 6) - w0 + 1;
        if (used + count > words.length) {
          words = java.util.Arrays.copyOf(words, Math.max(used + count, 2 * words.length));
        }
        for (int k = i; k < tie[i]; k++) {
          words[used + (e[k] >>> 6) - w0] |= 1L << e[k];
        }
        off[i] = used;
        from[i] = w0;
        len[i] = count;
        used += count;
      }
    }
    return new CandidateOrder(
        e, s, tie, positionOf, java.util.Arrays.copyOf(words, used), off, from, len);
  }
}
