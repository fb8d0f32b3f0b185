package io.gpusched.core;

import io.gpusched.GpuSpec;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One GPU in the engine: its spec, place in its {@link Group}, and its occupancy word. The word
 * changes only through {@link #cas}; its layout belongs to the group's {@link Space}.
 */
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
  GroupNode groupNode;

  @SuppressWarnings("unused") // accessed through WORD
  private volatile long word;

  GpuSlot(NodeEntry node, GpuSpec spec, Group group, int local) {
    this.node = node;
    this.spec = spec;
    this.group = group;
    this.local = local;
  }

  long word() {
    return (long) WORD.getVolatile(this);
  }

  boolean cas(long expect, long update) {
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
