package io.gpusched.core;

import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.function.Supplier;
import java.util.logging.Logger;
import javax.sql.DataSource;

/**
 * The smallest connection pool a replica process needs (an application would use its own, such as
 * HikariCP): idle connections are kept and handed out again; a connection whose use threw an
 * {@link SQLException} is closed instead of kept (so after a server restart the pool refills with
 * fresh connections); a returned connection is rolled back and set to auto-commit. Thread-safe.
 */
final class TestPool implements DataSource {
  private final Supplier<Connection> connect;
  private final ConcurrentLinkedDeque<Connection> idle = new ConcurrentLinkedDeque<>();
  private final String name;

  interface Connector {
    Connection connect() throws SQLException;
  }

  TestPool(String name, Connector connector) {
    this.name = name;
    this.connect =
        () -> {
          try {
            return connector.connect();
          } catch (SQLException e) {
            throw new PoolException(e);
          }
        };
  }

  /** Carries a connect failure out of the supplier. */
  private static final class PoolException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    PoolException(SQLException e) {
      super(e);
    }
  }

  @Override
  public String toString() {
    return name;
  }

  @Override
  public Connection getConnection() throws SQLException {
    Connection c = idle.pollFirst();
    if (c == null) {
      try {
        c = connect.get();
      } catch (PoolException e) {
        throw (SQLException) e.getCause();
      }
    }
    Connection real = c;
    boolean[] broken = {false};
    boolean[] closed = {false};
    return (Connection)
        Proxy.newProxyInstance(
            TestPool.class.getClassLoader(),
            new Class<?>[] {Connection.class},
            (p, m, args) -> {
              if (m.getName().equals("close")) {
                if (!closed[0]) {
                  closed[0] = true;
                  giveBack(real, broken[0]);
                }
                return null;
              }
              if (m.getName().equals("isClosed") && closed[0]) {
                return true;
              }
              try {
                return m.invoke(real, args);
              } catch (InvocationTargetException e) {
                if (e.getCause() instanceof SQLException) {
                  broken[0] = true;
                }
                throw e.getCause();
              }
            });
  }

  private void giveBack(Connection c, boolean broken) {
    try {
      if (!broken && !c.isClosed()) {
        if (!c.getAutoCommit()) {
          c.rollback();
          c.setAutoCommit(true);
        }
        idle.addFirst(c);
        return;
      }
    } catch (SQLException e) {
      // drop it
    }
    try {
      c.close();
    } catch (SQLException e) {
      // already gone
    }
  }

  @Override
  public Connection getConnection(String user, String password) throws SQLException {
    throw new SQLFeatureNotSupportedException("a pool of one user");
  }

  @Override
  public PrintWriter getLogWriter() {
    return null;
  }

  @Override
  public void setLogWriter(PrintWriter out) {}

  @Override
  public void setLoginTimeout(int seconds) {}

  @Override
  public int getLoginTimeout() {
    return 0;
  }

  @Override
  public Logger getParentLogger() throws SQLFeatureNotSupportedException {
    throw new SQLFeatureNotSupportedException("no parent logger");
  }

  @Override
  public <T> T unwrap(Class<T> type) throws SQLException {
    throw new SQLException("not a wrapper");
  }

  @Override
  public boolean isWrapperFor(Class<?> type) {
    return false;
  }
}
