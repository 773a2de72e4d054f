// Segment's Android SDK core, analytics-kotlin (com.segment.analytics.kotlin:core, pinned in
// test/support/sdk-kotlin/pom.xml), unchanged on a plain JVM, pointed at the ingest as
// docs/formats.md says: apiHost and cdnHost `<host:port>/v1`. It speaks only HTTPS, so the ingest
// runs with TLS_CERT_FILE / TLS_KEY_FILE (a certificate made here by openssl) on a port of its own
// and the JVM trusts that certificate (a truststore made by keytool). The SDK first fetches the
// project settings from the ingest, then sends its batch to `/v1/b` gzipped as text/plain with the
// write key only in the body; every call is read back through the query API, 64-bit ids digit
// for digit, each with its own message id, and no connection went anywhere but the ingest. With
// a wrong write key too: the SDK, refused its settings, would use its built-in ones and send to
// api.segment.io, so the ingest answers settings to a client that is not a page for any key and
// refuses the batch instead.
// Without javac (or mvn, until the SDK's jars are cached), openssl or keytool it is listed as
// skipped, saying why.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENSSL, selfSignedCertificate } from '../support/certificate.js';
import { tempDir } from '../support/env.js';
import { buildJava, javaProblem, KOTLIN_SDK_PROBE, runProbe } from '../support/sdk-clients.js';
import { metricsText, metricValue, WRITE_KEY } from './ingest-support.js';
import { byKind, startPipeline, type ApiEvent, type Pipeline } from './pipeline-support.js';

/** One line the probe printed (test/support/sdk-kotlin/KotlinProbe.java). */
interface KotlinReport {
  sdk: 'analytics-kotlin';
  version?: string;
  /** A URL the JVM opened a connection to. */
  connect?: string;
  connect_failed?: string;
  /** An event as the SDK queued it (and so sent it). */
  event?: { messageId: string; type: string; properties?: Record<string, unknown> };
  error?: string;
  queued?: number;
  /** The Segment.io integrations of the settings the SDK ended with. */
  settings?: { 'Segment.io'?: { apiHost?: string; apiKey?: string } } | null;
  /** The SDK's own metrics: where they would go and how many are sampled (0: none). */
  telemetry?: { host: string; sample_rate: number; enable: boolean };
  pending?: number;
  uploaded?: number;
}

const STORE_PASS = 'trackhouse';
const WRONG_KEY = 'not-a-write-key';
const KEYTOOL = spawnSync('keytool', ['-help'], { stdio: 'ignore' }).status === 0;
const PROBLEM =
  javaProblem(KOTLIN_SDK_PROBE) ??
  (!OPENSSL ? `${KOTLIN_SDK_PROBE.what} is SKIPPED: the openssl command is missing (apt-get install openssl); it makes the ingest's certificate` : null) ??
  (!KEYTOOL ? `${KOTLIN_SDK_PROBE.what} is SKIPPED: keytool (the JDK's) is not on PATH; it makes the JVM's truststore` : null);

const INT64_MAX = '"int64_max":9223372036854775807';
const INT64_MIN = '"int64_min":-9223372036854775808';
const ACCOUNT_ID = '"account_id":9223372036854775807';
const count = (text: string, part: string) => text.split(part).length - 1;

describe('analytics-kotlin 1.27.0 on the JVM, over HTTPS', () => {
  if (PROBLEM !== null) {
    it.skip(PROBLEM, () => {});
    return;
  }
  const dir = tempDir('trackhouse-kotlin-');
  let p: Pipeline | undefined;
  let origin: string;
  let run: string;
  let lines: KotlinReport[];
  let wrongLines: KotlinReport[];
  /** Requests the ingest answered 401 during the wrong-key run. */
  let refused: number;
  /** The ingest's metrics between the two runs. */
  let metricsBefore: string;
  let from: number;
  let to: number;

  beforeAll(async () => {
    const { certFile, keyFile } = selfSignedCertificate(dir.path, 'ingest');
    const store = path.join(dir.path, 'truststore.p12');
    const made = spawnSync('keytool', ['-importcert', '-noprompt', '-alias', 'ingest', '-file', certFile, '-keystore', store, '-storetype', 'PKCS12', '-storepass', STORE_PASS], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`keytool could not make the truststore: ${made.stdout}${made.stderr}`);
    // Built beside the pipeline's start: a first run fetches the SDK with mvn into
    // .trackhouse/sdk-clients/ and compiles; a later one finds it there.
    const [pipeline, cp] = await Promise.allSettled([
      // HTTPS on ports of their own, so the query API this test reads stays plain HTTP.
      startPipeline({ TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, INGEST_TLS_PORT: '0', QUERY_TLS_PORT: '0' }),
      buildJava(KOTLIN_SDK_PROBE),
    ]);
    if (pipeline.status === 'fulfilled') p = pipeline.value;
    if (pipeline.status === 'rejected') throw pipeline.reason;
    if (cp.status === 'rejected') throw cp.reason;
    origin = `https://127.0.0.1:${p!.ingest.handle.tlsPort}`;
    run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const java = ['java', `-Djavax.net.ssl.trustStore=${store}`, `-Djavax.net.ssl.trustStorePassword=${STORE_PASS}`, '-Djavax.net.ssl.trustStoreType=PKCS12', '-cp', cp.value, KOTLIN_SDK_PROBE.main];
    // The wrong key first: once the right run's events are visible, these would be too, had any been stored.
    wrongLines = await runProbe<KotlinReport>(java, origin, WRONG_KEY, `${run}-wrong-key`);
    metricsBefore = await metricsText(p!.ingest.url);
    refused = metricValue(metricsBefore, 'trackhouse_ingest_requests_total', 'status="401"');
    from = Date.now();
    lines = await runProbe<KotlinReport>(java, origin, WRITE_KEY, run);
    to = Date.now();
  }, 600_000);

  afterAll(async () => {
    await p?.close();
    dir.remove();
  });

  it('fetches its settings from the ingest, which keep it there and its telemetry off, and sends every call in one batch', async () => {
    expect(lines.filter((l) => l.error !== undefined || l.connect_failed !== undefined)).toEqual([]);
    // Every connection the JVM opened went to the ingest's HTTPS port (the ProxySelector sees the
    // origin, not the path); the ingest counts which routes answered.
    const hosts = lines.flatMap((l) => (l.connect !== undefined ? [l.connect.replace(/^[a-z]+:\/\/([^/]+).*$/, '$1')] : []));
    expect([...new Set(hosts)]).toEqual([`127.0.0.1:${p!.ingest.handle.tlsPort}`]);
    const metrics = await metricsText(p!.ingest.url);
    const requests = (route: string) =>
      metricValue(metrics, 'trackhouse_ingest_requests_total', `route="${route}"`, 'status="200"') -
      metricValue(metricsBefore, 'trackhouse_ingest_requests_total', `route="${route}"`, 'status="200"');
    expect([requests('analytics-settings'), requests('batch')]).toEqual([1, 1]);
    // The settings answer keeps the SDK on the ingest (its Segment.io apiHost replaces the
    // configured one) and its sampleRate 0 keeps the SDK's metrics from going to api.segment.io/v1/m.
    const settings = lines.find((l) => l.settings !== undefined)!.settings;
    expect(settings?.['Segment.io']).toMatchObject({ apiKey: WRITE_KEY, apiHost: `127.0.0.1:${p!.ingest.handle.tlsPort}/v1` });
    expect(lines.find((l) => l.telemetry !== undefined)!.telemetry).toMatchObject({ sample_rate: 0 });
    expect(lines.find((l) => l.queued !== undefined)!.queued).toBe(5);
    expect(lines.find((l) => l.uploaded !== undefined)!.uploaded).toBe(1);
    expect(lines.find((l) => l.pending !== undefined)!.pending).toBe(0);
  });

  it('stores identify, track, screen, group and alias: kinds, fields, 64-bit ids as digits, its library and its message ids', async () => {
    const user = `kotlin-${run}`;
    const text = await p!.eventsText(user, 4);
    const events = (JSON.parse(text) as { events: ApiEvent[] }).events;
    expect(events.map((e) => e.type).sort()).toEqual(['group', 'identify', 'screen', 'track']);
    // alias(newId) moves the user to the new id: stored under it, from the old one.
    const alias = await p!.eventsOf(`${user}-alias`, 1);
    expect(alias.map((e) => [e.type, e.user_id, e.previous_id])).toEqual([['alias', `${user}-alias`, user]]);
    const all = [...events, ...alias];

    const kinds = byKind(events);
    expect(kinds.get('identify')).toMatchObject({ user_id: user, traits: { name: 'Zoë Kotlin', email: 'zoe@example.com' } });
    expect(kinds.get('track:Order Completed')!.properties).toMatchObject({ city: 'Zürich — 東京 🚀', price: 1.5, paid: true });
    expect(kinds.get('screen')).toMatchObject({ name: 'Home', category: 'Onboarding', properties: { variant: 'a' } });
    expect(kinds.get('group')).toMatchObject({ group_id: `kotlin-group-${run}`, traits: { name: 'Acme', employees: 40 } });
    // Every digit of a Long, in the track's properties and the identify's traits.
    expect([count(text, INT64_MAX), count(text, INT64_MIN), count(text, ACCOUNT_ID)]).toEqual([1, 1, 1]);
    // A BigInteger in a Java Map is sent as null by the SDK itself (its Map-to-JSON knows Java's
    // boxed primitives only): stored as it came.
    const sent = lines.flatMap((l) => (l.event !== undefined ? [l.event] : []));
    expect(sent.find((e) => e.type === 'track')!.properties).toMatchObject({ uint64_max: null });
    expect(count(text, '"uint64_max":null')).toBe(1);
    expect(sent).toHaveLength(5);
    const ids = all.map((e) => e.event_id).sort();
    expect(new Set(ids).size).toBe(5);
    expect(ids).toEqual(sent.map((e) => e.messageId).sort());
    for (const e of all) {
      expect(e.source, e.type).toBe('test');
      // A phone's SDK, not a backend's (User-Agent analytics-kotlin/): the caller's address is the user's.
      expect(e.context, e.type).toMatchObject({ library: { name: 'analytics-kotlin' }, ip: '127.0.0.1' });
      expect(e.anonymous_id, e.type).toEqual(expect.any(String));
      for (const t of [Date.parse(e.timestamp), Date.parse(e.received_at)]) {
        expect(t, `${e.type} ${e.timestamp} ${e.received_at}`).toBeGreaterThanOrEqual(from);
        expect(t, `${e.type} ${e.timestamp} ${e.received_at}`).toBeLessThanOrEqual(to);
      }
    }
  });

  it('with a wrong write key: still kept on the ingest (not sent to api.segment.io), its batch refused, nothing of its user stored', async () => {
    // Any settings answer but 200 makes the SDK fall back to its built-in settings, whose apiHost
    // is api.segment.io/v1 (System.defaultState): the ingest answers an unknown key's settings too.
    const hosts = wrongLines.flatMap((l) => (l.connect !== undefined ? [l.connect.replace(/^[a-z]+:\/\/([^/]+).*$/, '$1')] : []));
    expect([...new Set(hosts)]).toEqual([`127.0.0.1:${p!.ingest.handle.tlsPort}`]);
    expect(wrongLines.find((l) => l.settings !== undefined)!.settings?.['Segment.io']).toMatchObject({ apiHost: `127.0.0.1:${p!.ingest.handle.tlsPort}/v1` });
    expect(wrongLines.find((l) => l.telemetry !== undefined)!.telemetry).toMatchObject({ sample_rate: 0 });
    // The batch is refused, and the SDK reports it.
    expect(refused).toBe(1);
    expect(wrongLines.filter((l) => l.error !== undefined).map((l) => l.error)).toContainEqual(expect.stringMatching(/HTTP 401.*unknown_write_key/));
    expect(wrongLines.find((l) => l.uploaded !== undefined)!.uploaded).toBe(0);
    // A 401 is final for the SDK: it drops the batch rather than resend it.
    expect(wrongLines.find((l) => l.pending !== undefined)!.pending).toBe(0);

    await p!.eventsOf(`kotlin-${run}`, 4);
    for (const user of [`kotlin-${run}-wrong-key`, `kotlin-${run}-wrong-key-alias`]) expect(await p!.eventsOf(user, 0), user).toEqual([]);
  });
});
