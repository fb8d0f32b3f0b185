package io.gpusched.core;

import io.gpusched.AllocatedGpu;
import io.gpusched.Allocation;
import io.gpusched.PlacementRequest;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import java.util.ArrayList;
import java.util.List;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.jspecify.annotations.Nullable;

/**
 * An allocation: the GPU words it added to (with the delta added to each), and the host resources
 * charged per GPU. Its life is a small state machine changed only by CAS: {@code PENDING} (being
 * published) to {@code ACTIVE}; then {@code RELEASING} (one thread releasing it) to {@code
 * RELEASED}. A forced node removal that finds it holding GPUs of the node makes it {@code LOST}
 * (from PENDING too: the placement then returns it lost), or, for a spread gang that still holds
 * GPUs on other nodes, {@code SEVERED}: lost (not active), but keeping its other GPUs until {@link
 * #release()} ({@code SEVERED → RELEASING → RELEASED}) gives them back, since its workers there
 * still run until they are stopped. A release that finds a GPU killed by a removal that came first
 * ends {@code LOST} or {@code RELEASED} with {@link #lostTo} naming that removal's node.
 */
@EnginePart
final class AllocationImpl implements Allocation {
  static final int PENDING = 0;
  static final int ACTIVE = 1;
  static final int RELEASED = 2;
  static final int LOST = 3;
  static final int SEVERED = 5;
  static final int RELEASING = 6;

  /**
   * Set by a release that found a GPU of this allocation dead while the allocation was ACTIVE: the
   * node of the first removal that came before the release (the one that must report this
   * allocation lost). Written before the state leaves RELEASING, read after.
   */
  volatile @Nullable NodeEntry lostTo;

  final long id;
  final PlacementRequest request;
  final GpuSlot[] slots;
  /**
   * Per GPU {@code i}, at {@code Reservation.STRIDE * i}: the delta added to its word, the host CPU
   * and memory charged, and the holder position registered in {@link GpuSlot} (-1: a SHARED
   * tenant). The reservation's array, taken over as it is.
   */
  private final long[] words;

  /**
   * Built on first call to {@link #gpus()}. Plain (racy single-check): the list is immutable and
   * its elements are records, so a thread that sees the reference sees a complete list (final
   * field semantics); at worst two threads build equal lists.
   */
  private @Nullable List<AllocatedGpu> gpus;

  /** The state (PENDING, ACTIVE, ...), changed only by CAS through {@link #STATE}. */
  private volatile int state = PENDING;

  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(AllocationImpl.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** An allocation of a reservation's GPUs (its arrays are taken over, not copied). */
  AllocationImpl(long id, PlacementRequest request, Reservation r) {
    this.id = id;
    this.request = request;
    this.slots = r.slots.length == r.n ? r.slots : java.util.Arrays.copyOf(r.slots, r.n);
    this.words =
        r.words.length == Reservation.STRIDE * r.n
            ? r.words
            : java.util.Arrays.copyOf(r.words, Reservation.STRIDE * r.n);
  }

  /** The delta added to GPU {@code i}'s word. */
  long delta(int i) {
    return words[Reservation.STRIDE * i];
  }

  /** The delta this allocation added to {@code s}'s word (0 if it holds no part of it). */
  long deltaOn(GpuSlot s) {
    for (int i = 0; i < slots.length; i++) {
      if (slots[i] == s) {
        return delta(i);
      }
    }
    return 0;
  }

  /** Host CPU (milli) charged with GPU {@code i}. */
  long hostCpu(int i) {
    return words[Reservation.STRIDE * i + 1];
  }

  /** Host memory (MiB) charged with GPU {@code i}. */
  long hostMem(int i) {
    return words[Reservation.STRIDE * i + 2];
  }

  /** The holder position on GPU {@code i} (see {@link GpuSlot#register}). */
  int owner(int i) {
    return (int) words[Reservation.STRIDE * i + 3];
  }

  int state() {
    return state;
  }

  boolean casState(int expected, int next) {
    return STATE.compareAndSet(this, expected, next);
  }

  /** Sets the state (by the thread that holds it in RELEASING). */
  void setState(int next) {
    state = next;
  }

  @Override
  public long id() {
    return id;
  }

  @Override
  public PlacementRequest request() {
    return request;
  }

  @Override
  public List<AllocatedGpu> gpus() {
    List<AllocatedGpu> g = gpus;
    if (g == null) {
      g = describe(); // racy but idempotent: same list either way
      gpus = g;
    }
    return g;
  }

  @Override
  public boolean isActive() {
    return state == ACTIVE;
  }

  @Override
  public boolean release() {
    for (; ; ) {
      int st = state;
      if (st != ACTIVE && st != SEVERED) {
        return false;
      }
      if (casState(st, RELEASING)) {
        slots[0].group.hook(ProbePoint.RELEASING, this);
        return GiveBack.release(this, st == ACTIVE);
      }
    }
  }

  /**
   * Whether this allocation holds GPUs on a node other than {@code node} that was not removed (a
   * spread gang that losing {@code node} would sever rather than lose).
   */
  boolean holdsBeyond(NodeEntry node) {
    for (GpuSlot s : slots) {
      if (s.node != node && !s.isDead()) {
        return true;
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return "Allocation[" + id + " " + request.gpus() + " on " + gpus() + "]";
  }

  /** Describes one GPU of an allocation for {@link Allocation#gpus()} (built on first call). */
  private List<AllocatedGpu> describe() {
    List<AllocatedGpu> out = new ArrayList<>(slots.length);
    for (int i = 0; i < slots.length; i++) {
      out.add(describe(slots[i], delta(i)));
    }
    return List.copyOf(out);
  }

  private static AllocatedGpu describe(GpuSlot slot, long delta) {
    GpuSpec spec = slot.spec;
    Space space = slot.group.space;
    String profile = null;
    int start = -1;
    int milli;
    long memory;
    if (space instanceof MigSpace mig) {
      int[] pc = mig.decode(delta);
      int p = pc[0];
      int choice = pc[1];
      profile = mig.profiles[p].name();
      start = mig.startSlot(p, choice);
      milli = 0;
      memory = mig.profiles[p].memoryMiB();
    } else if (space.mode == GpuMode.SHARED) {
      milli = Space.Shared.milliUsed(delta);
      memory = Space.Shared.memUsed(delta);
    } else {
      milli = 1000;
      memory = space.model.memoryMiB();
    }
    return new AllocatedGpu(
        slot.node.spec.id(),
        spec.index(),
        spec.uuid(),
        space.model.name(),
        space.mode,
        profile,
        start,
        milli,
        memory);
  }
}
