package io.gpusched.nvml;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The little JSON the launcher writes and reads: string quoting, and arrays of strings. */
final class Json {
  private Json() {}

  /** Returns {@code s} as a JSON string literal, or {@code null} for null. */
  static String quote(@Nullable String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  /** Returns the strings as a JSON array. */
  static String stringArray(List<String> values) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) {
        b.append(',');
      }
      b.append(quote(values.get(i)));
    }
    return b.append(']').toString();
  }

  /**
   * Parses a JSON array of strings.
   *
   * @throws IllegalArgumentException naming the text when it is not one
   */
  static List<String> parseStringArray(String text, String what) {
    Parser p = new Parser(text, what);
    List<String> out = new ArrayList<>();
    p.skipSpace();
    p.expect('[');
    p.skipSpace();
    if (p.peek() == ']') {
      p.pos++;
    } else {
      while (true) {
        p.skipSpace();
        out.add(p.string());
        p.skipSpace();
        char c = p.next();
        if (c == ']') {
          break;
        }
        if (c != ',') {
          throw p.error("expected ',' or ']'");
        }
      }
    }
    p.skipSpace();
    if (p.pos != text.length()) {
      throw p.error("text after the array");
    }
    return out;
  }

  private static final class Parser {
    final String text;
    final String what;
    int pos;

    Parser(String text, String what) {
      this.text = text;
      this.what = what;
    }

    IllegalArgumentException error(String why) {
      return new IllegalArgumentException(
          what + " must be a JSON array of strings, " + why + " at " + pos + " in " + quote(text));
    }

    char peek() {
      if (pos >= text.length()) {
        throw error("unexpected end");
      }
      return text.charAt(pos);
    }

    char next() {
      char c = peek();
      pos++;
      return c;
    }

    void expect(char c) {
      if (next() != c) {
        pos--;
        throw error("expected '" + c + "'");
      }
    }

    void skipSpace() {
      while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
        pos++;
      }
    }

    String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (true) {
        char c = next();
        if (c == '"') {
          return b.toString();
        }
        if (c != '\\') {
          b.append(c);
          continue;
        }
        char e = next();
        switch (e) {
          case '"', '\\', '/' -> b.append(e);
          case 'n' -> b.append('\n');
          case 'r' -> b.append('\r');
          case 't' -> b.append('\t');
          case 'b' -> b.append('\b');
          case 'f' -> b.append('\f');
          case 'u' -> {
            if (pos + 4 > text.length()) {
              throw error("short \\u escape");
            }
            try {
              b.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
            } catch (NumberFormatException ex) {
              throw error("bad \\u escape");
            }
            pos += 4;
          }
          default -> throw error("bad escape \\" + e);
        }
      }
    }
  }
}
