package io.gpusched.core;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import io.gpusched.JobLauncher;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Layering of the API and the core, checked on the compiled main classes. */
class ArchitectureTest {
  private static JavaClasses classes;

  @BeforeAll
  static void importClasses() {
    classes =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.gpusched");
  }

  @Test
  void apiDependsOnlyOnTheJdkAndJSpecify() {
    classes()
        .that()
        .resideInAPackage("io.gpusched")
        .should()
        .onlyDependOnClassesThat()
        .resideInAnyPackage("io.gpusched", "java..", "org.jspecify..")
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
        .resideInAPackage("io.gpusched")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.gpusched.core..")
        .check(classes);
  }

  @Test
  void onlyTheTwoEntryPointsAndTheirBuildersArePublicInTheCore() {
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
        .check(classes);
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
