// Segment's and PostHog's Java SDKs, unchanged, pointed at trackhouse's ingest, for
// test/integration/ingest-jvm-go-sdks.test.ts (the versions are pinned in pom.xml beside it).
//
//   java -cp <classes>:<SDK classpath> Probe <ingest URL> <write key> <run id>
//
// Sends every call each SDK has, for users named after the run id (java-segment-<run>,
// java-posthog-<run>), waits until the SDKs have answered for all of them, shuts both down and
// prints one JSON line per thing they reported: each Segment message's callback (success, or
// failure with the error) and each PostHog batch's outcome (its sender answers true or false).
// Exits 0 either way: the test judges what was reported. What the SDKs log goes to stderr.

import com.posthog.java.HttpSender;
import com.posthog.java.PostHog;
import com.posthog.java.QueueManager;
import com.posthog.java.Sender;
import com.posthog.java.shaded.org.json.JSONObject;
import com.segment.analytics.Analytics;
import com.segment.analytics.Callback;
import com.segment.analytics.messages.AliasMessage;
import com.segment.analytics.messages.GroupMessage;
import com.segment.analytics.messages.IdentifyMessage;
import com.segment.analytics.messages.Message;
import com.segment.analytics.messages.PageMessage;
import com.segment.analytics.messages.ScreenMessage;
import com.segment.analytics.messages.TrackMessage;
import java.io.PrintStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

public class Probe {
  /** stdout is the report; the SDKs' own prints (PostHog's sender writes to System.out) go to stderr. */
  private static final PrintStream REPORT = new PrintStream(System.out, true, StandardCharsets.UTF_8);

  static synchronized void report(Map<String, Object> line) {
    REPORT.println(new JSONObject(line).toString());
  }

  static Map<String, Object> line(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }

  /** The values a Java service sends: the extremes of its 64-bit integers and text beyond ASCII. */
  static Map<String, Object> props() {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("int64_max", Long.MAX_VALUE);
    p.put("int64_min", Long.MIN_VALUE);
    p.put("uint64_max", new BigInteger("18446744073709551615"));
    p.put("city", "Zürich — 東京 🚀");
    p.put("price", 1.5);
    return p;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: Probe <ingest URL> <write key> <run id>");
      System.exit(2);
    }
    System.setOut(System.err);
    String url = args[0], key = args[1], run = args[2];
    String segmentUser = "java-segment-" + run, posthogUser = "java-posthog-" + run, group = "java-group-" + run;

    // Segment: six calls, each answered once through the callback.
    CountDownLatch segmentAnswered = new CountDownLatch(6);
    Analytics segment =
        Analytics.builder(key)
            .endpoint(url)
            .callback(
                new Callback() {
                  @Override
                  public void success(Message message) {
                    report(line("sdk", "analytics-java", "callback", "success", "message", message.type().toString()));
                    segmentAnswered.countDown();
                  }

                  @Override
                  public void failure(Message message, Throwable error) {
                    report(line("sdk", "analytics-java", "callback", "failure", "message", message.type().toString(), "error", String.valueOf(error)));
                    segmentAnswered.countDown();
                  }
                })
            .build();
    Map<String, Object> traits = new LinkedHashMap<>();
    traits.put("name", "Zoë Java");
    traits.put("email", "zoe@example.com");
    traits.put("plan", "pro");
    traits.put("uint64_max", new BigInteger("18446744073709551615"));
    segment.enqueue(TrackMessage.builder("Order Completed").userId(segmentUser).properties(props()));
    segment.enqueue(IdentifyMessage.builder().userId(segmentUser).traits(traits));
    segment.enqueue(PageMessage.builder("Pricing").userId(segmentUser).properties(Map.of("url", "https://example.com/pricing")));
    segment.enqueue(ScreenMessage.builder("Home").userId(segmentUser).properties(Map.of("variant", "a")));
    segment.enqueue(GroupMessage.builder(group).userId(segmentUser).traits(Map.of("name", "Acme", "employees", 40)));
    segment.enqueue(AliasMessage.builder("java-anon-" + run).userId(segmentUser));
    segment.flush();
    boolean segmentDone = segmentAnswered.await(60, TimeUnit.SECONDS);
    segment.shutdown();
    report(line("sdk", "analytics-java", "closed", true, "unanswered", segmentDone ? 0 : segmentAnswered.getCount()));

    // PostHog: its client reports nothing to the caller, so its own HTTP sender is wrapped to see
    // each batch's outcome (BuilderWithCustomQueueManager is the client's way to supply these).
    Sender http = new HttpSender.Builder(key).host(url).build();
    Sender recording =
        new Sender() {
          @Override
          public Boolean send(List<JSONObject> events) {
            Boolean ok = http.send(events);
            report(line("sdk", "posthog-java", "batch", events.size(), "sent", ok));
            return ok;
          }

          @Override
          public JSONObject post(String route, String distinctId) {
            return http.post(route, distinctId);
          }
        };
    PostHog posthog = new PostHog.BuilderWithCustomQueueManager(new QueueManager.Builder(recording).build(), recording).build();
    posthog.capture(posthogUser, "Order Completed", props());
    Map<String, Object> set = new LinkedHashMap<>();
    set.put("name", "Zoë Java");
    set.put("plan", "pro");
    set.put("account_id", Long.MAX_VALUE);
    posthog.identify(posthogUser, set, Map.of("first_seen", "2026-01-01"));
    // As PostHog's docs write it: the user's distinct id, and another id of theirs to merge in.
    posthog.alias(posthogUser, posthogUser + "-alias");
    // shutdown sends what is queued and returns once the sender has answered.
    posthog.shutdown();
    report(line("sdk", "posthog-java", "closed", true));
    System.exit(0);
  }
}
