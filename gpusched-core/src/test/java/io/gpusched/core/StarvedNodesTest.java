package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import io.gpusched.GpuMode;
import io.gpusched.GpuModels;
import io.gpusched.NodeSpec;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The ring of {@link StarvedNodes}: notes once, overwrites the oldest, forgets, sweeps in range. */
class StarvedNodesTest {

  static List<GroupNode> nodes(int n) {
    List<GroupNode> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      NodeEntry e = new NodeEntry(NodeSpec.builder("n" + i).gpus(1, GpuModels.H100_80GB, GpuMode.WHOLE).build());
      out.add(new GroupNode(e, null, i, new GpuSlot[0]));
    }
    return out;
  }

  static Set<GroupNode> held(StarvedNodes s) {
    Set<GroupNode> out = new HashSet<>();
    for (int i = 0; i < StarvedNodes.SIZE; i++) {
      GroupNode gn = s.get(i);
      if (gn != null) {
        out.add(gn);
      }
    }
    return out;
  }

  @Test
  void notesEachNodeOnceAndOverwritesTheOldestWhenFull() {
    StarvedNodes s = new StarvedNodes();
    List<GroupNode> n = nodes(StarvedNodes.SIZE + 3);
    for (int i = 0; i < StarvedNodes.SIZE; i++) {
      s.note(n.get(i));
      s.note(n.get(i)); // a second note of the same node takes no second slot
    }
    assertThat(held(s)).containsExactlyInAnyOrderElementsOf(n.subList(0, StarvedNodes.SIZE));
    for (int i = StarvedNodes.SIZE; i < n.size(); i++) {
      s.note(n.get(i));
    }
    assertThat(held(s)).containsExactlyInAnyOrderElementsOf(n.subList(3, n.size()));
  }

  @Test
  void forgetsARemovedNode() {
    StarvedNodes s = new StarvedNodes();
    List<GroupNode> n = nodes(3);
    n.forEach(s::note);
    s.forget(n.get(1));
    assertThat(held(s)).containsExactlyInAnyOrder(n.get(0), n.get(2));
    s.note(n.get(1));
    assertThat(held(s)).containsExactlyInAnyOrderElementsOf(n);
  }

  @Test
  void theSweepMovesOnInBatchesAndWrapsAround() {
    StarvedNodes s = new StarvedNodes();
    List<Integer> seen = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      seen.add(s.nextSweep(3, 1));
    }
    assertThat(seen).containsExactly(0, 1, 2, 0, 1, 2, 0);
    StarvedNodes b = new StarvedNodes();
    assertThat(b.nextSweep(10, 4)).isZero();
    assertThat(b.nextSweep(10, 4)).isEqualTo(4);
    assertThat(b.nextSweep(10, 4)).isEqualTo(8); // covers 8, 9, 0, 1
    assertThat(b.nextSweep(10, 4)).isEqualTo(2);
    // the cursor is at 6: out of range for 5 nodes (as a racing writer's value may be), it starts
    // again at 0 instead of indexing past the nodes
    assertThat(b.nextSweep(5, 1)).isZero();
  }
}
