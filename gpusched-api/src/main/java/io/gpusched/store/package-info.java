/**
 * The durable-state SPI: what a {@link io.gpusched.store.SchedulerStore} keeps so that a scheduler
 * survives a restart, and the records it keeps.
 *
 * <p>A scheduler built with a store writes every change of a job, a node or a queue's usage to it
 * before it acts on the change (write-ahead), several changes in one {@link
 * io.gpusched.store.SchedulerStore#commit commit} (group commit), and reads the whole state back
 * with {@link io.gpusched.store.SchedulerStore#load load} when it is built again. Every record is
 * immutable and thread-safe; times are milliseconds since the epoch of the scheduler's clock, and
 * {@code -1} means "never". Nothing in this package depends on any library at run time.
 *
 * <p>See {@code docs/durability.md} for the guarantees per call and the failure modes.
 */
@NullMarked
package io.gpusched.store;

import org.jspecify.annotations.NullMarked;
