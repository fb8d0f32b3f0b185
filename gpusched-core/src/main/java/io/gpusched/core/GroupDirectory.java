package io.gpusched.core;

import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The groups of a cluster, and which of them may host each kind of demand. Management adds groups
 * and publishes new arrays (copy on write, through volatile fields) under the cluster's management
 * monitor; placements read them without locks. Also holds the request-mix weights that every
 * group's decision tables are built from.
 */
@EnginePart
final class GroupDirectory {
  /** Groups by key (model, mode, static layout); management monitor only. */
  final Map<String, Group> byKey = new HashMap<>();

  /** The GPU models seen, by name; management monitor only. */
  final Map<String, GpuModel> models = new HashMap<>();

  /** All groups, in creation order. */
  volatile Group[] all = new Group[0];

  private volatile Group[] whole = new Group[0];
  private volatile Group[] share = new Group[0];
  private volatile IdentityCache<String, Group[]> migRoutes = routes(Map.of());

  /**
   * The mix weights the tables are built from; written by one relearn at a time (learned mix) or
   * by management (fixed mix).
   */
  volatile double[] tableWeights;

  /**
   * Lost races on the cluster's GPU words ({@link Takes#RACED}), shared by its groups ({@link
   * Group#races}); read by every placement of a cluster whose threads take offsets when contended.
   */
  final java.util.concurrent.atomic.AtomicLong races = new java.util.concurrent.atomic.AtomicLong();

  /** The share-order caches of the SHARED groups' tables ({@link ShareOrders}). */
  final ShareOrders shareOrders = new ShareOrders();

  /** Reads {@link #tableWeights} now (what {@link Group#ensureTables} builds from). */
  final Supplier<double[]> currentWeights = () -> tableWeights;

  GroupDirectory(double[] weights) {
    this.tableWeights = weights;
  }

  /** The groups that may host a demand of this kind, before constraints; lock-free. */
  Group[] candidates(GpuDemand demand) {
    if (demand instanceof GpuDemand.Mig m) {
      return migRoutes.get(m.profile());
    }
    return demand instanceof GpuDemand.Share ? share : whole;
  }

  /** Appends a new group to {@link #all}; management monitor only, then {@link #publish}. */
  void add(Group g) {
    byKey.put(g.key, g);
    Group[] a = Arrays.copyOf(all, all.length + 1);
    a[a.length - 1] = g;
    all = a;
  }

  /** Publishes the groups by demand kind from {@link #all}; management monitor only. */
  void publish() {
    List<Group> w = new ArrayList<>();
    List<Group> s = new ArrayList<>();
    Map<String, List<Group>> mig = new TreeMap<>();
    for (Group g : all) {
      if (g.wholeCapable) {
        w.add(g);
      }
      if (g.space.mode == GpuMode.SHARED) {
        s.add(g);
      }
      if (g.space instanceof MigSpace m) {
        for (int p = 0; p < m.profiles.length; p++) {
          if (m.feasible[p][0] != 0) { // static MIG: only profiles that have a pre-made instance
            mig.computeIfAbsent(m.profiles[p].name(), k -> new ArrayList<>()).add(g);
          }
        }
      }
    }
    Map<String, Group[]> migArrays = new HashMap<>(); // read-only once published
    mig.forEach((k, v) -> migArrays.put(k, v.toArray(Group[]::new)));
    whole = w.toArray(Group[]::new);
    share = s.toArray(Group[]::new);
    migRoutes = routes(migArrays);
  }

  private static IdentityCache<String, Group[]> routes(Map<String, Group[]> byProfile) {
    Group[] none = new Group[0];
    return new IdentityCache<>(16, profile -> byProfile.getOrDefault(profile, none));
  }
}
