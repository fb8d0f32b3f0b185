package io.gpusched.bench.sim;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * The same workload on the same mixed-price, mixed spot cluster ({@link SimCluster#costDemo()}),
 * scheduled with and without cost-aware placement ({@code preferCheapest}): total cost, cost per
 * queue, wait times (p50/p95) and lost work side by side, and a chart.
 *
 * <p>The workload is the shipped one with every single-member whole-GPU job made model-agnostic
 * ("any GPU with at least 40 GiB": an H100-80GB or an A100-80GB taken whole), so that cost can
 * pick the model; MIG and share jobs keep their models (only the A100s have MIG, only the A30s
 * are shared). Both runs use the library's default policy (fair share, preemption, backfill) and
 * the same node failures and spot interruptions.
 */
public final class CostComparison {
  private CostComparison() {}

  /** The least GPU memory the model-agnostic jobs ask for, GiB. */
  public static final int MIN_GIB = 40;

  /**
   * One run's result and its label.
   *
   * @param label what was compared ({@code cost-aware} or {@code not cost-aware})
   * @param result the simulation's result
   */
  public record Run(String label, SimResult result) {}

  /** The workload with every single-member whole-GPU job asking for any GPU of at least 40 GiB. */
  public static Workload modelAgnostic(Workload w) {
    List<SimJob> out = new ArrayList<>();
    for (SimJob j : w.jobs()) {
      boolean whole = j.request().trim().toLowerCase(Locale.ROOT).startsWith("gpu:");
      out.add(whole && j.gang() == 1 ? j.withModel(">=" + MIN_GIB + "GiB") : j);
    }
    return new Workload(out);
  }

  /**
   * Runs the workload without and with cost-aware placement, in that order.
   *
   * @param cluster nodes, queues and disruptions (the same for both)
   * @param workload the arrivals (the same for both)
   */
  public static List<Run> run(SimCluster cluster, Workload workload) {
    SimConfig cfg = SimConfig.defaults(SimConfig.Variant.FAIR_SHARE_PREEMPT_BACKFILL);
    return List.of(
        new Run("not cost-aware", new Simulator(cluster, workload, cfg, new CoreSchedulerFactory(false)).run()),
        new Run("cost-aware", new Simulator(cluster, workload, cfg, new CoreSchedulerFactory(true)).run()));
  }

  /** Prints the comparison table. */
  public static void print(List<Run> runs, PrintStream out) {
    String line = "-".repeat(135);
    out.println(line);
    out.printf(Locale.ROOT, "%-16s %10s %24s %22s %22s %6s %9s %6s %5s%n", "placement", "total cost",
        "cost per queue", "wait p50 / p95 (min)", "p95 per queue (min)", "util", "lost GPUh", "unfin",
        "lost");
    out.println(line);
    for (Run run : runs) {
      SimResult r = run.result();
      double[] w = r.waits(null);
      StringBuilder perQueue = new StringBuilder();
      for (int i = 0; i < r.queues().size(); i++) {
        perQueue.append(i == 0 ? "" : " / ").append(String.format(Locale.ROOT, "%.0f", r.costByQueue()[i]));
      }
      StringBuilder p95 = new StringBuilder();
      for (int i = 0; i < r.queues().size(); i++) {
        p95.append(i == 0 ? "" : " / ")
            .append(String.format(Locale.ROOT, "%.0f", SimResult.percentile(r.waits(r.queues().get(i)), 95) / 60));
      }
      out.printf(Locale.ROOT, "%-16s %10.0f %24s %22s %22s %5.1f%% %9.1f %6d %5d%n", run.label(), r.totalCost(),
          perQueue, String.format(Locale.ROOT, "%.0f / %.0f", SimResult.percentile(w, 50) / 60,
              SimResult.percentile(w, 95) / 60), p95,
          r.meanUtilizationPercent(), r.lostGpuSeconds() / 3_600, r.unfinished(), r.jobsLost());
    }
    out.println(line);
    out.println("per queue: " + String.join(" / ", runs.get(0).result().queues())
        + "; wait: submit to first start, all jobs; util: mean GPU-equivalents held / capacity while"
        + " jobs arrive;\nlost GPUh: work redone after preemption, drain, spot and node loss;"
        + " unfin: jobs not final at the end; lost: jobs the scheduler lost (must be 0)");
  }

  /**
   * The chart: total cost per queue (left) and wait p50 / p95 (right), one bar per run.
   *
   * @throws IOException if the file cannot be written
   */
  public static Path writeChart(List<Run> runs, Path png) throws IOException {
    CategoryChart cost =
        new CategoryChartBuilder().width(640).height(480).title("Cost per queue")
            .xAxisTitle("queue").yAxisTitle("cost (price x GPU-equivalent hours)").build();
    CategoryChart wait =
        new CategoryChartBuilder().width(640).height(480).title("Wait time (submit to first start)")
            .xAxisTitle("percentile (all jobs, then p95 per queue)").yAxisTitle("minutes").build();
    for (CategoryChart c : List.of(cost, wait)) {
      c.getStyler().setChartBackgroundColor(Color.WHITE);
      c.getStyler().setPlotBackgroundColor(Color.WHITE);
      c.getStyler().setPlotGridLinesColor(new Color(0xdddddd));
      c.getStyler().setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
      c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
      c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
      c.getStyler().setSeriesColors(new Color[] {new Color(0x7f7f7f), new Color(0x2ca02c)});
      c.getStyler().setYAxisMin(0.0);
    }
    for (Run run : runs) {
      SimResult r = run.result();
      List<String> queues = new ArrayList<>(r.queues());
      List<Double> costs = new ArrayList<>();
      for (double c : r.costByQueue()) {
        costs.add(c);
      }
      queues.add("total");
      costs.add(r.totalCost());
      cost.addSeries(run.label(), queues, costs);
      double[] w = r.waits(null);
      List<String> cats = new ArrayList<>(List.of("p50", "p95"));
      List<Double> mins =
          new ArrayList<>(List.of(SimResult.percentile(w, 50) / 60, SimResult.percentile(w, 95) / 60));
      for (String q : r.queues()) {
        cats.add(q);
        mins.add(SimResult.percentile(r.waits(q), 95) / 60);
      }
      wait.addSeries(run.label(), cats, mins);
    }
    BufferedImage left = BitmapEncoder.getBufferedImage(cost);
    BufferedImage right = BitmapEncoder.getBufferedImage(wait);
    BufferedImage both =
        new BufferedImage(left.getWidth() + right.getWidth(), Math.max(left.getHeight(), right.getHeight()),
            BufferedImage.TYPE_INT_RGB);
    Graphics2D g = both.createGraphics();
    try {
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, both.getWidth(), both.getHeight());
      g.drawImage(left, 0, 0, null);
      g.drawImage(right, left.getWidth(), 0, null);
    } finally {
      g.dispose();
    }
    Path dir = png.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    ImageIO.write(both, "png", png.toFile());
    return png;
  }

  /** CLI: {@code [--workload FILE] [--out PNG] [--seed S] [--no-disruptions]}. */
  public static void main(String[] args) throws IOException {
    System.setProperty("java.awt.headless", "true");
    String workload = Workload.SHIPPED;
    Path out = Path.of("sim-out", "cost.png");
    long seed = 42;
    boolean disruptions = true;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--workload" -> workload = args[++i];
        case "--out" -> out = Path.of(args[++i]);
        case "--seed" -> seed = Long.parseLong(args[++i]);
        case "--no-disruptions" -> disruptions = false;
        default -> {
          System.err.println("usage: CostComparison [--workload FILE] [--out PNG] [--seed S] [--no-disruptions]");
          System.exit(2);
        }
      }
    }
    Workload w = modelAgnostic(Workload.read(workload));
    SimCluster c = SimCluster.costDemo();
    if (disruptions) {
      c = c.withRandomDisruptions(w.lastArrivalSeconds() + 86_400, 24 * 14, 24, seed);
    }
    System.out.printf(Locale.ROOT, "cost comparison: %d nodes, %d GPUs; %s, %d jobs; %d node failures, %d spot"
            + " interruptions%n%n", c.nodes().size(), c.gpus(), workload, w.jobs().size(),
        c.disruptions().stream().filter(d -> !d.spot()).count(),
        c.disruptions().stream().filter(SimCluster.Disruption::spot).count());
    List<Run> runs = run(c, w);
    print(runs, System.out);
    System.out.println("wrote " + writeChart(runs, out).toAbsolutePath());
  }
}
