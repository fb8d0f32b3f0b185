package io.gpusched.core;

import io.gpusched.store.SchedulerStore;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The {@link SchedulerStore}s gpusched ships; give one to {@link
 * GpuSchedulers.Builder#store(SchedulerStore)} to make a scheduler's state durable. Without a
 * store a scheduler keeps everything in memory and journals nothing (the default).
 */
public final class SchedulerStores {

  private SchedulerStores() {}

  /**
   * A store in this JVM's memory: it outlives a scheduler but not the process. Build a second
   * scheduler on the same store (after closing the first) to simulate a restart in tests and
   * simulations. Thread-safe; never fails.
   *
   * @return a new, empty store
   */
  public static SchedulerStore inMemory() {
    return new InMemoryStore();
  }

  /**
   * A store in a relational database reached through {@code dataSource} ({@code java.sql} only;
   * the driver and the connection pool are the application's). Tested on H2 2.x in file mode and on
   * PostgreSQL 15; its SQL uses only plain types. For several replicas on one database use {@link
   * SchedulerReplicas} instead (two plain schedulers on one store overwrite each other). The
   * tables ({@code gpusched_*}) and their schema version are created on the first {@link
   * SchedulerStore#load load}; a later load checks the version and refuses, with a {@link
   * io.gpusched.store.StoreException} naming both versions, a schema of another version or a
   * foreign one, writing nothing. Each commit is one transaction of JDBC batches. Thread-safe
   * (each call takes its own connection from the data source).
   *
   * @param dataSource where the connections come from
   * @return the store (nothing is read or written before its first call)
   */
  public static SchedulerStore jdbc(DataSource dataSource) {
    return new JdbcStore(Objects.requireNonNull(dataSource, "dataSource"));
  }
}
