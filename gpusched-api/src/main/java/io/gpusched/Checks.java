package io.gpusched;

import java.util.Objects;

/** Argument checks shared by the value types of this package. Not part of the API. */
final class Checks {
  private Checks() {}

  static String requireName(String value, String what) {
    Objects.requireNonNull(value, what);
    if (value.isBlank()) {
      throw new IllegalArgumentException(what + " must not be blank");
    }
    return value;
  }

  static int requirePositive(int value, String what) {
    if (value <= 0) {
      throw new IllegalArgumentException(what + " must be > 0, was " + value);
    }
    return value;
  }

  static long requirePositive(long value, String what) {
    if (value <= 0) {
      throw new IllegalArgumentException(what + " must be > 0, was " + value);
    }
    return value;
  }

  static int requireNonNegative(int value, String what) {
    if (value < 0) {
      throw new IllegalArgumentException(what + " must be >= 0, was " + value);
    }
    return value;
  }

  static long requireNonNegative(long value, String what) {
    if (value < 0) {
      throw new IllegalArgumentException(what + " must be >= 0, was " + value);
    }
    return value;
  }

  static double requireNonNegative(double value, String what) {
    if (!(value >= 0) || Double.isInfinite(value)) {
      throw new IllegalArgumentException(what + " must be a finite number >= 0, was " + value);
    }
    return value;
  }

  /** Checks {@code d} against {@link JobSpec#MAX_DURATION}. */
  static java.time.Duration requireAtMostMax(java.time.Duration d, String what) {
    if (d != null && d.compareTo(JobSpec.MAX_DURATION) > 0) {
      throw new IllegalArgumentException(
          what + " must be at most " + JobSpec.MAX_DURATION + ", was " + d);
    }
    return d;
  }
}
