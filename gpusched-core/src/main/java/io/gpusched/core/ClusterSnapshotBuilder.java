package io.gpusched.core;

import io.gpusched.ClusterSnapshot;
import io.gpusched.GpuMode;
import io.gpusched.GpuUsage;
import io.gpusched.NodeUsage;
import io.gpusched.UsageSummary;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds {@link ClusterSnapshot}s: per GPU, node, model and label, from the GPU words read once
 * each. Lock-free and never blocks a placement; a snapshot taken while placements run is exact per
 * GPU word, not one instant of the whole cluster.
 */
@EnginePart
final class ClusterSnapshotBuilder {
  private ClusterSnapshotBuilder() {}

  static ClusterSnapshot snapshot(List<NodeEntry> order) {
    long t0 = System.nanoTime();
    List<NodeUsage> nodeUsages = new ArrayList<>();
    Map<String, Summer> byModel = new TreeMap<>();
    Map<String, Summer> byLabel = new TreeMap<>();
    Summer total = new Summer();
    for (NodeEntry node : order) {
      long[] words = new long[node.gpus.length];
      Map<Group, Integer> free = new HashMap<>();
      Map<Group, Integer> all = new HashMap<>();
      for (int i = 0; i < words.length; i++) {
        words[i] = node.gpus[i].lvWord();
        all.merge(node.gpus[i].group, 1, Integer::sum);
        if (words[i] == 0) {
          free.merge(node.gpus[i].group, 1, Integer::sum);
        }
      }
      Summer ns = new Summer();
      List<GpuUsage> gpus = new ArrayList<>();
      for (int i = 0; i < words.length; i++) {
        GpuSlot s = node.gpus[i];
        GpuUsage u = usage(s, words[i], free.getOrDefault(s.group, 0), all.getOrDefault(s.group, 0));
        gpus.add(u);
        int slices = s.group.space instanceof MigSpace mig ? mig.geometry.memorySlices() : 0;
        ns.add(u, slices);
        total.add(u, slices);
        byModel.computeIfAbsent(u.model(), k -> new Summer()).add(u, slices);
        for (var l : node.spec.labels().entrySet()) {
          byLabel.computeIfAbsent(l.getKey() + "=" + l.getValue(), k -> new Summer()).add(u, slices);
        }
      }
      int allocs = 0;
      for (AllocationImpl a : node.holders()) {
        if (a.isActive()) {
          allocs++;
        }
      }
      nodeUsages.add(
          new NodeUsage(
              node.spec.id(),
              node.state,
              node.spec.capacityClass(),
              node.spec.labels(),
              List.copyOf(gpus),
              ns.summary(),
              allocs));
    }
    Map<String, UsageSummary> models = new LinkedHashMap<>();
    byModel.forEach((k, v) -> models.put(k, v.summary()));
    Map<String, UsageSummary> labels = new LinkedHashMap<>();
    byLabel.forEach((k, v) -> labels.put(k, v.summary()));
    return new ClusterSnapshot(t0, List.copyOf(nodeUsages), models, labels, total.summary());
  }

  private static GpuUsage usage(GpuSlot s, long word, int nodeFree, int nodeGpus) {
    Group g = s.group;
    Space space = g.space;
    int mask = 0;
    int compute = 0;
    int milliUsed;
    long memUsed = 0;
    if (space instanceof MigSpace mig) {
      mask = mig.slotMask(word);
      compute = mig.computeUsed(word);
      milliUsed = 0;
    } else if (space.mode == GpuMode.SHARED) {
      milliUsed = Space.Shared.milliUsed(word);
      memUsed = Space.Shared.memUsed(word);
    } else {
      milliUsed = word == 0 ? 0 : 1000;
    }
    int allocated = space.allocatedMilli(word);
    double frag = Math.max(0, Math.min(1000 - allocated, g.tables.placementFragmentedMilli(word, nodeFree, nodeGpus)));
    return new GpuUsage(
        s.spec.index(), space.model.name(), space.mode, word == 0, mask, compute, milliUsed, memUsed,
        allocated, frag);
  }

  private static final class Summer {
    int gpus;
    int free;
    int migSlices;
    int migUsed;
    long sharedMilli;
    long sharedUsed;
    long allocated;
    double frag;

    void add(GpuUsage u, int slices) {
      gpus++;
      if (u.free()) {
        free++;
      }
      if (u.mode() == GpuMode.MIG_DYNAMIC || u.mode() == GpuMode.MIG_STATIC) {
        migSlices += slices;
        migUsed += Integer.bitCount(u.migSlotMask());
      }
      if (u.mode() == GpuMode.SHARED) {
        sharedMilli += 1000;
        sharedUsed += u.milliUsed();
      }
      allocated += u.allocatedMilli();
      frag += u.fragmentedMilli();
    }

    UsageSummary summary() {
      return new UsageSummary(
          gpus, free, gpus - free, migSlices, migUsed, sharedMilli, sharedUsed, gpus * 1000L,
          allocated, frag);
    }
  }
}
