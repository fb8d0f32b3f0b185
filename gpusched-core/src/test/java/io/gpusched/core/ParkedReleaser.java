package io.gpusched.core;

import io.gpusched.Allocation;
import java.util.concurrent.CountDownLatch;

/**
 * A thread releasing an allocation, parked by {@link Group#hook} inside its first index window:
 * the constructor returns once the releaser has opened the window (its word is back, the old class
 * not yet cleared); {@link #clearAndPark} lets it clear the old class and parks it again before its
 * repair; {@link #close} lets it finish and removes the hook. Deterministic: a test places between
 * these steps to land inside the window a descheduled releaser would leave open.
 */
final class ParkedReleaser implements AutoCloseable {
  private final CountDownLatch open = new CountDownLatch(1);
  private final CountDownLatch goClear = new CountDownLatch(1);
  private final CountDownLatch cleared = new CountDownLatch(1);
  private final CountDownLatch finish = new CountDownLatch(1);
  private final Group group;
  private final Thread thread;

  /** Starts releasing {@code a} (on the first GPU's group) and waits until the window is open. */
  ParkedReleaser(Allocation a) {
    group = ((AllocationImpl) a).slots[0].group;
    thread = new Thread(a::release, "parked-releaser");
    group.hook =
        (point, subject) -> {
          if (Thread.currentThread() != thread) {
            return;
          }
          if (point == ProbePoint.WINDOW_OPEN && open.getCount() > 0) {
            open.countDown();
            await(goClear);
          } else if (point == ProbePoint.WINDOW_CLEARED && cleared.getCount() > 0) {
            cleared.countDown(); // parked before the repair
            await(finish);
          }
        };
    thread.start();
    await(open);
  }

  /** Lets the releaser clear the GPU's old index class, and waits until it parks before the repair. */
  void clearAndPark() {
    goClear.countDown();
    await(cleared);
  }

  /** Lets the releaser finish, waits for it, and removes the hook. */
  @Override
  public void close() {
    goClear.countDown();
    finish.countDown();
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    } finally {
      group.hook = null;
    }
  }

  static void await(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
