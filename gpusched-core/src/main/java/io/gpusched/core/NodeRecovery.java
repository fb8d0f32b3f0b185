package io.gpusched.core;

import io.gpusched.store.StoreException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nodes a durable scheduler recovered from its store and that the host has not confirmed yet
 * (see {@link GpuSchedulers.Builder#nodeRecoveryTimeout}). A node is confirmed by {@code
 * confirmNode}, by a {@code RUNNING} answer of {@code reconcile} for a job on it, by {@code
 * nodeDown} (the host says it is lost) or by {@code addNode} after it was removed. Once the
 * timeout has passed, the first tick treats every node still unconfirmed as lost ({@code
 * nodeDown}: removed, its jobs requeued, the host told {@code NODE_LOST}), as a live node loss
 * would.
 *
 * <p>Thread-safe without a lock: the set is concurrent, and a node is taken out of it by exactly
 * one of a confirmation and the expiry ({@code remove} decides).
 */
final class NodeRecovery {

  private static final Logger log = LoggerFactory.getLogger(NodeRecovery.class);

  private final Set<String> unconfirmed = ConcurrentHashMap.newKeySet();
  private final long deadlineMillis;
  private final long timeoutMillis;

  /**
   * @param nodes the recovered nodes that must be confirmed
   * @param nowMillis when recovery ended
   * @param timeoutMillis how long the host has
   */
  NodeRecovery(List<String> nodes, long nowMillis, long timeoutMillis) {
    unconfirmed.addAll(nodes);
    this.timeoutMillis = timeoutMillis;
    this.deadlineMillis = nowMillis + timeoutMillis;
  }

  /** Marks a node confirmed; whether it was still waiting. Any thread. */
  boolean confirm(String nodeId) {
    return unconfirmed.remove(nodeId);
  }

  /** Whether the node still waits for its confirmation. Any thread. */
  boolean waiting(String nodeId) {
    return unconfirmed.contains(nodeId);
  }

  /**
   * At or after the deadline, takes every unconfirmed node out and hands it to {@code lost}
   * (which removes it as lost); a node removed meanwhile by someone else is skipped. A store that
   * fails while a node is removed is logged: the removal stands in memory and is written by the
   * next commit that succeeds. Caller's thread (a tick).
   */
  void expire(long nowMillis, Consumer<String> lost) {
    if (unconfirmed.isEmpty() || nowMillis < deadlineMillis) {
      return;
    }
    for (String id : List.copyOf(unconfirmed)) {
      if (!unconfirmed.remove(id)) {
        continue; // confirmed meanwhile
      }
      log.warn(
          "gpusched: node {} was recovered from the store but not confirmed by the host within {} ms;"
              + " treating it as lost",
          id, timeoutMillis);
      try {
        lost.accept(id);
      } catch (IllegalArgumentException gone) {
        log.debug("gpusched: node {} was already removed", id);
      } catch (StoreException e) {
        log.warn("gpusched: node {} was removed as lost but the store failed; written later", id, e);
      }
    }
  }
}
