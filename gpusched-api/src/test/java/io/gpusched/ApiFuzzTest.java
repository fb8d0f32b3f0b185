package io.gpusched;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/**
 * Bad-input fuzzing of every public value type, factory and builder of the API: NaN, infinities,
 * {@code MAX_VALUE} / {@code MIN_VALUE}, negatives, zero, blank and very long strings, unknown
 * names and nulls. Each input is either rejected with the documented exception whose message names
 * the bad value (a blank name: says "blank" and quotes it), or accepted with the value kept as given. A builder
 * call that throws leaves the builder as it was. {@link ApiValidationTest} has the hand-picked
 * cases; this class throws the edges at every parameter together.
 */
class ApiFuzzTest {

  private static final int TRIES = 300;

  // ------------------------------------------------------------------ nasty values

  @Provide
  Arbitrary<Double> doubles() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MAX_VALUE,
            -Double.MAX_VALUE, Double.MIN_VALUE, -Double.MIN_VALUE, 0.0, -0.0, 1.0, -1.0, 1e-300,
            1e300, 8.0),
        Arbitraries.doubles().between(-1e6, 1e6));
  }

  @Provide
  Arbitrary<Long> longs() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            Long.MIN_VALUE, Long.MAX_VALUE, -2L, -1L, 0L, 1L, (long) Integer.MAX_VALUE,
            NodeSpec.MAX_CPU_MILLIS, NodeSpec.MAX_CPU_MILLIS + 1, NodeSpec.MAX_MEMORY_MIB,
            NodeSpec.MAX_MEMORY_MIB + 1),
        Arbitraries.longs().between(-100_000, 100_000));
  }

  @Provide
  Arbitrary<Integer> ints() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            Integer.MIN_VALUE, Integer.MAX_VALUE, -1, 0, 1, 7, 8, 9, 63, 64, 65, 100, 101, 999, 1000,
            1001, 1024, 1025),
        Arbitraries.integers().between(-2000, 2000));
  }

  @Provide
  Arbitrary<String> names() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            "", " ", "\t", "\n \r", "a", "H100-80GB", "3g.40gb", "default", "null", "a,b", "Ω-ü",
            "x".repeat(10_000), " padded "),
        Arbitraries.strings().ofMaxLength(12),
        Arbitraries.strings().whitespace().ofMaxLength(4));
  }

  @Provide
  Arbitrary<Duration> durations() {
    return Arbitraries.oneOf(
        Arbitraries.of(
            Duration.ZERO, Duration.ofNanos(1), Duration.ofNanos(-1), Duration.ofSeconds(30),
            Duration.ofDays(-1), JobSpec.MAX_DURATION, JobSpec.MAX_DURATION.plusNanos(1),
            Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), Duration.ofSeconds(Long.MIN_VALUE)),
        Arbitraries.longs().between(-10_000, 10_000).map(Duration::ofMillis));
  }

  // ------------------------------------------------------------------ checks

  /** Runs {@code call}: it must throw {@code type} whose message contains every {@code named}. */
  private static void rejects(
      ThrowingCallable call, Class<? extends Throwable> type, String... named) {
    Throwable t = catchThrowable(call);
    assertThat(t).as("expected %s naming %s", type.getSimpleName(), Arrays.toString(named))
        .isInstanceOf(type);
    for (String n : named) {
      assertThat(t.getMessage()).contains(n);
    }
  }

  /** What a message must contain for a bad name: the name, or "blank" when it is blank. */
  private static String named(String name) {
    return name.isBlank() ? "blank, was \"" : name; // the blank value quoted
  }

  private static boolean positive(Duration d) {
    return !d.isNegative() && !d.isZero();
  }

  private static boolean finiteNonNegative(double v) {
    return v >= 0 && !Double.isInfinite(v);
  }

  // ------------------------------------------------------------------ queues and quotas

  @Property(tries = TRIES)
  void queueSpecBuilder(
      @ForAll("names") String name,
      @ForAll("doubles") double weight,
      @ForAll("doubles") double guaranteed,
      @ForAll("doubles") double borrow,
      @ForAll("doubles") double lend) {
    QueueSpec.Builder b =
        QueueSpec.builder(name).weight(weight).guaranteedGpus(guaranteed).borrowLimitGpus(borrow)
            .lendLimitGpus(lend);
    if (name.isBlank()) {
      rejects(b::build, IllegalArgumentException.class, "queue name", "blank");
    } else if (!(weight > 0) || Double.isInfinite(weight)) {
      rejects(b::build, IllegalArgumentException.class, "weight", String.valueOf(weight));
    } else if (!finiteNonNegative(guaranteed)) {
      rejects(b::build, IllegalArgumentException.class, "guaranteedGpus", String.valueOf(guaranteed));
    } else if (!(borrow >= 0)) {
      rejects(b::build, IllegalArgumentException.class, "borrowLimitGpus", String.valueOf(borrow));
    } else if (!(lend >= 0)) {
      rejects(b::build, IllegalArgumentException.class, "lendLimitGpus", String.valueOf(lend));
    } else {
      QueueSpec q = b.build();
      assertThat(q).isEqualTo(new QueueSpec(name, weight, guaranteed, borrow, lend, Map.of()));
    }
  }

  @Property(tries = TRIES)
  void modelQuotaAndQueueBuilderStateAfterARejection(
      @ForAll("names") String model,
      @ForAll("doubles") double guaranteed,
      @ForAll("doubles") double borrow,
      @ForAll("doubles") double lend) {
    QueueSpec.Builder b = QueueSpec.builder("q").modelQuota("A100-80GB", 1, 0);
    QueueSpec before = b.build();
    ThrowingCallable quota = () -> b.modelQuota(model, new ModelQuota(guaranteed, borrow, lend));
    if (!finiteNonNegative(guaranteed)) {
      rejects(quota, IllegalArgumentException.class, "guaranteedGpus", String.valueOf(guaranteed));
    } else if (!(borrow >= 0)) {
      rejects(quota, IllegalArgumentException.class, "borrowLimitGpus", String.valueOf(borrow));
    } else if (!(lend >= 0)) {
      rejects(quota, IllegalArgumentException.class, "lendLimitGpus", String.valueOf(lend));
    } else if (model.isBlank()) {
      rejects(quota, IllegalArgumentException.class, "model name", "blank");
    } else {
      b.modelQuota(model, new ModelQuota(guaranteed, borrow, lend));
      assertThat(b.build().modelQuotas()).containsEntry(model, new ModelQuota(guaranteed, borrow, lend));
      return;
    }
    assertThat(b.build()).isEqualTo(before);
  }

  // ------------------------------------------------------------------ nodes and GPUs

  @Property(tries = TRIES)
  void nodeSpecBuilder(
      @ForAll("names") String id,
      @ForAll("ints") int count,
      @ForAll("longs") long cpu,
      @ForAll("longs") long memory,
      @ForAll("doubles") double price) {
    NodeSpec.Builder b = NodeSpec.builder(id).gpus(2, GpuModels.A30_24GB, GpuMode.SHARED);
    ThrowingCallable gpus = () -> b.gpus(count, GpuModels.H100_80GB, GpuMode.WHOLE);
    boolean countOk = count >= 0 && count <= NodeSpec.MAX_GPUS - 2;
    if (count < 0) {
      rejects(gpus, IllegalArgumentException.class, "GPU count", String.valueOf(count));
    } else if (!countOk) {
      // rejected at the call, before a single GPU is made (gpus(Integer.MAX_VALUE) must not try)
      rejects(gpus, IllegalArgumentException.class, String.valueOf(count), "64");
    } else {
      b.gpus(count, GpuModels.H100_80GB, GpuMode.WHOLE);
    }
    b.hostResources(cpu, memory).pricePerGpuHour(price);
    boolean cpuOk = cpu == NodeSpec.UNTRACKED || (cpu >= 0 && cpu <= NodeSpec.MAX_CPU_MILLIS);
    boolean memOk =
        memory == NodeSpec.UNTRACKED || (memory >= 0 && memory <= NodeSpec.MAX_MEMORY_MIB);
    if (id.isBlank()) {
      rejects(b::build, IllegalArgumentException.class, "node id", "blank");
    } else if (!cpuOk) {
      rejects(b::build, IllegalArgumentException.class, "cpuMillis", String.valueOf(cpu));
    } else if (!memOk) {
      rejects(b::build, IllegalArgumentException.class, "memoryMiB", String.valueOf(memory));
    } else if (!finiteNonNegative(price) || price > NodeSpec.MAX_PRICE_PER_GPU_HOUR) {
      rejects(b::build, IllegalArgumentException.class, "pricePerGpuHour", String.valueOf(price));
    } else {
      NodeSpec n = b.build();
      assertThat(n.gpus()).hasSize(2 + (countOk ? count : 0));
      assertThat(n.cpuMillis()).isEqualTo(cpu);
      assertThat(n.memoryMiB()).isEqualTo(memory);
      assertThat(n.pricePerGpuHour()).isEqualTo(price);
    }
  }

  @Property(tries = TRIES)
  void gpuSpec(
      @ForAll("ints") int index,
      @ForAll("names") String uuid,
      @ForAll GpuMode mode,
      @ForAll boolean migModel) {
    GpuModel model = migModel ? GpuModels.H100_80GB : new GpuModel("L40S", 46_068, 142, null);
    List<MigInstance> statics = mode == GpuMode.MIG_STATIC ? List.of(new MigInstance("7g.80gb", 0))
        : List.of();
    ThrowingCallable make = () -> new GpuSpec(index, uuid, model, mode, statics);
    boolean mig = mode == GpuMode.MIG_DYNAMIC || mode == GpuMode.MIG_STATIC;
    if (index < 0) {
      rejects(make, IllegalArgumentException.class, "GPU index", String.valueOf(index));
    } else if (uuid.isBlank()) {
      rejects(make, IllegalArgumentException.class, "uuid", "blank");
    } else if (mig && !migModel) {
      rejects(make, IllegalArgumentException.class, mode.name(), "L40S");
    } else {
      GpuSpec g = new GpuSpec(index, uuid, model, mode, statics);
      assertThat(g.index()).isEqualTo(index);
      assertThat(g.uuid()).isEqualTo(uuid);
    }
  }

  @Property(tries = TRIES)
  void migProfileAndGeometry(
      @ForAll("names") String name,
      @ForAll("ints") int compute,
      @ForAll("ints") int memory,
      @ForAll("ints") int start,
      @ForAll("ints") int geometrySlices) {
    ThrowingCallable profile =
        () -> new MigProfile(name, 0, compute, memory, 1024, 10, 1, List.of(start));
    if (name.isBlank()) {
      rejects(profile, IllegalArgumentException.class, "profile name", "blank");
      return;
    }
    if (compute <= 0) {
      rejects(profile, IllegalArgumentException.class, "computeSlices", String.valueOf(compute));
      return;
    }
    if (memory <= 0) {
      rejects(profile, IllegalArgumentException.class, "memorySlices", String.valueOf(memory));
      return;
    }
    if (start < 0) {
      rejects(profile, IllegalArgumentException.class, String.valueOf(start));
      return;
    }
    MigProfile p = new MigProfile(name, 0, compute, memory, 1024, 10, 1, List.of(start));
    ThrowingCallable geometry =
        () -> new MigGeometry(geometrySlices, geometrySlices, List.of(p));
    if (geometrySlices < 1 || geometrySlices > MigGeometry.MAX_SLICES) {
      rejects(geometry, IllegalArgumentException.class, String.valueOf(geometrySlices));
    } else if (compute > geometrySlices) {
      rejects(geometry, IllegalArgumentException.class, name, String.valueOf(compute));
    } else if ((long) start + memory > geometrySlices) {
      // exact arithmetic: a placement past the last slice is rejected, however large the start
      rejects(geometry, IllegalArgumentException.class, name, String.valueOf(start));
    } else {
      MigGeometry g = new MigGeometry(geometrySlices, geometrySlices, List.of(p));
      assertThat(g.profile(name)).contains(p);
    }
  }

  @Property(tries = TRIES)
  void gpuModelAndProfileLookUp(
      @ForAll("names") String name, @ForAll("longs") long memory, @ForAll("ints") int sm,
      @ForAll("names") String profile) {
    ThrowingCallable make = () -> new GpuModel(name, memory, sm, GpuModels.H100_80GB.mig());
    if (name.isBlank()) {
      rejects(make, IllegalArgumentException.class, "GPU model name", "blank");
    } else if (memory <= 0) {
      rejects(make, IllegalArgumentException.class, "memoryMiB", String.valueOf(memory));
    } else if (sm <= 0) {
      rejects(make, IllegalArgumentException.class, "smCount", String.valueOf(sm));
    } else {
      GpuModel m = new GpuModel(name, memory, sm, GpuModels.H100_80GB.mig());
      boolean known = GpuModels.H100_80GB.mig().profile(profile).isPresent();
      if (known) {
        assertThat(m.migProfile(profile).name()).isEqualTo(profile);
      } else {
        rejects(() -> m.migProfile(profile), IllegalArgumentException.class, "unknown MIG profile",
            profile, "3g.40gb");
      }
      GpuModel plain = new GpuModel(name, memory, sm, null);
      rejects(() -> plain.migProfile(profile), IllegalArgumentException.class, name, "MIG");
    }
  }

  @Property(tries = TRIES)
  void catalogAndStrategyLookUpsOfUnknownNames(@ForAll("names") String name) {
    Optional<GpuModel> m = GpuModels.byName(name);
    m.ifPresent(
        model ->
            assertThat(model.name().replace("-", "").toLowerCase(Locale.ROOT))
                .isEqualTo(name.replace("-", "").replace("_", "").toLowerCase(Locale.ROOT)));
    Throwable t = catchThrowable(() -> PlacementStrategy.named(name));
    if (t != null) {
      assertThat(t).isInstanceOf(IllegalArgumentException.class);
      assertThat(t.getMessage()).contains(name).contains("FIRST_FIT");
    } else {
      assertThat(PlacementStrategy.named(name).name())
          .isIn("FIRST_FIT", "BEST_FIT", "SPREAD", "FRAGMENTATION_AWARE");
    }
  }

  // ------------------------------------------------------------------ requests

  @Property(tries = TRIES)
  void placementRequestFactories(
      @ForAll("ints") int count,
      @ForAll boolean sameNode,
      @ForAll("ints") int milli,
      @ForAll("longs") long memory,
      @ForAll("names") String profile,
      @ForAll("longs") long cpu,
      @ForAll("longs") long hostMemory) {
    if (count <= 0) {
      rejects(() -> PlacementRequest.wholeGpus(count, sameNode), IllegalArgumentException.class,
          String.valueOf(count));
    } else if (sameNode && count > NodeSpec.MAX_GPUS) {
      rejects(() -> PlacementRequest.wholeGpus(count, sameNode), IllegalArgumentException.class,
          String.valueOf(count), "64");
    } else {
      assertThat(PlacementRequest.wholeGpus(count, sameNode).gpus())
          .isEqualTo(new GpuDemand.Whole(count, sameNode));
    }
    if (milli < 0 || milli > 1000) {
      rejects(() -> PlacementRequest.share(milli, memory), IllegalArgumentException.class,
          "milliGpu", String.valueOf(milli));
    } else if (memory < 0) {
      rejects(() -> PlacementRequest.share(milli, memory), IllegalArgumentException.class,
          "memoryMiB", String.valueOf(memory));
    } else if (milli == 0 && memory == 0) {
      rejects(() -> PlacementRequest.share(milli, memory), IllegalArgumentException.class,
          "milliGpu > 0 or memoryMiB > 0");
    } else {
      assertThat(PlacementRequest.share(milli, memory).gpus())
          .isEqualTo(new GpuDemand.Share(milli, memory));
    }
    if (profile.isBlank()) {
      rejects(() -> PlacementRequest.mig(profile), IllegalArgumentException.class, "MIG profile",
          "blank");
    } else {
      assertThat(PlacementRequest.mig(profile).gpus()).isEqualTo(new GpuDemand.Mig(profile));
    }
    PlacementRequest base = PlacementRequest.wholeGpus(1);
    if (cpu < 0) {
      rejects(() -> base.withHost(cpu, hostMemory), IllegalArgumentException.class, "cpuMillis",
          String.valueOf(cpu));
    } else if (hostMemory < 0) {
      rejects(() -> base.withHost(cpu, hostMemory), IllegalArgumentException.class, "memoryMiB",
          String.valueOf(hostMemory));
    } else {
      PlacementRequest r = base.withHost(cpu, hostMemory);
      assertThat(r.cpuMillis()).isEqualTo(cpu);
      assertThat(r.memoryMiB()).isEqualTo(hostMemory);
    }
  }

  @Property(tries = TRIES)
  void constraintsAcceptAnyNamesAndRepeats(
      @ForAll("names") String a, @ForAll("names") String b, @ForAll CapacityClass c) {
    // unknown, blank and repeated names are a constraint nothing matches, not an error here (the
    // engine reports a request no node could ever host)
    Constraints k = Constraints.models(a, b, a).withCapacityClasses(c, c).withLabel(a, b);
    assertThat(k.gpuModels()).isEqualTo(new HashSet<>(List.of(a, b)));
    assertThat(k.allowsModel(a)).isTrue();
    assertThat(k.capacityClasses()).containsExactly(c);
    assertThat(k.labels()).containsEntry(a, b);
  }

  // ------------------------------------------------------------------ jobs

  @Property(tries = TRIES)
  void jobSpecBuilder(
      @ForAll("names") String id,
      @ForAll("names") String queue,
      @ForAll("ints") int priority,
      @ForAll("ints") int gang,
      @ForAll("durations") Duration grace,
      @ForAll("durations") Duration limit,
      @ForAll("durations") Duration lease) {
    JobSpec.Builder b =
        JobSpec.builder(PlacementRequest.wholeGpus(1)).id(id).queue(queue).priority(priority)
            .gangSize(gang).gracePeriod(grace).timeLimit(limit).expectedDuration(limit)
            .leaseTtl(lease);
    Duration max = JobSpec.MAX_DURATION;
    if (id.isBlank()) {
      rejects(b::build, IllegalArgumentException.class, "job id", "blank");
    } else if (queue.isBlank()) {
      rejects(b::build, IllegalArgumentException.class, "queue", "blank");
    } else if (gang < 1 || gang > JobSpec.MAX_GANG_SIZE) {
      rejects(b::build, IllegalArgumentException.class, "gangSize", String.valueOf(gang));
    } else if (grace.isNegative() || grace.compareTo(max) > 0) {
      rejects(b::build, IllegalArgumentException.class, "gracePeriod", grace.toString());
    } else if (!positive(limit) || limit.compareTo(max) > 0) {
      rejects(b::build, IllegalArgumentException.class, "timeLimit", limit.toString());
    } else if (!positive(lease) || lease.compareTo(max) > 0) {
      rejects(b::build, IllegalArgumentException.class, "leaseTtl", lease.toString());
    } else {
      JobSpec j = b.build();
      assertThat(j.id()).isEqualTo(id);
      assertThat(j.queue()).isEqualTo(queue);
      assertThat(j.priority()).isEqualTo(priority);
      assertThat(j.gangSize()).isEqualTo(gang);
      assertThat(j.runTimeBound()).isEqualTo(limit);
    }
  }

  // ------------------------------------------------------------------ telemetry and idleness

  @Property(tries = TRIES)
  void gpuSampleBuilder(
      @ForAll("names") String uuid,
      @ForAll("ints") int slot,
      @ForAll("ints") int util,
      @ForAll("longs") long used,
      @ForAll("longs") long power,
      @ForAll("ints") int temperature) {
    GpuSample.Builder b =
        GpuSample.builder(uuid, 0).migStartSlot(slot).utilizationPercent(util).memory(used, used)
            .powerMilliwatts(power).temperatureCelsius(temperature);
    if (uuid.isBlank()) {
      rejects(b::build, IllegalArgumentException.class, "gpuUuid", "blank");
    } else if (slot < -1 || slot > 7) {
      rejects(b::build, IllegalArgumentException.class, "migStartSlot", String.valueOf(slot));
    } else if (util < -1 || util > 100) {
      rejects(b::build, IllegalArgumentException.class, "utilizationPercent", String.valueOf(util));
    } else if (used < -1) {
      rejects(b::build, IllegalArgumentException.class, "memoryUsedMiB", String.valueOf(used));
    } else if (power < -1) {
      rejects(b::build, IllegalArgumentException.class, "powerMilliwatts", String.valueOf(power));
    } else if (temperature < -1) {
      rejects(b::build, IllegalArgumentException.class, "temperatureCelsius",
          String.valueOf(temperature));
    } else {
      GpuSample s = b.build();
      assertThat(s.migStartSlot()).isEqualTo(slot);
      assertThat(s.utilizationPercent()).isEqualTo(util);
    }
    if (uuid.isBlank()) {
      return;
    }
    ThrowingCallable process = () -> new GpuProcess(power, used);
    if (power < 0) {
      rejects(process, IllegalArgumentException.class, "pid", String.valueOf(power));
    } else if (used < -1) {
      rejects(process, IllegalArgumentException.class, "usedMemoryMiB", String.valueOf(used));
    } else {
      assertThat(new GpuProcess(power, used).usedMemoryMiB()).isEqualTo(used);
    }
  }

  @Property(tries = TRIES)
  void idlePolicyComponents(
      @ForAll("ints") int percent,
      @ForAll("durations") Duration window,
      @ForAll("longs") long memory,
      @ForAll("durations") Duration maxAge) {
    ThrowingCallable make = () -> new IdlePolicy(percent, window, true, memory, maxAge);
    Duration max = JobSpec.MAX_DURATION;
    if (percent < 0 || percent > 100) {
      rejects(make, IllegalArgumentException.class, "maxUtilizationPercent", String.valueOf(percent));
    } else if (!positive(window) || window.compareTo(max) > 0) {
      rejects(make, IllegalArgumentException.class, "window", window.toString());
    } else if (!positive(maxAge) || maxAge.compareTo(max) > 0) {
      rejects(make, IllegalArgumentException.class, "maxSampleAge", maxAge.toString());
    } else if (memory < 0) {
      rejects(make, IllegalArgumentException.class, "maxMemoryUsedMiBWithoutUtilization",
          String.valueOf(memory));
    } else {
      IdlePolicy p = new IdlePolicy(percent, window, true, memory, maxAge);
      assertThat(p.withWindow(maxAge).window()).isEqualTo(maxAge);
    }
  }

  /**
   * A reading older than {@code maxSampleAge} never looks idle, at any clock value: the age is
   * computed without overflow (a reading at {@code Long.MIN_VALUE} seen at {@code Long.MAX_VALUE}
   * is very old, not fresh).
   */
  @Property(tries = TRIES)
  void staleReadingsNeverLookIdleAtAnyClockValue(
      @ForAll("longs") long timestamp, @ForAll("longs") long now) {
    IdlePolicy p = IdlePolicy.DEFAULT;
    GpuSample s =
        GpuSample.builder("GPU-0", timestamp).utilizationPercent(0).processes(List.of()).build();
    BigInteger age = BigInteger.valueOf(now).subtract(BigInteger.valueOf(timestamp));
    boolean stale = age.compareTo(BigInteger.valueOf(p.maxSampleAge().toMillis())) > 0;
    if (stale) {
      assertThat(p.looksIdle(s, now)).as("age %s ms", age).isFalse();
      assertThat(p.idleSince(List.of(s), now)).as("age %s ms", age).isEmpty();
      assertThat(p.isIdle(List.of(s), now)).isFalse();
    }
    if (!stale && age.signum() >= 0) {
      assertThat(p.looksIdle(s, now)).isTrue();
      assertThat(p.idleSince(List.of(s), now)).hasValue(timestamp);
    }
  }

  // ------------------------------------------------------------------ nulls (@NullMarked)

  @Example
  void nullsAreRejectedWithANamedNullPointerException() {
    List<ThrowingCallable> calls = new ArrayList<>();
    calls.add(() -> NodeSpec.builder(null));
    calls.add(() -> NodeSpec.builder("n").label(null, "v"));
    calls.add(() -> NodeSpec.builder("n").label("k", null));
    calls.add(() -> NodeSpec.builder("n").gpu(null));
    calls.add(() -> NodeSpec.builder("n").capacityClass(null));
    calls.add(() -> NodeSpec.builder("n").gpus(1, null, GpuMode.WHOLE).build());
    calls.add(() -> NodeSpec.builder("n").gpus(1, GpuModels.B200, null).build());
    calls.add(() -> new GpuSpec(0, null, GpuModels.B200, GpuMode.WHOLE, List.of()));
    calls.add(() -> new GpuSpec(0, "u", null, GpuMode.WHOLE, List.of()));
    calls.add(() -> new GpuSpec(0, "u", GpuModels.B200, null, List.of()));
    calls.add(() -> new GpuSpec(0, "u", GpuModels.B200, GpuMode.WHOLE, null));
    calls.add(() -> new GpuModel(null, 1, 1, null));
    calls.add(() -> new MigGeometry(1, 1, null));
    calls.add(() -> new MigInstance(null, 0));
    calls.add(() -> PlacementRequest.mig(null));
    calls.add(() -> PlacementRequest.of(null));
    calls.add(() -> PlacementRequest.wholeGpus(1).withConstraints(null));
    calls.add(() -> Constraints.models((String) null));
    calls.add(() -> Constraints.models((String[]) null));
    calls.add(() -> Constraints.NONE.withLabel(null, "v"));
    calls.add(() -> Constraints.NONE.withLabel("k", null));
    calls.add(() -> Constraints.NONE.withGpuModels(null));
    calls.add(() -> Constraints.NONE.withCapacityClasses((CapacityClass) null));
    calls.add(() -> QueueSpec.builder(null));
    calls.add(() -> QueueSpec.builder("q").modelQuota(null, 1, 1));
    calls.add(() -> QueueSpec.builder("q").modelQuota("m", null));
    calls.add(() -> new QueueSpec("q", 1, 0, 0, 0, null));
    calls.add(() -> JobSpec.builder(null));
    calls.add(() -> JobSpec.builder(PlacementRequest.wholeGpus(1)).queue(null).build());
    calls.add(() -> JobSpec.builder(PlacementRequest.wholeGpus(1)).gracePeriod(null).build());
    calls.add(() -> JobSpec.builder(PlacementRequest.wholeGpus(1)).metadata(null, "v"));
    calls.add(() -> JobSpec.builder(PlacementRequest.wholeGpus(1)).metadata("k", null));
    calls.add(() -> new IdlePolicy(5, null, false, 0, Duration.ofMinutes(1)));
    calls.add(() -> IdlePolicy.DEFAULT.withWindow(null));
    calls.add(() -> GpuSample.builder(null, 0));
    calls.add(() -> PlacementStrategy.named(null));
    calls.add(() -> new PlacementStrategy("s", null, false));
    calls.add(() -> GpuModels.byName(null));
    for (int i = 0; i < calls.size(); i++) {
      Throwable t = catchThrowable(calls.get(i));
      assertThat(t).as("call %d", i).isInstanceOf(NullPointerException.class);
      assertThat(t.getMessage()).as("call %d names what was null", i).isNotBlank();
    }
  }

  @Example
  void placementStartNearIntMaxIsPastTheLastSlice() {
    // before: start + memorySlices overflowed to a negative number and the geometry took it
    MigProfile p = new MigProfile("1g.10gb", 0, 1, 1, 1024, 10, 1, List.of(Integer.MAX_VALUE));
    assertThatThrownBy(() -> new MigGeometry(7, 8, List.of(p)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(String.valueOf(Integer.MAX_VALUE));
  }

  @Example
  void hugeGpuCountFailsAtOnce() {
    // before: gpus(Integer.MAX_VALUE, ...) made GPU specs until memory ran out
    assertThatThrownBy(
            () -> NodeSpec.builder("n").gpus(Integer.MAX_VALUE, GpuModels.B200, GpuMode.WHOLE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(String.valueOf(Integer.MAX_VALUE));
  }
}
