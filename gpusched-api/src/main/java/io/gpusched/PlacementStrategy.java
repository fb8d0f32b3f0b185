package io.gpusched;

import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * Chooses among candidate placements by a score; lower is better, and ties go to the lowest node
 * and GPU index (the order in which they were added), which packs work to one side of the cluster.
 *
 * <p>A strategy scores a {@link Candidate}: the state of a GPU (or of a node's free GPUs) before and
 * after the placement. The engine calls {@link #score} only when it builds its decision tables (at
 * start, when nodes of a new shape arrive, and when the learned request mix shifts), never per
 * placement, so a score must be a pure function of the candidate. This is what keeps decisions fast:
 * placement is a table lookup plus a bitset search, not a scan of nodes.
 *
 * <p>Built-in strategies: {@link #FIRST_FIT}, {@link #BEST_FIT}, {@link #SPREAD} and {@link
 * #FRAGMENTATION_AWARE} (the default), and {@link #CHEAPEST}.
 *
 * <p><b>Cost first.</b> {@link #withCheapestFirst()} turns any strategy into one that ranks candidates
 * by their node's {@link NodeSpec#pricePerGpuHour()} first (lowest first) and by the strategy's
 * score only among candidates of the same price. The engine then keeps the nodes of each price in
 * groups of their own, like it keeps GPU models apart, so a placement still walks tables and
 * bitsets and never scans nodes: price is compared once per group, not per node. A spread gang takes
 * the plan with the lowest sum of prices. See {@code docs/placement.md}.
 *
 * @param name the strategy's name, used in metrics and logs
 * @param scorer the score function; must be pure and thread-safe
 * @param usesFragmentation whether the score reads {@link Candidate#fragmentationDelta()} (the
 *     engine then learns the request mix and keeps fragmentation tables, and adds two inputs that
 *     no table holds: a penalty for unconstrained work on GPU models that model-constrained demand
 *     needs, and a host-aware first choice among the best candidates; see docs/placement.md)
 * @param cheapestFirst whether candidates are ranked by their node's price per GPU-hour before the
 *     score (see {@link #withCheapestFirst()})
 */
public record PlacementStrategy(
    String name, ToDoubleFunction<Candidate> scorer, boolean usesFragmentation, boolean cheapestFirst) {

  /**
   * Validates.
   *
   * @throws IllegalArgumentException if the name is blank
   * @throws NullPointerException if the name or the scorer is null
   */
  public PlacementStrategy {
    Checks.requireName(name, "strategy name");
    Objects.requireNonNull(scorer, "scorer");
  }

  /**
   * A strategy that ranks by its score alone (not {@link #withCheapestFirst()}).
   *
   * @throws IllegalArgumentException if the name is blank
   * @throws NullPointerException if the name or the scorer is null
   */
  public PlacementStrategy(String name, ToDoubleFunction<Candidate> scorer, boolean usesFragmentation) {
    this(name, scorer, usesFragmentation, false);
  }

  /**
   * This strategy with the cost tie-break: among the candidates where a request fits, the ones on
   * the nodes with the lowest {@link NodeSpec#pricePerGpuHour()} come first, then this strategy's
   * score decides among them (its rules before the score, such as whole GPUs on WHOLE before
   * SHARED GPUs, apply within one price). Named {@code <name>+CHEAPEST}; this strategy itself if
   * it already is cost-first.
   */
  public PlacementStrategy withCheapestFirst() {
    return cheapestFirst ? this : new PlacementStrategy(name + "+CHEAPEST", scorer, usesFragmentation, true);
  }

  /**
   * Scores one candidate; lower is better.
   *
   * @throws IllegalStateException if the scorer returns NaN
   */
  public double score(Candidate candidate) {
    double s = scorer.applyAsDouble(candidate);
    if (Double.isNaN(s)) {
      throw new IllegalStateException("strategy " + name + " scored NaN for " + candidate);
    }
    return s;
  }

  /**
   * The first (lowest-index) GPU that fits, and the lowest valid MIG slot. With the engine's
   * per-thread start offsets (on by default in {@code GpuClusters}), threads other than the first to
   * place on a cluster search from their own offset and wrap around.
   */
  public static final PlacementStrategy FIRST_FIT =
      new PlacementStrategy("FIRST_FIT", c -> 0, false);

  /**
   * The tightest fit: the GPU left with the least free capacity, then the node left with the fewest
   * free GPUs. Packs partially used GPUs and nodes first.
   */
  public static final PlacementStrategy BEST_FIT =
      new PlacementStrategy(
          "BEST_FIT", c -> c.gpuFreeAfter() * 1_000 + Math.max(0, c.nodeFreeGpusAfter()), false);

  /** The loosest fit: the emptiest GPU on the emptiest node. Spreads load and heat. */
  public static final PlacementStrategy SPREAD =
      new PlacementStrategy(
          "SPREAD", c -> -(c.gpuFreeAfter() * 1_000 + Math.max(0, c.nodeFreeGpusAfter())), false);

  /**
   * The default: the candidate that increases fragmentation least for the expected request mix
   * (after Fragmentation Gradient Descent, Weng et al., USENIX ATC 2023), ties to the lowest index.
   * Fragmentation is the free capacity that requests of the mix's shapes can no longer use; for MIG
   * it counts free memory slices that no valid placement of a shape covers. On a MIG GPU the start
   * slot that keeps the most reachable compute, then memory, is taken (so a 1g instance keeps the
   * slice only memory-heavy profiles can use), and a MIG placement's delta also counts the compute
   * and memory slices it strands (see {@code docs/placement.md}). Like FGD it is host-aware (GPUs
   * that their node's free CPU or memory cannot feed count as fragmented) and leaves GPU models
   * that constrained requests need to them.
   */
  public static final PlacementStrategy FRAGMENTATION_AWARE =
      new PlacementStrategy("FRAGMENTATION_AWARE", Candidate::fragmentationDelta, true);

  /**
   * The default strategy, {@link #FRAGMENTATION_AWARE}, with the cost tie-break ({@link
   * #withCheapestFirst()}): the cheapest nodes where a request fits first, the least fragmentation among
   * them. Named {@code CHEAPEST}.
   */
  public static final PlacementStrategy CHEAPEST =
      new PlacementStrategy("CHEAPEST", Candidate::fragmentationDelta, true, true);

  /**
   * Returns a built-in strategy by name (case-insensitive, {@code -} for {@code _} allowed). A
   * name ending in {@code +CHEAPEST} is that strategy {@link #withCheapestFirst()}.
   *
   * @throws IllegalArgumentException for an unknown name, listing the known ones
   */
  public static PlacementStrategy named(String name) {
    String n = name.trim().replace('-', '_').toUpperCase(java.util.Locale.ROOT);
    if (n.endsWith("+CHEAPEST") && n.length() > "+CHEAPEST".length()) {
      return named(n.substring(0, n.length() - "+CHEAPEST".length())).withCheapestFirst();
    }
    return switch (n) {
      case "FIRST_FIT" -> FIRST_FIT;
      case "BEST_FIT" -> BEST_FIT;
      case "SPREAD" -> SPREAD;
      case "FRAGMENTATION_AWARE", "FGD" -> FRAGMENTATION_AWARE;
      case "CHEAPEST" -> CHEAPEST;
      default ->
          throw new IllegalArgumentException(
              "unknown placement strategy " + name
                  + "; known: FIRST_FIT, BEST_FIT, SPREAD, FRAGMENTATION_AWARE, CHEAPEST"
                  + " (any of the first four may end in +CHEAPEST)");
    };
  }

  /**
   * A candidate placement as a strategy sees it.
   *
   * @param mode mode of the GPU(s)
   * @param gpuFreeBefore free fraction of the GPU before, 0..1 (MIG: free memory slices; SHARED:
   *     the smaller of free milli and free memory fractions; WHOLE: 1)
   * @param gpuFreeAfter free fraction of the GPU after, 0..1
   * @param nodeFreeGpusBefore the node's fully free GPUs of this kind before, or -1 when the
   *     candidate is a partly used GPU (the node's count then does not change)
   * @param nodeFreeGpusAfter the same after the placement, or -1
   * @param fragmentationDelta change of fragmentation for the expected mix, in milli-GPU (0 when
   *     the strategy does not use fragmentation); for MIG it includes the compute and memory
   *     slices the placement leaves unreachable, as fractions of the GPU
   */
  public record Candidate(
      GpuMode mode,
      double gpuFreeBefore,
      double gpuFreeAfter,
      int nodeFreeGpusBefore,
      int nodeFreeGpusAfter,
      double fragmentationDelta) {}
}
