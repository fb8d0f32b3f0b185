package io.gpusched.core;

import java.sql.SQLException;
import org.jspecify.annotations.Nullable;

/** What a driver's SQL state says about a failure: a read-only database, a full disk. */
final class SqlStates {
  private SqlStates() {}

  /** SQL state 25006 (read_only_sql_transaction; PostgreSQL) or H2's 90097 (DATABASE_IS_READ_ONLY). */
  static boolean readOnly(Throwable e) {
    return hasState(e, "25006") || hasState(e, "90097");
  }

  /** SQL state 53100 (disk_full; PostgreSQL, and what a failing data source may simulate). */
  static boolean diskFull(Throwable e) {
    return hasState(e, "53100");
  }

  private static boolean hasState(Throwable e, String state) {
    for (@Nullable Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SQLException se) {
        for (@Nullable SQLException n = se; n != null; n = n.getNextException()) {
          if (state.equals(n.getSQLState())) {
            return true;
          }
        }
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  /** The exception, prefixed with what it means when its SQL state says (read-only, disk full). */
  static String describe(Throwable e) {
    if (readOnly(e)) {
      return "the store is read-only: " + e;
    }
    if (diskFull(e)) {
      return "the store's disk is full (SQL state 53100): " + e;
    }
    return String.valueOf(e);
  }
}
