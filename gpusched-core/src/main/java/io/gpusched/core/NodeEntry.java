package io.gpusched.core;

import io.gpusched.NodeSpec;
import io.gpusched.NodeState;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A node in the engine. Host resources are one word (CPU milli in bits 0-23, memory MiB in bits
 * 24-63) changed by CAS. Its allocations are found through its GPUs' holders (see {@link
 * GpuSlot}).
 */
@EnginePart
final class NodeEntry {
  static final int CPU_BITS = 24;
  static final long CPU_MASK = (1L << CPU_BITS) - 1;

  final NodeSpec spec;

  /**
   * The spec's {@link NodeSpec#cpuMillis()} and {@link NodeSpec#memoryMiB()} ({@link
   * NodeSpec#UNTRACKED} if not tracked), kept here so that the placement path and the host peek
   * read them from the node they already hold instead of through the spec.
   */
  final long cpuCap;

  final long memCap;

  final GpuSlot[] gpus;
  /**
   * Host resources in use: CPU milli in bits 0-23, memory MiB from bit 24 (never negative: both
   * are bounded by {@link NodeSpec}). Changed by CAS, or together with GPU words in one {@link
   * GangClaims} step (see {@code Takes}).
   */
  final HostWord host = new HostWord();

  /** The host word of a node (a {@link ClaimWord}, so a step can take it with GPUs). */
  static final class HostWord extends ClaimWord {}
  volatile NodeState state = NodeState.READY;
  volatile boolean removed;

  /**
   * When this node was removed, in the order of removals (0 while it is in the engine): written
   * before its words are killed, so a release that finds one dead reads it.
   */
  volatile long removalSeq;

  NodeEntry(NodeSpec spec) {
    this.spec = spec;
    this.cpuCap = spec.cpuMillis();
    this.memCap = spec.memoryMiB();
    this.gpus = new GpuSlot[spec.gpus().size()];
  }

  /** The allocations registered on this node's GPUs, each once, in no particular order. */
  Set<AllocationImpl> holders() {
    Set<AllocationImpl> out = new LinkedHashSet<>();
    for (GpuSlot g : gpus) {
      g.holders(out);
    }
    return out;
  }

  boolean schedulable() {
    return state == NodeState.READY && !removed;
  }

  /** Reserves host CPU and memory. Lock-free; returns false, changing nothing, if they do not fit. */
  boolean reserveHost(long cpu, long mem) {
    long add = hostDelta(cpu, mem);
    if (add <= 0) {
      return add == 0;
    }
    for (; ; ) {
      long w = host.lvResolved();
      if (!fitsOn(w, cpu, mem)) {
        return false;
      }
      if (host.casRawWord(w, w + add)) {
        return true;
      }
    }
  }

  /**
   * Whether the host resources could fit now, by one read (nothing reserved): lets a placement skip
   * a node without touching its GPUs.
   */
  boolean hostMayFit(long cpu, long mem) {
    long add = hostDelta(cpu, mem);
    return add == 0 || (add > 0 && fitsOn(host.lvResolved(), cpu, mem));
  }

  /**
   * What a reservation adds to the host word: 0 if the node tracks none of the requested
   * resources, -1 if the request exceeds the node's capacity (which also keeps the sums in {@link
   * #fitsOn} from overflowing).
   */
  long hostDelta(long cpu, long mem) {
    boolean trackCpu = cpuCap != NodeSpec.UNTRACKED && cpu > 0;
    boolean trackMem = memCap != NodeSpec.UNTRACKED && mem > 0;
    if ((trackCpu && cpu > cpuCap) || (trackMem && mem > memCap)) {
      return -1;
    }
    return (trackCpu ? cpu : 0) | ((trackMem ? mem : 0) << CPU_BITS);
  }

  /** Whether a request within capacity ({@link #hostDelta} > 0) fits on host word {@code w}. */
  boolean fitsOn(long w, long cpu, long mem) {
    return (cpuCap == NodeSpec.UNTRACKED || (w & CPU_MASK) + cpu <= cpuCap)
        && (memCap == NodeSpec.UNTRACKED || (w >>> CPU_BITS) + mem <= memCap);
  }

  /**
   * What a reservation of {@code cpu} and {@code mem} holds in the host word ({@link
   * #reserveHost}), that is, what its release subtracts: the tracked resources only; 0 if this node
   * tracks neither of them.
   */
  long hostCharge(long cpu, long mem) {
    boolean trackCpu = cpuCap != NodeSpec.UNTRACKED && cpu > 0;
    boolean trackMem = memCap != NodeSpec.UNTRACKED && mem > 0;
    return (trackCpu ? cpu : 0) | ((trackMem ? mem : 0) << CPU_BITS);
  }

  long cpuUsed() {
    return host.lvResolved() & CPU_MASK;
  }

  long memUsed() {
    return host.lvResolved() >>> CPU_BITS;
  }
}
