package io.gpusched.core;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.UserPrincipal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;

/**
 * A real PostgreSQL server for tests, from the machine's own binaries (Debian's {@code postgresql}
 * package, which {@code .ci/run} installs): {@code initdb} into a temporary folder, then {@code
 * pg_ctl start} on a free loopback port. Nothing is mocked. When the binaries are missing, {@link
 * #startOrSkip()} skips the calling test and says why, unless the environment variable {@code
 * GPUSCHED_REQUIRE_POSTGRES} is {@code true} (set by {@code .ci/run} once it installed PostgreSQL):
 * then a missing server fails the test instead of hiding it.
 *
 * <p>PostgreSQL refuses to run as root; under root the server runs as the {@code postgres} user
 * (created by the Debian package) through {@code runuser}. The server runs with {@code fsync=off}:
 * these tests kill and restart schedulers, not the machine. Thread-safe; one server may serve many
 * tests, each in its own database ({@link #newDatabase()}).
 */
final class PostgresServer implements AutoCloseable {
  private static final AtomicInteger DATABASES = new AtomicInteger();

  private final Path bin;
  private final Path dir;
  private final int port;
  private final boolean asPostgresUser;
  private volatile boolean running;

  private PostgresServer(Path bin, Path dir, int port, boolean asPostgresUser) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
    this.asPostgresUser = asPostgresUser;
  }

  /** Why no server can be started here, or null if one can. */
  static @Nullable String unavailable() {
    Path b = binaries();
    if (b == null) {
      return "no PostgreSQL binaries (initdb, pg_ctl) found in /usr/lib/postgresql/*/bin, "
          + "$GPUSCHED_PG_BIN or PATH; install Debian's postgresql package";
    }
    if (isRoot() && !Files.isExecutable(Paths.get("/usr/sbin/runuser"))
        && !Files.isExecutable(Paths.get("/sbin/runuser"))) {
      return "running as root and no runuser to start PostgreSQL as another user";
    }
    return null;
  }

  /** Starts a server, or skips the calling test (see the class comment). */
  static PostgresServer startOrSkip() {
    String why = unavailable();
    if (why != null) {
      if (Boolean.parseBoolean(System.getenv("GPUSCHED_REQUIRE_POSTGRES"))) {
        throw new IllegalStateException("PostgreSQL is required here but " + why);
      }
      Assumptions.abort("PostgreSQL test skipped: " + why);
    }
    try {
      return start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static PostgresServer start() throws IOException {
    Path bin = binaries();
    if (bin == null) {
      throw new IllegalStateException(unavailable());
    }
    boolean root = isRoot();
    Path dir = Files.createTempDirectory("gpusched-pg-");
    if (root) {
      UserPrincipal pg =
          dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("postgres");
      Files.setOwner(dir, pg);
    }
    int port = freePort();
    PostgresServer s = new PostgresServer(bin, dir, port, root);
    Path data = dir.resolve("data");
    s.run(60, "initdb", "-D", data.toString(), "-U", "gpusched", "-A", "trust", "-E", "UTF8",
        "--no-sync", "--locale=C");
    s.startServer();
    return s;
  }

  /** Starts (or restarts) the server on its port; waits until it accepts connections. */
  void startServer() throws IOException {
    run(60, "pg_ctl", "-D", dir.resolve("data").toString(), "-w", "-t", "60",
        "-l", dir.resolve("server.log").toString(), "-o",
        "-p " + port + " -c listen_addresses=127.0.0.1 -k " + dir + " -c fsync=off"
            + " -c max_connections=200",
        "start");
    running = true;
  }

  /** Stops the server (fast shutdown: open sessions are ended), keeping its data. */
  void stopServer() throws IOException {
    if (running) {
      running = false;
      run(60, "pg_ctl", "-D", dir.resolve("data").toString(), "-w", "-m", "fast", "stop");
    }
  }

  int port() {
    return port;
  }

  /** The JDBC URL of a database on this server. */
  String url(String database) {
    return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
  }

  /** Creates a fresh, empty database and returns its name. */
  String newDatabase() {
    String name = "gpusched_test_" + DATABASES.incrementAndGet();
    try (Connection c = DriverManager.getConnection(url("postgres"), "gpusched", "");
        Statement st = c.createStatement()) {
      st.execute("CREATE DATABASE " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create database " + name, e);
    }
    return name;
  }

  /**
   * Backs a database up with {@code pg_dump} (custom format, one consistent snapshot, taken while
   * clients may be connected) and restores the dump with {@code pg_restore} into a new database,
   * as an operator would (docs/durability.md, "Backup and restore"); returns the new database's
   * name.
   */
  String dumpAndRestore(String database) throws IOException {
    String copy = newDatabase();
    Path dump = dir.resolve(database + "-" + copy + ".dump");
    String p = Integer.toString(port);
    run(120, "pg_dump", "-h", "127.0.0.1", "-p", p, "-U", "gpusched", "-Fc", "-f", dump.toString(), database);
    run(120, "pg_restore", "-h", "127.0.0.1", "-p", p, "-U", "gpusched", "-d", copy, "--exit-on-error",
        dump.toString());
    Files.deleteIfExists(dump);
    return copy;
  }

  /** A data source on a database of this server (no pooling: each getConnection connects). */
  DataSource dataSource(String database) {
    return new Plain(url(database));
  }

  /** The simplest data source: a new driver connection per call, as user gpusched. */
  private static final class Plain implements DataSource {
    private final String url;
    private int loginTimeout;

    Plain(String url) {
      this.url = url;
    }

    @Override
    public Connection getConnection() throws SQLException {
      java.util.Properties p = new java.util.Properties();
      p.setProperty("user", "gpusched");
      p.setProperty("connectTimeout", "5");
      return DriverManager.getConnection(url, p);
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return DriverManager.getConnection(url, user, password);
    }

    @Override
    public java.io.PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(java.io.PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {
      loginTimeout = seconds;
    }

    @Override
    public int getLoginTimeout() {
      return loginTimeout;
    }

    @Override
    public java.util.logging.Logger getParentLogger() throws java.sql.SQLFeatureNotSupportedException {
      throw new java.sql.SQLFeatureNotSupportedException("no parent logger");
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      if (type.isInstance(this)) {
        return type.cast(this);
      }
      throw new SQLException("not a wrapper for " + type);
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
      return type.isInstance(this);
    }
  }

  /** The server's log, for failure messages. */
  String log() {
    try {
      return Files.readString(dir.resolve("server.log"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no server log: " + e + ")";
    }
  }

  /** Stops the server and deletes its folder. */
  @Override
  public void close() throws IOException {
    try {
      if (running) {
        running = false;
        run(60, "pg_ctl", "-D", dir.resolve("data").toString(), "-w", "-m", "immediate", "stop");
      }
    } finally {
      try (Stream<Path> all = Files.walk(dir)) {
        for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private void run(int timeoutSeconds, String tool, String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    if (asPostgresUser) {
      cmd.addAll(List.of("runuser", "-u", "postgres", "--"));
    }
    cmd.add(bin.resolve(tool).toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("LC_ALL", "C");
    Process p = pb.start();
    String out;
    try {
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(tool + " did not finish in " + timeoutSeconds + " s");
      }
      out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IOException("interrupted while running " + tool, e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(tool + " exited with " + p.exitValue() + ": " + out
          + (tool.equals("pg_ctl") ? "\nserver log:\n" + log() : ""));
    }
  }

  private static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  private static @Nullable Path binaries() {
    String env = System.getenv("GPUSCHED_PG_BIN");
    if (env != null && Files.isExecutable(Paths.get(env, "initdb"))) {
      return Paths.get(env);
    }
    Path lib = Paths.get("/usr/lib/postgresql");
    if (Files.isDirectory(lib)) {
      try (Stream<Path> versions = Files.list(lib)) {
        Path best =
            versions
                .filter(v -> Files.isExecutable(v.resolve("bin/initdb")))
                .max(Comparator.comparingInt(PostgresServer::version))
                .orElse(null);
        if (best != null) {
          return best.resolve("bin");
        }
      } catch (IOException e) {
        // fall through to PATH
      }
    }
    String path = System.getenv("PATH");
    if (path != null) {
      for (String d : path.split(":")) {
        if (!d.isEmpty() && Files.isExecutable(Paths.get(d, "initdb"))
            && Files.isExecutable(Paths.get(d, "pg_ctl"))) {
          return Paths.get(d);
        }
      }
    }
    return null;
  }

  private static int version(Path dir) {
    try {
      return Integer.parseInt(dir.getFileName().toString());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
