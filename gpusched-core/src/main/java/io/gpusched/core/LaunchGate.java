package io.gpusched.core;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * Orders the launcher calls of one run of one job: a stop of run {@code r} reaches the host only
 * after the host's {@code start} of run {@code r} returned, or never if that start was not begun
 * yet (then it never is).
 *
 * <p>The scheduler decides a start on one thread and hands it to the launcher a little later (at
 * once, or after the start's commit in durable mode); a cancel, a host's report or a node loss on
 * another thread may end the run in between, or while {@code start} is still running. Without
 * this gate the host could hear {@code stop} before {@code start}, and a host that handles calls
 * in arrival order (a process that does not exist yet cannot be stopped) would then run work
 * nobody stops, on GPUs given to the next job.
 *
 * <h2>States</h2>
 *
 * <pre>
 *   NEW ──begin()──▶ STARTING [deferred stops] ──open()──▶ OPEN     (start delivered)
 *    └──a stop first──▶ SKIPPED                                     (start never delivered)
 * </pre>
 *
 * <ul>
 *   <li>{@link #begin} (the launching thread) moves NEW to STARTING; false if a stop came first.
 *   <li>{@link #afterStart} (a stop path, any thread): in NEW it moves the gate to SKIPPED and runs
 *       its action at once with {@code started == false} (the host never heard of the run, so it
 *       is not told to stop it); in STARTING it pushes the action, which {@link #open} runs after
 *       {@code start} returned; in OPEN or SKIPPED it runs the action at once.
 *   <li>{@link #open} (the launching thread, after {@code start} returned or threw) moves the gate
 *       to OPEN and runs the pushed actions in arrival order.
 * </ul>
 *
 * <p><b>Lock-free:</b> every method is a compare-and-set loop on one reference (a Treiber stack of
 * deferred actions while STARTING); no thread ever waits for another. A stop that arrives while
 * {@code start} runs is not blocked: it is handed to the starting thread, which runs it as soon as
 * {@code start} returns. That includes a stop the launcher itself causes from inside {@code start}
 * (a host that cancels or fails the job there), which would deadlock if stops waited.
 *
 * <p><b>Linearization:</b> each run's gate moves once out of NEW, by a compare-and-set: either
 * {@code begin} wins (the start is delivered and every stop follows its return) or a stop wins (the
 * start is never delivered). So for every run, the host sees {@code start} returned before {@code
 * stop}, or neither, or a stop alone for a run it never started (only after a crash, when a stop
 * is sent again from the store).
 */
final class LaunchGate {

  /** The run this gate orders. */
  final int run;

  private static final Object NEW = new Object();
  private static final Object STARTING = new Object();
  private static final Object OPEN = new Object();
  private static final Object SKIPPED = new Object();

  /** A stop waiting for {@code start} to return; {@code next} is the one pushed before it. */
  private static final class Waiter {
    final StopAction action;
    final Object next;

    Waiter(StopAction action, Object next) {
      this.action = action;
      this.next = next;
    }
  }

  /** What a stop path does once the order allows it. */
  @FunctionalInterface
  interface StopAction {
    /**
     * Does the stop's work.
     *
     * @param started whether the host was (or is being) told to start this run; false when the
     *     stop won the gate and the start will never be delivered
     */
    void run(boolean started);
  }

  /** NEW, STARTING, OPEN, SKIPPED, or the top {@link Waiter} while STARTING. */
  private final AtomicReference<Object> state = new AtomicReference<>(NEW);

  LaunchGate(int run) {
    this.run = run;
  }

  /**
   * The launching thread, just before {@code JobLauncher.start}: true if the start may be
   * delivered, false if a stop came first (then the start must not be delivered; nothing else is
   * to be done, the stop path did it).
   */
  boolean begin() {
    return state.compareAndSet(NEW, STARTING);
  }

  /**
   * The launching thread, after {@code start} returned or threw (only after {@link #begin}
   * returned true): runs the stops that arrived meanwhile, oldest first, on this thread.
   */
  void open() {
    Object top = state.getAndSet(OPEN);
    runReversed(top);
  }

  /**
   * A stop path, any thread, after its state change: runs {@code action} now, or hands it to the
   * thread inside {@code start}, which runs it when {@code start} returns.
   */
  void afterStart(StopAction action) {
    for (; ; ) {
      Object s = Objects.requireNonNull(state.get());
      if (s == NEW) {
        if (state.compareAndSet(NEW, SKIPPED)) {
          action.run(false);
          return;
        }
      } else if (s == SKIPPED) {
        action.run(false);
        return;
      } else if (s == OPEN) {
        action.run(true);
        return;
      } else if (state.compareAndSet(s, new Waiter(action, s))) {
        return;
      }
    }
  }

  /** Whether the start of this run was (or is being) delivered: false in NEW and SKIPPED. */
  boolean delivered() {
    Object s = state.get();
    return s != NEW && s != SKIPPED;
  }

  /**
   * Runs the stack's actions oldest first (the stack holds them newest first). Each runs even if
   * an earlier one threw; the first throwable is rethrown after all ran.
   */
  private static void runReversed(@Nullable Object top) {
    if (!(top instanceof Waiter)) {
      return;
    }
    var order = new java.util.ArrayDeque<StopAction>(); // only when stops raced a start: rare
    for (Object o = top; o instanceof Waiter w; o = w.next) {
      order.push(w.action);
    }
    Throwable first = null;
    for (StopAction a : order) {
      try {
        a.run(true);
      } catch (Throwable e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first instanceof RuntimeException re) {
      throw re;
    } else if (first instanceof Error err) {
      throw err;
    } else if (first != null) {
      throw new IllegalStateException(first);
    }
  }

  /**
   * Runs {@code action} once the order of {@code j}'s run {@code run} allows it: through that
   * run's gate, or at once (as started) when the job has no gate for that run (a run recovered from
   * the store, which its host already had, or a run a later start has superseded).
   */
  static void afterStart(Job j, int run, StopAction action) {
    LaunchGate g = j.launchGate;
    if (g == null || g.run != run) {
      action.run(true);
    } else {
      g.afterStart(action);
    }
  }
}
