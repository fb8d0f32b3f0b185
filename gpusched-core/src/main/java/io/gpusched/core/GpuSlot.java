package io.gpusched.core;

import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * One GPU in the engine: its spec, place in its {@link Group}, its occupancy word, and who holds
 * it. The word changes only through {@link #casWord} and {@link #subtract}; its layout belongs to the
 * group's {@link Space}.
 *
 * <p>Holders are registered so that a forced node removal can report them. Where a holder owns a
 * unique position on the GPU (the whole GPU, a MIG start slot, a static instance) it is stored in an
 * array cell only that holder writes, so registration is one volatile store and never contends;
 * SHARED GPUs, with any number of tenants, use a concurrent set.
 */
@EnginePart
final class GpuSlot {
  private static final VarHandle WORD;

  static {
    try {
      WORD = MethodHandles.lookup().findVarHandle(GpuSlot.class, "word", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final NodeEntry node;
  final GpuSpec spec;
  final Group group;
  final int local;

  /** A number unique to this GPU among all clusters: the order in which gangs claim GPUs. */
  final long ordinal = ORDINALS.incrementAndGet();

  private static final java.util.concurrent.atomic.AtomicLong ORDINALS =
      new java.util.concurrent.atomic.AtomicLong();
  @SuppressWarnings("NullAway.Init") // set by Group.addNode before the slot is published
  GroupNode groupNode;
  private final @Nullable AtomicReferenceArray<AllocationImpl> owners;
  private final @Nullable Set<AllocationImpl> tenants;

  @SuppressWarnings("unused") // accessed through WORD
  private volatile long word;

  GpuSlot(NodeEntry node, GpuSpec spec, Group group, int local) {
    this.node = node;
    this.spec = spec;
    this.group = group;
    this.local = local;
    if (spec.mode() == GpuMode.SHARED) {
      owners = null;
      tenants = ConcurrentHashMap.newKeySet();
    } else {
      owners = new AtomicReferenceArray<>(spec.mode() == GpuMode.WHOLE ? 1 : 8);
      tenants = null;
    }
  }

  /** Registers a holder at its position (see {@link AllocationImpl#owner}), or as a tenant (-1). */
  void register(AllocationImpl a, int position) {
    if (position >= 0) {
      Objects.requireNonNull(owners, "a position on a SHARED GPU").set(position, a);
    } else {
      Objects.requireNonNull(tenants, "a tenant of a non-SHARED GPU").add(a);
    }
  }

  /** Unregisters a holder; a later holder of the same position is left alone. */
  void unregister(AllocationImpl a, int position) {
    if (position >= 0) {
      Objects.requireNonNull(owners, "a position on a SHARED GPU").compareAndSet(position, a, null);
    } else {
      Objects.requireNonNull(tenants, "a tenant of a non-SHARED GPU").remove(a);
    }
  }

  /** Adds every registered holder to {@code out}. */
  void holders(Collection<AllocationImpl> out) {
    if (owners != null) {
      for (int i = 0; i < owners.length(); i++) {
        AllocationImpl a = owners.get(i);
        if (a != null) {
          out.add(a);
        }
      }
    } else {
      out.addAll(tenants);
    }
  }

  /**
   * Loads the word with volatile semantics ({@code lv}, JCTools' naming): the index protocol and
   * the miss re-check rely on reads of words, index bits and window counts being sequentially
   * consistent with the CASes that change them.
   */
  long lvWord() {
    long w = (long) WORD.getVolatile(this);
    while (GangClaims.isDescriptor(w)) { // a gang in progress: finish it, never wait for it
      GangClaims.resolve(this, w);
      w = (long) WORD.getVolatile(this);
    }
    return w;
  }

  /** The word as it is, possibly a gang's descriptor value (for {@link GangClaims} only). */
  long rawWord() {
    return (long) WORD.getVolatile(this);
  }

  /** CAS of the raw word (for {@link GangClaims} only). */
  boolean casRawWord(long expect, long update) {
    return WORD.compareAndSet(this, expect, update);
  }

  /** Compare-and-set of the word (volatile semantics); the linearization point of a take. */
  boolean casWord(long expect, long update) {
    return WORD.compareAndSet(this, expect, update);
  }

  /**
   * Subtracts a delta this GPU's word holds (a release). One atomic add: wait-free. Returns the
   * word before.
   */
  long subtract(long delta) {
    return (long) WORD.getAndAdd(this, -delta);
  }
}
