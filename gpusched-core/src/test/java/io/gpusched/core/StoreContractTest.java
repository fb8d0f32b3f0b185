package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.AllocatedGpu;
import io.gpusched.CapacityClass;
import io.gpusched.Constraints;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import io.gpusched.GpuModels;
import io.gpusched.GpuSpec;
import io.gpusched.JobSpec;
import io.gpusched.JobState;
import io.gpusched.MigGeometry;
import io.gpusched.MigInstance;
import io.gpusched.MigProfile;
import io.gpusched.ModelQuota;
import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import io.gpusched.PlacementRequest;
import io.gpusched.QueueSpec;
import io.gpusched.StopReason;
import io.gpusched.store.SchedulerStore;
import io.gpusched.store.StoreChange;
import io.gpusched.store.StoredAllocation;
import io.gpusched.store.StoredJob;
import io.gpusched.store.StoredNode;
import io.gpusched.store.StoredQueue;
import io.gpusched.store.StoredState;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The {@link SchedulerStore} contract, run against every implementation (the subclasses): what is
 * committed is loaded back equal, by a new store object on the same storage too; a batch's later
 * change of a key wins; a record replaces the stored one whole.
 */
abstract class StoreContractTest {

  /** A new, empty store. */
  abstract SchedulerStore newStore();

  /** Another store object on the same storage as {@code store} (a restart of the process). */
  abstract SchedulerStore reopen(SchedulerStore store);

  static final GpuModel CUSTOM_MIG =
      new GpuModel(
          "X1-16GB",
          16_384,
          40,
          new MigGeometry(
              4,
              4,
              List.of(
                  new MigProfile("1g.4gb", 1, 1, 1, 4_096, 10, 4, List.of(0, 1, 2, 3)),
                  new MigProfile("2g.8gb", 2, 2, 2, 8_192, 20, 2, List.of(0, 2)))));

  static NodeSpec richNode() {
    return NodeSpec.builder("n\"odd\\id")
        .label("zone", "eu-1")
        .label("quote\"", "back\\slash\n")
        .gpu(GpuSpec.whole(0, "GPU-a", GpuModels.H100_80GB))
        .gpu(new GpuSpec(1, "GPU-b", GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC, List.of()))
        .gpu(new GpuSpec(2, "GPU-c", CUSTOM_MIG, GpuMode.MIG_STATIC, List.of(new MigInstance("2g.8gb", 2), new MigInstance("1g.4gb", 0))))
        .gpu(new GpuSpec(3, "GPU-d", GpuModels.A100_40GB, GpuMode.SHARED, List.of()))
        .hostResources(64_000, 512_000)
        .pricePerGpuHour(2.75)
        .capacityClass(CapacityClass.SPOT)
        .build();
  }

  static JobSpec richSpec(String id) {
    return JobSpec.builder(
            PlacementRequest.wholeGpus(2, true)
                .withHost(8_000, 64_000)
                .withConstraints(
                    new Constraints(Set.of("H100-80GB", "A100-40GB"), Map.of("zone", "eu-1"), Set.of(CapacityClass.SPOT))))
        .id(id)
        .queue("research")
        .priority(-3)
        .gangSize(2)
        .preemptible(true)
        .gracePeriod(Duration.ofMillis(1_500))
        .timeLimit(Duration.ofHours(3))
        .expectedDuration(Duration.ofMinutes(90))
        .leaseTtl(Duration.ofSeconds(45))
        .requeueOnPreemption(false)
        .reclaimWhenIdle(true)
        .metadata("owner", "ada")
        .metadata("note", "ünïcödé \"quoted\" {json}")
        .build();
  }

  static StoredJob pending(String id, long seq) {
    return new StoredJob(
        JobSpec.builder(PlacementRequest.mig("1g.10gb")).id(id).build(), seq, JobState.PENDING, 0, null, null,
        1_000, 1_000, -1, -1, -1, 0, 0, null, List.of());
  }

  static StoredJob running(String id) {
    var m0 =
        new StoredAllocation(
            List.of(
                new AllocatedGpu("n1", 0, "GPU-1", "H100-80GB", GpuMode.WHOLE, null, -1, 1000, 81_559),
                new AllocatedGpu("n1", 3, "GPU-4", "H100-80GB", GpuMode.WHOLE, null, -1, 1000, 81_559)),
            8_000, 64_000);
    var m1 =
        new StoredAllocation(
            List.of(
                new AllocatedGpu("n2", 1, "GPU-6", "H100-80GB", GpuMode.MIG_DYNAMIC, "3g.40gb", 4, 0, 40_192),
                new AllocatedGpu("n2", 2, "GPU-7", "A100-40GB", GpuMode.SHARED, null, -1, 250, 4_096)),
            8_000, 64_000);
    return new StoredJob(
        richSpec(id), 7, JobState.PREEMPTING, 2, StopReason.NODE_DRAIN, "a reason", 1_000, 2_000, 3_000, -1,
        9_000, 5, 1.25, "s3://ckpt/7", List.of(m0, m1));
  }

  static StoredQueue queue(String name, double share) {
    return new StoredQueue(
        QueueSpec.builder(name)
            .weight(2.5)
            .guaranteedGpus(4)
            .borrowLimitGpus(Double.POSITIVE_INFINITY)
            .lendLimitGpus(1.5)
            .modelQuota("H100-80GB", new ModelQuota(1, 2, Double.POSITIVE_INFINITY))
            .build(),
        Map.of("H100-80GB", share, "A100-40GB", 0.0),
        123_456,
        17,
        3.5,
        share / 2.5);
  }

  static StoredState sorted(StoredState s) {
    return new StoredState(
        s.jobs().stream().sorted((a, b) -> a.id().compareTo(b.id())).toList(),
        s.queues().stream().sorted((a, b) -> a.spec().name().compareTo(b.spec().name())).toList(),
        s.nodes().stream().sorted((a, b) -> Long.compare(a.sequence(), b.sequence())).toList());
  }

  @Test
  void aNewStoreHoldsNothing() {
    assertThat(newStore().load().isEmpty()).isTrue();
  }

  @Test
  void whatIsCommittedIsLoadedBackEqualAlsoByAReopenedStore() {
    SchedulerStore s = newStore();
    s.load();
    var n1 = new StoredNode(richNode(), NodeState.CORDONED, true, 4);
    var n2 = new StoredNode(SchedulerHarness.mig("m", 2), NodeState.DOWN, false, 1);
    StoredJob done =
        new StoredJob(
            richSpec("done"), 3, JobState.FAILED, 1, StopReason.LEASE_EXPIRED, "lease expired", 10, 10, 20, 30, -1, 2,
            0.5, null, List.of());
    s.commit(
        List.of(
            new StoreChange.PutJob(pending("p", 1)),
            new StoreChange.PutJob(running("r")),
            new StoreChange.PutJob(done),
            new StoreChange.PutQueue(queue("research", 0.25)),
            new StoreChange.PutQueue(queue("default", 0)),
            new StoreChange.PutNode(n1),
            new StoreChange.PutNode(n2)));

    var expected =
        new StoredState(
            List.of(done, pending("p", 1), running("r")),
            List.of(queue("default", 0), queue("research", 0.25)),
            List.of(n2, n1));
    assertThat(sorted(s.load())).isEqualTo(expected);
    assertThat(sorted(reopen(s).load())).isEqualTo(expected);
  }

  @Test
  void aLaterChangeOfTheSameKeyWinsWithinABatchAndAcrossCommits() {
    SchedulerStore s = newStore();
    s.load();
    s.commit(List.of(new StoreChange.PutJob(running("j")), new StoreChange.PutJob(pending("j", 9))));
    assertThat(s.load().jobs()).containsExactly(pending("j", 9));

    s.commit(List.of(new StoreChange.PutJob(running("j"))));
    assertThat(s.load().jobs()).containsExactly(running("j"));

    // running -> pending again: the GPUs it held are gone from the store
    s.commit(List.of(new StoreChange.PutJob(pending("j", 7)), new StoreChange.PutQueue(queue("q", 0.5))));
    s.commit(List.of(new StoreChange.PutQueue(queue("q", 0.75))));
    StoredState back = reopen(s).load();
    assertThat(back.jobs()).containsExactly(pending("j", 7));
    assertThat(back.queues()).containsExactly(queue("q", 0.75));
  }

  /**
   * A queue's record replaces its usage whole (a GPU model it no longer names is gone, a new one
   * appears), and a node's record replaces its state, whatever other rows share the commit.
   */
  @Test
  void aQueuesUsageAndANodesStateAreReplacedWholeByTheirNextRecord() {
    SchedulerStore s = newStore();
    s.load();
    StoredQueue q = queue("q", 0.5);
    StoredQueue other = queue("other", 0.25);
    var n = new StoredNode(richNode(), NodeState.CORDONED, true, 4);
    s.commit(List.of(new StoreChange.PutQueue(q), new StoreChange.PutQueue(other), new StoreChange.PutNode(n)));
    StoredQueue fewer =
        new StoredQueue(q.spec(), Map.of("B200", 0.125), 200_000, 18, 4.5, 0.05);
    var drained = new StoredNode(richNode(), NodeState.DRAINING, true, 5);
    s.commit(List.of(new StoreChange.PutJob(pending("j", 1)), new StoreChange.PutQueue(fewer), new StoreChange.PutNode(drained)));
    StoredState back = sorted(reopen(s).load());
    assertThat(back.queues()).containsExactly(other, fewer);
    assertThat(back.nodes()).containsExactly(drained);
    assertThat(back.jobs()).containsExactly(pending("j", 1));

    StoredQueue none = new StoredQueue(q.spec(), Map.of(), 300_000, 19, 4.5, 0);
    s.commit(List.of(new StoreChange.PutQueue(none)));
    assertThat(sorted(reopen(s).load()).queues()).containsExactly(other, none);
  }

  /**
   * Values an array literal must quote or carry exactly (PostgreSQL writes a batch as one array per
   * column): the string {@code NULL}, empty strings, braces, commas, quotes, backslashes, spaces
   * and new lines, and doubles whose shortest decimal form is long or tiny.
   */
  @Test
  void awkwardValuesAreLoadedBackExactly() {
    SchedulerStore s = newStore();
    s.load();
    String[] ids = {"NULL", "null", "", " {a,b} ", "\"q\"", "back\\slash", "line\nbreak", "ünï"};
    var changes = new java.util.ArrayList<StoreChange>();
    var expected = new java.util.ArrayList<StoredJob>();
    for (int i = 0; i < ids.length; i++) {
      String id = ids[i];
      var spec =
          JobSpec.builder(PlacementRequest.wholeGpus(1, false))
              .id(id.isEmpty() ? "empty" : id)
              .queue(i % 2 == 0 ? "NULL" : "{q, \"x\"}")
              .metadata("k", id)
              .build();
      var gpu = new AllocatedGpu("NULL", 0, "{GPU,\"1\"}", "H100-80GB", GpuMode.WHOLE, null, -1, 1000, 81_559);
      var job =
          new StoredJob(
              spec, i + 1, JobState.RUNNING, 1, null, id, 1_000, 1_000, 2_000, -1, -1, i + 1,
              new double[] {0.1 + 0.2, 1e-300, Double.MIN_VALUE, 1.0 / 3, 123456789.987654321, 0, Double.MAX_VALUE, 2.5}[i],
              id, List.of(new StoredAllocation(List.of(gpu), 0, 0)));
      changes.add(new StoreChange.PutJob(job));
      expected.add(job);
    }
    var q = queue("NULL", 0.1 + 0.2);
    changes.add(new StoreChange.PutQueue(q));
    var n = new StoredNode(richNode(), NodeState.DRAINING, true, 9);
    changes.add(new StoreChange.PutNode(n));
    s.commit(changes);

    StoredState back = reopen(s).load();
    assertThat(back.jobs()).containsExactlyInAnyOrderElementsOf(expected);
    assertThat(back.queues()).containsExactly(q);
    assertThat(back.nodes()).containsExactly(n);
  }

  @Test
  void anEmptyBatchChangesNothing() {
    SchedulerStore s = newStore();
    s.load();
    s.commit(List.of(new StoreChange.PutJob(pending("a", 1))));
    s.commit(List.of());
    assertThat(reopen(s).load().jobs()).containsExactly(pending("a", 1));
  }

  @Test
  void manyJobsInOneBatch() {
    SchedulerStore s = newStore();
    s.load();
    var changes = new java.util.ArrayList<StoreChange>();
    for (int i = 1; i <= 500; i++) {
      changes.add(new StoreChange.PutJob(i % 2 == 0 ? pending("j" + i, i) : running("j" + i)));
    }
    s.commit(changes);
    assertThat(reopen(s).load().jobs()).hasSize(500).contains(running("j1"), pending("j500", 500));
  }

  static StoredJob ended(String id, long seq, JobState state, long endedAt) {
    return new StoredJob(
        JobSpec.builder(PlacementRequest.mig("1g.10gb")).id(id).build(), seq, state, 1, null, null,
        1_000, 1_000, 2_000, endedAt, -1, seq, 0, null, List.of());
  }

  @Test
  void pruningDeletesFinalJobsEndedBeforeTheCutOldestFirstInBatches() {
    SchedulerStore s = newStore();
    s.load();
    var changes = new java.util.ArrayList<StoreChange>();
    JobState[] finals = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED};
    for (int i = 1; i <= 2_500; i++) {
      changes.add(new StoreChange.PutJob(ended("old" + i, i, finals[i % 3], 10_000 + i)));
    }
    changes.add(new StoreChange.PutJob(ended("recent", 3_000, JobState.COMPLETED, 50_000)));
    changes.add(new StoreChange.PutJob(pending("pending", 3_001)));
    changes.add(new StoreChange.PutJob(running("running")));
    changes.add(new StoreChange.PutJob(ended("reused", 3_002, JobState.COMPLETED, 5_000)));
    s.commit(changes);
    // the id of an old final job is taken by a new submission: its new record is not pruned
    s.commit(List.of(new StoreChange.PutJob(pending("reused", 3_003))));

    assertThat(s.pruneFinishedJobs(10_002, 10)).isEqualTo(1); // ended before 10,002: old1 only
    assertThat(reopen(s).load().jobs()).extracting(StoredJob::id).doesNotContain("old1").contains("old2");
    assertThat(s.pruneFinishedJobs(40_000, 1_000)).isEqualTo(1_000);
    assertThat(reopen(s).load().jobs()).extracting(StoredJob::id)
        .doesNotContain("old1001").contains("old1002", "old2500"); // oldest first
    assertThat(s.pruneFinishedJobs(40_000, 1_000)).isEqualTo(1_000);
    assertThat(s.pruneFinishedJobs(40_000, 1_000)).isEqualTo(499);
    assertThat(s.pruneFinishedJobs(40_000, 1_000)).isZero();
    assertThat(reopen(s).load().jobs())
        .containsExactlyInAnyOrder(
            ended("recent", 3_000, JobState.COMPLETED, 50_000), pending("pending", 3_001), running("running"),
            pending("reused", 3_003));
  }
}
