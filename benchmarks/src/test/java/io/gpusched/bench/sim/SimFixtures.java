package io.gpusched.bench.sim;

import io.gpusched.CapacityClass;
import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import io.gpusched.QueueSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Small clusters and workloads for the simulator tests. */
final class SimFixtures {
  private SimFixtures() {}

  /** {@code nodes} on-demand nodes of 8 H100s taken whole, and the given queues. */
  static SimCluster h100(int nodes, QueueSpec... queues) {
    List<NodeSpec> out = new ArrayList<>();
    SimCluster.pool(out, "n", nodes, 8, GpuModels.H100_80GB, GpuMode.WHOLE, 3.0, CapacityClass.ON_DEMAND);
    return new SimCluster(out, List.of(queues), List.of());
  }

  static SimJob oneGpu(String id, long at, String queue, long seconds) {
    return new SimJob(id, at, queue, 0, "train-short", "gpu:1", "", 1, seconds, seconds, true, false, 0);
  }

  /**
   * Queue {@code a} floods 16 GPUs with 160 one-hour jobs at the start; queue {@code b} (same
   * weight) then submits one one-hour job every 7.5 minutes for 10 hours (8 GPUs of steady demand).
   */
  static Workload twoQueues() {
    List<SimJob> jobs = new ArrayList<>();
    for (int i = 0; i < 160; i++) {
      jobs.add(oneGpu(String.format("a%03d", i), i * 10L, "a", 3_600));
    }
    for (int i = 0; i < 80; i++) {
      jobs.add(oneGpu(String.format("b%03d", i), 1_800 + i * 450L, "b", 3_600));
    }
    return new Workload(jobs);
  }

  /**
   * A stream of 1-GPU jobs (one a minute, 30..60 minutes each, estimates exact) for 10 hours on 32
   * GPUs, more than the cluster can run, and a two-hour gang of {@code gang} members of {@code
   * request} arriving after 2 hours.
   */
  static Workload gangInStream(long seed, String request, int gang) {
    Random rnd = new Random(seed);
    List<SimJob> jobs = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      long d = 60L * (30 + rnd.nextInt(31));
      jobs.add(oneGpu(String.format("s%03d", i), i * 60L, "default", d));
    }
    jobs.add(new SimJob("gang", 7_200 + 30, "default", 0, "gang-16", request, "", gang, 7_200,
        7_200, true, false, 0));
    return new Workload(jobs);
  }
}
