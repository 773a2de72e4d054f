// Segment's analytics-kotlin (its core, as an Android app's SDK runs it on a plain JVM), unchanged,
// pointed at trackhouse's ingest over HTTPS, for test/integration/ingest-kotlin-sdk.test.ts (the
// version is pinned in pom.xml beside it).
//
//   java -Djavax.net.ssl.trustStore=<store with the ingest's certificate> -cp <classes>:<SDK classpath> \
//     KotlinProbe <ingest https URL> <write key> <run id>
//
// apiHost and cdnHost are `<host:port>/v1`, as docs/formats.md says to set them. Sends identify,
// track, screen, group and alias for kotlin-<run>, flushes once every call is in the SDK's queue,
// waits until the upload is answered, and prints one JSON line per thing seen: each URL the JVM
// opened a connection to (a ProxySelector that only records and answers "no proxy"), each event
// as the SDK queued it, each error it reported to its errorHandler, the Segment.io settings it
// ended with, and what is still queued. Exits 0 either way: the test judges what was reported.
// The SDK's own logs go to stderr. Storage is in memory: the SDK's default file storage is a fixed
// /tmp/analytics-kotlin/<writeKey>/ that would outlive the run and resend into the next one.

import com.segment.analytics.kotlin.core.Analytics;
import com.segment.analytics.kotlin.core.Configuration;
import com.segment.analytics.kotlin.core.Settings;
import com.segment.analytics.kotlin.core.Telemetry;
import com.segment.analytics.kotlin.core.compat.ConfigurationBuilder;
import com.segment.analytics.kotlin.core.compat.JavaAnalytics;
import com.segment.analytics.kotlin.core.platform.plugins.logger.LogMessage;
import com.segment.analytics.kotlin.core.utilities.InMemoryStorageProvider;
import java.io.IOException;
import java.io.PrintStream;
import java.math.BigInteger;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import kotlin.Unit;

public class KotlinProbe {
  private static final PrintStream REPORT = new PrintStream(System.out, true, StandardCharsets.UTF_8);
  private static final AtomicInteger written = new AtomicInteger();
  private static final AtomicInteger uploaded = new AtomicInteger();
  private static final AtomicInteger errors = new AtomicInteger();

  /** One report line: {"sdk":"analytics-kotlin","<key>":<value>}; value a JSON text already. */
  static synchronized void report(String key, String jsonValue) {
    REPORT.println("{\"sdk\":\"analytics-kotlin\"," + quote(key) + ":" + jsonValue + "}");
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: KotlinProbe <ingest https URL> <write key> <run id>");
      System.exit(2);
    }
    System.setOut(System.err);
    String host = URI.create(args[0]).getAuthority() + "/v1", key = args[1], run = args[2];
    String user = "kotlin-" + run;

    ProxySelector.setDefault(
        new ProxySelector() {
          @Override
          public List<Proxy> select(URI uri) {
            report("connect", quote(uri.toString()));
            return List.of(Proxy.NO_PROXY);
          }

          @Override
          public void connectFailed(URI uri, SocketAddress sa, IOException e) {
            report("connect_failed", quote(uri + " " + e));
          }
        });
    // The SDK's debug log is how it says an event was queued ("running {...}") and a batch was
    // taken ("uploaded"); both are counted, and the log goes on to stderr.
    Analytics.Companion.setDebugLogsEnabled(true);
    Analytics.Companion.setLogger(
        (LogMessage m) -> {
          String text = m.getMessage();
          int at = text.indexOf(" running {");
          if (at >= 0) {
            written.incrementAndGet();
            report("event", text.substring(at + " running ".length()));
          }
          if (text.contains(" uploaded ")) uploaded.incrementAndGet();
          System.err.println("[" + m.getKind() + "] " + text);
        });

    Configuration config =
        new ConfigurationBuilder(key)
            // The SDK requires one (an Android Context there); on a JVM any object does.
            .setApplication(new Object())
            .setApiHost(host)
            .setCdnHost(host)
            .setFlushAt(1000)
            .setFlushInterval(3600)
            .build();
    config.setStorageProvider(new InMemoryStorageProvider());
    config.setErrorHandler(
        (Throwable t) -> {
          errors.incrementAndGet();
          report("error", quote(String.valueOf(t)));
          return Unit.INSTANCE;
        });
    JavaAnalytics analytics = new JavaAnalytics(config);
    report("version", quote(analytics.version()));

    Map<String, Object> traits = new LinkedHashMap<>();
    traits.put("name", "Zoë Kotlin");
    traits.put("email", "zoe@example.com");
    traits.put("account_id", Long.MAX_VALUE);
    long deadline = System.currentTimeMillis() + 60_000;
    analytics.identify(user, traits);
    // The SDK applies identify's user id to its state and stamps later calls from it, each on a
    // coroutine of its own: as in an app, where calls come apart in time, the next calls wait for it.
    while (!user.equals(analytics.userId()) && System.currentTimeMillis() < deadline) Thread.sleep(20);
    Map<String, Object> props = new LinkedHashMap<>();
    props.put("int64_max", Long.MAX_VALUE);
    props.put("int64_min", Long.MIN_VALUE);
    props.put("uint64_max", new BigInteger("18446744073709551615"));
    props.put("city", "Zürich — 東京 🚀");
    props.put("price", 1.5);
    props.put("paid", true);
    analytics.track("Order Completed", props);
    analytics.screen("Home", Map.of("variant", "a"), "Onboarding");
    Map<String, Object> group = new LinkedHashMap<>();
    group.put("name", "Acme");
    group.put("employees", 40);
    analytics.group("kotlin-group-" + run, group);
    // alias(newId) moves the user to newId: once the four calls before are queued under the old id.
    while (written.get() < 4 && System.currentTimeMillis() < deadline) Thread.sleep(20);
    analytics.alias(user + "-alias");
    while (written.get() < 5 && System.currentTimeMillis() < deadline) Thread.sleep(20);
    report("queued", String.valueOf(written.get()));
    // The settings' outcome is known by now (the SDK holds calls until it is): an error after the
    // flush is the upload's.
    int errorsBefore = errors.get();
    analytics.flush();
    while (uploaded.get() == 0 && errors.get() == errorsBefore && System.currentTimeMillis() < deadline) Thread.sleep(50);
    // A refused batch: the SDK drops it or keeps it to retry; give it a moment to decide.
    long settle = Math.min(deadline, System.currentTimeMillis() + 5_000);
    while (uploaded.get() == 0 && !analytics.pendingUploads().isEmpty() && System.currentTimeMillis() < settle) Thread.sleep(50);
    Settings settings = analytics.settings();
    report("settings", settings == null ? "null" : settings.getIntegrations().toString());
    // The SDK's own metrics (Telemetry) go to their own host, not the settings' apiHost.
    report("telemetry", "{\"host\":" + quote(Telemetry.INSTANCE.getHost()) + ",\"sample_rate\":" + Telemetry.INSTANCE.getSampleRate() + ",\"enable\":" + Telemetry.INSTANCE.getEnable() + "}");
    report("pending", String.valueOf(analytics.pendingUploads().size()));
    report("uploaded", String.valueOf(uploaded.get()));
    analytics.getAnalytics().shutdown();
    System.exit(0);
  }
}
