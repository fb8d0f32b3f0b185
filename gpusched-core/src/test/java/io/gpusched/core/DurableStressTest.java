package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
import io.gpusched.GpuScheduler;
import io.gpusched.JobHandle;
import io.gpusched.JobLauncher;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.PlacementRequest;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A durable scheduler under concurrent load (submitters, a host completing and failing jobs on its
 * own threads, a canceller, the timer thread): after every commit the store never holds two jobs
 * on the same GPU; at the end the store holds exactly the scheduler's final states, and a restart
 * on it recovers them.
 */
class DurableStressTest {

  /** An in-memory store that checks, after each commit, that no GPU is held by two stored jobs. */
  static final class CheckingStore implements SchedulerStore {
    final SchedulerStore inner = SchedulerStores.inMemory();
    final List<String> doubleGrants = new CopyOnWriteArrayList<>();
    volatile int commits;
    volatile int largestBatch;

    @Override
    public StoredState load() {
      return inner.load();
    }

    @Override
    public synchronized void commit(List<StoreChange> changes) {
      inner.commit(changes);
      commits++;
      largestBatch = Math.max(largestBatch, changes.size());
      Map<String, String> holder = new HashMap<>();
      for (StoredJob j : inner.load().jobs()) {
        for (var a : j.allocations()) {
          for (AllocatedGpu g : a.gpus()) {
            String prev = holder.put(g.nodeId() + "/" + g.gpuIndex(), j.id());
            if (prev != null) {
              doubleGrants.add(g.nodeId() + "/" + g.gpuIndex() + " held by " + prev + " and " + j.id());
            }
          }
        }
      }
    }
  }

  @Test
  void concurrentLoadKeepsTheStoreFreeOfDoubleGrantsAndEqualToTheScheduler() throws Exception {
    var store = new CheckingStore();
    ExecutorService host = Executors.newFixedThreadPool(2);
    var running = new ConcurrentLinkedQueue<JobHandle>();
    JobLauncher launcher =
        job -> {
          running.add(job);
          host.execute(
              () -> {
                JobHandle j = running.poll();
                if (j != null) {
                  if (ThreadLocalRandom.current().nextInt(5) == 0) {
                    j.fail("host failure");
                  } else {
                    j.complete();
                  }
                }
              });
        };
    GpuScheduler s =
        GpuSchedulers.newBuilder()
            .nodes(List.of(SchedulerHarness.whole("a", 4), SchedulerHarness.whole("b", 4)))
            .launcher(launcher)
            .tickInterval(Duration.ofMillis(5))
            .store(store)
            .build();
    int threads = 4;
    int perThread = 250;
    var submitters = new ArrayList<Thread>();
    for (int t = 0; t < threads; t++) {
      int tt = t;
      Thread th =
          new Thread(
              () -> {
                for (int i = 0; i < perThread; i++) {
                  s.submit(
                      JobSpec.builder(PlacementRequest.wholeGpus(1 + (i % 2)))
                          .id("t" + tt + "-" + i)
                          .build());
                }
              });
      submitters.add(th);
      th.start();
    }
    Thread canceller =
        new Thread(
            () -> {
              for (int i = 0; i < 200; i++) {
                var live = s.jobs().stream().filter(j -> !j.state().isFinal()).toList();
                if (!live.isEmpty()) {
                  live.get(ThreadLocalRandom.current().nextInt(live.size())).cancel();
                }
                Thread.onSpinWait();
              }
            });
    canceller.start();
    for (Thread th : submitters) {
      th.join();
    }
    canceller.join();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (s.jobs().stream().anyMatch(j -> !j.state().isFinal()) && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    host.shutdown();
    assertThat(host.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    s.close();

    assertThat(store.doubleGrants).isEmpty();
    Map<String, JobState> inMemory = new HashMap<>();
    s.jobs().forEach(j -> inMemory.put(j.id(), j.state()));
    assertThat(inMemory).hasSize(threads * perThread).allSatisfy((id, st) -> assertThat(st.isFinal()).isTrue());
    Map<String, JobState> stored = new HashMap<>();
    store.load().jobs().forEach(j -> stored.put(j.id(), j.state()));
    assertThat(stored).isEqualTo(inMemory);

    GpuScheduler again =
        GpuSchedulers.newBuilder()
            .nodes(List.of(SchedulerHarness.whole("a", 4), SchedulerHarness.whole("b", 4)))
            .manualTicks()
            .store(store)
            .build();
    Map<String, JobState> recovered = new HashMap<>();
    again.jobs().forEach(j -> recovered.put(j.id(), j.state()));
    assertThat(recovered).isEqualTo(inMemory);
    ((DefaultScheduler) again).verifyInvariants();
    assertThat(again.cluster().snapshot().total().allocatedGpus()).isZero();
  }
}
