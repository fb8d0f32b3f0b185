package io.gpusched.core;

/**
 * Takes GPUs together with the host resources charged with them, all at one instant or none, so
 * that no placement ever holds GPUs while it waits to learn whether its host resources fit, and
 * none holds host resources for GPUs it may not get: neither can make a concurrent request fail.
 * Without host resources to charge, a take is one CAS (one GPU) or one atomic gang step; with
 * them, one {@link GangClaims} step over the GPU words and the nodes' {@link NodeEntry#host host
 * words}. Lock-free: a step that failed because only a host word changed (another placement or
 * release on the node: progress) is tried again with the new value.
 *
 * <p>The caller updates the index of each GPU it took (every word change is followed by its
 * changer's index update).
 */
@EnginePart
final class Takes {
  private Takes() {}

  /** Everything was taken. */
  static final int TAKEN = 0;

  /** A GPU word no longer held what was read (another placement or release changed it). */
  static final int RACED = 1;

  /** The host resources do not fit on a node of the take; nothing changed. */
  static final int NO_HOST = 2;

  /**
   * Adds {@code delta} to {@code gpu}'s word, which must hold {@code word}, and charges {@code
   * cpu} and {@code mem} to its node, at one instant.
   */
  static int one(GpuSlot gpu, long word, long delta, long cpu, long mem) {
    NodeEntry node = gpu.node;
    long add = node.hostDelta(cpu, mem);
    if (add == 0) {
      return gpu.casWord(word, word + delta) ? TAKEN : raced(gpu);
    }
    if (add < 0) {
      return NO_HOST;
    }
    for (; ; ) {
      long h = node.host.lvResolved();
      if (!node.fitsOn(h, cpu, mem)) {
        return NO_HOST;
      }
      GangClaims.Op op =
          GangClaims.Op.general(
              new ClaimWord[] {gpu, node.host},
              new long[] {word, h},
              new long[] {word + delta, h + add});
      if (GangClaims.run(op)) {
        return TAKEN;
      }
      if (gpu.lvWord() != word) {
        return raced(gpu);
      }
    }
  }

  /**
   * Takes empty GPUs (each from 0 to its delta) and charges {@code cpu[i]} and {@code mem[i]} to
   * the node of GPU {@code i}, at one instant.
   */
  static int empty(GpuSlot[] gpus, long[] deltas, long[] cpu, long[] mem) {
    int n = gpus.length;
    if (n == 1) {
      return one(gpus[0], 0, deltas[0], cpu[0], mem[0]);
    }
    NodeEntry[] nodes = new NodeEntry[n];
    long[] nodeCpu = new long[n];
    long[] nodeMem = new long[n];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (cpu[i] == 0 && mem[i] == 0) {
        continue;
      }
      int j = 0;
      while (j < k && nodes[j] != gpus[i].node) {
        j++;
      }
      if (j == k) {
        nodes[k++] = gpus[i].node;
      }
      nodeCpu[j] += cpu[i];
      nodeMem[j] += mem[i];
    }
    long[] adds = new long[k];
    int hosts = 0;
    for (int j = 0; j < k; j++) {
      adds[j] = nodes[j].hostDelta(nodeCpu[j], nodeMem[j]);
      if (adds[j] < 0) {
        return NO_HOST;
      }
      if (adds[j] > 0) {
        hosts++;
      }
    }
    if (hosts == 0) {
      return GangClaims.run(GangClaims.Op.take(gpus, deltas)) ? TAKEN : raced(gpus[0]);
    }
    long[] empty = new long[n];
    ClaimWord[] hostWords = new ClaimWord[hosts];
    long[] hostFrom = new long[hosts];
    long[] hostTo = new long[hosts];
    for (; ; ) {
      int w = 0;
      for (int j = 0; j < k; j++) {
        if (adds[j] == 0) {
          continue;
        }
        long h = nodes[j].host.lvResolved();
        if (!nodes[j].fitsOn(h, nodeCpu[j], nodeMem[j])) {
          return NO_HOST;
        }
        hostWords[w] = nodes[j].host;
        hostFrom[w] = h;
        hostTo[w] = h + adds[j];
        w++;
      }
      if (GangClaims.run(
          GangClaims.Op.withHosts(gpus, empty, deltas, hostWords, hostFrom, hostTo, hosts, true))) {
        return TAKEN;
      }
      for (GpuSlot g : gpus) {
        if (g.lvWord() != 0) {
          return raced(g);
        }
      }
    }
  }

  /**
   * Counts a lost race on the cluster of {@code gpu} ({@link Group#races}: what makes placers
   * that collide take offsets of their own) and returns {@link #RACED}. Only a failed take writes
   * the counter.
   */
  private static int raced(GpuSlot gpu) {
    gpu.group.races.getAndIncrement();
    return RACED;
  }
}
