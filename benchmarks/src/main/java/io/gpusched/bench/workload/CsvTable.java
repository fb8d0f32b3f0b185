package io.gpusched.bench.workload;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A minimal CSV reader for the benchmark workloads: header by name (case-insensitive), comma
 * separated, no quoting (the files need none), blank lines and lines starting with {@code #}
 * skipped. Shared by {@link Trace} and the simulator's workload files.
 */
public final class CsvTable {
  private final BufferedReader in;
  private final Map<String, Integer> cols = new HashMap<>();
  private int line;

  /**
   * Reads the header.
   *
   * @param reader the CSV text
   * @param required columns that must be present
   * @throws IllegalArgumentException if the file is empty or lacks a required column (the message
   *     names every missing column and the columns found)
   */
  public CsvTable(Reader reader, String... required) throws IOException {
    this.in = reader instanceof BufferedReader b ? b : new BufferedReader(reader);
    String header = in.readLine();
    line = 1;
    while (header != null && (header.isBlank() || header.startsWith("#"))) {
      header = in.readLine();
      line++;
    }
    if (header == null) {
      throw new IllegalArgumentException("empty CSV: no header");
    }
    if (header.startsWith("\uFEFF")) {
      header = header.substring(1);
    }
    String[] h = header.split(",", -1);
    List<String> found = new ArrayList<>();
    for (int i = 0; i < h.length; i++) {
      String name = h[i].trim().toLowerCase(Locale.ROOT);
      cols.putIfAbsent(name, i);
      found.add(name);
    }
    List<String> missing = new ArrayList<>();
    for (String r : required) {
      if (!cols.containsKey(r)) {
        missing.add(r);
      }
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(
          "CSV header lacks required column" + (missing.size() == 1 ? " " : "s ")
              + String.join(", ", missing) + "; columns found: " + String.join(", ", found));
    }
  }

  /** Opens a file path or a {@link Trace#CLASSPATH} resource as UTF-8. */
  public static Reader open(String source) throws IOException {
    if (source.startsWith(Trace.CLASSPATH)) {
      String res = source.substring(Trace.CLASSPATH.length());
      res = res.startsWith("/") ? res.substring(1) : res;
      InputStream in = CsvTable.class.getClassLoader().getResourceAsStream(res);
      if (in == null) {
        throw new IOException("no classpath resource " + res);
      }
      return new InputStreamReader(in, StandardCharsets.UTF_8);
    }
    return Files.newBufferedReader(Path.of(source), StandardCharsets.UTF_8);
  }

  /** Returns the line number of the row last returned by {@link #next()} (1 = header). */
  public int line() {
    return line;
  }

  /** Returns whether the header has this column. */
  public boolean has(String col) {
    return cols.containsKey(col);
  }

  /** Returns the next row's fields, or {@code null} at the end. */
  public String @Nullable [] next() throws IOException {
    String s;
    while ((s = in.readLine()) != null) {
      line++;
      if (!s.isBlank() && !s.startsWith("#")) {
        return s.split(",", -1);
      }
    }
    return null;
  }

  /**
   * Returns a column's value in a row.
   *
   * @throws IllegalArgumentException if the header lacks the column (pass it to the constructor as
   *     required, or use {@link #get(String[], String, String)}) or the row is too short
   */
  public String get(String[] fields, String col) {
    Integer i = cols.get(col);
    if (i == null) {
      throw new IllegalArgumentException("no column " + col);
    }
    if (i >= fields.length) {
      throw new IllegalArgumentException("missing value for " + col);
    }
    return fields[i];
  }

  /** Returns a column's value, or {@code dflt} when the header lacks it or the value is empty. */
  public String get(String[] fields, String col, String dflt) {
    Integer i = cols.get(col);
    if (i == null || i >= fields.length || fields[i].isBlank()) {
      return dflt;
    }
    return fields[i].trim();
  }
}
