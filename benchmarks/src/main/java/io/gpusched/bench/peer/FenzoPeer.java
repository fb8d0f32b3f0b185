package io.gpusched.bench.peer;

import com.netflix.fenzo.ConstraintEvaluator;
import com.netflix.fenzo.SchedulingResult;
import com.netflix.fenzo.TaskAssignmentResult;
import com.netflix.fenzo.TaskRequest;
import com.netflix.fenzo.TaskScheduler;
import com.netflix.fenzo.TaskTrackerState;
import com.netflix.fenzo.VMAssignmentResult;
import com.netflix.fenzo.VMTaskFitnessCalculator;
import com.netflix.fenzo.VirtualMachineCurrentState;
import com.netflix.fenzo.VirtualMachineLease;
import com.netflix.fenzo.functions.Action2;
import io.gpusched.Constraints;
import io.gpusched.GpuDemand;
import io.gpusched.GpuMode;
import io.gpusched.GpuSpec;
import io.gpusched.MigGeometry;
import io.gpusched.MigProfile;
import io.gpusched.NodeSpec;
import io.gpusched.PlacementRequest;
import io.gpusched.PlacementStrategy;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.mesos.Protos;
import org.jspecify.annotations.Nullable;

/**
 * Netflix Fenzo 0.13.8 as a GPU scheduler, driven the way a Mesos framework drives it.
 *
 * <p><b>Model.</b> Each node is one Fenzo host. Its GPUs are offered as <em>scalar resources</em>
 * on {@link VirtualMachineLease}s, one scalar per GPU mode: {@value #WHOLE} (count of
 * {@link GpuMode#WHOLE} GPUs), {@value #MIG} (MIG capacity in eighths of a GPU: each MIG GPU adds 8)
 * and {@value #SHARED_MILLI} / {@value #SHARED_MEM} (milli-GPU and MiB of the {@link
 * GpuMode#SHARED} GPUs). A request asks for: {@code k} of {@value #WHOLE} for {@code k} whole GPUs
 * (always on one host, so same-node gangs are natural; spread gangs are not supported); for a MIG
 * profile, a <b>scalar fraction of a GPU</b>, {@code 8 * memorySlices / geometry.memorySlices} of
 * {@value #MIG} (3g.40gb on an H100 = 4/8); for a share, its milli-GPU and memory.
 *
 * <p><b>What Fenzo cannot express</b>, and this peer therefore does not check: MIG slot placement
 * and alignment, the compute-slice limit and per-GPU boundaries. A node's scalars pool all its GPUs,
 * so Fenzo may accept a MIG instance or a share that no single GPU of the node could host (e.g. two
 * 0.5 fractions left on two different GPUs satisfy a 1.0 request). Its placements are therefore an
 * optimistic upper bound of what a real GPU scheduler could admit, and it does less work per
 * candidate than {@link LockedBestFit} or gpusched. A hard {@link ConstraintEvaluator} checks the
 * request's {@link Constraints} (models, labels, capacity classes) and, for MIG, that the node has
 * a MIG GPU whose model has the profile; host CPU and memory are not modelled. Whole GPUs are taken
 * only from WHOLE GPUs (gpusched and the locked baseline may also take an idle SHARED GPU whole).
 *
 * <p><b>Protocol.</b> {@link TaskScheduler#scheduleOnce} with the one task and any new leases. Fenzo
 * consumes <em>all</em> leases of the host it assigns to; as Mesos would, this peer re-offers the
 * unused remainder as a fresh lease on the next call, and tells Fenzo the task runs ({@code
 * getTaskAssigner()}). Release calls {@code getTaskUnAssigner()} and offers the freed amount as a
 * new lease of that host (Fenzo sums the leases of a host). Leases never expire (expiry set to ten
 * years) and a rejected lease is offered again.
 *
 * <p><b>Strategy.</b> {@code BEST_FIT} and {@code FRAGMENTATION_AWARE} (Fenzo has no fragmentation
 * model) use a GPU bin-packing {@link VMTaskFitnessCalculator}: fitness is the fraction of the
 * host's capacity of that scalar in use after the placement, so the fullest host wins; {@code
 * SPREAD} uses the inverse; {@code FIRST_FIT} a constant fitness with "good enough" at 1.0, so Fenzo
 * stops at the first fitting host of each evaluation batch. Fenzo evaluates hosts in parallel on
 * its own thread pool (one thread per 30 hosts, at most the number of cores).
 *
 * <p>Thread-safe: {@code scheduleOnce} must not be called concurrently, so every call holds one
 * monitor.
 */
public final class FenzoPeer implements PeerScheduler {
  /** Scalar: whole GPUs of a host. */
  public static final String WHOLE = "gpus";
  /** Scalar: MIG capacity of a host, in eighths of a GPU. */
  public static final String MIG = "mig8";
  /** Scalar: milli-GPU of the SHARED GPUs of a host. */
  public static final String SHARED_MILLI = "sharedMilli";
  /** Scalar: memory MiB of the SHARED GPUs of a host. */
  public static final String SHARED_MEM = "sharedMemMiB";

  private static final long TEN_YEARS_SECS = 10L * 365 * 24 * 3600;

  private final Object lock = new Object();
  private final TaskScheduler scheduler;
  private final Action2<TaskRequest, String> assigner;
  private final Action2<String, String> unassigner;
  private final Map<String, Host> hosts = new HashMap<>();
  private final Set<String> migProfiles = new HashSet<>();
  private final Map<String, Double> migEighths = new HashMap<>();
  private final AtomicLong leaseIds = new AtomicLong();
  private final AtomicLong taskIds = new AtomicLong();
  private List<VirtualMachineLease> pending = new ArrayList<>();
  private final List<TaskRequest> one = new ArrayList<>(1);

  /** Builds the Fenzo scheduler and offers every node's GPUs. */
  public FenzoPeer(List<NodeSpec> nodes, PlacementStrategy strategy) {
    for (NodeSpec n : nodes) {
      Host h = new Host(n);
      if (hosts.put(n.id(), h) != null) {
        throw new IllegalArgumentException("node " + n.id() + " already exists");
      }
      for (GpuSpec g : n.gpus()) {
        MigGeometry geo = g.model().mig();
        if (geo != null && (g.mode() == GpuMode.MIG_DYNAMIC || g.mode() == GpuMode.MIG_STATIC)) {
          for (MigProfile p : geo.profiles()) {
            migProfiles.add(p.name());
            migEighths.putIfAbsent(p.name(), 8.0 * p.memorySlices() / geo.memorySlices());
          }
        }
      }
      if (!h.totals.isEmpty()) {
        pending.add(new Lease(n.id(), "L" + leaseIds.incrementAndGet(), h.totals));
      }
    }
    TaskScheduler.Builder b =
        new TaskScheduler.Builder()
            .withLeaseOfferExpirySecs(TEN_YEARS_SECS)
            .withLeaseRejectAction(this::reoffer)
            .disableShortfallEvaluation()
            .withFitnessCalculator(fitness(strategy));
    if (strategy.name().equals("FIRST_FIT")) {
      b.withFitnessGoodEnoughFunction(f -> f >= 1.0);
    }
    scheduler = b.build();
    assigner = scheduler.getTaskAssigner();
    unassigner = scheduler.getTaskUnAssigner();
  }

  @Override
  public String name() {
    return "fenzo";
  }

  /** Returns the Fenzo scheduler (tests, inspection). */
  public TaskScheduler scheduler() {
    return scheduler;
  }

  // =============================================================== placement

  /**
   * Places a request through one {@code scheduleOnce}.
   *
   * @return the placed task, or {@code null} when Fenzo found no host
   * @throws IllegalArgumentException for a demand Fenzo cannot model (whole GPUs spread over nodes)
   *     or that no host could ever take
   */
  @Override
  public @Nullable Task place(PlacementRequest request) {
    Task task = toTask(request);
    synchronized (lock) {
      List<VirtualMachineLease> offers = pending;
      pending = new ArrayList<>();
      one.clear();
      one.add(task);
      SchedulingResult result = scheduler.scheduleOnce(one, offers);
      if (!result.getExceptions().isEmpty()) {
        throw new IllegalStateException("Fenzo failed", result.getExceptions().get(0));
      }
      for (VMAssignmentResult r : result.getResultMap().values()) {
        Map<String, Double> remainder = new HashMap<>();
        for (VirtualMachineLease l : r.getLeasesUsed()) {
          l.getScalarValues().forEach((k, v) -> remainder.merge(k, v, Double::sum));
        }
        for (TaskAssignmentResult t : r.getTasksAssigned()) {
          Task placed = (Task) t.getRequest();
          placed.scalars.forEach((k, v) -> remainder.merge(k, -v, Double::sum));
          placed.hostname = r.getHostname();
          assigner.call(placed, r.getHostname());
        }
        pending.add(new Lease(r.getHostname(), "L" + leaseIds.incrementAndGet(), remainder));
      }
      return task.hostname == null ? null : task;
    }
  }

  private Task toTask(PlacementRequest request) {
    GpuDemand d = request.gpus();
    Map<String, Double> scalars;
    if (d instanceof GpuDemand.Whole w) {
      if (!w.sameNode() && w.count() > 1) {
        throw new IllegalArgumentException("FenzoPeer models whole GPUs on one host only");
      }
      scalars = Map.of(WHOLE, (double) w.count());
    } else if (d instanceof GpuDemand.Mig m) {
      Double eighths = migEighths.get(m.profile());
      if (eighths == null) {
        throw new IllegalArgumentException("unknown MIG profile " + m.profile());
      }
      scalars = Map.of(MIG, eighths);
    } else {
      GpuDemand.Share s = (GpuDemand.Share) d;
      scalars = Map.of(SHARED_MILLI, (double) s.milliGpu(), SHARED_MEM, (double) s.memoryMiB());
    }
    return new Task("t" + taskIds.incrementAndGet(), request, scalars, this);
  }

  // =============================================================== release

  @Override
  public boolean release(Object handle) {
    Task t = (Task) handle;
    synchronized (lock) {
      if (t.released || t.hostname == null) {
        return false;
      }
      t.released = true;
      unassigner.call(t.getId(), t.hostname);
      pending.add(new Lease(t.hostname, "L" + leaseIds.incrementAndGet(), t.scalars));
      return true;
    }
  }

  /** A lease Fenzo rejects (it should not: they never expire) is offered again. */
  private void reoffer(VirtualMachineLease lease) {
    synchronized (lock) {
      pending.add(
          new Lease(lease.hostname(), "L" + leaseIds.incrementAndGet(), lease.getScalarValues()));
    }
  }

  @Override
  public void close() {
    scheduler.shutdown();
  }

  // =============================================================== fitness

  private VMTaskFitnessCalculator fitness(PlacementStrategy strategy) {
    String name = strategy.name();
    if (name.equals("FIRST_FIT")) {
      return new GpuFitness("gpuFirstFit", 0);
    }
    return new GpuFitness(name.equals("SPREAD") ? "gpuSpread" : "gpuBinPacker", name.equals("SPREAD") ? -1 : 1);
  }

  /** Bin packing (or spreading) on the request's GPU scalar; never 0, which Fenzo treats as a no. */
  private final class GpuFitness implements VMTaskFitnessCalculator {
    private final String name;
    private final int direction;

    GpuFitness(String name, int direction) {
      this.name = name;
      this.direction = direction;
    }

    @Override
    public String getName() {
      return name;
    }

    @Override
    public double calculateFitness(
        TaskRequest task, VirtualMachineCurrentState state, TaskTrackerState tracker) {
      if (direction == 0) {
        return 1.0;
      }
      Host h = Objects.requireNonNull(hosts.get(state.getHostname()), "Fenzo offers our hosts");
      VirtualMachineLease avail = state.getCurrAvailableResources();
      double used = 0;
      int n = 0;
      for (var e : task.getScalarRequests().entrySet()) {
        double total = h.totals.getOrDefault(e.getKey(), 0.0);
        Double free = avail.getScalarValue(e.getKey());
        if (total > 0) {
          used += (total - (free == null ? 0 : free) + e.getValue()) / total;
          n++;
        }
      }
      double packed = n == 0 ? 0 : Math.min(1.0, used / n);
      double f = direction > 0 ? packed : 1.0 - packed;
      return 0.01 + 0.98 * f;
    }
  }

  // =============================================================== Fenzo types

  /** A node as a Fenzo host: its GPU scalars and its labels, models and MIG profiles. */
  private static final class Host {
    final NodeSpec spec;
    final Map<String, Double> totals = new HashMap<>();
    final Set<String> models = new HashSet<>();
    final Set<String> migProfiles = new HashSet<>();

    Host(NodeSpec spec) {
      this.spec = spec;
      for (GpuSpec g : spec.gpus()) {
        models.add(g.model().name());
        switch (g.mode()) {
          case WHOLE -> totals.merge(WHOLE, 1.0, Double::sum);
          case SHARED -> {
            totals.merge(SHARED_MILLI, 1000.0, Double::sum);
            totals.merge(SHARED_MEM, (double) g.model().memoryMiB(), Double::sum);
          }
          case MIG_DYNAMIC, MIG_STATIC -> {
            totals.merge(MIG, 8.0, Double::sum);
            Objects.requireNonNull(g.model().mig()).profiles().forEach(p -> migProfiles.add(p.name()));
          }
        }
      }
    }
  }

  /** A placement as a Fenzo task: GPU scalars only, plus the hard constraint. */
  public static final class Task implements TaskRequest {
    private final String id;
    private final PlacementRequest request;
    private final Map<String, Double> scalars;
    private final List<ConstraintEvaluator> hard;
    private @Nullable AssignedResources assigned;
    private volatile @Nullable String hostname;
    private boolean released;

    Task(String id, PlacementRequest request, Map<String, Double> scalars, FenzoPeer peer) {
      this.id = id;
      this.request = request;
      this.scalars = new HashMap<>(scalars);
      this.hard = List.of(new Eligible(peer, request));
    }

    /** Returns the placed request. */
    public PlacementRequest request() {
      return request;
    }

    /** Returns the host Fenzo assigned, or {@code null} before (or without) an assignment. */
    public @Nullable String hostname() {
      return hostname;
    }

    @Override
    public String getId() {
      return id;
    }

    @Override
    public String taskGroupName() {
      return "gpu";
    }

    @Override
    public double getCPUs() {
      return 0;
    }

    @Override
    public double getMemory() {
      return 0;
    }

    @Override
    public double getNetworkMbps() {
      return 0;
    }

    @Override
    public double getDisk() {
      return 0;
    }

    @Override
    public int getPorts() {
      return 0;
    }

    @Override
    public Map<String, Double> getScalarRequests() {
      return scalars;
    }

    @Override
    public Map<String, NamedResourceSetRequest> getCustomNamedResources() {
      return Collections.emptyMap();
    }

    @Override
    public List<? extends ConstraintEvaluator> getHardConstraints() {
      return hard;
    }

    @Override
    public List<? extends VMTaskFitnessCalculator> getSoftConstraints() {
      return List.of();
    }

    @Override
    public void setAssignedResources(AssignedResources assignedResources) {
      this.assigned = assignedResources;
    }

    @Override
    public @Nullable AssignedResources getAssignedResources() {
      return assigned;
    }

    @Override
    public String toString() {
      return id + "@" + hostname + " " + scalars;
    }
  }

  /** Hard constraint: the request's {@link Constraints}, and for MIG a model with the profile. */
  private static final class Eligible implements ConstraintEvaluator {
    private static final Result OK = new Result(true, "");
    private static final Result NO = new Result(false, "not eligible");
    private final FenzoPeer peer;
    private final PlacementRequest request;

    Eligible(FenzoPeer peer, PlacementRequest request) {
      this.peer = peer;
      this.request = request;
    }

    @Override
    public String getName() {
      return "gpuEligible";
    }

    @Override
    public Result evaluate(
        TaskRequest task, VirtualMachineCurrentState state, TaskTrackerState tracker) {
      Host h = peer.hosts.get(state.getHostname());
      if (h == null) {
        return NO;
      }
      Constraints c = request.constraints();
      if (c.constrainsNodes() && !c.allowsNode(h.spec.labels(), h.spec.capacityClass())) {
        return NO;
      }
      if (!c.gpuModels().isEmpty()) {
        boolean any = false;
        for (String m : h.models) {
          any |= c.allowsModel(m);
        }
        if (!any) {
          return NO;
        }
      }
      if (request.gpus() instanceof GpuDemand.Mig m && !h.migProfiles.contains(m.profile())) {
        return NO;
      }
      return OK;
    }
  }

  /** A resource offer for one host: GPU scalars only, no CPU, memory, disk or ports. */
  private static final class Lease implements VirtualMachineLease {
    private final String hostname;
    private final String id;
    private final Map<String, Double> scalars;
    private final long offeredTime = System.currentTimeMillis();

    Lease(String hostname, String id, Map<String, Double> scalars) {
      this.hostname = hostname;
      this.id = id;
      this.scalars = new HashMap<>(scalars);
    }

    @Override
    public String getId() {
      return id;
    }

    @Override
    public long getOfferedTime() {
      return offeredTime;
    }

    @Override
    public String hostname() {
      return hostname;
    }

    @Override
    public String getVMID() {
      return hostname;
    }

    @Override
    public double cpuCores() {
      return 0;
    }

    @Override
    public double memoryMB() {
      return 0;
    }

    @Override
    public double networkMbps() {
      return 0;
    }

    @Override
    public double diskMB() {
      return 0;
    }

    @Override
    public List<Range> portRanges() {
      return List.of();
    }

    @Override
    public Protos.@Nullable Offer getOffer() {
      return null;
    }

    @Override
    public Map<String, Protos.Attribute> getAttributeMap() {
      return Collections.emptyMap(); // Fenzo looks up null keys: no Map.of() here
    }

    @Override
    public @Nullable Double getScalarValue(String name) {
      return scalars.get(name);
    }

    @Override
    public Map<String, Double> getScalarValues() {
      return scalars;
    }

    @Override
    public String toString() {
      return id + "@" + hostname + " " + scalars;
    }
  }
}
