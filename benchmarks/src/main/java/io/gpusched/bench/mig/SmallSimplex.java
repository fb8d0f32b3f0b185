package io.gpusched.bench.mig;

/**
 * A dense tableau simplex for the small linear programs of {@link MigOptimum}: maximize {@code
 * c.x} subject to {@code A x <= b}, {@code x >= 0}, with {@code b >= 0}, so the slack basis is a
 * feasible start and no phase one is needed. Bland's rule (lowest index enters, lowest basic index
 * leaves on ties) rules out cycling on the many degenerate pivots these programs have. Meant for a
 * few dozen rows and columns; the programs it gets are bounded (every variable is capped).
 */
final class SmallSimplex {
  private static final double EPS = 1e-9;

  private SmallSimplex() {}

  /**
   * Solves the program.
   *
   * @return an optimal {@code x}
   * @throws IllegalArgumentException if a {@code b} entry is negative or the sizes disagree
   * @throws ArithmeticException if the program is unbounded
   */
  static double[] maximize(double[][] a, double[] b, double[] c) {
    int m = a.length;
    int n = c.length;
    if (b.length != m) {
      throw new IllegalArgumentException("b has " + b.length + " entries for " + m + " rows");
    }
    double[][] t = new double[m + 1][n + m + 1];
    int[] basis = new int[m];
    for (int i = 0; i < m; i++) {
      if (a[i].length != n) {
        throw new IllegalArgumentException("row " + i + " has " + a[i].length + " columns, expected " + n);
      }
      if (b[i] < -EPS) {
        throw new IllegalArgumentException("b[" + i + "] is negative: " + b[i]);
      }
      System.arraycopy(a[i], 0, t[i], 0, n);
      t[i][n + i] = 1;
      t[i][n + m] = Math.max(0, b[i]);
      basis[i] = n + i;
    }
    for (int j = 0; j < n; j++) {
      t[m][j] = -c[j]; // reduced costs: negative means improving
    }
    while (true) {
      int enter = -1;
      for (int j = 0; j < n + m; j++) {
        if (t[m][j] < -EPS) {
          enter = j;
          break;
        }
      }
      if (enter < 0) {
        break;
      }
      int leave = -1;
      double bestRatio = Double.POSITIVE_INFINITY;
      for (int i = 0; i < m; i++) {
        if (t[i][enter] > EPS) {
          double r = t[i][n + m] / t[i][enter];
          if (r < bestRatio - EPS || (r < bestRatio + EPS && leave >= 0 && basis[i] < basis[leave])) {
            bestRatio = r;
            leave = i;
          }
        }
      }
      if (leave < 0) {
        throw new ArithmeticException("unbounded linear program (column " + enter + ")");
      }
      pivot(t, leave, enter);
      basis[leave] = enter;
    }
    double[] x = new double[n];
    for (int i = 0; i < m; i++) {
      if (basis[i] < n) {
        x[basis[i]] = t[i][n + m];
      }
    }
    return x;
  }

  private static void pivot(double[][] t, int row, int col) {
    double[] pr = t[row];
    double inv = 1 / pr[col];
    for (int j = 0; j < pr.length; j++) {
      pr[j] *= inv;
    }
    pr[col] = 1;
    for (int i = 0; i < t.length; i++) {
      if (i != row) {
        double f = t[i][col];
        if (f != 0) {
          double[] r = t[i];
          for (int j = 0; j < r.length; j++) {
            r[j] -= f * pr[j];
          }
          r[col] = 0;
        }
      }
    }
  }
}
