// Shared pieces of the view's integration tests: random events with every awkward thing an event
// can hold, random requests, and a reader that follows next_cursor to the end. Everything runs on
// the real broker and a real chDB.
import { createHash } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { queryComponent, type QueryComponent } from '../../src/cli/components.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry, type Registry } from '../../src/common/metrics.js';
import type { Config, Env } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import type { EventRecord, EventType } from '../../src/schema/index.js';
import { EVENT_TYPES } from '../../src/schema/index.js';
import { startQuery, type QueryServer } from '../../src/query/index.js';
import { startSink } from '../../src/sink/index.js';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { serveClickHouseHttp, type ClickHouseHttp } from '../support/clickhouse-http.js';
import { kafkaBrokers, testConfig } from '../support/env.js';
import { rng } from '../support/rng.js';
import { produce, waitFor } from './sink-helpers.js';

export const DAY = 86_400_000;

export { rng };

const NAMES = ['Order Completed', 'Product Viewed', 'Signed In', 'ünïcødé 😀', 'with "quotes" and \\ backslash', 'tab\tand\nnewline'];
/** Texts ClickHouse's isValidJSON refuses, and a few that look odd but pass. */
const ODD_JSON = [
  '{"a":"\\ud800"}',
  '{"a":18446744073709551616}',
  '{"a":1e400}',
  '',
  '{"a":1,}',
  '\ufeff{"bom":true}',
  '{"deep":' + '['.repeat(1100) + ']'.repeat(1100) + '}',
  '{"ok":"\\ud83d\\ude00","n":-9223372036854775808,"f":1e-400}',
  '{"a":"\\u0000 and \\t"}',
  '  {"spaced": [1, 2, {"x": null}]}  ',
];

export interface RandomEvents {
  events: EventRecord[];
  users: string[];
}

/**
 * Events of `users` users over [start, end): track calls with a few names, the other types, users
 * known by user id or only by anonymous id, strings with quotes, tabs, newlines and emoji, some
 * JSON texts ClickHouse refuses, many events in the same millisecond, and client resends (the same
 * messageId again, its time a few ms off).
 */
export function randomEvents(seed: number, n: number, users: number, start: number, end: number): RandomEvents {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const userIds = Array.from({ length: users }, (_, i) => (i % 7 === 3 ? `ünï-${i} "q"` : i % 5 === 0 ? `anon-${i}` : `user-${i}`));
  const events: EventRecord[] = [];
  for (let i = 0; i < n; i++) {
    // Resends: the same messageId again, a little later, its time corrected differently.
    if (i > 10 && r() < 0.04) {
      const orig = events[Math.floor(r() * events.length)]!;
      events.push({ ...orig, timestamp: orig.timestamp + 1 + Math.floor(r() * 5), received_at: orig.received_at + 2_000 });
      continue;
    }
    const u = Math.floor(Math.pow(r(), 2) * users);
    const anonymous = u % 5 === 0;
    const type: EventType = r() < 0.7 ? 'track' : pick(EVENT_TYPES);
    // A tenth of the events share a few milliseconds: ties ordered by event_id.
    const ts = r() < 0.1 ? start + Math.floor(r() * 3) * 1000 : start + Math.floor(r() * (end - start));
    const odd = r() < 0.05;
    events.push({
      event_id: r() < 0.05 ? `id-${i}-"odd"\u00e9` : createHash('sha1').update(`${seed}-${i}`).digest('hex').slice(0, 20),
      type,
      event: type === 'track' ? pick(NAMES) : null,
      user_id: anonymous ? null : userIds[u]!,
      anonymous_id: anonymous ? userIds[u]! : `a-${u}`,
      timestamp: ts,
      sent_at: r() < 0.5 ? null : ts + 100,
      received_at: ts + 200 + Math.floor(r() * 100),
      source: pick(['web', 'ios']),
      category: r() < 0.5 ? pick(['shoes', 'books', 'tab\tcat']) : null,
      group_id: r() < 0.2 ? 'org-1' : null,
      name: type === 'page' || type === 'screen' ? pick(['Home', 'Cart "x"']) : null,
      previous_id: type === 'alias' ? `prev-${u}` : null,
      properties: odd ? pick(ODD_JSON) : JSON.stringify({ i, price: r() * 100, note: 'line\nbreak', tags: ['a', 'b'] }),
      traits: type === 'identify' ? JSON.stringify({ plan: pick(['free', 'pro']), email: `u${u}@example.com` }) : '{}',
      context: odd ? pick(ODD_JSON) : JSON.stringify({ ip: '10.0.0.1', page: { path: `/p/${i}` } }),
    });
  }
  const keys = [...new Set(events.map((e) => e.user_id ?? e.anonymous_id!))];
  return { events, users: keys };
}

export interface Request {
  user: string;
  query: string;
}

/** Random request shapes over `users`, and users with no events. */
export function randomRequests(seed: number, n: number, users: readonly string[], start: number, end: number): Request[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const iso = (ms: number) => new Date(ms).toISOString();
  const out: Request[] = [];
  for (let i = 0; i < n; i++) {
    const q: string[] = [];
    if (r() < 0.35) q.push(`from=${iso(start + Math.floor(r() * (end - start)))}`);
    if (r() < 0.35) q.push(`to=${iso(start + Math.floor(r() * (end - start)) + DAY)}`);
    if (r() < 0.3) q.push(`type=${pick(EVENT_TYPES)}`);
    if (r() < 0.25) q.push(`event=${encodeURIComponent(pick(NAMES))}`);
    q.push(`limit=${pick([1, 2, 3, 7, 20, 100])}`);
    const user = r() < 0.05 ? `nobody-${i}` : pick(users);
    // from >= to is a 400 in both; keep the ranges valid so pages are compared.
    const from = /from=([^&]+)/.exec(q.join('&'));
    const to = /to=([^&]+)/.exec(q.join('&'));
    if (from && to && Date.parse(from[1]!) >= Date.parse(to[1]!)) q.splice(q.indexOf(`to=${to[1]}`), 1);
    out.push({ user, query: q.join('&') });
  }
  return out;
}

export interface Page {
  status: number;
  text: string;
}

/** Every page of a request, following next_cursor (at most `maxPages`). */
export async function allPages(base: string, key: string, req: Request, maxPages = 50): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const q = [req.query, cursor === null ? '' : `cursor=${cursor}`].filter((s) => s !== '').join('&');
    const res = await fetch(`${base}/v1/users/${encodeURIComponent(req.user)}/events${q ? `?${q}` : ''}`, { headers: { authorization: `Bearer ${key}` } });
    const text = await res.text();
    pages.push({ status: res.status, text });
    cursor = res.status === 200 ? (JSON.parse(text) as { next_cursor: string | null }).next_cursor : null;
  } while (cursor !== null && pages.length < maxPages);
  return pages;
}

export interface QueryOnView {
  config: Config;
  kafka: Kafka;
  ch: ClickHouseHandle;
  q: QueryComponent;
  registry: Registry;
  /** http://127.0.0.1:<port> of the query API. */
  base: string;
  stop(): Promise<void>;
}

/**
 * The query component (chDB migrated, QUERY_VIEW_DAYS 3650) with `events` produced to the events
 * topic and its view caught up with them.
 */
export async function queryOnView(dataDir: string, events: readonly EventRecord[]): Promise<QueryOnView> {
  const config = testConfig(dataDir, { QUERY_VIEW_DAYS: '3650' });
  const kafka = createKafka(config.kafka, silentLogger());
  await ensureTopics(kafka, config.kafka);
  const ch = await openClickHouse(config.clickhouse, config.dataDir);
  await migrate(ch.client, silentLogger());
  const registry = createRegistry('q', false);
  const q = await queryComponent({ config, brokers: config.kafka.brokers as string[], clickhouse: ch.client, log: silentLogger(), registry });
  await produce(kafka, config.kafka.topics.events, [...events]);
  await waitFor('the view to catch up', async () => q.view.caughtUp() && (q.view.report()?.counts.records ?? 0) >= events.length);
  return {
    config,
    kafka,
    ch,
    q,
    registry,
    base: `http://127.0.0.1:${q.port}`,
    async stop() {
      await q.stop();
      await ch.close();
    },
  };
}

/**
 * What a `trackhouse query` of its own needs around it, as the split deployment has it: the sink
 * writing the events topic into chDB, chDB served over ClickHouse's HTTP interface (the split
 * query's CLICKHOUSE_URL), and a query API on chDB alone (`plain`, the reference pages). `events`
 * are produced before it resolves.
 */
export interface SplitBackend {
  config: Config;
  kafka: Kafka;
  ch: ClickHouseHandle;
  http: ClickHouseHttp;
  plain: QueryServer;
  /** The environment of a `trackhouse query` on this backend with its view under `dataDir`, read key `key`. */
  queryEnv(dataDir: string, key: string): Env;
  stop(): Promise<void>;
}

export async function splitBackend(dataDir: string, events: readonly EventRecord[], over: Env = {}): Promise<SplitBackend> {
  const config = testConfig(dataDir, { SINK_BATCH_MS: '100', ...over });
  const kafka = createKafka(config.kafka, silentLogger());
  await ensureTopics(kafka, config.kafka);
  const ch = await openClickHouse(config.clickhouse, config.dataDir);
  await migrate(ch.client, silentLogger());
  const sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('sink', false) });
  const http = await serveClickHouseHttp(ch.client);
  const plain = await startQuery({ config, clickhouse: ch.client, log: silentLogger(), registry: createRegistry('q', false) });
  await produce(kafka, config.kafka.topics.events, [...events]);
  return {
    config,
    kafka,
    ch,
    http,
    plain,
    queryEnv: (viewDataDir, key) => ({
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_TOPIC_EVENTS: config.kafka.topics.events,
      KAFKA_TOPIC_REJECTED: config.kafka.topics.rejected,
      KAFKA_TOPIC_DLQ: config.kafka.topics.dlq,
      CLICKHOUSE_URL: http.url,
      TRACKHOUSE_DATA_DIR: viewDataDir,
      TRACKHOUSE_READ_KEYS: key,
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      LOG_LEVEL: 'info',
    }),
    async stop() {
      await Promise.allSettled([plain.stop(), sink.stop(), http.close()]);
      await ch.close();
    },
  };
}
