package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The dispatcher loop's hand-off, driven deterministically: a command that enqueues the next one
 * from inside the loop keeps the queue from ever emptying, exactly as producers that enqueue as
 * fast as the dispatcher runs do (a CI run saw a caller's {@code submit} held for the whole 20 s of
 * such a churn, because the loop read the clock only once the queue was empty).
 */
class CommandLoopTest {

  @Test
  void aCallerFedCommandsFasterThanItRunsThemHandsTheLoopToTheTimerThread() throws Exception {
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong ran = new AtomicLong();
    AtomicInteger passes = new AtomicInteger();
    var caller = new java.util.concurrent.atomic.AtomicReference<Thread>();
    var runners = ConcurrentHashMap.<Thread>newKeySet();
    var passRunners = ConcurrentHashMap.<Thread>newKeySet();
    CommandLoop[] loop = new CommandLoop[1];
    loop[0] =
        new CommandLoop(
            timer,
            System::currentTimeMillis,
            now -> {},
            now -> {
              passes.incrementAndGet();
              passRunners.add(Thread.currentThread());
            },
            () -> false,
            null);
    Runnable[] endless = new Runnable[1];
    endless[0] =
        () -> {
          ran.incrementAndGet();
          runners.add(Thread.currentThread());
          if (!stop.get()) {
            loop[0].offer(endless[0]); // the queue never empties while the churn goes on
          }
        };
    try {
      assertTimeoutPreemptively(
          Duration.ofSeconds(20),
          () -> {
            caller.set(Thread.currentThread()); // JUnit runs this on a thread of its own
            loop[0].command(endless[0]);
          },
          "the caller was held by commands enqueued as fast as it ran them");
      long atReturn = ran.get();
      assertThat(passRunners)
          .as("the commands the caller ran got their pass before it handed the loop on")
          .contains(caller.get());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (ran.get() < atReturn + 10_000 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(ran.get()).as("the timer thread went on with the loop").isGreaterThan(atReturn);
      assertThat(runners).hasSize(2).contains(caller.get());
    } finally {
      stop.set(true);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!loop[0].idle() && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    assertThat(loop[0].idle()).as("the loop drains once no command enqueues another").isTrue();
    timer.shutdown();
    assertThat(timer.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void withoutATimerThreadTheCallerRunsEveryCommandItself() {
    AtomicInteger left = new AtomicInteger(100_000);
    var runners = ConcurrentHashMap.<Thread>newKeySet();
    AtomicInteger passes = new AtomicInteger();
    CommandLoop[] loop = new CommandLoop[1];
    loop[0] =
        new CommandLoop(
            null, () -> 0L, now -> {}, now -> passes.incrementAndGet(), () -> false, null);
    Runnable[] chain = new Runnable[1];
    chain[0] =
        () -> {
          runners.add(Thread.currentThread());
          if (left.decrementAndGet() > 0) {
            loop[0].offer(chain[0]);
          }
        };
    loop[0].command(chain[0]);
    assertThat(left.get()).isZero();
    assertThat(runners).containsExactly(Thread.currentThread());
    assertThat(passes.get()).as("one pass after the whole batch").isEqualTo(1);
    assertThat(loop[0].idle()).isTrue();
  }
}
