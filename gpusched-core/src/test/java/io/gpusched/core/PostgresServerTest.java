package io.gpusched.core;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The PostgreSQL the JDBC store is tested on is a real server ({@link PostgresServer}): it starts,
 * keeps committed rows across its own restart, and is version 15 or later.
 */
class PostgresServerTest {

  @Test
  void aRealServerStartsKeepsCommittedRowsAcrossARestartAndIsVersion15OrLater() throws Exception {
    try (PostgresServer pg = PostgresServer.startOrSkip()) {
      String db = pg.newDatabase();
      DataSource ds = pg.dataSource(db);
      try (Connection c = ds.getConnection(); Statement st = c.createStatement()) {
        try (ResultSet rs = st.executeQuery("SHOW server_version_num")) {
          assertThat(rs.next()).isTrue();
          assertThat(Integer.parseInt(rs.getString(1))).isGreaterThanOrEqualTo(150000);
        }
        st.execute("CREATE TABLE t (k INT PRIMARY KEY)");
        st.execute("INSERT INTO t VALUES (42)");
      }
      pg.stopServer();
      pg.startServer();
      try (Connection c = ds.getConnection();
          Statement st = c.createStatement();
          ResultSet rs = st.executeQuery("SELECT k FROM t")) {
        assertThat(rs.next()).isTrue();
        assertThat(rs.getInt(1)).isEqualTo(42);
      }
    }
  }
}
