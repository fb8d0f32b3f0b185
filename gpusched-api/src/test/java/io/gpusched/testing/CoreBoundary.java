package io.gpusched.testing;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.CompositeArchRule;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The ArchUnit rules that hold gpusched-core's boundary from the outside, for the modules that use
 * it on the class path (the Spring Boot starter, the benchmarks), where the module system does not
 * enforce it: their main classes use only the types that {@code io.gpusched.core} exports (public,
 * in an exported package: {@link ModulePath#apiTypes}), and none of them sits in a core package,
 * where it could use package-private internals.
 */
public final class CoreBoundary {
  private static final String CORE_PACKAGES = "io.gpusched.core..";

  private CoreBoundary() {}

  /**
   * Checks the main classes at {@code outside} (classes directories or jars) against the core
   * module at {@code core}.
   *
   * @throws AssertionError naming each offending class and dependency
   */
  public static void check(Path core, List<Path> outside)
      throws IOException, ClassNotFoundException {
    Set<String> api = ModulePath.apiTypes(core);
    if (api.isEmpty()) {
      throw new AssertionError("no exported API types found in " + core);
    }
    JavaClasses classes = new ClassFileImporter().importPaths(outside);
    if (classes.isEmpty()) {
      throw new AssertionError("no classes imported from " + outside);
    }
    DescribedPredicate<JavaClass> internal =
        DescribedPredicate.describe(
            "are core internals (in " + CORE_PACKAGES + " but not exported API " + api + ")",
            c -> resideInAPackage(CORE_PACKAGES).test(c) && !api.contains(c.getName()));

    CompositeArchRule.of(
            noClasses()
                .should()
                .resideInAPackage(CORE_PACKAGES)
                .because("a class in a core package could use the core's package-private internals"))
        .and(
            noClasses()
                .should()
                .dependOnClassesThat(internal)
                .because("outside gpusched-core only the exported API is used"))
        .check(classes);
  }
}
