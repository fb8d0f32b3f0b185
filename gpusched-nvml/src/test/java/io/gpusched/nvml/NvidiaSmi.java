package io.gpusched.nvml;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs {@code nvidia-smi} for the GPU tests. A machine without it (or where it fails) aborts the
 * calling test as skipped, with the reason, instead of failing it.
 */
final class NvidiaSmi {
  private NvidiaSmi() {}

  /** The columns of {@link #gpus()}, in order. */
  static final String QUERY =
      "index,uuid,name,pci.bus_id,memory.total,memory.used,utilization.gpu,power.draw,"
          + "temperature.gpu,mig.mode.current";

  /** Runs a command and returns its non-blank output lines; skips the test where it cannot. */
  static List<String> run(String... command) throws InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      Assumptions.abort(command[0] + " cannot be run here (" + e.getMessage() + ")");
      throw new AssertionError("unreachable");
    }
    byte[] out;
    try {
      out = p.getInputStream().readAllBytes();
    } catch (IOException e) {
      p.destroy();
      Assumptions.abort(command[0] + " output could not be read: " + e);
      throw new AssertionError("unreachable");
    }
    Assumptions.assumeTrue(p.waitFor(60, TimeUnit.SECONDS), command[0] + " did not finish");
    String text = new String(out, StandardCharsets.UTF_8);
    Assumptions.assumeTrue(p.exitValue() == 0, () -> String.join(" ", command) + ": " + text);
    return text.lines().filter(l -> !l.isBlank()).toList();
  }

  /** The {@code --query-gpu=}{@link #QUERY} rows by index, fields split. */
  static Map<Integer, String[]> gpus() throws InterruptedException {
    Map<Integer, String[]> rows = new HashMap<>();
    for (String line : run("nvidia-smi", "--query-gpu=" + QUERY, "--format=csv,noheader,nounits")) {
      String[] f = line.split(",\\s*");
      rows.put(Integer.parseInt(f[0].strip()), f);
    }
    return rows;
  }

  /** A number, or NaN for {@code [N/A]} and the like. */
  static double num(String s) {
    try {
      return Double.parseDouble(s.strip());
    } catch (NumberFormatException e) {
      return Double.NaN;
    }
  }
}
