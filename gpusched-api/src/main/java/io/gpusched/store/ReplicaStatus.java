package io.gpusched.store;

import java.util.Objects;

/**
 * What a {@link SchedulerReplica} is now, for health checks and metrics.
 *
 * @param role whether it leads
 * @param epoch the leadership epoch it leads in; for a follower the latest epoch it saw in the
 *     store ({@code 0} before any leader), which rises with each failover
 * @param storeReachable whether its latest call to the database succeeded
 * @param takeovers how many times this replica became the leader since it started
 */
public record ReplicaStatus(Role role, long epoch, boolean storeReachable, long takeovers) {

  /** The role of a replica. */
  public enum Role {
    /** It holds the lease: it decides, runs the scheduler and calls the launcher. */
    LEADER,
    /** It takes submits and cancels into the inbox and reads from the database. */
    FOLLOWER
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
