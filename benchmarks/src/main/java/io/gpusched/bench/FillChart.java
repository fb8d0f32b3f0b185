package io.gpusched.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Plots {@link FillExperiment} CSVs: allocated GPU % against arrived GPU demand %, one line per
 * strategy, averaged over seeds, with the ideal {@code min(arrived, 100)} as a dashed line.
 *
 * <pre>
 * java -cp benchmarks/target/gpusched-benchmarks.jar io.gpusched.bench.FillChart \
 *     --out docs/fill-experiment.png [--zoom docs/fill-experiment-zoom.png] [--title T] \
 *     benchmarks/results/fill-*.csv
 * </pre>
 *
 * <p>{@code --zoom} also writes a close-up of arrived 60..130% / allocated 60..100%, where the
 * strategies differ.
 */
public final class FillChart {
  private FillChart() {}

  private static final Color[] COLORS = {
    new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0xff7f0e),
    new Color(0x9467bd), new Color(0x8c564b)
  };

  /**
   * Reads fill CSVs and averages over seeds.
   *
   * @return strategy (in order of first appearance) to arrived percent to mean allocated percent
   */
  public static Map<String, NavigableMap<Integer, Double>> read(List<Path> csvs) throws IOException {
    Map<String, TreeMap<Integer, double[]>> sums = new LinkedHashMap<>();
    for (Path p : csvs) {
      List<String> lines = Files.readAllLines(p, StandardCharsets.UTF_8);
      for (String line : lines) {
        if (line.isBlank() || line.startsWith("SUMMARY") || line.startsWith("strategy,")) {
          continue;
        }
        String[] f = line.split(",", -1);
        if (f.length < 4) {
          throw new IllegalArgumentException(p + ": malformed line " + line);
        }
        int arrived = Integer.parseInt(f[2].trim());
        double alloc = Double.parseDouble(f[3].trim());
        double[] s =
            sums.computeIfAbsent(f[0].trim(), k -> new TreeMap<>())
                .computeIfAbsent(arrived, k -> new double[2]);
        s[0] += alloc;
        s[1]++;
      }
    }
    Map<String, NavigableMap<Integer, Double>> out = new LinkedHashMap<>();
    sums.forEach(
        (strategy, m) -> {
          TreeMap<Integer, Double> avg = new TreeMap<>();
          m.forEach((k, v) -> avg.put(k, v[0] / v[1]));
          out.put(strategy, avg);
        });
    return out;
  }

  /** Builds the chart; {@code zoom} limits the axes to arrived 60..130, allocated 60..100. */
  public static XYChart chart(Map<String, NavigableMap<Integer, Double>> data, String title, boolean zoom) {
    XYChart c =
        new XYChartBuilder()
            .width(1000)
            .height(620)
            .title(title)
            .xAxisTitle("Arrived GPU demand (% of cluster GPU capacity)")
            .yAxisTitle("Allocated GPUs (% of capacity)")
            .build();
    c.getStyler().setLegendPosition(zoom ? Styler.LegendPosition.InsideSE : Styler.LegendPosition.InsideNW);
    c.getStyler().setChartBackgroundColor(Color.WHITE);
    c.getStyler().setPlotBackgroundColor(Color.WHITE);
    c.getStyler().setPlotGridLinesColor(new Color(0xdddddd));
    c.getStyler().setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
    c.getStyler().setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 15));
    c.getStyler().setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
    c.getStyler().setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
    c.getStyler().setXAxisMin(zoom ? 60.0 : 0.0);
    c.getStyler().setXAxisMax(130.0);
    c.getStyler().setYAxisMin(zoom ? 60.0 : 0.0);
    c.getStyler().setYAxisMax(100.0);
    c.getStyler().setXAxisDecimalPattern("0");
    c.getStyler().setYAxisDecimalPattern("0");
    c.getStyler().setMarkerSize(0);

    int lo = zoom ? 60 : 0;
    List<Double> ix = new ArrayList<>();
    List<Double> iy = new ArrayList<>();
    for (int x = lo; x <= 130; x++) {
      ix.add((double) x);
      iy.add((double) Math.min(x, 100));
    }
    XYSeries ideal = c.addSeries("ideal (everything fits)", ix, iy);
    ideal.setMarker(SeriesMarkers.NONE);
    ideal.setLineColor(Color.GRAY);
    ideal.setLineStyle(
        new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 5f}, 0f));

    int i = 0;
    for (var e : data.entrySet()) {
      List<Double> xs = new ArrayList<>();
      List<Double> ys = new ArrayList<>();
      e.getValue().forEach(
          (x, y) -> {
            if (x >= lo) {
              xs.add((double) x);
              ys.add(y);
            }
          });
      if (xs.isEmpty()) {
        continue;
      }
      Double at100 = e.getValue().get(100);
      Double at130 = e.getValue().get(130);
      String label =
          e.getKey()
              + (at100 == null ? "" : String.format(Locale.ROOT, "  (%.1f%% @100", at100))
              + (at130 == null ? (at100 == null ? "" : ")") : String.format(Locale.ROOT, ", %.1f%% @130)", at130));
      XYSeries s = c.addSeries(label, xs, ys);
      s.setMarker(SeriesMarkers.NONE);
      s.setLineColor(COLORS[i % COLORS.length]);
      s.setLineStyle(new BasicStroke(2.2f));
      i++;
    }
    return c;
  }

  /** Writes a chart as PNG to exactly this path. */
  public static void writePng(XYChart chart, Path out) throws IOException {
    Path dir = out.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    try (OutputStream os = Files.newOutputStream(out)) {
      BitmapEncoder.saveBitmap(chart, os, BitmapEncoder.BitmapFormat.PNG);
    }
  }

  /** CLI: {@code --out PNG [--zoom PNG] [--title TEXT] CSV...}. Exit status 2 on bad arguments. */
  public static void main(String[] args) throws IOException {
    System.setProperty("java.awt.headless", "true");
    Path out = null;
    Path zoom = null;
    String title = "Fill experiment: GPU allocation as demand arrives (mean over seeds)";
    List<Path> csvs = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--out" -> out = Path.of(value(args, ++i));
        case "--zoom" -> zoom = Path.of(value(args, ++i));
        case "--title" -> title = value(args, ++i);
        default -> csvs.add(Path.of(args[i]));
      }
    }
    if (out == null || csvs.isEmpty()) {
      System.err.println("usage: FillChart --out PNG [--zoom PNG] [--title TEXT] CSV...");
      System.exit(2);
      return;
    }
    var data = read(csvs);
    writePng(chart(data, title, false), out);
    System.err.println("wrote " + out);
    if (zoom != null) {
      writePng(chart(data, title + " (close-up)", true), zoom);
      System.err.println("wrote " + zoom);
    }
  }

  private static String value(String[] args, int i) {
    if (i >= args.length) {
      System.err.println("error: " + args[i - 1] + " needs a value");
      System.exit(2);
    }
    return args[i];
  }
}
