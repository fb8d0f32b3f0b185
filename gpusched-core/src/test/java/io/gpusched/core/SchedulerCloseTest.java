package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code close()} waits for work the timer thread has in progress, without interrupting it, and
 * nothing of the scheduler uses its store after {@code close()} returned. It used to interrupt the
 * timer and return at once: a benchmark then closed its H2 pool and deleted the database's folder
 * while the timer thread's drain was still committing (the interrupt itself broke H2's file
 * channel), and its teardown failed with {@code DirectoryNotEmptyException}.
 */
class SchedulerCloseTest {

  @Test
  @Timeout(60)
  void closeWaitsForTheTimerThreadsCommitAndNothingCommitsAfterIt() throws Exception {
    var store = new DurableSchedulerTest.RecordingStore(SchedulerStores.inMemory());
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger interrupted = new AtomicInteger();
    AtomicInteger commitsAfterClose = new AtomicInteger();
    CompletableFuture<Void> closed = new CompletableFuture<>();
    java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
    store.beforeCommit =
        () -> {
          if (closed.isDone()) {
            commitsAfterClose.incrementAndGet();
          }
          if (armed.get()
              && Thread.currentThread().getName().equals("gpusched-timer")
              && entered.getCount() > 0) {
            entered.countDown();
            try {
              release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              interrupted.incrementAndGet();
              Thread.currentThread().interrupt();
            }
          }
        };
    SchedulerHarness h = new SchedulerHarness();
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .clock(h.clock)
            .tickInterval(Duration.ofMillis(5))
            .eventExecutor(Runnable::run)
            .launcher(h.launcher)
            .store(store)
            .strategy(PlacementStrategy.FIRST_FIT)
            .nodes(List.of(NodeSpec.builder("n").gpus(1, GpuModels.A100_40GB, GpuMode.WHOLE).build()))
            .build();
    JobHandle job =
        s.submit(
            JobSpec.builder(PlacementRequest.wholeGpus(1)).id("limited").timeLimit(Duration.ofSeconds(1)).build());
    while (job.state() != JobState.RUNNING) {
      Thread.sleep(1);
    }
    armed.set(true); // the next commit of the timer thread: the time limit's (the start's is done)
    h.clock.advance(Duration.ofSeconds(5)); // the next tick, on the timer thread, ends the job
    assertThat(entered.await(30, TimeUnit.SECONDS)).as("the timer thread commits").isTrue();

    Thread closer =
        new Thread(
            () -> {
              s.close();
              closed.complete(null);
            },
            "closer");
    closer.start();
    while (closer.getState() != Thread.State.TIMED_WAITING && !closed.isDone()) {
      Thread.sleep(1);
    }
    assertThat(closed).as("close() waits while the timer thread commits").isNotDone();
    release.countDown();
    closer.join();
    assertThat(closed).isDone();
    assertThat(interrupted).as("the commit in progress was not interrupted").hasValue(0);
    assertThat(commitsAfterClose).hasValue(0);
    assertThat(store.job("limited").orElseThrow().state()).isEqualTo(JobState.FAILED);
  }
}
