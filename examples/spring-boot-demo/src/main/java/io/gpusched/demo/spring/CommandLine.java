package io.gpusched.demo.spring;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits a command line into arguments the way a POSIX shell quotes them, and does nothing else:
 * {@code sh -c 'echo hello; sleep 2'} gives {@code [sh, -c, echo hello; sleep 2]}. No variable,
 * glob or command expansion, no pipes or redirections: the result is an argv, run without a shell
 * (ask for one explicitly, as above, to get those).
 */
final class CommandLine {
  private CommandLine() {}

  /**
   * Splits {@code line}: whitespace separates arguments; {@code '...'} is literal; {@code "..."}
   * is literal but for {@code \"} and {@code \\}; outside quotes a backslash escapes the next
   * character.
   *
   * @throws IllegalArgumentException on an unclosed quote or a trailing backslash, or when there
   *     is no argument at all
   */
  static List<String> split(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder arg = new StringBuilder();
    boolean inArg = false;
    int i = 0;
    while (i < line.length()) {
      char c = line.charAt(i);
      if (Character.isWhitespace(c)) {
        if (inArg) {
          out.add(arg.toString());
          arg.setLength(0);
          inArg = false;
        }
        i++;
      } else if (c == '\'') {
        int end = line.indexOf('\'', i + 1);
        if (end < 0) {
          throw new IllegalArgumentException("unclosed ' at position " + i);
        }
        arg.append(line, i + 1, end);
        inArg = true;
        i = end + 1;
      } else if (c == '"') {
        i++;
        boolean closed = false;
        while (i < line.length()) {
          char d = line.charAt(i);
          if (d == '"') {
            closed = true;
            i++;
            break;
          }
          if (d == '\\' && i + 1 < line.length() && (line.charAt(i + 1) == '"' || line.charAt(i + 1) == '\\')) {
            d = line.charAt(++i);
          }
          arg.append(d);
          i++;
        }
        if (!closed) {
          throw new IllegalArgumentException("unclosed \" in " + line);
        }
        inArg = true;
      } else if (c == '\\') {
        if (i + 1 >= line.length()) {
          throw new IllegalArgumentException("trailing backslash");
        }
        arg.append(line.charAt(i + 1));
        inArg = true;
        i += 2;
      } else {
        arg.append(c);
        inArg = true;
        i++;
      }
    }
    if (inArg) {
      out.add(arg.toString());
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("no command");
    }
    return out;
  }

  /** Joins arguments into one line that {@link #split} reads back, quoting where needed. */
  static String join(List<String> args) {
    StringBuilder b = new StringBuilder();
    for (String a : args) {
      if (b.length() > 0) {
        b.append(' ');
      }
      if (!a.isEmpty() && a.matches("[A-Za-z0-9_./:=,+@%-]+")) {
        b.append(a);
      } else {
        b.append('\'').append(a.replace("'", "'\\''")).append('\'');
      }
    }
    return b.toString();
  }
}
