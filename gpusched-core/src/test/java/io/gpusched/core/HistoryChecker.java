package io.gpusched.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * A linearizability checker for small recorded histories (Wing and Gong's search): finds an order
 * of the completed operations that respects real time (an operation that returned before another
 * was invoked comes first) and in which each operation, applied to a sequential model, could have
 * returned what it did. Unlike Lincheck's, the model may be non-deterministic: an operation checks
 * its observed result against the model's state (for a placement: the allocation it got must have
 * been a valid one there) instead of computing the one result a deterministic specification would.
 *
 * <p>Histories are a few operations long (up to 63), so the search simply tries every order the
 * real-time constraints allow, copying the model at each step.
 *
 * @param <M> the model type
 */
final class HistoryChecker<M> {

  /** One completed operation, with the interval it ran in and its observed result. */
  interface Event<M> {
    /** The clock tick taken just before the operation was invoked. */
    long start();

    /** The clock tick taken just after it returned. */
    long end();

    /**
     * Applies the operation with its observed result to the model; returns false if the model,
     * in its current state, could not have produced that result (the model may then be garbage).
     */
    boolean apply(M model);
  }

  private final UnaryOperator<M> copy;

  HistoryChecker(UnaryOperator<M> copy) {
    this.copy = copy;
  }

  /** A linearization of the history from the initial model, or empty if none exists. */
  <E extends Event<M>> Optional<List<E>> linearize(M initial, List<E> history) {
    if (history.size() > 63) {
      throw new IllegalArgumentException("history too long: " + history.size());
    }
    List<E> order = new ArrayList<>();
    return search(initial, history, (1L << history.size()) - 1, order) ? Optional.of(order) : Optional.empty();
  }

  private <E extends Event<M>> boolean search(M model, List<E> h, long left, List<E> order) {
    if (left == 0) {
      return true;
    }
    long minEnd = Long.MAX_VALUE; // an operation may go next only if none left returned before it began
    for (int i = 0; i < h.size(); i++) {
      if ((left & (1L << i)) != 0) {
        minEnd = Math.min(minEnd, h.get(i).end());
      }
    }
    for (int i = 0; i < h.size(); i++) {
      if ((left & (1L << i)) == 0 || h.get(i).start() > minEnd) {
        continue;
      }
      M next = copy.apply(model);
      if (h.get(i).apply(next)) {
        order.add(h.get(i));
        if (search(next, h, left & ~(1L << i), order)) {
          return true;
        }
        order.remove(order.size() - 1);
      }
    }
    return false;
  }
}
