package io.gpusched.store;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a {@link SchedulerReplica} is now, for health checks and metrics.
 *
 * @param role whether it leads
 * @param epoch the leadership epoch it leads in; for a follower the latest epoch it saw in the
 *     store ({@code 0} before any leader), which rises with each failover
 * @param storeReachable whether its latest call to the database succeeded
 * @param takeovers how many times this replica became the leader since it started
 * @param leader the name of the replica that leads (this one's on the leader; on a follower the
 *     holder it last read from the store), or {@code null} while no replica holds the lease or
 *     before this replica read it
 */
public record ReplicaStatus(
    Role role, long epoch, boolean storeReachable, long takeovers, @Nullable String leader) {

  /** The role of a replica. */
  public enum Role {
    /** It holds the lease: it decides, runs the scheduler and calls the launcher. */
    LEADER,
    /** It takes submits and cancels into the inbox and reads from the database. */
    FOLLOWER
  }

  /**
   * A status without a leader's name.
   *
   * @param role whether it leads
   * @param epoch the epoch
   * @param storeReachable whether the store is reachable
   * @param takeovers times it became the leader
   */
  public ReplicaStatus(Role role, long epoch, boolean storeReachable, long takeovers) {
    this(role, epoch, storeReachable, takeovers, null);
  }

  /** Validates. */
  public ReplicaStatus {
    Objects.requireNonNull(role, "role");
    if (epoch < 0 || takeovers < 0) {
      throw new IllegalArgumentException(
          "epoch and takeovers must be >= 0, were " + epoch + " and " + takeovers);
    }
  }
}
