package io.gpusched.nvml;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * One attempt's log: {@code file} holds the newest bytes, up to {@code capBytes}; when a write would
 * pass the cap it becomes {@code file.1} (the older ones shift to {@code .2} and so on, {@code
 * rotations} kept) and a new {@code file} starts. So at most {@code capBytes × (rotations + 1)}
 * bytes are on disk. Written by one pump thread; {@link #tail} may run on any thread.
 */
final class ProcessLog {
  private final Path file;
  private final long capBytes;
  private final int rotations;
  private OutputStream out;
  private long size;
  private boolean closed;

  /** Starts a new log at {@code file}, removing what a file of that name left. */
  ProcessLog(Path file, long capBytes, int rotations) throws IOException {
    this(file, capBytes, rotations, false);
  }

  private ProcessLog(Path file, long capBytes, int rotations, boolean append) throws IOException {
    this.file = file;
    this.capBytes = capBytes;
    this.rotations = rotations;
    if (append) {
      this.out = Files.newOutputStream(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
      this.size = Files.size(file);
      return;
    }
    Files.createDirectories(file.getParent());
    for (int i = 1; i <= rotations; i++) {
      Files.deleteIfExists(rotated(file, i));
    }
    this.out =
        Files.newOutputStream(
            file,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE);
  }

  /**
   * Re-opens an existing log to add to it (a process re-attached after a restart): writes go on
   * at its end, counted against the cap from its present size, and rotate as usual.
   *
   * @throws IOException if {@code file} does not exist or cannot be opened
   */
  static ProcessLog reopen(Path file, long capBytes, int rotations) throws IOException {
    return new ProcessLog(file, capBytes, rotations, true);
  }

  static Path rotated(Path file, int i) {
    return file.resolveSibling(file.getFileName() + "." + i);
  }

  /** Writes one line of the launcher's own (start failures, stop requests). */
  synchronized void note(String line) {
    byte[] bytes = ("[gpusched] " + line + "\n").getBytes(StandardCharsets.UTF_8);
    try {
      if (closed) { // after the output ended: appended, past the cap if need be
        Files.write(file, bytes, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return;
      }
      write(bytes);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Copies {@code in} into the log until it ends, then closes the log. */
  void pump(InputStream in) throws IOException {
    byte[] buf = new byte[8192];
    try (in) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        synchronized (this) {
          writeChunk(buf, 0, n);
          out.flush();
        }
      }
    } finally {
      close();
    }
  }

  private void write(byte[] b) throws IOException {
    writeChunk(b, 0, b.length);
  }

  private void writeChunk(byte[] b, int off, int len) throws IOException {
    while (len > 0) {
      if (size >= capBytes) {
        rotate();
      }
      int n = (int) Math.min(len, capBytes - size);
      out.write(b, off, n);
      size += n;
      off += n;
      len -= n;
    }
  }

  private void rotate() throws IOException {
    out.close();
    if (rotations == 0) {
      Files.deleteIfExists(file);
    } else {
      Files.deleteIfExists(rotated(file, rotations));
      for (int i = rotations - 1; i >= 1; i--) {
        Path from = rotated(file, i);
        if (Files.exists(from)) {
          Files.move(from, rotated(file, i + 1), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      Files.move(file, rotated(file, 1), StandardCopyOption.REPLACE_EXISTING);
    }
    out = Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    size = 0;
  }

  synchronized void close() throws IOException {
    closed = true;
    out.close();
  }

  /**
   * Returns the last {@code lines} lines of the log at {@code file}, reading into the rotated files
   * when the newest is shorter. Empty when there is no log.
   */
  static List<String> tail(Path file, int lines) throws IOException {
    if (lines < 0) {
      throw new IllegalArgumentException("lines must be >= 0, was " + lines);
    }
    StringBuilder text = new StringBuilder();
    for (int i = 0; i <= 64; i++) { // newest file first, until it holds enough lines
      Path f = i == 0 ? file : rotated(file, i);
      if (!Files.exists(f)) {
        break;
      }
      text.insert(0, new String(readEnd(f, 256 * 1024), StandardCharsets.UTF_8));
      if (text.chars().filter(c -> c == '\n').count() > lines) {
        break;
      }
    }
    if (text.length() == 0 || lines == 0) {
      return List.of();
    }
    if (text.charAt(text.length() - 1) == '\n') {
      text.setLength(text.length() - 1);
    }
    String[] all = text.toString().split("\n", -1);
    return new ArrayList<>(List.of(all).subList(Math.max(0, all.length - lines), all.length));
  }

  private static byte[] readEnd(Path f, int max) throws IOException {
    try (var ch = Files.newByteChannel(f, StandardOpenOption.READ)) {
      long size = ch.size();
      int n = (int) Math.min(size, max);
      ch.position(size - n);
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(n);
      while (buf.hasRemaining() && ch.read(buf) >= 0) {
        // fill
      }
      return buf.array();
    }
  }
}
