package io.gpusched.core;

import io.gpusched.store.StoreException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Objects;
import java.util.function.LongSupplier;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Leader election through one row of the database, {@code gpusched_leader} (id 1): the leader's
 * epoch, its holder token, a renewal counter and whether its recovery is done.
 *
 * <p><b>The lease.</b> The leader increments {@code renewals} every renewal interval ({@link
 * #renew}, conditional on its epoch and token). A follower reads the row every poll ({@link
 * #tryAcquire}) and measures, on its own monotonic clock, how long the row has not changed; once
 * it has not changed for the lease duration (or the holder released it, holder {@code NULL}), the
 * follower takes over with one conditional update: epoch + 1, its token, renewals 0, on the
 * condition that epoch and renewals are still what it saw. Of two followers at most one such
 * update matches. No clocks are compared between machines: only the rate of each replica's
 * monotonic clock matters.
 *
 * <p>A read that fails restarts the measurement at the next read that succeeds: a follower that
 * could not see the database (an outage) does not count the outage against the leader, which could
 * not renew either. So a short outage pauses everything and moves no leadership.
 *
 * <p><b>Cold replicas wait a little longer.</b> A replica that is not yet warm (its warm-up build,
 * see {@code Replica}, has not finished: a JVM just started, which takes seconds for its first
 * build) takes a free or expired lease only after a further {@code coldGraceNanos}, so that a warm
 * follower, which takes it at once, wins the race for it. A lone cold follower still takes over,
 * that much later. The failover crash test restarts each killed leader at once, so the next kill
 * usually leaves one warm and one cold follower; a cold winner built its scheduler behind its
 * unfinished warm-up.
 *
 * <p>Not thread-safe: one replica's election thread calls it.
 */
final class LeaseElection {

  /** The leader row as read. */
  record Seen(long epoch, @Nullable String holder, long renewals, boolean ready) {}

  private final DataSource dataSource;
  private final String token;
  private final long leaseNanos;
  private final long coldGraceNanos;
  private final LongSupplier nanoTime;
  private @Nullable Seen last;
  private long unchangedSince;
  private boolean lastReadFailed = true;

  /**
   * @param token this replica's holder token, unique per process (a restarted replica gets a new
   *     one, so it never mistakes its dead predecessor's lease for its own)
   * @param leaseNanos how long an unchanged row means a dead leader
   * @param nanoTime the monotonic clock ({@code System::nanoTime}; tests drive their own)
   */
  LeaseElection(DataSource dataSource, String token, long leaseNanos, LongSupplier nanoTime) {
    this(dataSource, token, leaseNanos, 0, nanoTime);
  }

  /**
   * @param coldGraceNanos how much longer a replica that is not warm waits before it takes a free or
   *     expired lease ({@link #tryAcquire(boolean)})
   */
  LeaseElection(
      DataSource dataSource, String token, long leaseNanos, long coldGraceNanos, LongSupplier nanoTime) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.token = Objects.requireNonNull(token, "token");
    this.leaseNanos = leaseNanos;
    this.coldGraceNanos = coldGraceNanos;
    this.nanoTime = nanoTime;
  }

  String token() {
    return token;
  }

  /** The row as last read, or null. */
  @Nullable Seen last() {
    return last;
  }

  /**
   * Reads the row and takes the lease if it ran out or is free.
   *
   * @return the epoch won, or 0 if another replica leads
   * @throws StoreException if the database cannot be reached (the measurement restarts)
   */
  long tryAcquire() {
    return tryAcquire(true);
  }

  /**
   * Reads the row and takes the lease if it ran out or is free; a replica that is not {@code warm}
   * waits a further cold grace for either (see the class comment).
   *
   * @param warm whether this replica's warm-up is done
   * @return the epoch won, or 0 if another replica leads (or this cold one still waits)
   * @throws StoreException if the database cannot be reached (the measurement restarts)
   */
  long tryAcquire(boolean warm) {
    Seen s;
    try {
      s = read();
    } catch (StoreException e) {
      lastReadFailed = true;
      throw e;
    }
    long now = nanoTime.getAsLong();
    if (lastReadFailed || !s.equals(last)) {
      last = s;
      unchangedSince = now;
    }
    lastReadFailed = false;
    long extra = warm ? 0 : coldGraceNanos;
    long unchanged = now - unchangedSince;
    boolean free = (s.holder() == null && unchanged >= extra) || unchanged >= leaseNanos + extra;
    if (!free) {
      return 0;
    }
    int n =
        update(
            "take the lease",
            "UPDATE gpusched_leader SET epoch = epoch + 1, holder = ?, renewals = 0, ready = FALSE"
                + " WHERE id = 1 AND epoch = ? AND renewals = ?",
            token, s.epoch(), s.renewals());
    return n == 1 ? s.epoch() + 1 : 0;
  }

  /**
   * Renews the lease of {@code epoch}.
   *
   * @return false if another replica took it (this one is deposed)
   * @throws StoreException if the database cannot be reached
   */
  boolean renew(long epoch) {
    return update(
            "renew the lease",
            "UPDATE gpusched_leader SET renewals = renewals + 1 WHERE id = 1 AND epoch = ? AND holder = ?",
            epoch, token)
        == 1;
  }

  /** Records that the leader of {@code epoch} finished its recovery (for health and tests). */
  boolean markReady(long epoch) {
    return update(
            "mark the leader ready",
            "UPDATE gpusched_leader SET ready = TRUE WHERE id = 1 AND epoch = ? AND holder = ?",
            epoch, token)
        == 1;
  }

  /** Gives the lease up (holder NULL), so a follower takes over at its next poll. */
  boolean release(long epoch) {
    return update(
            "release the lease",
            "UPDATE gpusched_leader SET holder = NULL, ready = FALSE WHERE id = 1 AND epoch = ? AND holder = ?",
            epoch, token)
        == 1;
  }

  /** Reads the leader row. */
  Seen read() {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      try (PreparedStatement s =
              c.prepareStatement("SELECT epoch, holder, renewals, ready FROM gpusched_leader WHERE id = 1");
          ResultSet rs = s.executeQuery()) {
        if (!rs.next()) {
          throw new StoreException(
              "the store has no leader row (gpusched_leader id 1): a damaged schema; no replica can lead");
        }
        return new Seen(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getBoolean(4));
      }
    } catch (SQLException | RuntimeException e) {
      if (e instanceof StoreException se) {
        throw se;
      }
      throw new StoreException("cannot read the leader row: " + e, e);
    }
  }

  private int update(String what, String sql, Object... args) {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(true);
      try (PreparedStatement s = c.prepareStatement(sql)) {
        for (int i = 0; i < args.length; i++) {
          if (args[i] instanceof Long l) {
            s.setLong(i + 1, l);
          } else {
            s.setString(i + 1, (String) args[i]);
          }
        }
        return s.executeUpdate();
      }
    } catch (SQLException | RuntimeException e) {
      throw new StoreException("cannot " + what + ": " + e, e);
    }
  }
}
