package io.gpusched.core;

import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;

/**
 * One GPU in the engine: its spec, place in its {@link Group}, its occupancy word, and who holds
 * it. The word changes only through {@link #casWord}, {@link #subtract} and {@link GangClaims}; its
 * layout belongs to the group's {@link Space}.
 *
 * <p>Holders are registered so that a forced node removal can report them. Where a holder owns a
 * unique position on the GPU (the whole GPU, a MIG start slot, a static instance) it is stored in an
 * array cell only that holder writes, so registration is one volatile store and never contends;
 * SHARED GPUs, with any number of tenants, use a concurrent set.
 */
@EnginePart
final class GpuSlot extends ClaimWord {
  final NodeEntry node;
  final GpuSpec spec;
  final Group group;
  final int local;

  @SuppressWarnings("NullAway.Init") // set by Group.addNode before the slot is published
  GroupNode groupNode;
  private final @Nullable AtomicReferenceArray<AllocationImpl> owners;
  private final @Nullable Set<AllocationImpl> tenants;

  /**
   * The slots array of every one-GPU allocation on this GPU ({@link Reservation#one}): {@code
   * {this}}, shared, so that such a placement allocates no array for it. Never written after
   * construction (an allocation's slots are read only).
   */
  final GpuSlot[] alone;

  GpuSlot(NodeEntry node, GpuSpec spec, Group group, int local) {
    this.node = node;
    this.spec = spec;
    this.group = group;
    this.local = local;
    this.alone = new GpuSlot[1];
    if (spec.mode() == GpuMode.SHARED) {
      owners = null;
      tenants = ConcurrentHashMap.newKeySet();
    } else {
      owners = new AtomicReferenceArray<>(spec.mode() == GpuMode.WHOLE ? 1 : 8);
      tenants = null;
    }
    alone[0] = this; // final field: published with the slot
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
   * consistent with the CASes that change them. A gang in progress is finished first (never
   * waited for); a dead word (its node was removed) reads as the space's {@link Space#deadWord()
   * full word}, so every search passes over it, and a CAS from what was read fails (the real word
   * differs).
   */
  long lvWord() {
    long w = rawWord();
    return w >= 0 ? w : lvSpecial();
  }

  private long lvSpecial() {
    long w = lvResolved();
    return GangClaims.isDead(w) ? group.space.deadWord() : w;
  }

  /** Whether this GPU's node was taken out of the engine by a removal (its word is dead). */
  boolean isDead() {
    return GangClaims.isDead(lvResolved());
  }

  /** Compare-and-set of the word (volatile semantics); the linearization point of a take. */
  boolean casWord(long expect, long update) {
    return casRawWord(expect, update);
  }

  /**
   * Subtracts a delta this GPU's word holds (a release or a give-back), also from a dead word,
   * which keeps its dead bits. A CAS loop, since the word may hold a removal's descriptor
   * (finished first): lock-free, it repeats only after another thread changed the word. Returns
   * the raw word before (possibly dead: see {@link GangClaims#isDead}).
   */
  long subtract(long delta) {
    return subtractResolved(delta);
  }

  /**
   * Subtracts a delta unless the word is dead (a removal came first). Returns the word before, or
   * -1, changing nothing, if it is dead. Lock-free, as {@link #subtract}.
   */
  long subtractIfLive(long delta) {
    for (; ; ) {
      long w = lvResolved();
      if (GangClaims.isDead(w)) {
        return -1;
      }
      if (casRawWord(w, w - delta)) {
        return w;
      }
    }
  }
}
