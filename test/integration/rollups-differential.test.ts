// The daily rollups equal what was sent, on the real pipeline (ingest HTTP -> Kafka -> sink ->
// chDB, the query API with its view, GraphQL and regulations, an in-process replay): a seeded
// random mix of every call type from two sources, hostile but valid as real apps send it
// (resends of a messageId with the same and with another body, batches retried whole, a replay of
// part of the history, users known only by an anonymous id and users who identify later, unicode,
// very long and case-different names, categories and group ids, empty strings, times around UTC
// midnight, skewed clocks, days long past and far ahead, the ends of the storable range, leap
// days) and an erasure of some users between sends. Every row of every rollup (the tables, their
// _v views, GET /v1/rollups/daily, GraphQL's rollups) is compared with what an independent model
// (test/support/rollup-model.ts) counts from the calls the ingest accepted.
// ROLLUP_SEED=<n> replays a run; the seed is in every failure's message.
import { createHash } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { erasuresPart, hostedStream, queryComponent, sinkComponent, type QueryComponent, type SinkComponent } from '../../src/cli/components.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config } from '../../src/config/index.js';
import { startIngest, type IngestHandle } from '../../src/ingest/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { runReplay } from '../../src/replay/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { tempDir, testConfig } from '../support/env.js';
import { rng, type Rng } from '../support/rng.js';
import { apiRows, compareText, DAY_MS, derive, tableRows, utcDay, type ApiRow, type BatchMembers, type CallTimes, type Counted, type Dimension, type Json, type TableRow } from '../support/rollup-model.js';
import { caughtUp, rows, waitFor } from './sink-helpers.js';

const SEED = process.env.ROLLUP_SEED !== undefined ? Number(process.env.ROLLUP_SEED) : Math.floor(Math.random() * 2 ** 31);
const READ = 'test-read-key';
const ADMIN = 'test-admin-key';
const WRITE_KEYS: Record<string, string> = { web: 'wk-web', ios: 'wk-ios' };
const SOURCES = Object.keys(WRITE_KEYS);
const DIMENSIONS: Dimension[] = ['event', 'category', 'group'];
/** A customer since 2024 whose app sends their history: an event in each of 24 months. */
const LONGTIME = 'since-2024';
/**
 * Erased between the two halves: a user, an anonymous visitor, a user who identified (their
 * anonymous events stay: data-protection.md), and the long-time customer.
 */
const ERASED = ['bob', 'anon-2', 'late-1', LONGTIME];

// ---- the input ------------------------------------------------------------------------------

const USERS: (string | number)[] = ['alice', 'Alice', 'ALICE', 'bob', 'Zoë', 'Zoe\u0308', '用户-7', '👩‍💻 dev', 'user with space', 'quote"user', 'back\\slash', 'tab\tuser', 42, '42', 'u'.repeat(8192)];
const ANONYMOUS = ['anon-1', 'anon-2', 'ANON-1', 'anon-ü', 'anon-\ud83d'];
/** Known by their anonymous id until they identify in the middle of the first half. */
const LATE: [string, string][] = [
  ['anon-late-1', 'late-1'],
  ['anon-late-2', 'late-2'],
];
const NAMES = [
  'Order Completed', 'order completed', 'ORDER COMPLETED', ' Order Completed', 'Café ☕', 'Cafe\u0301 ☕', '注文完了', '🎉', 'page', 'identify',
  'with\ttab', 'with\nnewline', 'quote"back\\slash', 'lone \ud83d', 'nul\u0000byte', 'Ω'.repeat(3000), 'n'.repeat(8192),
];
const CATEGORIES: unknown[] = [undefined, undefined, undefined, '', 'Books', 'books', 'BOOKS', 'Bücher', '書籍', '🛒', 'c\tt', 'c\\n', `long-${'L'.repeat(2000)}`, 5, null, 'Café', 'Cafe\u0301'];
const CONTEXT_GROUPS: unknown[] = [undefined, undefined, undefined, '', 'g1', 'G1', 'grüppe', 7, '7', 'g\nline', 'x'.repeat(2000), true];
const GROUP_IDS: (string | number)[] = ['g1', 'acme', 7, 'grüppe', 'G1', 'Acme'];

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

interface Call {
  type: string;
  call: Json;
  times: CallTimes;
}

/** A time as an app writes it: UTC with Z, with an offset, or without a zone (read as UTC). */
function timeText(r: Rng, ms: number, plain = false): string {
  const iso = new Date(ms).toISOString();
  if (plain) return iso;
  const f = r();
  if (f < 0.5) return iso;
  if (f < 0.65) return iso.slice(0, -1);
  if (f < 0.7 && ms % DAY_MS === 0) return iso.slice(0, 10);
  const offsetMin = pick(r, [330, -480, 60, -150, 840]);
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, -1);
  const a = Math.abs(offsetMin);
  return `${local}${offsetMin < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

class Generator {
  readonly r: Rng;
  private n = 0;
  identified = false;
  erased = false;
  readonly today: number;
  constructor(seed: number) {
    this.r = rng(seed);
    this.today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  }

  private days(): number[] {
    const t = this.today;
    return [t, t, t, t - DAY_MS, t + DAY_MS, t - 30 * DAY_MS, t + 30 * DAY_MS, t - 400 * DAY_MS, t + 400 * DAY_MS, Date.UTC(2024, 1, 29), Date.UTC(2028, 1, 29), Date.UTC(2000, 1, 29), Date.UTC(2100, 1, 28), Date.UTC(2100, 2, 1), Date.UTC(1970, 0, 1), Date.UTC(1999, 11, 31), Date.UTC(2149, 5, 6)];
  }

  /** Ids of the event's user: one of many shapes. */
  private who(): Json {
    const r = this.r;
    const f = r();
    const users = this.erased ? USERS.filter((u) => !ERASED.includes(String(u))) : USERS;
    const anonymous = this.erased ? ANONYMOUS.filter((u) => !ERASED.includes(u)) : ANONYMOUS;
    if (f < 0.55) return r() < 0.3 ? { userId: pick(r, users), anonymousId: pick(r, anonymous) } : { userId: pick(r, users) };
    if (f < 0.8) return r() < 0.3 ? { userId: '', anonymousId: pick(r, anonymous) } : { anonymousId: pick(r, anonymous) };
    const [anon, user] = pick(r, this.erased ? LATE.filter(([, u]) => !ERASED.includes(u)) : LATE);
    return this.identified ? { userId: user, anonymousId: anon } : { anonymousId: anon };
  }

  /** A time for the call, with the sentAt that goes with it (null: not sent). */
  private time(batchSkew: number | null): CallTimes & { text: 'timestamp' | 'originalTimestamp' } {
    const r = this.r;
    const text = r() < 0.1 ? 'originalTimestamp' : 'timestamp';
    const now = Date.now();
    // A target at least 15 minutes from a midnight and from the range's ends: where a skewed
    // clock's correction (which uses the receive time) puts it is then decided.
    const safe = () => pick(r, this.days()) + 15 * 60_000 + Math.floor(r() * (DAY_MS - 30 * 60_000));
    if (batchSkew !== null) {
      // The batch carries sentAt: every time in it is corrected with it.
      if (r() < 0.2) return { ts: null, sentAt: null, text };
      return { ts: safe() + batchSkew, sentAt: null, text };
    }
    const f = r();
    if (f < 0.15) return { ts: null, sentAt: null, text };
    if (f < 0.55) {
      const tod = pick(r, [0, 1, DAY_MS - 1, DAY_MS - 1000, Math.floor(r() * DAY_MS)]);
      return { ts: pick(r, this.days()) + tod, sentAt: null, text };
    }
    if (f < 0.65) {
      const edges = [Date.UTC(1900, 0, 1), Date.UTC(1969, 11, 31, 23, 59, 59, 999), Date.UTC(1970, 0, 1), Date.UTC(2149, 5, 6, 23, 59, 59, 999), Date.UTC(2149, 5, 7), Date.UTC(2299, 11, 31, 23, 59, 59, 999), Date.UTC(2300, 0, 1), Date.UTC(1899, 11, 31, 23, 59, 59, 999)];
      return { ts: pick(r, edges), sentAt: null, text };
    }
    if (f < 0.68) {
      // A corrected time past the storable range: refused.
      return { ts: Date.UTC(2299, 11, 31), sentAt: now - 2 * DAY_MS, text };
    }
    // The device's clock is off by `skew`: it stamps the call and its sending with it.
    const skew = pick(r, [-3 * DAY_MS, -3_600_000, -300_000, 120_000, 3_600_000, 5 * DAY_MS, 3650 * DAY_MS]);
    const target = r() < 0.3 ? now - Math.floor(r() * 60_000) : safe();
    return { ts: target + skew, sentAt: now + skew, text };
  }

  /** One call of a random type. */
  call(batchSkew: number | null): Call {
    const r = this.r;
    const f = r();
    const type = f < 0.5 ? 'track' : f < 0.62 ? 'page' : f < 0.7 ? 'screen' : f < 0.8 ? 'identify' : f < 0.9 ? 'group' : 'alias';
    const call: Json = { type, ...this.who() };
    // Ids as apps make them: mostly UUID-like text, some numbers, odd characters and case.
    const id = this.n++;
    const g = r();
    if (g < 0.03) {
      // none: the edge makes one
    } else if (g < 0.06) call.messageId = 1e6 * SEED + id;
    else if (g < 0.08) call.messageId = `M-${SEED}-${id}-ü\t☕`;
    else if (g < 0.09) call.messageId = `m-${SEED}-${id}-${'i'.repeat(3000)}`;
    else call.messageId = `m-${SEED}-${id}`;
    if (type === 'alias' && (typeof call.userId !== 'string' || call.userId === '') && typeof call.userId !== 'number') call.userId = pick(r, this.erased ? ['alice', 'Zoë'] : USERS);
    if (type === 'alias') call.previousId = pick(r, ANONYMOUS);
    if (type === 'track') call.event = pick(r, NAMES);
    if (type === 'page' || type === 'screen') {
      if (r() < 0.5) call.name = pick(r, ['Home', 'Pricing', 'Ü']);
      if (r() < 0.3) call.category = pick(r, CATEGORIES);
    }
    if (type === 'group') {
      call.groupId = pick(r, GROUP_IDS);
      if (r() < 0.3) call.traits = { name: 'Acme', category: 'not-a-category' };
    }
    const props: Json = {};
    const category = pick(r, CATEGORIES);
    if (category !== undefined && (type !== 'identify' || r() < 0.5)) props.category = category;
    if (r() < 0.3) props.total = Math.round(r() * 10_000) / 100;
    if (Object.keys(props).length > 0 || r() < 0.5) call.properties = props;
    if (type === 'identify' && r() < 0.5) call.traits = { email: 'x@example.com', category: pick(r, ['Books', 'vip']) };
    const group = pick(r, CONTEXT_GROUPS);
    if (group !== undefined || r() < 0.3) call.context = group === undefined ? { library: { name: 'analytics.js' } } : { groupId: group };
    const t = this.time(batchSkew);
    if (t.ts !== null) call[t.text] = timeText(r, t.ts, t.sentAt !== null);
    if (t.sentAt !== null) call.sentAt = new Date(t.sentAt).toISOString();
    return { type, call, times: { ts: t.ts, sentAt: t.sentAt } };
  }

  /** The long-time customer's history, one event a month (the rollups' tables are partitioned by month). */
  history(): Call[] {
    return Array.from({ length: 24 }, (_, i) => {
      const ts = Date.UTC(2024, i, 1 + (i % 28), 12);
      return { type: 'track', call: { type: 'track', userId: LONGTIME, event: 'Subscription Renewed', messageId: `m-${SEED}-${this.n++}`, properties: { category: 'billing' }, timestamp: new Date(ts).toISOString() }, times: { ts, sentAt: null } };
    });
  }

  /** The identify calls that link the late users' anonymous ids to their user ids. */
  identifies(): Call[] {
    this.identified = true;
    return LATE.map(([anon, user]) => ({ type: 'identify', call: { type: 'identify', userId: user, anonymousId: anon, messageId: `m-${SEED}-${this.n++}`, traits: { plan: 'pro' } }, times: { ts: null, sentAt: null } }));
  }
}

// ---- the test ---------------------------------------------------------------------------------

describe(`daily rollups against an independent count of what was accepted (seed ${SEED})`, () => {
  const dir = tempDir('th-rollaudit-');
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle;
  let sink: SinkComponent;
  let query: QueryComponent;
  let ingest: IngestHandle;
  let erasures: Awaited<ReturnType<typeof erasuresPart>>;
  const gen = new Generator(SEED);
  /** Each event the pipeline must count, the first accepted of its identity. */
  const counted = new Map<string, Counted>();
  const sentCalls: { call: Call; source: string }[] = [];
  /** Every accepted call as a record of the events topic (resends and retries too). */
  const records: Counted[] = [];
  /** When a delete's minute after the request ends, as far as the test can tell (the server's clock reads between from and to). */
  let erasedUpTo: { from: number; to: number } | null = null;
  /** Events the erasure removed. */
  const erasedIdentities = new Set<string>();
  let accepted = 0;
  let refused = 0;
  const log: string[] = [];
  const at = (what: string) => `seed ${SEED} (ROLLUP_SEED=${SEED} replays it): ${what}`;

  /** Posts one request and books what the model makes of each call against the ingest's answer. */
  async function post(source: string, path: string, body: Json, calls: Call[], batch: BatchMembers): Promise<void> {
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${ingest.port}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEYS[source]}:`).toString('base64')}` },
      body: JSON.stringify(body),
    });
    const answer = (await res.json()) as { rejected?: { index: number; code: string }[]; code?: string };
    const t1 = Date.now();
    const refusedAt = new Set<number>();
    if (res.status === 400 && path === '/v1/batch') for (const x of answer.rejected ?? []) refusedAt.add(x.index);
    else if (res.status === 400) refusedAt.add(0);
    else expect(res.status, at(`${path} answered ${res.status} ${JSON.stringify(answer)}`)).toBe(200);
    calls.forEach((c, i) => {
      const d = derive(c.type, c.call, c.times, batch, source, t0, t1);
      expect(d.accepted, at(`the ingest ${refusedAt.has(i) ? 'refused' : 'accepted'} ${JSON.stringify(c.call).slice(0, 300)} (${d.accepted ? 'model: accepted' : `model: ${d.why}`})`)).toBe(!refusedAt.has(i));
      sentCalls.push({ call: c, source });
      if (!d.accepted) {
        refused++;
        return;
      }
      accepted++;
      records.push(d.counted);
      // A delete covers the user's records stamped up to a minute after the request; later ones are new data (data-protection.md).
      if (erasedUpTo !== null && ERASED.includes(d.counted.userKey)) {
        if (t1 <= erasedUpTo.from) return;
        if (t0 <= erasedUpTo.to) throw new Error(at(`sent too near the end of the erasure's minute to tell: ${JSON.stringify(c.call)}`));
        // After it, a resend of an erased event is dropped by the running sink, whose resend
        // window still holds it (a replay or a restarted sink would store it: data-protection.md).
        if (erasedIdentities.has(d.counted.identity)) return;
      }
      if (!counted.has(d.counted.identity)) counted.set(d.counted.identity, d.counted);
    });
  }

  /** A random batch: new calls, resends of earlier ones (same body, or same id with another body or user). */
  async function sendBatch(): Promise<void> {
    const r = gen.r;
    const source = pick(r, SOURCES);
    const skew = r() < 0.2 ? pick(r, [-DAY_MS, -600_000, 7_200_000, 40 * DAY_MS]) : null;
    const calls: Call[] = [];
    const size = 40 + Math.floor(r() * 100);
    for (let i = 0; i < size; i++) {
      const f = r();
      const old = sentCalls.length > 0 && skew === null ? pick(r, sentCalls).call : null;
      if (old !== null && f < 0.08 && !(gen.erased && ERASED.some((u) => JSON.stringify(old.call).includes(`"${u}"`)))) {
        calls.push(old); // resent as it was
      } else if (old !== null && f < 0.12 && typeof old.call.messageId === 'string' && !(gen.erased && ERASED.some((u) => JSON.stringify(old.call).includes(`"${u}"`)))) {
        // The same messageId with another body: the first accepted counts.
        const other = gen.call(null);
        const who: Json = {};
        if (f < 0.105) {
          // Same user: the old call's ids in place of the new one's.
          delete other.call.userId;
          delete other.call.anonymousId;
          for (const k of ['userId', 'anonymousId']) if (old.call[k] !== undefined) who[k] = old.call[k];
        }
        calls.push({ ...other, call: { ...other.call, ...who, messageId: old.call.messageId } });
      } else {
        calls.push(gen.call(skew));
      }
    }
    const batch: BatchMembers = { sentAt: null, context: null };
    const body: Json = { batch: calls.map((c) => c.call) };
    if (skew !== null) {
      batch.sentAt = Date.now() + skew;
      body.sentAt = new Date(batch.sentAt).toISOString();
    }
    if (r() < 0.2) {
      batch.context = { groupId: 'batch-group', library: { name: 'analytics-node' } };
      body.context = batch.context;
    }
    await post(source, '/v1/batch', body, calls, batch);
    // A client that lost the answer sends the whole batch again.
    if (r() < 0.1) await post(source, '/v1/batch', body, calls, batch);
  }

  async function sendSingles(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const c = gen.call(null);
      const { type, ...rest } = c.call;
      await post(pick(gen.r, SOURCES), `/v1/${String(type)}`, rest, [c], { sentAt: null, context: null });
    }
  }

  const caught = () => caughtUp(kafka, config.kafka.topics.events, config.sink.groupId, 60_000);

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${query.port}${path}`, { headers: { authorization: `Bearer ${READ}` } });
    const text = await res.text();
    expect(res.status, at(`${path}: ${text.slice(0, 300)}`)).toBe(200);
    return JSON.parse(text) as T;
  }

  async function graphql(by: Dimension): Promise<Record<string, unknown>[]> {
    const res = await fetch(`http://127.0.0.1:${query.port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${READ}` },
      body: JSON.stringify({ query: `{ rollups(by: ${by}) { day key type events users } }` }),
    });
    const body = (await res.json()) as { data?: { rollups: Record<string, unknown>[] }; errors?: unknown };
    expect(body.errors, at(`GraphQL rollups(by: ${by})`)).toBeUndefined();
    return body.data!.rollups;
  }

  const TABLE_KEYS: Record<Dimension, string> = { event: 'type, event', category: 'category', group: 'group_id' };

  async function tableOf(by: Dimension, view: boolean): Promise<TableRow[]> {
    const keys = TABLE_KEYS[by];
    const table = `events_daily_by_${by}${view ? '_v' : ''}`;
    const sql = view
      ? `SELECT toString(day) AS day, toString(source) AS source, ${keys}, toString(events) AS events, toString(users) AS users FROM ${table}`
      : `SELECT toString(day) AS day, toString(source) AS source, ${keys}, toString(sum(events)) AS events, toString(uniqExactMerge(users)) AS users FROM ${table} GROUP BY day, source, ${keys}`;
    const got = await rows<Record<string, string>>(ch.client, sql);
    const names = keys.split(', ');
    return got
      .map((x) => ({ day: x.day!, source: x.source!, keys: names.map((k) => x[k]!), events: Number(x.events), users: Number(x.users) }))
      .sort((a, b) => {
        for (const [p, q] of [[a.day, b.day], [a.source, b.source], ...a.keys.map((k, i) => [k, b.keys[i]!])] as [string, string][]) {
          const c = compareText(p, q);
          if (c !== 0) return c;
        }
        return 0;
      });
  }

  /** Every rollup, as each reader sees it, against the model. */
  async function expectRollupsExact(stage: string): Promise<void> {
    const model = [...counted.values()];
    const eventRows = await rows<{ n: string }>(ch.client, 'SELECT toString(count()) AS n FROM events');
    if (Number(eventRows[0]!.n) !== model.length) {
      const stored = await rows<{ user_key: string; event_id: string }>(ch.client, 'SELECT user_key, event_id FROM events');
      const extra = stored.filter((x) => !counted.has(`${x.user_key}\u0000${x.event_id}`) && !x.event_id.match(/^[0-9a-f-]{36}$/));
      log.push(`${stage}: rows not in the model: ${JSON.stringify(extra.slice(0, 10))}`);
    }
    expect(Number(eventRows[0]!.n), at(`${stage}: rows in events`)).toBe(model.length);
    for (const by of DIMENSIONS) {
      const want = tableRows(model, by);
      expect(diff(await tableOf(by, false), want), at(`${stage}: table events_daily_by_${by} (got, want)`)).toEqual([]);
      expect(diff(await tableOf(by, true), want), at(`${stage}: view events_daily_by_${by}_v (got, want)`)).toEqual([]);
      const rest = (await api<{ rows: ApiRow[] }>(`/v1/rollups/daily?by=${by}`)).rows;
      expect(diff(rest, apiRows(model, by)), at(`${stage}: GET /v1/rollups/daily?by=${by} (got, want)`)).toEqual([]);
      expect(rest, at(`${stage}: GET /v1/rollups/daily?by=${by} in order`)).toEqual(apiRows(model, by));
      const g = await graphql(by);
      expect(g, at(`${stage}: GraphQL rollups(by: ${by}) equals REST`)).toEqual(rest.map((x) => ({ type: null, ...x })));
      const from = utcDay(gen.today - DAY_MS);
      const to = utcDay(gen.today + 2 * DAY_MS);
      const src = pick(gen.r, SOURCES);
      const ranged = (await api<{ rows: ApiRow[] }>(`/v1/rollups/daily?by=${by}&from=${from}&to=${to}&source=${src}`)).rows;
      expect(ranged, at(`${stage}: GET /v1/rollups/daily?by=${by}&from=${from}&to=${to}&source=${src}`)).toEqual(apiRows(model, by, from, to, src));
    }
  }

  beforeAll(async () => {
    // A run that crosses midnight UTC would move "now" events to another day than the model's.
    const left = DAY_MS - (Date.now() % DAY_MS);
    if (left < 5 * 60_000) await new Promise((r) => setTimeout(r, left + 1000));
    config = testConfig(dir.path, {
      SINK_BATCH_MS: '100',
      TRACKHOUSE_WRITE_KEYS: Object.entries(WRITE_KEYS).map(([s, k]) => `${k}:${s}`).join(','),
      TRACKHOUSE_ADMIN_KEYS: `${ADMIN}:dpo`,
      // The live volume counts an event on its own day up to this lateness (its longest).
      STREAM_ALLOWED_LATENESS_MS: String(7 * DAY_MS),
    });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    const base = { config, log: silentLogger() };
    erasures = await erasuresPart(kafka, config, silentLogger());
    sink = await sinkComponent({ ...base, registry: createRegistry('sink', false), kafka, clickhouse: ch.client, erasures: erasures.reader });
    const queryRegistry = createRegistry('query', false);
    const brokers = config.kafka.brokers as string[];
    const stream = hostedStream({ ...base, registry: queryRegistry, brokers });
    query = await queryComponent({ ...base, registry: queryRegistry, brokers, clickhouse: ch.client, erasures: erasures.reader, stream });
    ingest = await startIngest({ ...base, registry: createRegistry('ingest', false), brokers: config.kafka.brokers as string[] });
  }, 120_000);

  afterAll(async () => {
    console.log(at(log.join('; ')));
    await ingest?.stop();
    await query?.stop();
    await sink?.stop();
    await erasures?.part.stop();
    await ch?.close();
    dir.remove();
  });

  it('counts every accepted event once, on its day, through resends, retried batches and a replay', { timeout: 120_000 }, async () => {
    let replayFrom = 0;
    for (let i = 0; i < 12; i++) {
      if (i === 4) replayFrom = Date.now();
      if (i === 2) {
        const history = gen.history();
        await post('ios', '/v1/batch', { batch: history.map((c) => c.call) }, history, { sentAt: null, context: null });
      }
      if (i === 6) {
        const identifies = gen.identifies();
        await post('web', '/v1/batch', { batch: identifies.map((c) => c.call) }, identifies, { sentAt: null, context: null });
      }
      await sendBatch();
    }
    await sendSingles(20);
    log.push(`first half: ${accepted} accepted, ${refused} refused, ${counted.size} events`);
    await caught();
    await expectRollupsExact('after the first half');

    // `trackhouse replay --from` a time in the middle: everything is there, nothing is added.
    const summary = await runReplay({ config, kafka, clickhouse: ch.client, log: silentLogger(), from: { kind: 'time', ms: replayFrom } });
    expect([summary.inserted, summary.read > 0], at('replay')).toEqual([0, true]);
    await expectRollupsExact('after a replay of part of the history');
  });

  it('drops erased users as documented, and keeps counting exactly after', { timeout: 400_000 }, async () => {
    const res = await fetch(`http://127.0.0.1:${query.port}/v1/regulations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'delete', user_ids: ERASED }),
    });
    const asked = Date.now();
    expect(res.status, at('POST /v1/regulations')).toBe(202);
    erasedUpTo = { from: asked + 60_000, to: Date.now() + 60_000 };
    const { id } = (await res.json()) as { id: string };
    await waitFor(
      'the regulation to finish',
      async () => {
        const r = await fetch(`http://127.0.0.1:${query.port}/v1/regulations/${id}`, { headers: { authorization: `Bearer ${ADMIN}` } });
        const b = (await r.json()) as { status: string; error?: string | null };
        if (b.status === 'failed' || (b.error ?? null) !== null) throw new Error(at(`the regulation failed: ${JSON.stringify(b)}`));
        return b.status === 'finished';
      },
      300_000,
    );
    log.push(`regulation took ${Date.now() - asked} ms`);
    for (const [identity, c] of counted) {
      if (!ERASED.includes(c.userKey)) continue;
      counted.delete(identity);
      erasedIdentities.add(identity);
    }
    await expectRollupsExact('after the erasure');

    // Sent at once after it: an erased user's new events of that minute are erased too; their resends as well.
    const theirs = sentCalls.filter(({ call }) => ERASED.some((u) => JSON.stringify(call.call).includes(`"${u}"`))).slice(0, 20);
    const late: Call[] = [...theirs.map((x) => x.call), ...ERASED.map((u) => ({ type: 'track', call: { type: 'track', userId: u, event: 'After Erasure', messageId: `after-${u}` }, times: { ts: null, sentAt: null } }))];
    gen.erased = true;
    const margin = erasedUpTo!;
    if (Date.now() > margin.from - 5000 && Date.now() <= margin.to + 1000) await new Promise((r) => setTimeout(r, margin.to + 1000 - Date.now()));
    log.push(`erased users' calls sent ${Date.now() < margin.from ? 'within' : 'after'} the erasure's minute`);
    await post('web', '/v1/batch', { batch: late.map((c) => c.call) }, late, { sentAt: null, context: null });
    for (let i = 0; i < 12; i++) await sendBatch();
    await sendSingles(20);
    log.push(`in all: ${accepted} accepted, ${refused} refused, ${counted.size} events`);
    await caught();
    await expectRollupsExact('after the second half');
  });

  it('GET /v1/volume counts, on their days, the events of the topic: at least each event once, at most every record', { timeout: 60_000 }, async () => {
    // The stream reads the events topic itself, so it counts the erased users' records too (its
    // counters are not recomputed: data-protection.md); whether a resend counts again is the
    // stream's own rule (docs/architecture/stream.md), so each row lies between each event counted
    // once and every record counted. An event is on time up to STREAM_ALLOWED_LATENESS_MS (7 days
    // here) behind the watermark: days from yesterday on are counted on their own day.
    const from = utcDay(gen.today - DAY_MS);
    const to = utcDay(gen.today + 401 * DAY_MS);
    const once = new Map<string, Counted>();
    for (const c of records) if (!once.has(c.identity)) once.set(c.identity, c);
    const cell = (x: { day: string; type?: string; key: string }) => JSON.stringify([x.day, x.type, volumeKey(x.key)]);
    const low = new Map(apiRows(once.values(), 'event', from, to).map((x) => [cell(x), x]));
    const high = new Map(apiRows(records, 'event', from, to).map((x) => [cell(x), x]));
    const outside = (got: { day: string; type: string; key: string; events: number; users: number }[]) => {
      const seen = new Map(got.map((x) => [JSON.stringify([x.day, x.type, x.key]), x]));
      const bad: unknown[] = [];
      for (const [k, h] of high) {
        const g = seen.get(k);
        const l = low.get(k);
        const min = { events: l?.events ?? 0, users: l?.users ?? 0 };
        if ((g?.events ?? 0) < min.events || (g?.events ?? 0) > h.events || (g?.users ?? 0) < min.users || (g?.users ?? 0) > h.users) bad.push({ cell: k.slice(0, 120), got: g && { events: g.events, users: g.users }, min, max: { events: h.events, users: h.users } });
      }
      for (const [k, g] of seen) if (!high.has(k)) bad.push({ cell: k.slice(0, 120), got: { events: g.events, users: g.users }, max: null });
      return bad;
    };
    const read = async () =>
      (await api<{ rows: { start: string; key: string; type: string; events: number; users: number }[] }>(`/v1/volume?by=event&window=day&from=${from}&to=${to}`)).rows
        .filter((x) => x.events > 0)
        .map((x) => ({ day: x.start.slice(0, 10), type: x.type, key: x.key, events: x.events, users: x.users }));
    const got = await waitFor('the live volume to count every event', async () => {
      const rows = await read();
      return outside(rows).length === 0 ? rows : undefined;
    }, 30_000).catch(read);
    expect(outside(got).slice(0, 10), at('GET /v1/volume?by=event&window=day: cells outside [each event once, every record]')).toEqual([]);
  });
});

/** A name as the live volume keys it: over 1024 UTF-8 bytes, its first 256 characters, '…' and 16 hex digits of its SHA-256 (docs/architecture/stream.md). */
function volumeKey(s: string): string {
  if (Buffer.byteLength(s) <= 1024) return s;
  const cut = /[\uD800-\uDBFF]/.test(s[255]!) ? 255 : 256;
  return `${s.slice(0, cut)}…${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;
}

/** Rows only one side has (by value), so a failure shows what differs rather than two long lists. */
function diff<T>(got: readonly T[], want: readonly T[]): { got?: T; want?: T }[] {
  const key = (x: T) => JSON.stringify(x);
  const left = new Map<string, number>();
  for (const x of want) left.set(key(x), (left.get(key(x)) ?? 0) + 1);
  const out: { got?: T; want?: T }[] = [];
  for (const x of got) {
    const n = left.get(key(x)) ?? 0;
    if (n > 0) left.set(key(x), n - 1);
    else out.push({ got: x });
  }
  for (const x of want) {
    const n = left.get(key(x)) ?? 0;
    if (n > 0) {
      left.set(key(x), n - 1);
      out.push({ want: x });
    }
  }
  return out.slice(0, 20);
}
