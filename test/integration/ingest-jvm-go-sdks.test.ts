// Segment's and PostHog's backend SDKs for Go and Java, unchanged, pointed at the ingest
// (programs in test/support/sdk-go/ and sdk-java/, the versions pinned in go.mod and pom.xml;
// built by test/support/sdk-clients.ts): every call they have is read back through the per-user
// query API (ingest -> Kafka -> sink -> chDB -> query), 64-bit extremes digit for digit, text
// beyond ASCII whole; and with a wrong write key each SDK reports the refusal and nothing of its
// users is stored. One pipeline serves both languages. Without javac (or mvn, until the SDK jars
// are cached) the Java suite, and without go the Go suite, is listed as skipped, saying why.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGo, buildJava, GO_SDK_PROBE, goProblem, javaProblem, runProbe, SDK_PROBE, type SdkReport } from '../support/sdk-clients.js';
import { metricsText, metricValue, WRITE_KEY } from './ingest-support.js';
import { byKind, startPipeline, type ApiEvent, type Pipeline } from './pipeline-support.js';
import { count as countRows } from './sink-helpers.js';

const WRONG_KEY = 'not-a-write-key';
/** A property value beyond ASCII: Latin, CJK and an emoji (a surrogate pair in Java and JavaScript). */
const CITY = 'Zürich — 東京 🚀';
/** The 64-bit extremes the probes send, as their digits must stand in the reply text. */
const INT64_MAX = '"int64_max":9223372036854775807';
const INT64_MIN = '"int64_min":-9223372036854775808';
const UINT64_MAX = '"uint64_max":18446744073709551615';
/** A person property PostHog's probes set: a Long / int64 id, stored as its digits in the traits. */
const ACCOUNT_ID = '"account_id":9223372036854775807';

let p: Pipeline | undefined;
/** How to run each probe once built, or why it could not be built. */
const probes: { java?: string[] | Error; go?: string[] | Error } = {};
const JAVA_PROBLEM = javaProblem(SDK_PROBE);
const GO_PROBLEM = goProblem(GO_SDK_PROBE);

beforeAll(async () => {
  // Built beside the pipeline's start: a first run fetches the SDKs (mvn, the Go module proxy)
  // into .trackhouse/sdk-clients/ and compiles; a later one finds them there.
  const [pipeline, java, go] = await Promise.allSettled([
    startPipeline(),
    JAVA_PROBLEM !== null ? Promise.resolve(undefined) : buildJava(SDK_PROBE).then((cp) => ['java', '-cp', cp, 'Probe']),
    GO_PROBLEM !== null ? Promise.resolve(undefined) : buildGo(GO_SDK_PROBE).then((bin) => [bin]),
  ]);
  probes.java = java.status === 'fulfilled' ? java.value : (java.reason as Error);
  if (go.status === 'fulfilled') probes.go = go.value;
  else probes.go = go.reason as Error;
  if (pipeline.status === 'rejected') throw pipeline.reason;
  p = pipeline.value;
}, 600_000);

afterAll(async () => {
  await p?.close();
});

function probe(lang: 'java' | 'go'): string[] {
  const built = probes[lang];
  if (built instanceof Error) throw built;
  if (built === undefined) throw new Error(`the ${lang} probe was not built`);
  return built;
}

/** What one language's probe reported and when, with a wrong key first and then the right one. */
interface Runs {
  run: string;
  wrongRun: string;
  wrong: SdkReport[];
  good: SdkReport[];
  /** Requests the ingest answered 401 during the wrong-key run. */
  refused: number;
  /** Before and after the right-key run, ms. */
  from: number;
  to: number;
}

async function runBoth(lang: 'java' | 'go'): Promise<Runs> {
  const command = probe(lang);
  const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const wrongRun = `${run}-wrong-key`;
  const unauthenticated = async () => metricValue(await metricsText(p!.ingest.url), 'trackhouse_ingest_unauthenticated_total');
  const before = await unauthenticated();
  // The wrong key first: once the right run's events are visible, these would be too, had any
  // been stored.
  const wrong = await runProbe(command, p!.ingest.url, WRONG_KEY, wrongRun);
  const refused = (await unauthenticated()) - before;
  const from = Date.now();
  const good = await runProbe(command, p!.ingest.url, WRITE_KEY, run);
  return { run, wrongRun, wrong, good, refused, from, to: Date.now() };
}

const callbacks = (reports: SdkReport[], sdk: string) => reports.filter((r) => r.sdk === sdk && r.callback !== undefined);

/** Every event came from the test key's source, timed within the run by the SDK's clock and received within it. */
function expectWithinRun(events: ApiEvent[], r: Runs): void {
  for (const e of events) {
    expect(e.source, e.type).toBe('test');
    for (const t of [Date.parse(e.timestamp), Date.parse(e.received_at)]) {
      expect(t, `${e.type} ${e.timestamp} ${e.received_at}`).toBeGreaterThanOrEqual(r.from);
      expect(t, `${e.type} ${e.timestamp} ${e.received_at}`).toBeLessThanOrEqual(r.to);
    }
  }
}

/** How often `part` stands in `text`. */
const count = (text: string, part: string) => text.split(part).length - 1;

/** A Segment SDK's six calls for `user`, as the query API answers them. */
async function expectSegmentCalls(user: string, library: string, prefix: string, r: Runs): Promise<void> {
  const text = await p!.eventsText(user, 6);
  const events = (JSON.parse(text) as { events: ApiEvent[] }).events;
  expect(events.map((e) => e.type).sort()).toEqual(['alias', 'group', 'identify', 'page', 'screen', 'track']);
  expectWithinRun(events, r);
  for (const e of events) {
    expect(e.user_id).toBe(user);
    expect(e.context).toMatchObject({ library: { name: library } });
    // Sent from the site's backend: Segment fills context.ip "for client side events only", so
    // the backend's address is not stored as the user's.
    expect(e.context, e.type).not.toHaveProperty('ip');
  }
  // Every digit of the 64-bit extremes, in the track's properties and the identify's traits.
  expect([count(text, INT64_MAX), count(text, INT64_MIN), count(text, UINT64_MAX)]).toEqual([1, 1, 2]);
  const kinds = byKind(events);
  expect(kinds.get('track:Order Completed')!.properties).toMatchObject({ city: CITY, price: 1.5 });
  expect(kinds.get('identify')!.traits).toMatchObject({ name: `Zoë ${prefix === 'go' ? 'Go' : 'Java'}`, email: 'zoe@example.com', plan: 'pro' });
  expect(kinds.get('page')).toMatchObject({ name: 'Pricing', properties: { url: 'https://example.com/pricing' } });
  expect(kinds.get('screen')).toMatchObject({ name: 'Home', properties: { variant: 'a' } });
  expect(kinds.get('group')).toMatchObject({ group_id: `${prefix}-group-${r.run}`, traits: { name: 'Acme', employees: 40 } });
  expect(kinds.get('alias')).toMatchObject({ previous_id: `${prefix}-anon-${r.run}` });
}

/** A PostHog SDK's capture and identify for `user`, and its alias (stored under the alias, from `user`). */
async function expectPosthogCalls(user: string, library: string, traits: Record<string, unknown>, r: Runs): Promise<ApiEvent[]> {
  const text = await p!.eventsText(user, 2);
  const events = (JSON.parse(text) as { events: ApiEvent[] }).events;
  expect(events.map((e) => `${e.type}:${e.event}`).sort()).toEqual(['identify:null', 'track:Order Completed']);
  expect([count(text, INT64_MAX), count(text, INT64_MIN), count(text, UINT64_MAX)]).toEqual([1, 1, 1]);
  const kinds = byKind(events);
  expect(kinds.get('track:Order Completed')!.properties).toMatchObject({ city: CITY, price: 1.5 });
  expect(kinds.get('identify')!.traits).toEqual({ ...traits, account_id: Number('9223372036854775807') });
  expect(count(text, ACCOUNT_ID)).toBe(1);
  const alias = await p!.eventsOf(`${user}-alias`, 1);
  expect(alias).toHaveLength(1);
  expect(alias[0]).toMatchObject({ type: 'alias', user_id: `${user}-alias`, previous_id: user });
  const all = [...events, ...alias];
  expectWithinRun(all, r);
  for (const e of all) expect(e.context).toMatchObject({ library: { name: library } });
  return events;
}

/** No event of any user of the wrong-key run, once the right run's are visible. */
async function expectNothingStored(users: string[]): Promise<void> {
  for (const user of users) expect(await p!.eventsOf(user, 0), user).toEqual([]);
}

describe('Java: analytics-java 3.5.4 and posthog-java 1.2.0', () => {
  if (JAVA_PROBLEM !== null) {
    it.skip(JAVA_PROBLEM, () => {});
    return;
  }
  let r: Runs;

  beforeAll(async () => {
    r = await runBoth('java');
  }, 300_000);

  it('stores every call of both SDKs: counts and kinds per user, 64-bit extremes as digits, non-ASCII text, traits, source and times', async () => {
    expect(callbacks(r.good, 'analytics-java').map((c) => [c.message, c.callback])).toEqual(
      ['track', 'identify', 'page', 'screen', 'group', 'alias'].map((m) => [m, 'success']),
    );
    const batches = r.good.filter((l) => l.sdk === 'posthog-java' && l.batch !== undefined);
    expect(batches.every((b) => b.sent === true)).toBe(true);
    expect(batches.reduce((n, b) => n + b.batch!, 0)).toBe(3);

    await expectSegmentCalls(`java-segment-${r.run}`, 'analytics-java', 'java', r);
    // posthog-java's identify sends $set and $set_once: both become traits.
    await expectPosthogCalls(`java-posthog-${r.run}`, 'posthog-java', { name: 'Zoë Java', plan: 'pro', first_seen: '2026-01-01' }, r);
  });

  it('with a wrong write key: both SDKs report the refusal and no event of their users is stored', async () => {
    const failures = callbacks(r.wrong, 'analytics-java');
    expect(failures).toHaveLength(6);
    for (const f of failures) expect([f.callback, f.error]).toEqual(['failure', expect.stringContaining('unknown_write_key')]);
    const batches = r.wrong.filter((l) => l.sdk === 'posthog-java' && l.batch !== undefined);
    expect(batches.length).toBeGreaterThan(0);
    expect(batches.every((b) => b.sent === false)).toBe(true);
    expect(r.refused).toBeGreaterThanOrEqual(2); // at least one request of each SDK, answered 401

    await p!.eventsOf(`java-segment-${r.run}`, 6);
    await p!.eventsOf(`java-posthog-${r.run}`, 2);
    await expectNothingStored([`java-segment-${r.wrongRun}`, `java-posthog-${r.wrongRun}`, `java-posthog-${r.wrongRun}-alias`]);
  });
});

describe('Go: analytics-go 3.3.0 and posthog-go 1.5.2', () => {
  if (GO_PROBLEM !== null) {
    it.skip(GO_PROBLEM, () => {});
    return;
  }
  let r: Runs;

  beforeAll(async () => {
    r = await runBoth('go');
  }, 300_000);

  it('stores every call of both SDKs: counts and kinds per user, 64-bit extremes as digits, non-ASCII text, traits, source and times', async () => {
    expect(r.good.filter((l) => l.enqueue_error !== undefined)).toEqual([]);
    expect(r.good.filter((l) => l.closed === true)).toEqual([
      { sdk: 'analytics-go', closed: true, error: null },
      { sdk: 'posthog-go', closed: true, error: null },
    ]);
    expect(callbacks(r.good, 'analytics-go').map((c) => [c.message, c.callback])).toEqual(
      ['Track', 'Identify', 'Page', 'Screen', 'Group', 'Alias'].map((m) => [`analytics.${m}`, 'success']),
    );
    expect(callbacks(r.good, 'posthog-go').map((c) => [c.message, c.callback])).toEqual(
      ['Capture', 'Identify', 'Alias', 'GroupIdentify'].map((m) => [`posthog.${m}InApi`, 'success']),
    );

    await expectSegmentCalls(`go-segment-${r.run}`, 'analytics-go', 'go', r);
    const posthog = await expectPosthogCalls(`go-posthog-${r.run}`, 'posthog-go', { name: 'Zoë Go', plan: 'pro' }, r);
    // The capture's $groups, and the group's own event (PostHog's distinct id for a group).
    const group = `go-group-${r.run}`;
    expect(byKind(posthog).get('track:Order Completed')).toMatchObject({ group_id: group, context: { groups: { company: group } } });
    const groupEvents = await p!.eventsOf(`$company_${group}`, 1);
    expect(groupEvents).toHaveLength(1);
    expect(groupEvents[0]).toMatchObject({ type: 'group', group_id: group, traits: { name: 'Acme' } });
    expectWithinRun(groupEvents, r);
  });

  it('posthog-go resends a partly refused batch whole, its events without uuid: the valid one is stored once', async () => {
    // Its batch of two: one event timed past 2299 is refused (400), and posthog-go 1.5.2 resends
    // any non-2xx answer, the same body each time; the other is stored on the first try.
    const requests = r.good.find((l) => l.sdk === 'posthog-go-retry' && l.requests !== undefined)!.requests!;
    expect(requests).toBeGreaterThanOrEqual(2);
    const user = `go-posthog-${r.run}-retry`;
    const first = await p!.eventsOf(user, 1);
    expect(first[0]).toMatchObject({ type: 'track', event: 'Resent', properties: { n: 1 } });
    // Every resend was acknowledged before the probe ended; the first test's events are in, so
    // the sink has written what came with them.
    await p!.eventsOf(`go-posthog-${r.run}`, 2);
    expect((await p!.eventsOf(user, 1)).map((e) => e.event)).toEqual(['Resent']);
    // In ClickHouse too: the query API collapses rows with the same time and id, so it alone would not show a copy.
    expect(await countRows(p!.clickhouse, `SELECT count() FROM events WHERE user_key = '${user}'`)).toBe(1);
  });

  it('with a wrong write key: both SDKs report the refusal and no event of their users is stored', async () => {
    const failures = [...callbacks(r.wrong, 'analytics-go'), ...callbacks(r.wrong, 'posthog-go')];
    expect(failures).toHaveLength(10);
    for (const f of failures) expect([f.sdk, f.callback, f.error]).toEqual([f.sdk, 'failure', expect.stringMatching(/^401 /)]);
    expect(r.refused).toBeGreaterThanOrEqual(2);

    await p!.eventsOf(`go-segment-${r.run}`, 6);
    await p!.eventsOf(`go-posthog-${r.run}`, 2);
    await expectNothingStored([`go-segment-${r.wrongRun}`, `go-posthog-${r.wrongRun}`, `go-posthog-${r.wrongRun}-alias`, `$company_go-group-${r.wrongRun}`]);
  });
});
