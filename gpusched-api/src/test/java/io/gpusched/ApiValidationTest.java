package io.gpusched;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Validation of every value type of the API: bad values throw and the message names the value. */
class ApiValidationTest {

  private static MigProfile profile(String name, int compute, int memory, List<Integer> starts) {
    return new MigProfile(name, 1, compute, memory, 1024, 10, 8, starts);
  }

  /** A small custom MIG model: 2 compute slices, 4 memory slices, a 1-slice and a 2-slice profile. */
  private static final GpuModel TINY =
      new GpuModel(
          "Tiny-8GB",
          8192,
          20,
          new MigGeometry(
              2,
              4,
              List.of(
                  new MigProfile("1g.2gb", 1, 1, 1, 2048, 10, 4, List.of(0, 1, 2, 3)),
                  new MigProfile("2g.4gb", 2, 2, 2, 4096, 20, 2, List.of(0, 2)))));

  @Nested
  class MigProfileValidation {
    @Test
    void aValidProfileCopiesItsPlacements() {
      var starts = new ArrayList<>(List.of(0, 2, 4));
      MigProfile p = new MigProfile("2g.20gb", 14, 2, 2, 20096, 32, 3, starts);
      starts.add(6);
      assertThat(p.placementStarts()).containsExactly(0, 2, 4);
      assertThatThrownBy(() -> p.placementStarts().add(6))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThat(p.isMediaExtension()).isFalse();
      assertThat(new MigProfile("1g.10gb+me", 20, 1, 1, 9984, 16, 1, List.of(0)).isMediaExtension())
          .isTrue();
    }

    @Test
    void blankNameIsRejected() {
      assertThatThrownBy(() -> new MigProfile(" ", 1, 1, 1, 1, 1, 1, List.of(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("profile name");
      assertThatThrownBy(() -> new MigProfile(null, 1, 1, 1, 1, 1, 1, List.of(0)))
          .isInstanceOf(NullPointerException.class);
    }

    @Test
    void negativeIdIsRejected() {
      assertThatThrownBy(() -> new MigProfile("x", -3, 1, 1, 1, 1, 1, List.of(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("profileId of x")
          .hasMessageContaining("-3");
    }

    @Test
    void idZeroIsAllowed() {
      assertThatCode(() -> new MigProfile("7g", 0, 7, 8, 1, 1, 1, List.of(0)))
          .doesNotThrowAnyException();
    }

    @Test
    void nonPositiveCountsAreRejectedNamingTheField() {
      assertThatThrownBy(() -> new MigProfile("x", 1, 0, 1, 1, 1, 1, List.of(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("computeSlices of x")
          .hasMessageContaining("0");
      assertThatThrownBy(() -> new MigProfile("x", 1, 1, -2, 1, 1, 1, List.of(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("memorySlices of x")
          .hasMessageContaining("-2");
      assertThatThrownBy(() -> new MigProfile("x", 1, 1, 1, 0, 1, 1, List.of(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("memoryMiB of x");
      assertThatThrownBy(() -> new MigProfile("x", 1, 1, 1, 1, 0, 1, List.of(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("smCount of x");
      assertThatThrownBy(() -> new MigProfile("x", 1, 1, 1, 1, 1, -7, List.of(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("maxInstances of x")
          .hasMessageContaining("-7");
    }

    @Test
    void placementsMustBeNonEmptyAscendingAndNonNegative() {
      assertThatThrownBy(() -> profile("x", 1, 1, List.of()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("x has no placements");
      assertThatThrownBy(() -> profile("x", 1, 1, List.of(2, 0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("x")
          .hasMessageContaining("[2, 0]");
      assertThatThrownBy(() -> profile("x", 1, 1, List.of(0, 0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("[0, 0]");
      assertThatThrownBy(() -> profile("x", 1, 1, List.of(-1, 2)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("[-1, 2]");
    }
  }

  @Nested
  class MigGeometryValidation {
    @ParameterizedTest
    @ValueSource(ints = {0, -1, 9, 64})
    void computeSlicesOutsideOneToEight(int slices) {
      assertThatThrownBy(() -> new MigGeometry(slices, 8, List.of(profile("p", 1, 1, List.of(0)))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("computeSlices")
          .hasMessageContaining(String.valueOf(slices));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -5, 9})
    void memorySlicesOutsideOneToEight(int slices) {
      assertThatThrownBy(() -> new MigGeometry(7, slices, List.of(profile("p", 1, 1, List.of(0)))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("memorySlices")
          .hasMessageContaining(String.valueOf(slices));
    }

    @Test
    void needsAProfile() {
      assertThatThrownBy(() -> new MigGeometry(7, 8, List.of()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("at least one profile");
    }

    @Test
    void duplicateProfileNames() {
      assertThatThrownBy(
              () ->
                  new MigGeometry(
                      7, 8, List.of(profile("1g", 1, 1, List.of(0)), profile("1g", 2, 2, List.of(0)))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("duplicate MIG profile name 1g");
    }

    @Test
    void profileNeedingMoreComputeThanTheGpuHas() {
      assertThatThrownBy(() -> new MigGeometry(4, 8, List.of(profile("5g", 5, 4, List.of(0)))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("5g")
          .hasMessageContaining("5 compute slices")
          .hasMessageContaining("4");
    }

    @Test
    void placementRunningPastTheLastSlice() {
      assertThatThrownBy(() -> new MigGeometry(4, 4, List.of(profile("2g", 2, 2, List.of(0, 3)))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("placement 3:2 of 2g")
          .hasMessageContaining("memory slice 3");
    }

    @Test
    void boundariesAreAccepted() {
      assertThatCode(() -> new MigGeometry(8, 8, List.of(profile("8g", 8, 8, List.of(0)))))
          .doesNotThrowAnyException();
      assertThatCode(() -> new MigGeometry(1, 1, List.of(profile("1g", 1, 1, List.of(0)))))
          .doesNotThrowAnyException();
    }

    @Test
    void profileLookUp() {
      assertThat(TINY.mig().profile("2g.4gb")).map(MigProfile::profileId).contains(2);
      assertThat(TINY.mig().profile("3g.4gb")).isEmpty();
    }
  }

  @Nested
  class GpuModelValidation {
    @Test
    void invalidFieldsAreNamed() {
      assertThatThrownBy(() -> new GpuModel("", 1, 1, null))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("GPU model name");
      assertThatThrownBy(() -> new GpuModel("L4", 0, 58, null))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("memoryMiB of L4")
          .hasMessageContaining("0");
      assertThatThrownBy(() -> new GpuModel("L4", 23034, -1, null))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("smCount of L4")
          .hasMessageContaining("-1");
    }

    @Test
    void migProfileOfANonMigModel() {
      GpuModel l40s = new GpuModel("L40S", 46068, 142, null);
      assertThat(l40s.isMigCapable()).isFalse();
      assertThatThrownBy(() -> l40s.migProfile("1g.10gb"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("L40S")
          .hasMessageContaining("does not support MIG");
    }

    @Test
    void unknownProfileNameListsTheKnownOnes() {
      assertThatThrownBy(() -> GpuModels.H100_80GB.migProfile("3g.20gb"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("unknown MIG profile 3g.20gb for H100-80GB")
          .hasMessageContaining(
              "[1g.10gb, 1g.10gb+me, 1g.20gb, 2g.20gb, 3g.40gb, 4g.40gb, 7g.80gb]");
    }

    @Test
    void knownProfileIsFound() {
      MigProfile p = GpuModels.H100_80GB.migProfile("3g.40gb");
      assertThat(p.profileId()).isEqualTo(9);
      assertThat(p.placementStarts()).containsExactly(0, 4);
    }

    @Test
    void modelsCompareByValue() {
      assertThat(new GpuModel("X", 1, 1, null)).isEqualTo(new GpuModel("X", 1, 1, null));
      assertThat(new GpuModel("X", 1, 1, null)).isNotEqualTo(new GpuModel("X", 2, 1, null));
    }
  }

  @Nested
  class GpuSpecValidation {
    @Test
    void basicFields() {
      assertThatThrownBy(() -> GpuSpec.whole(-1, "GPU-x", GpuModels.A100_40GB))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("GPU index")
          .hasMessageContaining("-1");
      assertThatThrownBy(() -> GpuSpec.whole(0, "  ", GpuModels.A100_40GB))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("GPU uuid");
      assertThatThrownBy(() -> new GpuSpec(0, "u", null, GpuMode.WHOLE, List.of()))
          .isInstanceOf(NullPointerException.class);
      assertThatThrownBy(() -> new GpuSpec(0, "u", GpuModels.B200, null, List.of()))
          .isInstanceOf(NullPointerException.class);
    }

    @Test
    void migModeNeedsAMigCapableModel() {
      GpuModel l4 = new GpuModel("L4", 23034, 58, null);
      for (GpuMode mode : List.of(GpuMode.MIG_DYNAMIC, GpuMode.MIG_STATIC)) {
        assertThatThrownBy(
                () -> new GpuSpec(3, "u", l4, mode, List.of(new MigInstance("1g.10gb", 0))))
            .isInstanceOf(IllegalArgumentException.class)
            .hasMessageContaining("GPU 3")
            .hasMessageContaining(mode.name())
            .hasMessageContaining("L4");
      }
      assertThatCode(() -> new GpuSpec(0, "u", l4, GpuMode.SHARED, List.of()))
          .doesNotThrowAnyException();
    }

    @ParameterizedTest
    @ValueSource(strings = {"WHOLE", "SHARED", "MIG_DYNAMIC"})
    void staticInstancesOnlyForMigStatic(String mode) {
      assertThatThrownBy(
              () ->
                  new GpuSpec(
                      0,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.valueOf(mode),
                      List.of(new MigInstance("7g.80gb", 0))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("only for MIG_STATIC")
          .hasMessageContaining(mode);
    }

    @Test
    void migStaticNeedsInstances() {
      assertThatThrownBy(() -> new GpuSpec(0, "u", GpuModels.H100_80GB, GpuMode.MIG_STATIC, List.of()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("at least one instance");
    }

    @Test
    void migStaticValidLayoutsAreAccepted() {
      assertThatCode(
              () ->
                  new GpuSpec(
                      0,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.MIG_STATIC,
                      List.of(
                          new MigInstance("4g.40gb", 0),
                          new MigInstance("2g.20gb", 4),
                          new MigInstance("1g.10gb", 6))))
          .doesNotThrowAnyException();
      assertThatCode(
              () ->
                  new GpuSpec(
                      0,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.MIG_STATIC,
                      List.of(new MigInstance("3g.40gb", 0), new MigInstance("3g.40gb", 4))))
          .doesNotThrowAnyException();
    }

    @Test
    void migStaticInvalidStart() {
      assertThatThrownBy(
              () ->
                  new GpuSpec(
                      2,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.MIG_STATIC,
                      List.of(new MigInstance("3g.40gb", 2))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("GPU 2")
          .hasMessageContaining("3g.40gb cannot start at slot 2")
          .hasMessageContaining("[0, 4]");
      assertThatThrownBy(
              () ->
                  new GpuSpec(
                      0,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.MIG_STATIC,
                      List.of(new MigInstance("1g.10gb", 7))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("slot 7");
    }

    @Test
    void migStaticUnknownProfile() {
      assertThatThrownBy(
              () ->
                  new GpuSpec(
                      0,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.MIG_STATIC,
                      List.of(new MigInstance("1g.5gb", 0))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("1g.5gb")
          .hasMessageContaining("1g.10gb");
    }

    @Test
    void migStaticOverlap() {
      assertThatThrownBy(
              () ->
                  new GpuSpec(
                      0,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.MIG_STATIC,
                      List.of(new MigInstance("4g.40gb", 0), new MigInstance("1g.10gb", 3))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("overlaps")
          .hasMessageContaining("1g.10gb")
          .hasMessageContaining("3");
      assertThatThrownBy(
              () ->
                  new GpuSpec(
                      0,
                      "u",
                      GpuModels.H100_80GB,
                      GpuMode.MIG_STATIC,
                      List.of(new MigInstance("1g.10gb", 5), new MigInstance("1g.10gb", 5))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("overlaps");
    }

    @Test
    void migStaticComputeOverflow() {
      // TINY has 2 compute slices but 4 memory slices: three 1g instances fit the memory only
      assertThatThrownBy(
              () ->
                  new GpuSpec(
                      1,
                      "u",
                      TINY,
                      GpuMode.MIG_STATIC,
                      List.of(
                          new MigInstance("1g.2gb", 0),
                          new MigInstance("1g.2gb", 1),
                          new MigInstance("1g.2gb", 2))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("GPU 1")
          .hasMessageContaining("3 compute slices")
          .hasMessageContaining("Tiny-8GB has 2");
      assertThatCode(
              () ->
                  new GpuSpec(
                      1,
                      "u",
                      TINY,
                      GpuMode.MIG_STATIC,
                      List.of(new MigInstance("1g.2gb", 0), new MigInstance("1g.2gb", 3))))
          .doesNotThrowAnyException();
    }

    @Test
    void migStaticAtMostEightInstances() {
      GpuModel wide =
          new GpuModel(
              "Wide",
              8192,
              8,
              new MigGeometry(
                  8,
                  8,
                  List.of(new MigProfile("1g", 1, 1, 1, 1024, 1, 8, List.of(0, 1, 2, 3, 4, 5, 6, 7)))));
      List<MigInstance> eight = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        eight.add(new MigInstance("1g", i));
      }
      assertThatCode(() -> new GpuSpec(0, "u", wide, GpuMode.MIG_STATIC, eight))
          .doesNotThrowAnyException();
      List<MigInstance> nine = new ArrayList<>(eight);
      nine.add(new MigInstance("1g", 0));
      assertThatThrownBy(() -> new GpuSpec(0, "u", wide, GpuMode.MIG_STATIC, nine))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("at most 8")
          .hasMessageContaining("9");
    }

    @Test
    void migInstanceValidation() {
      assertThatThrownBy(() -> new MigInstance("", 0))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("MIG instance profile");
      assertThatThrownBy(() -> new MigInstance("3g.40gb", -4))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("startSlot of 3g.40gb")
          .hasMessageContaining("-4");
    }
  }

  @Nested
  class NodeSpecValidation {
    @Test
    void builderDefaultsAndUuids() {
      NodeSpec n = NodeSpec.builder("n1").gpus(2, GpuModels.A100_80GB, GpuMode.WHOLE).build();
      assertThat(n.gpus()).extracting(GpuSpec::index).containsExactly(0, 1);
      assertThat(n.gpus()).extracting(GpuSpec::uuid).containsExactly("GPU-n1-0", "GPU-n1-1");
      assertThat(n.cpuMillis()).isEqualTo(NodeSpec.UNTRACKED);
      assertThat(n.memoryMiB()).isEqualTo(NodeSpec.UNTRACKED);
      assertThat(n.tracksHostResources()).isFalse();
      assertThat(n.capacityClass()).isEqualTo(CapacityClass.ON_DEMAND);
      assertThat(n.pricePerGpuHour()).isZero();
      assertThat(NodeSpec.builder("n").hostResources(0, NodeSpec.UNTRACKED).build().tracksHostResources())
          .isTrue();
    }

    @Test
    void builderIndexesAfterExistingGpus() {
      NodeSpec n =
          NodeSpec.builder("n")
              .gpus(1, GpuModels.A100_80GB, GpuMode.WHOLE)
              .gpus(2, GpuModels.H100_80GB, GpuMode.MIG_DYNAMIC)
              .build();
      assertThat(n.gpus()).extracting(GpuSpec::index).containsExactly(0, 1, 2);
      assertThat(n.gpus().get(2).mode()).isEqualTo(GpuMode.MIG_DYNAMIC);
    }

    @Test
    void blankId() {
      assertThatThrownBy(() -> NodeSpec.builder("").build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("node id");
      assertThatThrownBy(() -> NodeSpec.builder(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void duplicateGpuIndex() {
      assertThatThrownBy(
              () ->
                  NodeSpec.builder("n7")
                      .gpu(GpuSpec.whole(3, "GPU-a", GpuModels.A100_80GB))
                      .gpu(GpuSpec.whole(3, "GPU-b", GpuModels.A100_80GB))
                      .build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("node n7")
          .hasMessageContaining("duplicate GPU index 3");
    }

    @Test
    void duplicateGpuUuid() {
      assertThatThrownBy(
              () ->
                  NodeSpec.builder("n7")
                      .gpu(GpuSpec.whole(0, "GPU-same", GpuModels.A100_80GB))
                      .gpu(GpuSpec.whole(1, "GPU-same", GpuModels.A100_80GB))
                      .build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("duplicate GPU uuid GPU-same");
    }

    @Test
    void atMostSixtyFourGpus() {
      assertThatCode(() -> NodeSpec.builder("big").gpus(64, GpuModels.B200, GpuMode.WHOLE).build())
          .doesNotThrowAnyException();
      // the builder refuses at once; the constructor refuses a list that is too long
      assertThatThrownBy(() -> NodeSpec.builder("big").gpus(65, GpuModels.B200, GpuMode.WHOLE))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("node big has 0 GPUs and cannot take 65 more")
          .hasMessageContaining("64");
      List<GpuSpec> many = new ArrayList<>();
      for (int i = 0; i < 65; i++) {
        many.add(GpuSpec.whole(i, "GPU-" + i, GpuModels.B200));
      }
      assertThatThrownBy(
              () -> new NodeSpec("big", Map.of(), many, -1, -1, 0, CapacityClass.ON_DEMAND))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("node big has 65 GPUs")
          .hasMessageContaining("64");
    }

    @Test
    void builderRejectsNegativeCountAndStaticMode() {
      assertThatThrownBy(() -> NodeSpec.builder("n").gpus(-1, GpuModels.B200, GpuMode.WHOLE))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("GPU count")
          .hasMessageContaining("-1");
      assertThatThrownBy(() -> NodeSpec.builder("n").gpus(1, GpuModels.H100_80GB, GpuMode.MIG_STATIC))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("MIG_STATIC");
      assertThatCode(() -> NodeSpec.builder("n").gpus(0, GpuModels.B200, GpuMode.WHOLE).build())
          .doesNotThrowAnyException();
    }

    @Test
    void hostLimits() {
      assertThatCode(
              () ->
                  NodeSpec.builder("n")
                      .hostResources(NodeSpec.MAX_CPU_MILLIS, NodeSpec.MAX_MEMORY_MIB)
                      .build())
          .doesNotThrowAnyException();
      assertThatCode(() -> NodeSpec.builder("n").hostResources(0, 0).build())
          .doesNotThrowAnyException();
      assertThatThrownBy(() -> NodeSpec.builder("n").hostResources(NodeSpec.MAX_CPU_MILLIS + 1, 0).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("cpuMillis of node n")
          .hasMessageContaining(String.valueOf(NodeSpec.MAX_CPU_MILLIS + 1));
      assertThatThrownBy(() -> NodeSpec.builder("n").hostResources(-2, 0).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("cpuMillis of node n")
          .hasMessageContaining("-2");
      assertThatThrownBy(() -> NodeSpec.builder("n").hostResources(0, NodeSpec.MAX_MEMORY_MIB + 1).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("memoryMiB of node n")
          .hasMessageContaining(String.valueOf(NodeSpec.MAX_MEMORY_MIB + 1));
      assertThatThrownBy(() -> NodeSpec.builder("n").hostResources(0, -9).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("memoryMiB of node n")
          .hasMessageContaining("-9");
    }

    @Test
    void price() {
      assertThatThrownBy(() -> NodeSpec.builder("n").pricePerGpuHour(-0.5).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("pricePerGpuHour of node n")
          .hasMessageContaining("-0.5");
      assertThatThrownBy(() -> NodeSpec.builder("n").pricePerGpuHour(Double.NaN).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("NaN");
      assertThatThrownBy(() -> NodeSpec.builder("n").pricePerGpuHour(Double.POSITIVE_INFINITY).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("Infinity");
      // finite but so large that costs would overflow to Infinity
      assertThatThrownBy(() -> NodeSpec.builder("n").pricePerGpuHour(Double.MAX_VALUE).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("at most 1.0E9")
          .hasMessageContaining("1.7976931348623157E308");
      assertThatThrownBy(() -> NodeSpec.builder("n").pricePerGpuHour(1e9 + 1).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("1.000000001E9");
      assertThat(NodeSpec.builder("n").pricePerGpuHour(1e9).build().pricePerGpuHour()).isEqualTo(1e9);
    }

    @Test
    void blankNamesAreQuoted() {
      assertThatThrownBy(() -> NodeSpec.builder("\t ").build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("must not be blank, was \"\\t \"");
      assertThatThrownBy(() -> NodeSpec.builder("\u2003\u3000").build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("was \"\\u2003\\u3000\"");
      assertThatThrownBy(() -> NodeSpec.builder(" ".repeat(100)).build())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("... (100 characters)");
    }

    @Test
    void collectionsAreCopied() {
      Map<String, String> labels = new HashMap<>(Map.of("zone", "a"));
      List<GpuSpec> gpus = new ArrayList<>(List.of(GpuSpec.whole(0, "u", GpuModels.B200)));
      NodeSpec n = new NodeSpec("n", labels, gpus, -1, -1, 0, CapacityClass.SPOT);
      labels.put("zone", "b");
      gpus.clear();
      assertThat(n.labels()).containsEntry("zone", "a");
      assertThat(n.gpus()).hasSize(1);
    }
  }

  @Nested
  class DemandsAndRequests {
    @Test
    void wholeCounts() {
      assertThatThrownBy(() -> new GpuDemand.Whole(0, false))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("whole GPU count")
          .hasMessageContaining("0");
      assertThatThrownBy(() -> new GpuDemand.Whole(-3, true))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("-3");
      assertThatThrownBy(() -> new GpuDemand.Whole(65, true))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("65")
          .hasMessageContaining("64");
      assertThatCode(() -> new GpuDemand.Whole(64, true)).doesNotThrowAnyException();
      assertThatCode(() -> new GpuDemand.Whole(65, false)).doesNotThrowAnyException();
      assertThatCode(() -> new GpuDemand.Whole(1000, false)).doesNotThrowAnyException();
    }

    @Test
    void migProfileName() {
      assertThatThrownBy(() -> new GpuDemand.Mig(" "))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("MIG profile");
      assertThatThrownBy(() -> new GpuDemand.Mig(null)).isInstanceOf(NullPointerException.class);
      assertThat(PlacementRequest.mig("3g.40gb").gpus()).isEqualTo(new GpuDemand.Mig("3g.40gb"));
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 1001, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void shareMilliOutOfRange(int milli) {
      assertThatThrownBy(() -> new GpuDemand.Share(milli, 10))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("milliGpu")
          .hasMessageContaining(String.valueOf(milli));
    }

    @Test
    void shareMemoryAndEmptyShare() {
      assertThatThrownBy(() -> new GpuDemand.Share(10, -1))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("share memoryMiB")
          .hasMessageContaining("-1");
      assertThatThrownBy(() -> new GpuDemand.Share(0, 0))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("milliGpu > 0 or memoryMiB > 0");
      assertThatCode(() -> new GpuDemand.Share(0, 1)).doesNotThrowAnyException();
      assertThatCode(() -> new GpuDemand.Share(1000, 0)).doesNotThrowAnyException();
      assertThatCode(() -> new GpuDemand.Share(1, Long.MAX_VALUE)).doesNotThrowAnyException();
    }

    @Test
    void requestHostAmounts() {
      assertThatThrownBy(() -> PlacementRequest.wholeGpus(1).withHost(-1, 0))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("request cpuMillis")
          .hasMessageContaining("-1");
      assertThatThrownBy(() -> PlacementRequest.wholeGpus(1).withHost(0, -8))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("request memoryMiB")
          .hasMessageContaining("-8");
      assertThatThrownBy(() -> new PlacementRequest(null, 0, 0, Constraints.NONE))
          .isInstanceOf(NullPointerException.class);
      assertThatThrownBy(() -> new PlacementRequest(new GpuDemand.Whole(1, true), 0, 0, null))
          .isInstanceOf(NullPointerException.class);
    }

    @Test
    void requestFactories() {
      PlacementRequest r =
          PlacementRequest.share(250, 1024)
              .withHost(4000, 8192)
              .withConstraints(Constraints.models("H100-80GB"));
      assertThat(r.gpus()).isEqualTo(new GpuDemand.Share(250, 1024));
      assertThat(r.cpuMillis()).isEqualTo(4000);
      assertThat(r.memoryMiB()).isEqualTo(8192);
      assertThat(r.constraints().gpuModels()).containsExactly("H100-80GB");
      assertThat(PlacementRequest.wholeGpus(3).gpus()).isEqualTo(new GpuDemand.Whole(3, false));
      assertThat(PlacementRequest.wholeGpus(3, true).gpus()).isEqualTo(new GpuDemand.Whole(3, true));
      assertThat(PlacementRequest.of(new GpuDemand.Mig("x")).constraints()).isSameAs(Constraints.NONE);
    }
  }

  @Nested
  class ConstraintMatching {
    @Test
    void noneAllowsEverything() {
      assertThat(Constraints.NONE.allowsModel("anything")).isTrue();
      assertThat(Constraints.NONE.allowsNode(Map.of(), CapacityClass.SPOT)).isTrue();
      assertThat(Constraints.NONE.allowsNode(Map.of("a", "b"), CapacityClass.ON_DEMAND)).isTrue();
      assertThat(Constraints.NONE.constrainsNodes()).isFalse();
    }

    @Test
    void models() {
      Constraints c = Constraints.models("A", "B");
      assertThat(c.allowsModel("A")).isTrue();
      assertThat(c.allowsModel("B")).isTrue();
      assertThat(c.allowsModel("a")).isFalse();
      assertThat(c.allowsModel("C")).isFalse();
      assertThat(c.constrainsNodes()).isFalse();
    }

    @Test
    void labelsMustMatchExactly() {
      Constraints c = Constraints.NONE.withLabel("zone", "a").withLabel("rack", "7");
      assertThat(c.constrainsNodes()).isTrue();
      assertThat(c.allowsNode(Map.of("zone", "a", "rack", "7", "x", "y"), CapacityClass.ON_DEMAND))
          .isTrue();
      assertThat(c.allowsNode(Map.of("zone", "a"), CapacityClass.ON_DEMAND)).isFalse();
      assertThat(c.allowsNode(Map.of("zone", "b", "rack", "7"), CapacityClass.ON_DEMAND)).isFalse();
      assertThat(c.allowsNode(Map.of(), CapacityClass.SPOT)).isFalse();
      // a later withLabel of the same key replaces the value
      assertThat(c.withLabel("zone", "b").labels()).containsEntry("zone", "b").hasSize(2);
      assertThat(c.labels()).containsEntry("zone", "a");
    }

    @Test
    void capacityClasses() {
      Constraints spot = Constraints.NONE.withCapacityClasses(CapacityClass.SPOT);
      assertThat(spot.constrainsNodes()).isTrue();
      assertThat(spot.allowsNode(Map.of(), CapacityClass.SPOT)).isTrue();
      assertThat(spot.allowsNode(Map.of(), CapacityClass.ON_DEMAND)).isFalse();
      Constraints both =
          Constraints.NONE.withCapacityClasses(CapacityClass.SPOT, CapacityClass.ON_DEMAND);
      assertThat(both.allowsNode(Map.of(), CapacityClass.ON_DEMAND)).isTrue();
      Constraints combined = spot.withLabel("zone", "a");
      assertThat(combined.allowsNode(Map.of("zone", "a"), CapacityClass.SPOT)).isTrue();
      assertThat(combined.allowsNode(Map.of("zone", "a"), CapacityClass.ON_DEMAND)).isFalse();
      assertThat(combined.allowsNode(Map.of("zone", "b"), CapacityClass.SPOT)).isFalse();
    }

    @Test
    void collectionsAreCopiedAndNullsRejected() {
      Set<String> models = new HashSet<>(Set.of("A"));
      Constraints c = new Constraints(models, Map.of(), Set.of());
      models.add("B");
      assertThat(c.allowsModel("B")).isFalse();
      assertThatThrownBy(() -> new Constraints(null, Map.of(), Set.of()))
          .isInstanceOf(NullPointerException.class);
      assertThatThrownBy(() -> new Constraints(Set.of(), null, Set.of()))
          .isInstanceOf(NullPointerException.class);
      assertThatThrownBy(() -> new Constraints(Set.of(), Map.of(), null))
          .isInstanceOf(NullPointerException.class);
    }

    @Test
    void valueEquality() {
      assertThat(Constraints.models("A").withLabel("k", "v"))
          .isEqualTo(new Constraints(Set.of("A"), Map.of("k", "v"), Set.of()));
    }
  }

  @Nested
  class Strategies {
    @Test
    void namedIsLenient() {
      assertThat(PlacementStrategy.named("first-fit")).isSameAs(PlacementStrategy.FIRST_FIT);
      assertThat(PlacementStrategy.named(" Best_Fit ")).isSameAs(PlacementStrategy.BEST_FIT);
      assertThat(PlacementStrategy.named("spread")).isSameAs(PlacementStrategy.SPREAD);
      assertThat(PlacementStrategy.named("fgd")).isSameAs(PlacementStrategy.FRAGMENTATION_AWARE);
      assertThat(PlacementStrategy.named("fragmentation-aware"))
          .isSameAs(PlacementStrategy.FRAGMENTATION_AWARE);
    }

    @Test
    void unknownNameListsKnownOnes() {
      assertThatThrownBy(() -> PlacementStrategy.named("worst-fit"))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("worst-fit")
          .hasMessageContaining("FIRST_FIT, BEST_FIT, SPREAD, FRAGMENTATION_AWARE");
    }

    @Test
    void validationAndNaN() {
      assertThatThrownBy(() -> new PlacementStrategy(" ", c -> 0, false))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("strategy name");
      assertThatThrownBy(() -> new PlacementStrategy("x", null, false))
          .isInstanceOf(NullPointerException.class);
      PlacementStrategy nan = new PlacementStrategy("nan", c -> Double.NaN, false);
      var cand = new PlacementStrategy.Candidate(GpuMode.WHOLE, 1, 0, 1, 0, 0);
      assertThatThrownBy(() -> nan.score(cand))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("nan");
    }

    @Test
    void builtInScoresOrderAsDocumented() {
      var tight = new PlacementStrategy.Candidate(GpuMode.SHARED, 0.5, 0.1, -1, -1, 0);
      var loose = new PlacementStrategy.Candidate(GpuMode.SHARED, 1, 0.9, 4, 3, 0);
      assertThat(PlacementStrategy.BEST_FIT.score(tight))
          .isLessThan(PlacementStrategy.BEST_FIT.score(loose));
      assertThat(PlacementStrategy.SPREAD.score(loose))
          .isLessThan(PlacementStrategy.SPREAD.score(tight));
      assertThat(PlacementStrategy.FIRST_FIT.score(tight))
          .isEqualTo(PlacementStrategy.FIRST_FIT.score(loose));
      assertThat(PlacementStrategy.FRAGMENTATION_AWARE.usesFragmentation()).isTrue();
      assertThat(
              PlacementStrategy.FRAGMENTATION_AWARE.score(
                  new PlacementStrategy.Candidate(GpuMode.MIG_DYNAMIC, 1, 0.9, -1, -1, 42.5)))
          .isEqualTo(42.5);
    }
  }

  @Nested
  class Summaries {
    @Test
    void percentages() {
      UsageSummary empty = new UsageSummary(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
      assertThat(empty.allocatedPercent()).isZero();
      assertThat(empty.fragmentationPercent()).isZero();
      UsageSummary half = new UsageSummary(2, 1, 1, 0, 0, 0, 0, 2000, 1000, 250);
      assertThat(half.allocatedPercent()).isEqualTo(50.0);
      assertThat(half.fragmentationPercent()).isEqualTo(25.0);
      UsageSummary full = new UsageSummary(2, 0, 2, 0, 0, 0, 0, 2000, 2000, 0);
      assertThat(full.allocatedPercent()).isEqualTo(100.0);
      assertThat(full.fragmentationPercent()).isZero();
      UsageSummary over = new UsageSummary(1, 0, 1, 0, 0, 0, 0, 1000, 500, 900);
      assertThat(over.fragmentationPercent()).isEqualTo(100.0);
    }

    @Test
    void nodeRemovalCopiesItsList() {
      List<Allocation> lost = new ArrayList<>();
      NodeRemoval r = new NodeRemoval("n", lost);
      assertThatThrownBy(() -> r.lost().add(null)).isInstanceOf(UnsupportedOperationException.class);
    }
  }

  @Nested
  class Catalog {
    @Test
    void byNameIgnoresCaseDashesAndUnderscores() {
      assertThat(GpuModels.byName("H100-80GB")).containsSame(GpuModels.H100_80GB);
      assertThat(GpuModels.byName("h100_80gb")).containsSame(GpuModels.H100_80GB);
      assertThat(GpuModels.byName("h10080GB")).containsSame(GpuModels.H100_80GB);
      assertThat(GpuModels.byName("a30-24gb")).containsSame(GpuModels.A30_24GB);
      assertThat(GpuModels.byName("b200")).containsSame(GpuModels.B200);
      assertThat(GpuModels.byName("H100-80")).isEmpty();
      assertThat(GpuModels.byName("")).isEmpty();
      assertThat(GpuModels.byName("L40S")).isEmpty();
    }

    @Test
    void everyModelIsFoundByItsOwnName() {
      for (GpuModel m : GpuModels.all()) {
        assertThat(GpuModels.byName(m.name())).containsSame(m);
        assertThat(GpuModels.byName(m.name().toLowerCase(java.util.Locale.ROOT))).containsSame(m);
      }
    }

    @Test
    void allIsFixedUniqueAndImmutable() {
      assertThat(GpuModels.all())
          .extracting(GpuModel::name)
          .containsExactly(
              "A100-40GB", "A100-80GB", "A30-24GB", "H100-80GB", "H100-94GB", "H200-141GB", "B200")
          .doesNotHaveDuplicates();
      assertThatThrownBy(() -> GpuModels.all().add(GpuModels.B200))
          .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void everyCatalogGeometryIsSelfConsistent() {
      for (GpuModel m : GpuModels.all()) {
        MigGeometry g = m.mig();
        assertThat(g).as(m.name()).isNotNull();
        Set<Integer> ids = new HashSet<>();
        for (MigProfile p : g.profiles()) {
          assertThat(ids.add(p.profileId())).as(m.name() + " id " + p.profileId()).isTrue();
          assertThat(p.memoryMiB()).as(m.name() + " " + p.name()).isLessThanOrEqualTo(m.memoryMiB());
          assertThat(p.smCount()).as(m.name() + " " + p.name()).isLessThanOrEqualTo(m.smCount());
          // the instance limit is reachable: that many disjoint placements exist
          int used = 0;
          int disjoint = 0;
          for (int s : p.placementStarts()) {
            int mask = ((1 << p.memorySlices()) - 1) << s;
            if ((used & mask) == 0) {
              used |= mask;
              disjoint++;
            }
          }
          assertThat(p.maxInstances()).as(m.name() + " " + p.name()).isLessThanOrEqualTo(disjoint);
        }
        // the full-GPU profile takes every memory slice and every compute slice
        MigProfile full =
            g.profiles().stream().max(java.util.Comparator.comparingInt(MigProfile::memorySlices)).orElseThrow();
        assertThat(full.memorySlices()).as(m.name()).isEqualTo(g.memorySlices());
        assertThat(full.computeSlices()).as(m.name()).isEqualTo(g.computeSlices());
      }
    }
  }
}
