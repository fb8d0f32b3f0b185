package io.gpusched.core;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import io.gpusched.JobLauncher;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Layering of the API and the core, checked on the compiled main classes. */
class ArchitectureTest {
  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            // test classes of other modules come as test-jars when Maven resolves the reactor
            // from packaged artifacts (verify), which DO_NOT_INCLUDE_TESTS does not recognize
            .withImportOption(location -> !location.contains("-tests.jar"))
            .importPackages("io.gpusched");
  }

  @Test
  void apiDependsOnlyOnTheJdkAndJSpecify() {
    classes()
        .that()
        .resideInAnyPackage("io.gpusched", "io.gpusched.store")
        .should()
        .onlyDependOnClassesThat()
        .resideInAnyPackage("io.gpusched", "io.gpusched.store", "java..", "org.jspecify..")
        .check(classes);
  }

  @Test
  void coreUsesNoJnaAndNoSpring() {
    noClasses()
        .that()
        .resideInAPackage("io.gpusched.core..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("com.sun.jna..", "org.springframework..")
        .check(classes);
  }

  @Test
  void apiDoesNotDependOnTheCore() {
    noClasses()
        .that()
        .resideInAnyPackage("io.gpusched", "io.gpusched.store")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.gpusched.core..")
        .check(classes);
  }

  @Test
  void onlyTheEntryPointsTheirBuildersAndTheNotifierArePublicInTheCore() {
    classes()
        .that()
        .resideInAPackage("io.gpusched.core..")
        .and()
        .haveModifier(JavaModifier.PUBLIC)
        .should()
        .haveFullyQualifiedName("io.gpusched.core.GpuClusters")
        .orShould()
        .haveFullyQualifiedName("io.gpusched.core.GpuClusters$Builder")
        .orShould()
        .haveFullyQualifiedName("io.gpusched.core.GpuSchedulers")
        .orShould()
        .haveFullyQualifiedName("io.gpusched.core.GpuSchedulers$Builder")
        .orShould()
        .haveFullyQualifiedName("io.gpusched.core.SchedulerStores")
        .orShould()
        .haveFullyQualifiedName("io.gpusched.core.SchedulerReplicas")
        .orShould()
        .haveFullyQualifiedName("io.gpusched.core.SchedulerReplicas$Builder")
        .orShould()
        .haveNameMatching("io\\.gpusched\\.core\\.JobNotifier(\\$(Builder|Format|Kind|Notification|Transport))?")
        .check(classes);
  }

  /** Whether a class of the core belongs to the engine: it, or the class it is nested in, is marked. */
  private static boolean inEngine(JavaClass c) {
    JavaClass top = c;
    while (top.getEnclosingClass().isPresent()) {
      top = top.getEnclosingClass().get();
    }
    return top.isAnnotatedWith(EnginePart.class) || top.isEquivalentTo(EnginePart.class);
  }

  private static final DescribedPredicate<JavaClass> ENGINE =
      DescribedPredicate.describe("in the engine (marked @EnginePart)", ArchitectureTest::inEngine);

  private static final DescribedPredicate<JavaClass> SCHEDULER =
      DescribedPredicate.describe(
          "in the scheduler half of io.gpusched.core (not the engine, not GpuClusters)",
          c -> {
            if (!c.getPackageName().equals("io.gpusched.core") || inEngine(c)) {
              return false;
            }
            JavaClass top = c;
            while (top.getEnclosingClass().isPresent()) {
              top = top.getEnclosingClass().get();
            }
            return !top.isEquivalentTo(GpuClusters.class);
          });

  /**
   * The scheduler half of the core (every class without {@link EnginePart}) reaches the engine
   * only through the API's {@code GpuCluster} and the entry point {@link GpuClusters}.
   */
  @Test
  void theSchedulerUsesTheEngineOnlyThroughGpuCluster() {
    noClasses().that(SCHEDULER).should().dependOnClassesThat(ENGINE).check(classes);
  }

  /** The engine never reaches the scheduler half (so the halves have no cycle). */
  @Test
  void theEngineDoesNotDependOnTheScheduler() {
    classes()
        .that(ENGINE)
        .should()
        .onlyDependOnClassesThat(
            DescribedPredicate.describe(
                "in the engine, the API, the JDK, JSpecify or SLF4J",
                (JavaClass c) ->
                    inEngine(c)
                        || c.getPackageName().equals("io.gpusched")
                        || c.getPackageName().startsWith("java.")
                        || c.getPackageName().startsWith("org.jspecify")
                        || c.getPackageName().startsWith("org.slf4j")
                        || (c.isArray() && inEngineOrJdk(c.getBaseComponentType()))))
        .check(classes);
  }

  private static boolean inEngineOrJdk(JavaClass c) {
    return c.isPrimitive()
        || inEngine(c)
        || c.getPackageName().equals("io.gpusched")
        || c.getPackageName().startsWith("java.");
  }

  /** Both halves have members: the two rules above are not vacuous. */
  @Test
  void bothHalvesExist() {
    assertThat(classes.stream().filter(ENGINE).count()).isGreaterThan(20);
    assertThat(classes.stream().filter(SCHEDULER).count()).isGreaterThan(10);
  }

  /**
   * The transition seam: a job is booked in and out of the ledger, retired, and its host told to
   * start or stop only by {@link JobTransitions} (its state word is private to it already).
   */
  @Test
  void onlyTheTransitionSeamBooksJobsAndTellsTheHost() {
    Set<String> ledger = Set.of("account", "unaccount");
    Set<String> launcher = Set.of("start", "stop");
    DescribedPredicate<JavaMethodCall> seamOnly =
        DescribedPredicate.describe(
            "Ledger.account/unaccount, JobBook.retire or JobLauncher.start/stop",
            call -> {
              String owner = call.getTargetOwner().getName();
              String name = call.getName();
              return (owner.equals(Ledger.class.getName()) && ledger.contains(name))
                  || (owner.equals(JobBook.class.getName()) && name.equals("retire"))
                  || (owner.equals(JobLauncher.class.getName()) && launcher.contains(name));
            });
    noClasses()
        .that()
        .doNotHaveFullyQualifiedName(JobTransitions.class.getName())
        .should()
        .callMethodWhere(seamOnly)
        .check(classes);
  }
}
