package io.gpusched.bench;

import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The command lines of the benchmark mains: options that each take one value. */
public final class Args {
  private Args() {}

  /**
   * The {@code --option value} pairs of a command line, in order.
   *
   * @param args the command line
   * @return each option with its value
   * @throws IllegalArgumentException if the last option has no value
   */
  public static List<Map.Entry<String, String>> pairs(String[] args) {
    List<Map.Entry<String, String>> out = new ArrayList<>();
    for (int i = 0; i < args.length; i += 2) {
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("option " + args[i] + " needs a value");
      }
      out.add(new SimpleImmutableEntry<>(args[i], args[i + 1]));
    }
    return out;
  }
}
