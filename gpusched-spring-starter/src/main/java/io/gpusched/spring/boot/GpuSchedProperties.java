package io.gpusched.spring.boot;

import io.gpusched.CapacityClass;
import io.gpusched.GpuMode;
import io.gpusched.SchedulingPolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Configuration of the auto-configured {@link io.gpusched.GpuScheduler}, bound from {@code
 * gpusched.*}. Values that the core rejects (an unknown GPU model or MIG profile, a negative
 * weight) fail the start-up with the property's name and value (see {@code docs/spring-boot.md}).
 */
@ConfigurationProperties("gpusched")
public class GpuSchedProperties {

  /** Whether to auto-configure the scheduler and everything around it. */
  private boolean enabled = true;

  /** Static nodes (a simulated or fixed cluster), in the order they are added. */
  private List<Node> nodes = new ArrayList<>();

  /** Queues (tenants) in configuration order; without any, one queue named "default" exists. */
  private List<Queue> queues = new ArrayList<>();

  /** Order of pending jobs. */
  private SchedulingPolicy policy = SchedulingPolicy.FAIR_SHARE;

  /** Placement strategy: FIRST_FIT, BEST_FIT, SPREAD or FRAGMENTATION_AWARE. */
  private String strategy = "FRAGMENTATION_AWARE";

  /** Whether jobs may start ahead of a blocked job without delaying its reservation. */
  private boolean backfill = true;

  /** Half-life of the usage history that fair share weighs; 0 means current usage only. */
  private Duration fairShareHalfLife = Duration.ofHours(1);

  /**
   * How long a pending MIG job waits for a place that strands no compute slice before it takes any
   * place that fits (see GpuSchedulers.Builder#migStrandingHold); 0 turns the hold off.
   */
  private Duration migStrandingHold = Duration.ZERO;

  /** Period of the scheduler's timer (grace deadlines, leases, idle checks, time limits). */
  private Duration tickInterval = Duration.ofSeconds(1);

  /** How many final jobs the scheduler still reports. */
  private int retainFinishedJobs = 10_000;

  /**
   * Cost-aware placement: each job on the cheapest nodes where it fits (the strategy's cost
   * tie-break), preemptible jobs on spot first, jobs that are not preemptible off spot unless
   * their queue sets {@code allow-spot}.
   */
  private boolean preferCheapest;

  /**
   * The queue a job goes to when it names none (JobSpec's queue "default", which does not exist
   * once queues are configured). Must be one of gpusched.queues. Unset: such a submit fails with a
   * message saying to set this.
   */
  private @Nullable String defaultQueue;

  private final Preemption preemption = new Preemption();

  private final Nvml nvml = new Nvml();

  private final Idle idle = new Idle();

  private final Events events = new Events();

  private final Endpoint endpoint = new Endpoint();

  private final Store store = new Store();

  /** Where the scheduler's state is kept (see docs/durability.md). */
  public Store getStore() {
    return store;
  }

  /** {@code gpusched.store.*}: durable state. */
  public static class Store {
    /**
     * NONE (the default: everything in memory, nothing journaled), MEMORY (an in-memory store:
     * journaled, survives a rebuilt scheduler but not the process) or JDBC (the application's
     * {@code DataSource}: PostgreSQL 15+, or an embedded H2 file database).
     */
    private StoreType type = StoreType.NONE;

    /** Which store the scheduler keeps its state in. */
    public StoreType getType() {
      return type;
    }

    /** Sets which store the scheduler keeps its state in. */
    public void setType(StoreType type) {
      this.type = type;
    }

    /**
     * How long the store keeps a final job after it ended; older ones are pruned by the
     * scheduler's tick (see {@code GpuSchedulers.Builder.finishedJobRetention}).
     */
    private java.time.Duration finishedJobRetention = java.time.Duration.ofDays(7);

    /**
     * After a restart, how long the host has to confirm each node recovered from the store
     * ({@code GpuScheduler.confirmNode}) before it is treated as lost; unset: recovered nodes are
     * trusted.
     */
    private java.time.@Nullable Duration nodeRecoveryTimeout;

    /** How long the store keeps a final job after it ended. */
    public java.time.Duration getFinishedJobRetention() {
      return finishedJobRetention;
    }

    /** Sets how long the store keeps a final job after it ended. */
    public void setFinishedJobRetention(java.time.Duration finishedJobRetention) {
      this.finishedJobRetention = finishedJobRetention;
    }

    /** After a restart, how long the host has to confirm each recovered node; null: no limit. */
    public java.time.@Nullable Duration getNodeRecoveryTimeout() {
      return nodeRecoveryTimeout;
    }

    /** Sets how long the host has to confirm each recovered node after a restart. */
    public void setNodeRecoveryTimeout(java.time.@Nullable Duration nodeRecoveryTimeout) {
      this.nodeRecoveryTimeout = nodeRecoveryTimeout;
    }

    private final Replica replica = new Replica();

    /** Running as one of several replicas on one database (needs {@code type=jdbc}). */
    public Replica getReplica() {
      return replica;
    }
  }

  /**
   * {@code gpusched.store.replica.*}: N replicas of the application on one database, one leading
   * (see docs/durability.md). With {@code enabled=true} the context has a {@code
   * io.gpusched.store.SchedulerReplica} bean instead of a {@code GpuScheduler} bean.
   */
  public static class Replica {
    /** Whether this application is one of several replicas sharing the JDBC store. */
    private boolean enabled;

    /** This replica's name in logs and inbox rows; default the host name. */
    private String name = defaultName();

    /** How long the leader's lease lasts without a renewal (failover takes about this long). */
    private java.time.Duration leaseDuration = java.time.Duration.ofSeconds(2);

    /** How often followers read the lease and the leader polls the inbox. */
    private java.time.Duration pollInterval = java.time.Duration.ofMillis(100);

    private static String defaultName() {
      try {
        return java.net.InetAddress.getLocalHost().getHostName();
      } catch (java.io.IOException e) {
        return "replica";
      }
    }

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public String getName() {
      return name;
    }

    public void setName(String name) {
      this.name = name;
    }

    public java.time.Duration getLeaseDuration() {
      return leaseDuration;
    }

    public void setLeaseDuration(java.time.Duration leaseDuration) {
      this.leaseDuration = leaseDuration;
    }

    public java.time.Duration getPollInterval() {
      return pollInterval;
    }

    public void setPollInterval(java.time.Duration pollInterval) {
      this.pollInterval = pollInterval;
    }
  }

  /** The kinds of {@code gpusched.store.type}. */
  public enum StoreType {
    /** No store: today's in-memory scheduler, nothing journaled. */
    NONE,
    /** {@code SchedulerStores.inMemory()}. */
    MEMORY,
    /** {@code SchedulerStores.jdbc(dataSource)} on the application's {@code DataSource}. */
    JDBC
  }

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public List<Node> getNodes() {
    return nodes;
  }

  public void setNodes(List<Node> nodes) {
    this.nodes = nodes;
  }

  public List<Queue> getQueues() {
    return queues;
  }

  public void setQueues(List<Queue> queues) {
    this.queues = queues;
  }

  public SchedulingPolicy getPolicy() {
    return policy;
  }

  public void setPolicy(SchedulingPolicy policy) {
    this.policy = policy;
  }

  public String getStrategy() {
    return strategy;
  }

  public void setStrategy(String strategy) {
    this.strategy = strategy;
  }

  public boolean isBackfill() {
    return backfill;
  }

  public void setBackfill(boolean backfill) {
    this.backfill = backfill;
  }

  public Duration getMigStrandingHold() {
    return migStrandingHold;
  }

  public void setMigStrandingHold(Duration migStrandingHold) {
    this.migStrandingHold = migStrandingHold;
  }

  public Duration getFairShareHalfLife() {
    return fairShareHalfLife;
  }

  public void setFairShareHalfLife(Duration fairShareHalfLife) {
    this.fairShareHalfLife = fairShareHalfLife;
  }

  public Duration getTickInterval() {
    return tickInterval;
  }

  public void setTickInterval(Duration tickInterval) {
    this.tickInterval = tickInterval;
  }

  public int getRetainFinishedJobs() {
    return retainFinishedJobs;
  }

  public void setRetainFinishedJobs(int retainFinishedJobs) {
    this.retainFinishedJobs = retainFinishedJobs;
  }

  public boolean isPreferCheapest() {
    return preferCheapest;
  }

  public void setPreferCheapest(boolean preferCheapest) {
    this.preferCheapest = preferCheapest;
  }

  public @Nullable String getDefaultQueue() {
    return defaultQueue;
  }

  public void setDefaultQueue(@Nullable String defaultQueue) {
    this.defaultQueue = defaultQueue;
  }

  public Preemption getPreemption() {
    return preemption;
  }

  public Nvml getNvml() {
    return nvml;
  }

  public Idle getIdle() {
    return idle;
  }

  public Events getEvents() {
    return events;
  }

  public Endpoint getEndpoint() {
    return endpoint;
  }

  /** A static node: {@code count} GPUs of one model and mode. */
  public static class Node {

    /** Node id, unique in the cluster. */
    private @Nullable String id;

    /** GPU model name from the built-in catalog, e.g. H100-80GB or a100_80gb. */
    private @Nullable String model;

    /** Number of GPUs. */
    private int gpus = 1;

    /** How the GPUs are handed out. */
    private GpuMode mode = GpuMode.WHOLE;

    /** Node labels, matched by placement constraints. */
    private Map<String, String> labels = new LinkedHashMap<>();

    /** Price of one whole GPU for one hour, in the currency costs are reported in. */
    private double pricePerGpuHour;

    /** On-demand or spot capacity. */
    private CapacityClass capacityClass = CapacityClass.ON_DEMAND;

    /**
     * Comma-separated list of pre-made MIG instances as profile@startSlot (e.g.
     * "3g.40gb@0,3g.40gb@4"), the same on every GPU of the node; needs mode MIG_STATIC.
     */
    private List<String> migInstances = new ArrayList<>();

    public @Nullable String getId() {
      return id;
    }

    public void setId(@Nullable String id) {
      this.id = id;
    }

    public @Nullable String getModel() {
      return model;
    }

    public void setModel(@Nullable String model) {
      this.model = model;
    }

    public int getGpus() {
      return gpus;
    }

    public void setGpus(int gpus) {
      this.gpus = gpus;
    }

    public GpuMode getMode() {
      return mode;
    }

    public void setMode(GpuMode mode) {
      this.mode = mode;
    }

    public Map<String, String> getLabels() {
      return labels;
    }

    public void setLabels(Map<String, String> labels) {
      this.labels = labels;
    }

    public double getPricePerGpuHour() {
      return pricePerGpuHour;
    }

    public void setPricePerGpuHour(double pricePerGpuHour) {
      this.pricePerGpuHour = pricePerGpuHour;
    }

    public CapacityClass getCapacityClass() {
      return capacityClass;
    }

    public void setCapacityClass(CapacityClass capacityClass) {
      this.capacityClass = capacityClass;
    }

    public List<String> getMigInstances() {
      return migInstances;
    }

    public void setMigInstances(List<String> migInstances) {
      this.migInstances = migInstances;
    }
  }

  /** A queue (tenant). Capacity is in GPU-equivalents (a 3g MIG slice of 7 is 3/7). */
  public static class Queue extends Quota {

    /** Queue name. */
    private @Nullable String name;

    /** Fair-share weight. */
    private double weight = 1;

    /**
     * Whether the queue's jobs that are not preemptible may run on spot nodes when {@code
     * prefer-cheapest} is on (without it they stay on on-demand nodes; preemptible jobs prefer spot
     * either way).
     */
    private boolean allowSpot;

    public boolean isAllowSpot() {
      return allowSpot;
    }

    public void setAllowSpot(boolean allowSpot) {
      this.allowSpot = allowSpot;
    }

    /**
     * Quotas on single GPU models, by model name (e.g. {@code H100-80GB}): guarantee reclaimed on
     * that model, a limit on the queue's use of it, and how much of the guarantee others may borrow.
     */
    private java.util.Map<String, Quota> modelQuotas = new java.util.LinkedHashMap<>();

    public java.util.Map<String, Quota> getModelQuotas() {
      return modelQuotas;
    }

    public void setModelQuotas(java.util.Map<String, Quota> modelQuotas) {
      this.modelQuotas = modelQuotas;
    }

    public @Nullable String getName() {
      return name;
    }

    public void setName(@Nullable String name) {
      this.name = name;
    }

    public double getWeight() {
      return weight;
    }

    public void setWeight(double weight) {
      this.weight = weight;
    }

  }

  /**
   * A guarantee, a borrow limit and a lend limit, in GPU-equivalents: a queue's totals, or its quota
   * on one GPU model ({@code model-quotas}).
   */
  public static class Quota {

    /** Guaranteed capacity, reclaimed by preemption of borrowers when the queue has work. */
    private double guaranteedGpus;

    /** How far beyond the guarantee the queue may use capacity; unset means no limit. */
    private @Nullable Double borrowLimitGpus;

    public double getGuaranteedGpus() {
      return guaranteedGpus;
    }

    public void setGuaranteedGpus(double guaranteedGpus) {
      this.guaranteedGpus = guaranteedGpus;
    }

    /** How much of its unused guarantee others may borrow; unset means all of it. */
    private @Nullable Double lendLimitGpus;

    public @Nullable Double getBorrowLimitGpus() {
      return borrowLimitGpus;
    }

    public void setBorrowLimitGpus(@Nullable Double borrowLimitGpus) {
      this.borrowLimitGpus = borrowLimitGpus;
    }

    public @Nullable Double getLendLimitGpus() {
      return lendLimitGpus;
    }

    public void setLendLimitGpus(@Nullable Double lendLimitGpus) {
      this.lendLimitGpus = lendLimitGpus;
    }
  }

  /** Preemption for priority and quota reclaim. */
  public static class Preemption {

    /** Whether the scheduler preempts for priority and quota reclaim. */
    private boolean enabled = true;

    /** How long a job runs before it may be preempted for priority or quota. */
    private Duration minRunTime = Duration.ZERO;

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public Duration getMinRunTime() {
      return minRunTime;
    }

    public void setMinRunTime(Duration minRunTime) {
      this.minRunTime = minRunTime;
    }
  }

  /** Discovery of the local GPUs through NVML. */
  public static class Nvml {

    /** Whether to add this machine's GPUs, read through NVML, as a node. */
    private boolean enabled;

    /** Id of the discovered node; the host name when unset. */
    private @Nullable String nodeId;

    /** What to do with gpusched.nodes when NVML finds GPUs: keep them, or use them only as a fallback. */
    private StaticNodes staticNodes = StaticNodes.KEEP;

    /** Sampling period of NVML telemetry (when the NVML telemetry module is present). */
    private Duration telemetryPeriod = Duration.ofSeconds(1);

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public @Nullable String getNodeId() {
      return nodeId;
    }

    public void setNodeId(@Nullable String nodeId) {
      this.nodeId = nodeId;
    }

    public StaticNodes getStaticNodes() {
      return staticNodes;
    }

    public void setStaticNodes(StaticNodes staticNodes) {
      this.staticNodes = staticNodes;
    }

    public Duration getTelemetryPeriod() {
      return telemetryPeriod;
    }

    public void setTelemetryPeriod(Duration telemetryPeriod) {
      this.telemetryPeriod = telemetryPeriod;
    }
  }

  /** What happens to the static nodes when NVML discovers local GPUs. */
  public enum StaticNodes {
    /** Static nodes are scheduled on together with the discovered node. */
    KEEP,
    /** Static nodes are used only when NVML finds no GPU (a simulated cluster for laptops). */
    FALLBACK
  }

  /** Idle detection and reclaim (needs a GpuTelemetry: NVML telemetry or the application's). */
  public static class Idle {

    /** Whether to detect idle jobs. */
    private boolean enabled;

    /** Highest utilization, in percent, that still counts as idle. */
    private int maxUtilizationPercent = 5;

    /** How long readings must stay idle-looking. */
    private Duration window = Duration.ofMinutes(30);

    /** Whether a device with utilization readings must also have no process to be idle. */
    private boolean requireNoProcesses;

    /** Memory in MiB a device without utilization readings (MIG) may use and still be idle. */
    private long maxMemoryUsedMibWithoutUtilization = 1024;

    /** How old the newest reading may be, and the longest gap between readings. */
    private Duration maxSampleAge = Duration.ofMinutes(2);

    /** Time between idle detection and reclaim of a job marked reclaimable. */
    private Duration reclaimGrace = Duration.ofMinutes(5);

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public int getMaxUtilizationPercent() {
      return maxUtilizationPercent;
    }

    public void setMaxUtilizationPercent(int maxUtilizationPercent) {
      this.maxUtilizationPercent = maxUtilizationPercent;
    }

    public Duration getWindow() {
      return window;
    }

    public void setWindow(Duration window) {
      this.window = window;
    }

    public boolean isRequireNoProcesses() {
      return requireNoProcesses;
    }

    public void setRequireNoProcesses(boolean requireNoProcesses) {
      this.requireNoProcesses = requireNoProcesses;
    }

    public long getMaxMemoryUsedMibWithoutUtilization() {
      return maxMemoryUsedMibWithoutUtilization;
    }

    public void setMaxMemoryUsedMibWithoutUtilization(long maxMemoryUsedMibWithoutUtilization) {
      this.maxMemoryUsedMibWithoutUtilization = maxMemoryUsedMibWithoutUtilization;
    }

    public Duration getMaxSampleAge() {
      return maxSampleAge;
    }

    public void setMaxSampleAge(Duration maxSampleAge) {
      this.maxSampleAge = maxSampleAge;
    }

    public Duration getReclaimGrace() {
      return reclaimGrace;
    }

    public void setReclaimGrace(Duration reclaimGrace) {
      this.reclaimGrace = reclaimGrace;
    }
  }

  /** Scheduler events as Spring application events. */
  public static class Events {

    /** Whether to publish every scheduler event as a Spring application event. */
    private boolean enabled = true;

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }
  }

  /** The actuator endpoint "gpusched". */
  public static class Endpoint {

    /** Whether the endpoint's write operation (cordon, uncordon, drain a node) is exposed. */
    private boolean writeEnabled;

    public boolean isWriteEnabled() {
      return writeEnabled;
    }

    public void setWriteEnabled(boolean writeEnabled) {
      this.writeEnabled = writeEnabled;
    }
  }
}
