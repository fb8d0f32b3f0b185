package io.gpusched.core;

import io.gpusched.store.SchedulerReplica;
import io.gpusched.store.SchedulerStore;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import javax.sql.DataSource;

/**
 * Builds {@link SchedulerReplica}s: N schedulers on one database (PostgreSQL for several
 * machines; any database {@link SchedulerStores#jdbc} supports), of which one leads.
 *
 * <pre>{@code
 * SchedulerReplica replica = SchedulerReplicas.newBuilder(dataSource,
 *         () -> GpuSchedulers.newBuilder().nodes(nodes).queue(QueueSpec.of("research"))
 *             .launcher(myLauncher))      // the same configuration on every replica
 *     .name("sched-1")
 *     .build();                            // starts electing at once
 * replica.submit(spec);                    // on any replica
 * }</pre>
 *
 * <p>The configuration supplier is called once when the replica is built (for the queue names a
 * follower checks) and again each time the replica wins leadership: it must return a fresh builder
 * without a {@link GpuSchedulers.Builder#store store} (the replica gives its fenced store). See
 * {@code docs/durability.md} for the guarantees, the failover time and the failure modes.
 */
public final class SchedulerReplicas {

  private SchedulerReplicas() {}

  /**
   * The default {@link Builder#leaseDuration}: 2 s. A failover takes the lease plus up to two poll
   * intervals (the last renewal a follower saw came up to one poll after the renewal, and its
   * takeover up to one poll after expiry) plus the new leader's recovery: 2.2 s with the default
   * poll, which leaves about 2.8 s of the 5 s target for the recovery (load, restore, reconcile,
   * commit). With 3 s, as before, a quiet 25-kill run had one failover of 5.2 s. A leader that
   * renews every third of the lease loses it only to a pause of two thirds of it (about 1.3 s) or
   * more; a pause that long costs a failover, never a double decision (commits are fenced).
   */
  static final Duration DEFAULT_LEASE = Duration.ofSeconds(2);

  /**
   * A builder of a replica on {@code dataSource} that builds its scheduler from {@code config}.
   *
   * @param dataSource the shared database, as the application's pool gives it
   * @param config a fresh scheduler builder per call, the same on every replica
   * @return the builder, with the defaults listed on its methods
   */
  public static Builder newBuilder(DataSource dataSource, Supplier<GpuSchedulers.Builder> config) {
    return new Builder(
        Objects.requireNonNull(dataSource, "dataSource"), Objects.requireNonNull(config, "config"));
  }

  /** Builder of a {@link SchedulerReplica}; not thread-safe. */
  public static final class Builder {
    private final DataSource dataSource;
    private final Supplier<GpuSchedulers.Builder> config;
    private String name = "replica";
    private Duration lease = DEFAULT_LEASE;
    private Duration poll = Duration.ofMillis(100);
    private UnaryOperator<SchedulerStore> decorate = UnaryOperator.identity();

    private Builder(DataSource dataSource, Supplier<GpuSchedulers.Builder> config) {
      this.dataSource = dataSource;
      this.config = config;
    }

    /**
     * This replica's name, for logs and the inbox rows it writes. Default "replica". A unique
     * token is added per process, so two processes with one name are still two holders.
     *
     * @throws IllegalArgumentException if blank or longer than 100 characters
     */
    public Builder name(String name) {
      Objects.requireNonNull(name, "name");
      if (name.isBlank() || name.length() > 100) {
        throw new IllegalArgumentException("name must be 1 to 100 characters and not blank, was '" + name + "'");
      }
      this.name = name;
      return this;
    }

    /**
     * How long the leader's lease lasts without a renewal: a follower takes over once the lease row
     * has not changed for this long (on its own clock). The leader renews every third of it.
     * Failover takes about this long plus one or two {@link #pollInterval}s plus the new leader's
     * recovery. A replica whose warm-up build has not finished (a JVM just started) waits a further
     * third of the lease before it takes a lease that ran out or was released, so that a warm
     * follower takes it first. Default 2 seconds (see {@code docs/durability.md}: a failover then
     * leaves about 2.8 s of a 5 s target to the recovery).
     *
     * @throws IllegalArgumentException if under 100 ms or over an hour
     */
    public Builder leaseDuration(Duration d) {
      Objects.requireNonNull(d, "leaseDuration");
      if (d.compareTo(Duration.ofMillis(100)) < 0 || d.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("leaseDuration must be between 100 ms and 1 h, was " + d);
      }
      this.lease = d;
      return this;
    }

    /**
     * How often a follower reads the lease row and the leader polls the inbox. Default 100 ms: a
     * follower's submit waits at most about this long in the inbox.
     *
     * @throws IllegalArgumentException if under 10 ms or over 10 s
     */
    public Builder pollInterval(Duration d) {
      Objects.requireNonNull(d, "pollInterval");
      if (d.compareTo(Duration.ofMillis(10)) < 0 || d.compareTo(Duration.ofSeconds(10)) > 0) {
        throw new IllegalArgumentException("pollInterval must be between 10 ms and 10 s, was " + d);
      }
      this.poll = d;
      return this;
    }

    /**
     * Wraps the leader's store, e.g. to meter its commits. Default: none. The wrapper must pass
     * every call through and rethrow what the store throws.
     */
    public Builder storeDecorator(UnaryOperator<SchedulerStore> decorator) {
      this.decorate = Objects.requireNonNull(decorator, "decorator");
      return this;
    }

    /**
     * Creates the schema if the database has none (checks it otherwise) and starts the replica:
     * it takes the lease if it is free or runs out, else follows.
     *
     * @throws io.gpusched.store.StoreException if the database is unreachable or its schema is
     *     another version or foreign
     */
    public SchedulerReplica build() {
      new JdbcStore(dataSource).checkSchema();
      if (poll.compareTo(lease) >= 0) {
        throw new IllegalArgumentException("pollInterval " + poll + " must be shorter than leaseDuration " + lease);
      }
      return new Replica(dataSource, config, decorate, name, lease.toMillis(), poll.toMillis());
    }
  }
}
