package io.gpusched.bench.sim;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import io.gpusched.bench.workload.WeightedPick;
import java.util.Random;

/**
 * Generates realistic job mixes for the {@link SimCluster#demo() demo cluster}. Seeded and
 * deterministic: the same arguments give the same workload.
 *
 * <p>Arrivals are Poisson with a day/night cycle (1.5x the mean rate from 08:00 to 20:00, 0.5x at
 * night). The mix, by arrivals:
 *
 * <ul>
 *   <li>30% <b>notebooks</b> (queue {@code notebooks}, interactive, not preemptible, no estimate):
 *       a MIG slice on an A100 (1g.10gb / 2g.20gb / 3g.40gb), a share of an A30, or one whole
 *       H100; 1..6 h; 40% of them go idle 20..60 min into the session;
 *   <li>33% <b>short training</b> (60% {@code research}, 40% {@code product} at priority 5): 1 or
 *       2 H100s, 10..120 min, 80% preemptible, estimate 1..2x the real run time;
 *   <li>13% <b>long training</b> (80% {@code research}): 4 or 8 H100s on one node, 4..16 h,
 *       preemptible, estimate 1.2x;
 *   <li>2% <b>16-GPU gangs</b> ({@code research}): 2 members of 8 H100s on one node each,
 *       6..12 h, preemptible, estimate 1.1x;
 *   <li>22% <b>MIG inference</b> ({@code product}, priority 10, not preemptible): 2g.20gb to
 *       7g.80gb on an A100, 12..48 h, estimate = run time.
 * </ul>
 *
 * <p>{@code load} scales the arrival rate so that the H100 work offered equals {@code load} times
 * the demo cluster's 96 H100s (the MIG pool then runs at about 0.9 of its 32 A100s).
 */
public final class WorkloadGenerator {
  private WorkloadGenerator() {}

  private static final String H100 = "H100-80GB";
  private static final String A100 = "A100-80GB";
  private static final String A30 = "A30-24GB";
  /** H100 GPU-hours a job of the mix asks for on average (from the mix below; checked by a test). */
  static final double H100_GPU_HOURS_PER_JOB = 11.3;

  private static final int H100_GPUS = 96;

  /**
   * Generates {@code hours} hours of arrivals.
   *
   * @param hours arrival span in hours (&gt; 0)
   * @param load offered H100 load (1.0 = the H100 work arriving equals the H100 capacity)
   * @param seed random seed
   */
  public static Workload generate(double hours, double load, long seed) {
    Random rnd = new Random(seed);
    double meanRate = load * H100_GPUS / H100_GPU_HOURS_PER_JOB / 3_600.0; // per second
    double maxRate = 1.5 * meanRate;
    List<SimJob> jobs = new ArrayList<>();
    double t = 0;
    double end = hours * 3_600;
    int n = 0;
    while (true) {
      t += -Math.log(1 - rnd.nextDouble()) / maxRate;
      if (t >= end) {
        break;
      }
      double hourOfDay = (t / 3_600) % 24;
      double m = hourOfDay >= 8 && hourOfDay < 20 ? 1.5 : 0.5;
      if (rnd.nextDouble() * 1.5 >= m) {
        continue; // thinned: night-time
      }
      jobs.add(next(rnd, String.format("j%05d", n++), (long) t));
    }
    return new Workload(jobs);
  }

  private static SimJob next(Random rnd, String id, long at) {
    double k = rnd.nextDouble();
    if (k < 0.30) {
      return notebook(rnd, id, at);
    }
    if (k < 0.63) {
      boolean product = rnd.nextDouble() < 0.4;
      int gpus = rnd.nextDouble() < 0.7 ? 1 : 2;
      long d = minutes(rnd, 10, 120);
      return new SimJob(id, at, product ? "product" : "research", product ? 5 : 0, "train-short",
          "gpu:" + gpus + (gpus > 1 ? ":node" : ""), H100, 1, d,
          estimate(d, 1.0 + rnd.nextDouble()), rnd.nextDouble() < 0.8, false, 0);
    }
    if (k < 0.76) {
      boolean product = rnd.nextDouble() < 0.2;
      int gpus = rnd.nextBoolean() ? 4 : 8;
      long d = minutes(rnd, 240, 960);
      return new SimJob(id, at, product ? "product" : "research", product ? 5 : rnd.nextInt(3),
          "train-long", "gpu:" + gpus + ":node", H100, 1, d, estimate(d, 1.2), true, false, 0);
    }
    if (k < 0.78) {
      long d = minutes(rnd, 360, 720);
      return new SimJob(id, at, "research", 2, "gang-16", "gpu:8:node", H100, 2, d,
          estimate(d, 1.1), true, false, 0);
    }
    String[] profiles = {"2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"};
    String p = profiles[WeightedPick.index(rnd, new int[] {30, 40, 15, 15})];
    long d = minutes(rnd, 720, 2_880);
    return new SimJob(id, at, "product", 10, "inference", "mig:" + p, A100, 1, d, d, false, false, 0);
  }

  private static SimJob notebook(Random rnd, String id, long at) {
    double k = rnd.nextDouble();
    String request;
    String model;
    if (k < 0.5) {
      request = "mig:" + new String[] {"1g.10gb", "2g.20gb", "3g.40gb"}[WeightedPick.index(rnd, new int[] {40, 35, 25})];
      model = A100;
    } else if (k < 0.85) {
      boolean big = rnd.nextBoolean();
      request = big ? "share:500:12288" : "share:250:6144";
      model = A30;
    } else {
      request = "gpu:1";
      model = H100;
    }
    long d = minutes(rnd, 60, 360);
    long idleAfter = rnd.nextDouble() < 0.4 ? minutes(rnd, 20, 60) : 0;
    return new SimJob(id, at, "notebooks", 0, "notebook", request, model, 1, d, 0, false, true, idleAfter);
  }

  private static long minutes(Random rnd, int lo, int hi) {
    return 60L * (lo + rnd.nextInt(hi - lo + 1));
  }

  /** An estimate of {@code factor} x the run time, rounded up to 10 minutes. */
  private static long estimate(long seconds, double factor) {
    long s = (long) Math.ceil(seconds * factor);
    return (s + 599) / 600 * 600;
  }

  /**
   * CLI: {@code WorkloadGenerator [--hours H] [--load L] [--seed S] --out FILE}; the shipped
   * {@code sim-small.csv} is {@code --hours 36 --load 1.0 --seed 7}.
   */
  public static void main(String[] args) throws IOException {
    double hours = 36;
    double load = 1.0;
    long seed = 7;
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--hours" -> hours = Double.parseDouble(args[++i]);
        case "--load" -> load = Double.parseDouble(args[++i]);
        case "--seed" -> seed = Long.parseLong(args[++i]);
        case "--out" -> out = Path.of(args[++i]);
        default -> {
          System.err.println("usage: WorkloadGenerator [--hours H] [--load L] [--seed S] --out FILE");
          System.exit(2);
        }
      }
    }
    if (out == null) {
      System.err.println("usage: WorkloadGenerator [--hours H] [--load L] [--seed S] --out FILE");
      System.exit(2);
      return;
    }
    Workload w = generate(hours, load, seed);
    try (Writer wr = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
      wr.write(String.format(java.util.Locale.ROOT,
          "# generated: WorkloadGenerator --hours %s --load %s --seed %d%n", hours, load, seed));
      w.write(wr);
    }
    System.err.println("wrote " + w.jobs().size() + " jobs to " + out);
  }
}
