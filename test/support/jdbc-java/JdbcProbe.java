// ClickHouse's JDBC driver against trackhouse's read-only SQL port, as DBeaver and Metabase use it,
// for test/integration/sql-port.test.ts: connect (any user name, the read key as password), list
// the rollup tables through DatabaseMetaData, read the rollup view with a bound date, and try a
// DROP. Prints one JSON object.
// Arguments: <jdbc url> <read key>
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

public final class JdbcProbe {
  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  private static String list(List<String> items) {
    return "[" + String.join(",", items) + "]";
  }

  public static void main(String[] args) throws Exception {
    try (Connection conn = DriverManager.getConnection(args[0], "dbeaver", args[1])) {
      DatabaseMetaData meta = conn.getMetaData();
      List<String> tables = new ArrayList<>();
      try (ResultSet rs = meta.getTables(null, null, "events_daily%", null)) {
        while (rs.next()) tables.add(quote(rs.getString("TABLE_NAME")));
      }
      List<String> rows = new ArrayList<>();
      try (PreparedStatement ps = conn.prepareStatement(
          "SELECT toString(day), event, sum(events) AS n FROM events_daily_by_event_v WHERE day >= ? GROUP BY day, event ORDER BY event")) {
        ps.setDate(1, java.sql.Date.valueOf("2026-01-01"));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) rows.add(list(List.of(quote(rs.getString(1)), quote(rs.getString(2)), String.valueOf(rs.getLong(3)))));
        }
      }
      String drop;
      try (Statement st = conn.createStatement()) {
        st.execute("DROP TABLE events");
        drop = "ran";
      } catch (SQLException e) {
        drop = e.getMessage();
      }
      System.out.println("{\"product\":" + quote(meta.getDatabaseProductName()) + ",\"version\":" + quote(meta.getDatabaseProductVersion())
          + ",\"tables\":" + list(tables) + ",\"rows\":" + list(rows) + ",\"drop\":" + quote(drop == null ? "" : drop) + "}");
    }
  }
}
