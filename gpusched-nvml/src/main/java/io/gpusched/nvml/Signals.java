package io.gpusched.nvml;

import java.util.Locale;
import java.util.Map;

/** Linux signal numbers and names, for exit statuses and the checkpoint request. */
final class Signals {
  private Signals() {}

  private static final String[] NAMES = {
    null, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
    "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"
  };

  private static final Map<String, Integer> NUMBERS = numbers();

  private static Map<String, Integer> numbers() {
    Map<String, Integer> m = new java.util.HashMap<>();
    for (int i = 1; i < NAMES.length; i++) {
      m.put(NAMES[i], i);
    }
    return Map.copyOf(m);
  }

  /** Returns the name of signal {@code n}, e.g. {@code SIGKILL}, or {@code signal n}. */
  static String name(int n) {
    return n > 0 && n < NAMES.length ? NAMES[n] : "signal " + n;
  }

  /**
   * Returns the canonical name of a signal given as {@code USR1}, {@code SIGUSR1} or {@code 10}.
   *
   * @throws IllegalArgumentException naming the value if it is no signal
   */
  static String canonical(String signal) {
    String s = signal.trim().toUpperCase(Locale.ROOT);
    try {
      int n = Integer.parseInt(s);
      if (n > 0 && n < NAMES.length) {
        return NAMES[n];
      }
    } catch (NumberFormatException e) {
      String withPrefix = s.startsWith("SIG") ? s : "SIG" + s;
      if (NUMBERS.containsKey(withPrefix)) {
        return withPrefix;
      }
    }
    throw new IllegalArgumentException("unknown signal " + Json.quote(signal));
  }
}
