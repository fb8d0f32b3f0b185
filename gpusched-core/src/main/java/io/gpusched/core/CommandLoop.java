package io.gpusched.core;

import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.LongConsumer;
import java.util.function.LongSupplier;
import org.jctools.queues.MpscUnboundedArrayQueue;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The command queue and the dispatcher loop that serializes every scheduling decision without a
 * lock.
 *
 * <p>Every change that needs a decision is a <em>command</em> on a JCTools MPSC queue. Whoever
 * enqueues a command increments {@link #wip}; the thread that moves it from 0 becomes the
 * dispatcher and runs commands and dispatch passes until the counter drains back to 0 (the classic
 * work-in-progress "trampoline"). A thread that finds a dispatcher active leaves its command to it.
 * A caller held longer than {@link #HANDOFF_NANOS} hands the loop to the timer thread.
 *
 * <p>Owns the queue, the work counter, the hand-off and the kept {@link VirtualMachineError}.
 * Threads: any thread enqueues ({@link #command}, {@link #offer}); the thread that owns the work
 * counter (a caller, or the timer thread after a hand-off) runs the loop; {@code close()} runs a
 * dropped hand-off. Everything the commands and passes touch is "dispatcher-owned" elsewhere.
 *
 * <p>Nothing a callback throws leaves the loop with the counter above 0: commands and passes are
 * caught here, launcher, listener, observer and telemetry calls where they are made. A {@link
 * VirtualMachineError} is kept ({@link #absorb}) and rethrown only after the loop gave up its
 * ownership.
 *
 * <h2>Memory ordering</h2>
 *
 * <ul>
 *   <li><b>Enqueue.</b> {@link #offer} is the JCTools MPSC offer: the producer claims a slot by
 *       compare-and-set on the producer index and publishes the element with an ordered (release)
 *       store; {@code poll} reads it with a volatile load. So everything a thread wrote before enqueuing a command (a job's CAS,
 *       a node's new incarnation) is visible to the command when it runs.
 *   <li><b>Dispatcher ownership.</b> The role passes from thread to thread through {@link #wip}:
 *       the owner gives it up with {@code addAndGet(-missed)} reaching 0 and the next owner takes
 *       it with {@code getAndIncrement} from 0, both volatile read-modify-writes. That
 *       synchronizes-with edge orders every plain write of one dispatcher before every read of the
 *       next, which is why the "dispatcher-owned" fields of the collaborators ({@link Ledger},
 *       {@link PendingLanes}, {@link Job}'s plain fields, {@link QueueState}'s arrays) need no
 *       volatile. The counter is the loop's linearization point: a command counted before the
 *       owner's decrement is run by that owner; one counted after it makes its own thread the
 *       owner.
 *   <li><b>Hand-off.</b> {@link #handedOff} is set (volatile) before the timer executes the
 *       continuation (an executor submission happens-before the task), and exactly one of the
 *       timer thread and {@code close()} wins the continuation's compare-and-set and continues the
 *       loop with the same count.
 *   <li><b>Kept error.</b> {@link #fatal} is set by compare-and-set (the first error wins) and
 *       taken by {@code getAndSet(null)} after the ownership was given up.
 * </ul>
 */
final class CommandLoop {

  private static final Logger log = LoggerFactory.getLogger(CommandLoop.class);

  /**
   * How long one caller keeps dispatching work that other threads keep enqueuing before the
   * scheduler's own thread takes over, in nanoseconds (only with a timer thread, i.e. not with
   * {@code manualTicks()}, which stays on the callers' threads for determinism).
   */
  static final long HANDOFF_NANOS = 1_000_000;

  /**
   * How many commands run between two reads of the clock while draining (a power of two): a
   * thread that other threads keep feeding commands as fast as it runs them, so that the queue
   * never empties, still notices {@link #HANDOFF_NANOS} within this many commands.
   */
  static final int CLOCK_EVERY = 64;

  private final MpscUnboundedArrayQueue<Runnable> commands = new MpscUnboundedArrayQueue<>(256);
  private final AtomicInteger wip = new AtomicInteger();
  private final @Nullable ScheduledExecutorService timer;
  private final LongSupplier clock;
  private final LongConsumer beforeCommands;
  private final LongConsumer pass;
  private final BooleanSupplier closed;
  /** Durable mode: the group commit and the launcher calls that wait for it; null otherwise. */
  private final @Nullable Runnable afterWork;

  private boolean dirty;

  /** A command loop handed to the timer thread and not yet started by it. */
  private final AtomicReference<@Nullable Runnable> handedOff = new AtomicReference<>();

  /**
   * A {@link VirtualMachineError} caught from a callback or a command, kept until the dispatch
   * loop has given up its ownership (work counter back to 0, or handed to the timer thread) and
   * then rethrown by whichever thread ends the loop: the error is not swallowed, and the loop's
   * state is whole when it propagates, so the next call dispatches again.
   */
  private final AtomicReference<@Nullable VirtualMachineError> fatal = new AtomicReference<>();

  /**
   * @param timer the scheduler's thread for hand-offs, or null (manual ticks: no hand-off)
   * @param clock the scheduler's clock, in milliseconds
   * @param beforeCommands run once before the first command of each batch, with the time
   *     (fair-share decay: charge the time since the last change at the old usage)
   * @param pass a dispatch pass, run with the time after commands changed something
   * @param closed whether the scheduler is closed (no passes then)
   * @param afterWork run after each round of commands and pass, still as the dispatcher (durable
   *     mode: commits the round's changes in one batch, then makes the launcher calls that waited
   *     for it), or null (no store: nothing)
   */
  CommandLoop(
      @Nullable ScheduledExecutorService timer,
      LongSupplier clock,
      LongConsumer beforeCommands,
      LongConsumer pass,
      BooleanSupplier closed,
      @Nullable Runnable afterWork) {
    this.timer = timer;
    this.clock = clock;
    this.beforeCommands = beforeCommands;
    this.pass = pass;
    this.closed = closed;
    this.afterWork = afterWork;
  }

  /** Enqueues a command and dispatches if no other thread is (any thread). */
  void command(Runnable c) {
    commands.offer(c);
    runCommands();
  }

  /**
   * Enqueues a command without dispatching: it runs in this loop if the caller is the dispatcher,
   * or in the caller's next {@link #runCommands} (any thread).
   */
  void offer(Runnable c) {
    commands.offer(c);
  }

  /** Becomes the dispatcher if no thread is, and runs the queued commands (any thread). */
  void runCommands() {
    if (wip.getAndIncrement() != 0) {
      return;
    }
    commandLoop(1);
  }

  /** Whether no thread is dispatching (the work counter is 0). */
  boolean idle() {
    return wip.get() == 0;
  }

  /** The thread running the loop now, or null (set and cleared by the loop itself). */
  private final java.util.concurrent.atomic.AtomicReference<@Nullable Thread> dispatcher =
      new java.util.concurrent.atomic.AtomicReference<>();

  /**
   * Whether the calling thread is the dispatcher, running a command, a pass or the work after it
   * (a launcher call, an inline listener): a command it enqueues runs in this same loop, after the
   * current one, so it must not wait for it.
   */
  boolean onDispatcher() {
    return dispatcher.get() == Thread.currentThread();
  }

  /** Whether the scheduler is closed. */
  boolean closed() {
    return closed.getAsBoolean();
  }

  /**
   * The dispatcher loop; the caller owns the work-in-progress count {@code missed}. A caller held
   * longer than {@link #HANDOFF_NANOS} by commands other threads keep adding hands the loop (and
   * the ownership) to the timer thread and returns, so no call is held hostage indefinitely.
   */
  private void commandLoop(int missed) {
    Thread me = Thread.currentThread();
    dispatcher.set(me);
    try {
      drain(missed);
    } finally {
      dispatcher.compareAndSet(me, null); // a thread that took over meanwhile keeps its mark
    }
  }

  private void drain(int missed) {
    long since = timer == null ? 0 : System.nanoTime();
    for (; ; ) {
      Runnable c;
      boolean decayed = false;
      int ran = 0;
      while ((c = commands.poll()) != null) {
        if (timer != null
            && (++ran & (CLOCK_EVERY - 1)) == 0
            && System.nanoTime() - since > HANDOFF_NANOS) {
          // other threads enqueue as fast as this loop runs: stop draining here (the pass below
          // sees what ran so far, and the hand-off after it gives the rest to the timer thread)
          runOne(c, decayed);
          break;
        }
        decayed = runOne(c, decayed);
      }
      if (dirty && !closed.getAsBoolean()) {
        dirty = false;
        try {
          pass.accept(clock.getAsLong());
        } catch (Throwable e) {
          log.error("gpusched dispatch pass failed", e);
          absorb(e);
          dirty = true; // the pass was cut short: run another one
        }
      }
      if (afterWork != null) {
        try {
          afterWork.run();
        } catch (Throwable e) {
          log.error("gpusched journal commit failed", e);
          absorb(e);
        }
      }
      if (!commands.isEmpty()) {
        if (timer != null && System.nanoTime() - since > HANDOFF_NANOS && handOff(missed)) {
          rethrowFatal();
          return;
        }
        continue;
      }
      missed = wip.addAndGet(-missed);
      if (missed == 0) {
        rethrowFatal();
        return;
      }
    }
  }

  /**
   * Runs one command, after the fair-share decay if it is the batch's first ({@code decayed}
   * false); returns true (the batch has decayed).
   */
  private boolean runOne(Runnable c, boolean decayed) {
    try {
      if (!decayed) {
        beforeCommands.accept(clock.getAsLong());
      }
      c.run();
      dirty = true;
    } catch (Throwable e) {
      log.error("gpusched command failed", e);
      absorb(e);
    }
    return true;
  }

  /** Keeps a {@link VirtualMachineError} for {@link #rethrowFatal}; other throwables are done with. */
  void absorb(Throwable t) {
    if (t instanceof VirtualMachineError e) {
      fatal.compareAndSet(null, e);
    }
  }

  private void rethrowFatal() {
    VirtualMachineError e = fatal.getAndSet(null);
    if (e != null) {
      throw e;
    }
  }

  private boolean handOff(int missed) {
    Continuation next = new Continuation(missed);
    handedOff.set(next);
    try {
      Objects.requireNonNull(timer).execute(next);
      return true;
    } catch (RejectedExecutionException closing) {
      handedOff.set(null);
      return false;
    }
  }

  /** Runs a loop handed to the timer thread that its shutdown dropped (on {@code close()}). */
  void finishHandedOff() {
    Runnable continuation = handedOff.get();
    if (continuation != null) {
      continuation.run(); // handed off but dropped by the shutdown: finish it here
    }
  }

  /** The rest of a drain loop, run once: by the timer thread, or by {@code close()} if dropped. */
  private final class Continuation implements Runnable {
    private final int missed;

    Continuation(int missed) {
      this.missed = missed;
    }

    @Override
    public void run() {
      if (handedOff.compareAndSet(this, null)) {
        commandLoop(missed);
      }
    }
  }
}
