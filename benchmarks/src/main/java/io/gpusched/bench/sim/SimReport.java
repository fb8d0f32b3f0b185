package io.gpusched.bench.sim;

import io.gpusched.bench.FillChart;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.AxesChartStyler;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Prints and writes the results of simulations: the summary table, CSV files and PNG charts.
 *
 * <p>Files written by {@link #write}: {@code summary.csv} (one row per variant), {@code
 * queues.csv} (waits, completion times, share over entitlement and cost per queue and variant),
 * {@code utilization.csv} (every sample), {@code jain.csv} (Jain's index per window), {@code
 * jobs-VARIANT.csv} (every job's outcome), and the charts {@code utilization.png}, {@code
 * wait-p95.png}, {@code share.png} and {@code jain.png}.
 */
public final class SimReport {
  private SimReport() {}

  private static final Color[] COLORS = {
    new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
    new Color(0x9467bd), new Color(0x8c564b)
  };

  /** Prints the summary table and the per-queue table. */
  public static void printSummary(List<SimResult> results, PrintStream out) {
    String line = "-".repeat(128);
    out.println(line);
    out.printf(Locale.ROOT, "%-28s %6s %22s %8s %11s %8s %8s %10s %9s %7s %5s%n",
        "policy", "util", "wait p50/p95/p99 (min)", "JCT (h)", "Jain mn/min", "preempt",
        "lost GPUh", "gang16 max", "cost", "unfin", "lost");
    out.println(line);
    for (SimResult r : results) {
      double[] w = r.waits(null);
      out.printf(Locale.ROOT, "%-28s %5.1f%% %22s %8.2f %11s %8d %8.1f %9.1fh %9.0f %7d %5d%n",
          r.variant().label(),
          r.meanUtilizationPercent(),
          String.format(Locale.ROOT, "%.0f / %.0f / %.0f", SimResult.percentile(w, 50) / 60,
              SimResult.percentile(w, 95) / 60, SimResult.percentile(w, 99) / 60),
          SimResult.mean(r.completionTimes(null)) / 3_600,
          String.format(Locale.ROOT, "%.3f/%.2f", r.meanJain(), r.minJain()),
          r.policyPreemptions(),
          r.lostGpuSeconds() / 3_600,
          r.longestWaitOfGangs(16) / 3_600.0,
          r.totalCost(),
          r.unfinished(),
          r.jobsLost());
    }
    out.println(line);
    out.println("per queue: wait p95 (min) | share received / weighted max-min entitlement");
    StringBuilder h = new StringBuilder(String.format(Locale.ROOT, "%-28s", "policy"));
    List<String> queues = results.get(0).queues();
    for (String q : queues) {
      h.append(String.format(Locale.ROOT, " %22s", q));
    }
    out.println(h);
    for (SimResult r : results) {
      StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%-28s", r.variant().label()));
      double[] share = r.shareOverEntitlement();
      for (int i = 0; i < queues.size(); i++) {
        b.append(String.format(Locale.ROOT, " %12.0f | %7.2f", SimResult.percentile(r.waits(queues.get(i)), 95) / 60, share[i]));
      }
      out.println(b);
    }
    out.println(line);
  }

  /** Writes every CSV and chart into {@code dir} (created if needed). */
  public static List<Path> write(List<SimResult> results, Path dir) throws IOException {
    Files.createDirectories(dir);
    List<Path> written = new ArrayList<>();
    written.add(csv(dir.resolve("summary.csv"), w -> {
      w.write("policy,util_pct,wait_p50_s,wait_p95_s,wait_p99_s,jct_mean_s,jain_mean,jain_min,"
          + "preemptions,stops_drain_spot_lost,idle_reclaims,lost_gpu_s,reclaimed_gpu_s,gang16_max_wait_s,"
          + "cost,completed,unfinished,jobs_lost,anomalies,sim_end_s,events,wall_ms\n");
      for (SimResult r : results) {
        double[] wt = r.waits(null);
        w.write(String.join(",", r.variant().label(), f(r.meanUtilizationPercent()),
            f(SimResult.percentile(wt, 50)), f(SimResult.percentile(wt, 95)),
            f(SimResult.percentile(wt, 99)), f(SimResult.mean(r.completionTimes(null))),
            f(r.meanJain()), f(r.minJain()), Integer.toString(r.policyPreemptions()),
            Integer.toString(nodeStops(r)),
            Integer.toString(r.stops().getOrDefault(io.gpusched.StopReason.IDLE_RECLAIM, 0)),
            f(r.lostGpuSeconds()), f(r.reclaimedGpuSeconds()),
            Long.toString(r.longestWaitOfGangs(16)), f(r.totalCost()),
            Integer.toString(r.jobsByState().getOrDefault("COMPLETED", 0)),
            Integer.toString(r.unfinished()), Integer.toString(r.jobsLost()),
            Integer.toString(r.anomalies().size()), Long.toString(r.endSeconds()),
            Long.toString(r.eventsProcessed()), Long.toString(r.wallMillis())) + "\n");
      }
    }));
    written.add(csv(dir.resolve("queues.csv"), w -> {
      w.write("policy,queue,weight,jobs,wait_p50_s,wait_p95_s,wait_p99_s,jct_mean_s,jct_p50_s,"
          + "share_over_entitlement,cost\n");
      for (SimResult r : results) {
        double[] share = r.shareOverEntitlement();
        for (int i = 0; i < r.queues().size(); i++) {
          String q = r.queues().get(i);
          double[] wt = r.waits(q);
          double[] jct = r.completionTimes(q);
          w.write(String.join(",", r.variant().label(), q, f(r.weights()[i]),
              Integer.toString(wt.length), f(SimResult.percentile(wt, 50)),
              f(SimResult.percentile(wt, 95)), f(SimResult.percentile(wt, 99)),
              f(SimResult.mean(jct)), f(SimResult.percentile(jct, 50)), f(share[i]),
              f(r.costByQueue()[i])) + "\n");
        }
      }
    }));
    written.add(csv(dir.resolve("utilization.csv"), w -> {
      List<String> queues = results.get(0).queues();
      StringBuilder h = new StringBuilder("policy,t_s,capacity_gpus,used_gpus,util_pct,pending_jobs");
      for (String q : queues) {
        h.append(",used_").append(q).append(",demand_").append(q).append(",entitled_").append(q);
      }
      w.write(h + "\n");
      for (SimResult r : results) {
        for (SimResult.Sample s : r.samples()) {
          StringBuilder b = new StringBuilder();
          b.append(r.variant().label()).append(',').append(s.atSeconds()).append(',')
              .append(f(s.capacityGpus())).append(',').append(f(s.usedGpus())).append(',')
              .append(f(s.utilizationPercent())).append(',').append(s.pendingJobs());
          for (int i = 0; i < queues.size(); i++) {
            b.append(',').append(f(s.usedByQueue()[i])).append(',').append(f(s.demandByQueue()[i]))
                .append(',').append(f(s.entitledByQueue()[i]));
          }
          w.write(b + "\n");
        }
      }
    }));
    written.add(csv(dir.resolve("jain.csv"), w -> {
      w.write("policy,window_start_s,jain\n");
      for (SimResult r : results) {
        for (double[] x : r.jainByWindow()) {
          w.write(r.variant().label() + "," + (long) x[0] + "," + f(x[1]) + "\n");
        }
      }
    }));
    for (SimResult r : results) {
      written.add(csv(dir.resolve("jobs-" + r.variant().fileName() + ".csv"), w -> {
        w.write("id,queue,kind,gpu_eq,arrival_s,first_start_s,end_s,state,starts,wait_s,lost_gpu_s,cost,lost\n");
        for (SimResult.JobOutcome j : r.jobs()) {
          w.write(String.join(",", j.job().id(), j.job().queue(), j.job().kind(),
              f(j.job().gpuEquivalents()), Long.toString(j.job().arrivalSeconds()),
              Long.toString(j.firstStartSeconds()), Long.toString(j.endSeconds()),
              j.state() == null ? "REJECTED" : j.state().name(), Integer.toString(j.starts()),
              Long.toString(j.waitSeconds(r.endSeconds())), f(j.lostGpuSeconds()), f(j.cost()),
              Boolean.toString(j.lost())) + "\n");
        }
      }));
    }
    written.add(png(utilizationChart(results), dir.resolve("utilization.png")));
    written.add(png(waitChart(results), dir.resolve("wait-p95.png")));
    written.add(png(shareChart(results), dir.resolve("share.png")));
    written.add(png(jainChart(results), dir.resolve("jain.png")));
    return written;
  }

  private static int nodeStops(SimResult r) {
    return r.stops().getOrDefault(io.gpusched.StopReason.NODE_DRAIN, 0)
        + r.stops().getOrDefault(io.gpusched.StopReason.SPOT_INTERRUPTION, 0)
        + r.stops().getOrDefault(io.gpusched.StopReason.NODE_LOST, 0);
  }

  private static String f(double v) {
    return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v);
  }

  private interface Body {
    void write(Writer w) throws IOException;
  }

  private static Path csv(Path p, Body body) throws IOException {
    try (Writer w = Files.newBufferedWriter(p, StandardCharsets.UTF_8)) {
      body.write(w);
    }
    return p;
  }

  private static Path png(Chart<?, ?> chart, Path p) throws IOException {
    if (chart instanceof XYChart xy) {
      FillChart.writePng(xy, p);
    } else {
      try (var os = Files.newOutputStream(p)) {
        BitmapEncoder.saveBitmap(chart, os, BitmapEncoder.BitmapFormat.PNG);
      }
    }
    return p;
  }

  private static void style(AxesChartStyler s) {
    s.setChartBackgroundColor(Color.WHITE);
    s.setPlotBackgroundColor(Color.WHITE);
    s.setPlotGridLinesColor(new Color(0xdddddd));
    s.setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    s.setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
    s.setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    s.setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    s.setSeriesColors(COLORS);
  }

  private static XYChart lines(String title, String y) {
    XYChart c = new XYChartBuilder().width(1100).height(560).title(title)
        .xAxisTitle("simulated time (hours)").yAxisTitle(y).build();
    style(c.getStyler());
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
    c.getStyler().setMarkerSize(0);
    c.getStyler().setXAxisDecimalPattern("0");
    return c;
  }

  private static void line(XYChart c, String name, List<Double> xs, List<Double> ys, int i) {
    if (xs.isEmpty()) {
      return;
    }
    XYSeries s = c.addSeries(name, xs, ys);
    s.setMarker(SeriesMarkers.NONE);
    s.setLineColor(COLORS[i % COLORS.length]);
    s.setLineStyle(new BasicStroke(1.8f));
  }

  /** GPU utilization over time, one line per variant (hourly means of the samples). */
  public static XYChart utilizationChart(List<SimResult> results) {
    XYChart c = lines("GPU utilization over time (hourly mean)", "GPU-equivalents held (% of capacity)");
    c.getStyler().setYAxisMin(0.0);
    c.getStyler().setYAxisMax(100.0);
    int i = 0;
    for (SimResult r : results) {
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      double sum = 0;
      int n = 0;
      long hour = 0;
      for (SimResult.Sample s : r.samples()) {
        if (s.atSeconds() / 3_600 != hour && n > 0) {
          xs.add((double) hour);
          ys.add(sum / n);
          sum = 0;
          n = 0;
        }
        hour = s.atSeconds() / 3_600;
        sum += s.utilizationPercent();
        n++;
      }
      if (n > 0) {
        xs.add((double) hour);
        ys.add(sum / n);
      }
      line(c, r.variant().label(), xs, ys, i++);
    }
    return c;
  }

  /** Jain's fairness index per window, one line per variant. */
  public static XYChart jainChart(List<SimResult> results) {
    XYChart c = lines("Jain's fairness index of share received / entitlement (per window)", "Jain's index");
    c.getStyler().setYAxisMin(0.3);
    c.getStyler().setYAxisMax(1.0);
    int i = 0;
    for (SimResult r : results) {
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      for (double[] x : r.jainByWindow()) {
        xs.add(x[0] / 3_600);
        ys.add(x[1]);
      }
      line(c, r.variant().label(), xs, ys, i++);
    }
    return c;
  }

  /** Grouped bars: one group per queue, one bar per variant, the value {@code perQueue} gives. */
  private static CategoryChart bars(
      List<SimResult> results, String title, String y, Function<SimResult, double[]> perQueue) {
    CategoryChart c = new CategoryChartBuilder().width(1100).height(560).title(title)
        .xAxisTitle("queue").yAxisTitle(y).build();
    style(c.getStyler());
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
    for (SimResult r : results) {
      List<Double> ys = new ArrayList<>();
      for (double v : perQueue.apply(r)) {
        ys.add(Double.isNaN(v) ? 0 : v);
      }
      c.addSeries(r.variant().label(), r.queues(), ys);
    }
    return c;
  }

  /** p95 wait per queue, grouped bars per variant. */
  public static CategoryChart waitChart(List<SimResult> results) {
    return bars(results, "Wait time p95 per queue", "minutes",
        r -> r.queues().stream().mapToDouble(q -> SimResult.percentile(r.waits(q), 95) / 60).toArray());
  }

  /** Share received over entitlement per queue, grouped bars per variant. */
  public static CategoryChart shareChart(List<SimResult> results) {
    return bars(results, "Share received / weighted fair entitlement (1.0 = fair)", "ratio",
        SimResult::shareOverEntitlement);
  }
}
