package io.gpusched;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** Argument checks shared by the value types of this package. Not part of the API. */
final class Checks {
  private Checks() {}

  static String requireName(String value, String what) {
    Objects.requireNonNull(value, what);
    if (value.isBlank()) {
      throw new IllegalArgumentException(what + " must not be blank, was " + quoted(value));
    }
    return value;
  }

  /**
   * A string as a Java literal, so that blank and invisible characters show as escapes (a tab as
   * backslash-t, a no-break space as its backslash-u code). Long values are cut after 32
   * characters, with their length.
   */
  static String quoted(String value) {
    StringBuilder b = new StringBuilder("\"");
    int n = Math.min(value.length(), 32);
    for (int i = 0; i < n; i++) {
      char c = value.charAt(i);
      switch (c) {
        case '\t' -> b.append("\\t");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c >= 0x20 && c < 0x7f) {
            b.append(c);
          } else {
            b.append(String.format("\\u%04x", (int) c));
          }
        }
      }
    }
    b.append('"');
    if (value.length() > n) {
      b.append("... (").append(value.length()).append(" characters)");
    }
    return b.toString();
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
  static java.time.@Nullable Duration requireAtMostMax(
      java.time.@Nullable Duration d, String what) {
    if (d != null && d.compareTo(JobSpec.MAX_DURATION) > 0) {
      throw new IllegalArgumentException(
          what + " must be at most " + JobSpec.MAX_DURATION + ", was " + d);
    }
    return d;
  }
}
