package io.gpusched.spring.boot;

import io.gpusched.GpuSpec;
import io.gpusched.NodeSpec;
import io.gpusched.nvml.Nvml;
import io.gpusched.nvml.NvmlAvailability;
import io.gpusched.nvml.NvmlInventory;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local GPUs as NVML reports them, read once at start-up, and NVML's health since.
 *
 * <p>When NVML is absent or fails at start-up this logs one line and {@link #node()} is empty: the
 * scheduler then runs on the static nodes. {@link #check()} reads the devices again (at most every
 * 30 seconds) so that the health indicator notices NVML failing after it had worked.
 */
final class GpuSchedNvml {
  private static final Logger LOG = LoggerFactory.getLogger(GpuSchedNvml.class);
  private static final Duration RECHECK = Duration.ofSeconds(30);

  private final @Nullable NodeSpec node;
  private final String status;
  private final Supplier<Integer> deviceCount;
  private final Supplier<List<String>> needsPrivilege;
  private final Clock clock;
  private volatile Instant lastCheck = Instant.MIN;
  private volatile @Nullable String failure;

  GpuSchedNvml(
      NvmlAvailability availability,
      Supplier<NodeSpec> reader,
      Supplier<Integer> deviceCount,
      int staticNodes,
      Clock clock) {
    this(availability, reader, deviceCount, List::of, staticNodes, clock);
  }

  GpuSchedNvml(
      NvmlAvailability availability,
      Supplier<NodeSpec> reader,
      Supplier<Integer> deviceCount,
      Supplier<List<String>> needsPrivilege,
      int staticNodes,
      Clock clock) {
    this.deviceCount = deviceCount;
    this.needsPrivilege = needsPrivilege;
    this.clock = clock;
    NodeSpec read = null;
    String why;
    if (!availability.available()) {
      why = "NVML is not available (" + firstLine(availability.cause()) + ")";
    } else {
      try {
        read = reader.get();
        why = null;
      } catch (RuntimeException e) {
        why = "reading the GPUs through NVML failed (" + firstLine(e.getMessage()) + ")";
      }
    }
    this.node = read;
    if (read != null) {
      status = "NVML found " + read.gpus().size() + " GPU(s) on node " + read.id() + ": "
          + read.gpus().stream().map(GpuSchedNvml::describe).toList();
      LOG.info("gpusched: {}", status);
    } else if (staticNodes > 0) {
      // expected on a machine without GPUs, and what gpusched.nodes is there for
      status = why + "; scheduling on the " + staticNodes + " static node(s) of gpusched.nodes";
      LOG.info("gpusched: {}", status);
    } else {
      status = why + " and gpusched.nodes declares no node, so the scheduler has no GPUs";
      LOG.warn("gpusched: {}", status);
    }
  }

  /**
   * The first sentence of a cause, at most about 200 characters: JNA's load errors list every path
   * tried. A first line ending in a colon ({@code "Unable to load library 'nvidia-ml':"}) goes on
   * with the next one, so that the message says what went wrong; a long one is cut at a word.
   */
  static String firstLine(@Nullable String text) {
    if (text == null || text.isBlank()) {
      return "no cause given";
    }
    List<String> lines = text.strip().lines().map(String::strip).filter(l -> !l.isEmpty()).toList();
    StringBuilder b = new StringBuilder(lines.get(0));
    for (int i = 1; i < lines.size() && b.charAt(b.length() - 1) == ':' && b.length() < 200; i++) {
      b.append(' ').append(lines.get(i));
    }
    if (b.length() <= 200) {
      return b.toString();
    }
    int cut = b.lastIndexOf(" ", 200);
    return b.substring(0, cut > 100 ? cut : 200) + " ...";
  }

  /** Reads this machine's GPUs through NVML. */
  static GpuSchedNvml local(@Nullable String nodeId, int staticNodes) {
    String id = nodeId != null && !nodeId.isBlank() ? nodeId : hostName();
    return new GpuSchedNvml(
        Nvml.availability(),
        () -> NvmlInventory.local().readNode(id),
        () -> NvmlInventory.local().readDevices().size(),
        () -> Nvml.availability().needsPrivilege(),
        staticNodes,
        Clock.systemUTC());
  }

  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return "local";
    }
  }

  /** Returns the node NVML described at start-up, if it worked. */
  public Optional<NodeSpec> node() {
    return Optional.ofNullable(node);
  }

  /** Returns the one-line start-up status (what was found, or why nothing was). */
  public String status() {
    return status;
  }

  /**
   * Returns why NVML fails now although it worked at start-up, or empty when it works (or never
   * did: a machine without GPUs is not unhealthy).
   */
  public synchronized Optional<String> check() {
    NodeSpec n = node;
    if (n == null) {
      return Optional.empty();
    }
    Instant now = clock.instant();
    if (Duration.between(lastCheck, now).compareTo(RECHECK) >= 0 || lastCheck.equals(Instant.MIN)) {
      lastCheck = now;
      try {
        int count = deviceCount.get();
        failure = count == n.gpus().size() ? null
            : "NVML reports " + count + " GPU(s), " + n.gpus().size() + " at start-up";
      } catch (RuntimeException e) {
        failure = "NVML failed: " + firstLine(e.getMessage());
      }
    }
    return Optional.ofNullable(failure);
  }

  /**
   * Returns what NVML refused this process for lack of privilege and what gpusched does instead
   * ({@link NvmlAvailability#needsPrivilege()}, e.g. idle detection off for a MIG GPU); empty when
   * nothing was refused. Not a failure: the health stays UP and shows it.
   */
  public List<String> needsPrivilege() {
    try {
      return List.copyOf(needsPrivilege.get());
    } catch (RuntimeException e) {
      return List.of("cannot tell: " + firstLine(e.getMessage()));
    }
  }

  static String describe(GpuSpec g) {
    return g.model().name() + "/" + g.mode();
  }
}
