// Shared setup for the query API's integration tests: a migrated chDB in a temp dir, rows written
// with the column list of clickhouse/001_events.sql (as the sink writes them), a running query
// server, and a small HTTP client.
import { Readable } from 'node:stream';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { EVENTS_INSERT_COLUMNS, type StoredRow } from '../../src/schema/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry, type Registry } from '../../src/common/metrics.js';
import type { Env } from '../../src/config/index.js';
import { dashboardRoutes } from '../../src/cli/components.js';
import { graphqlRoutes } from '../../src/graphql/index.js';
import { startQuery, type QueryRoutes, type QueryServer } from '../../src/query/index.js';
import type { Regulation } from '../../src/erasure/index.js';
import { adminRoutes, type AdminDeps } from '../../src/regulations/index.js';
import { registerStreamRoutes } from '../../src/stream/index.js';
import { tempDir, testConfig } from '../support/env.js';

export const READ_KEY = 'test-read-key';

/** The columns a test row fills: the sink's insert columns but kafka_topic (the table's default). */
export const COLUMNS = EVENTS_INSERT_COLUMNS.filter((c) => c !== 'kafka_topic');

export interface Row {
  event_id: string;
  /** Unix ms. */
  timestamp: number;
  type?: string;
  event?: string;
  user_id?: string;
  anonymous_id?: string;
  received_at?: number;
  source?: string;
  category?: string;
  group_id?: string;
  name?: string;
  previous_id?: string;
  properties?: string;
  traits?: string;
  context?: string;
}

const chTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

/** A test row as the table holds it. */
export function insertedRow(r: Row): StoredRow {
  return {
    event_id: r.event_id,
    type: r.type ?? 'track',
    event: r.event ?? (r.type === undefined || r.type === 'track' ? 'Test Event' : ''),
    user_id: r.user_id ?? '',
    anonymous_id: r.anonymous_id ?? '',
    timestamp: r.timestamp,
    received_at: r.received_at ?? r.timestamp + 50,
    source: r.source ?? 'test',
    category: r.category ?? '',
    group_id: r.group_id ?? '',
    name: r.name ?? '',
    previous_id: r.previous_id ?? '',
    properties: r.properties ?? '{}',
    traits: r.traits ?? '',
    context: r.context ?? '{}',
  };
}

/** Writes rows as the sink would (TabSeparated would do too; JSONEachRow keeps escaping simple). */
export async function insertRows(ch: ClickHouseHandle, rows: readonly Row[], opts: { dedupe?: boolean } = {}): Promise<void> {
  const lines = rows.map((r, i) => {
    const row = insertedRow(r);
    return JSON.stringify({
      ...row,
      timestamp: chTime(row.timestamp),
      sent_at: null,
      received_at: chTime(row.received_at),
      kafka_partition: 0,
      kafka_offset: i,
    });
  });
  await ch.client.exec({
    query: `INSERT INTO events (${COLUMNS.join(', ')}) FORMAT JSONEachRow`,
    values: Readable.from([Buffer.from(`${lines.join('\n')}\n`)]),
    // chDB keeps settings on its session: say every one we rely on.
    clickhouse_settings: { insert_deduplication_token: '', insert_deduplicate: opts.dedupe === false ? 0 : 1, async_insert: 0 },
  });
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

export interface Harness {
  ch: ClickHouseHandle;
  server: QueryServer;
  registry: Registry;
  base: string;
  get(path: string, key?: string | null): Promise<Reply>;
  /** Another query server on the same ClickHouse client (as the all-in-one shares it). */
  another(opts?: { env?: Env; dashboard?: boolean }): Promise<{ server: QueryServer; registry: Registry; get(path: string): Promise<Reply> }>;
  close(): Promise<void>;
}

async function fetchReply(url: string, key: string | null): Promise<Reply> {
  const res = await fetch(url, { headers: key === null ? {} : { authorization: `Bearer ${key}` } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text for the assertion message */
  }
  return { status: res.status, headers: res.headers, text, body };
}

/**
 * `dashboard`, `graphql`: the query server also serves the dashboard's or GraphQL's routes, as the
 * query component wires them (GraphQL with its metric, without a stream component); `routes`: more
 * route sets.
 */
export async function startHarness(opts: { env?: Env; dashboard?: boolean; graphql?: boolean; routes?: readonly QueryRoutes[] } = {}): Promise<Harness> {
  const dir = tempDir('trackhouse-query-');
  const config = testConfig(dir.path, opts.env);
  const ch = await openClickHouse(config.clickhouse, config.dataDir);
  await migrate(ch.client, silentLogger());
  const registry = createRegistry('query', false);
  const routes = [
    ...(opts.dashboard ? [dashboardRoutes(config, silentLogger())] : []),
    ...(opts.graphql ? [graphqlRoutes({ config, log: silentLogger(), registry, stream: null })] : []),
    ...(opts.routes ?? []),
  ];
  const server = await startQuery({ config, clickhouse: ch.client, log: silentLogger(), registry, routes });
  const base = `http://127.0.0.1:${server.port}`;
  const others: QueryServer[] = [];
  return {
    ch,
    server,
    registry,
    base,
    get: (path, key = READ_KEY) => fetchReply(`${base}${path}`, key),
    async another(o = {}) {
      const cfg = testConfig(dir.path, { ...opts.env, ...o.env });
      const reg = createRegistry('query', false);
      const more = o.dashboard ? [dashboardRoutes(cfg, silentLogger())] : [];
      const other = await startQuery({ config: cfg, clickhouse: ch.client, log: silentLogger(), registry: reg, routes: more });
      others.push(other);
      return { server: other, registry: reg, get: (path: string) => fetchReply(`http://127.0.0.1:${other.port}${path}`, READ_KEY) };
    },
    async close() {
      for (const o of others) await o.stop();
      await server.stop();
      await ch.close();
      dir.remove();
    },
  };
}

export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  if (!m) return 0;
  return m.values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((sum, v) => sum + v.value, 0);
}

export const events = (userId: string, query = '') => `/v1/users/${encodeURIComponent(userId)}/events${query ? `?${query}` : ''}`;

export const ADMIN_KEY = 'test-admin-key';
/** The one regulation the whole-port harness's admin routes list. */
export const REGULATION: Regulation = {
  id: 'reg_1',
  type: 'suppress',
  status: 'finished',
  actor: 'tester',
  userKeys: ['u:x'],
  createdAt: Date.UTC(2026, 0, 1),
  finishedAt: Date.UTC(2026, 0, 1),
  counts: null,
  error: null,
};

/**
 * A query server with every route set the port serves (the dashboard, GraphQL, the stream's and
 * the admin routes, and `more`), for tests of what every route does: the stream's answers come
 * from `answer` (a stand-in for the stream processor), the admin routes list REGULATION.
 */
export async function startWholePort(answer: Parameters<typeof registerStreamRoutes>[1]['answer'], more: readonly QueryRoutes[] = []): Promise<Harness> {
  let h: Harness | undefined;
  h = await startHarness({
    env: { TRACKHOUSE_ADMIN_KEYS: `${ADMIN_KEY}:tester` },
    dashboard: true,
    graphql: true,
    routes: [
      (app, g) => registerStreamRoutes(app, { readKeys: new Set([READ_KEY]), answer, draining: g.draining, cors: g.cors }),
      adminRoutes({
        adminKeys: new Map([[ADMIN_KEY, 'tester']]),
        timeoutMs: 10_000,
        deps: () => (h === undefined ? null : ({ list: { regulations: new Map([[REGULATION.id, REGULATION]]) }, clickhouse: h.ch.client, copier: null } as unknown as AdminDeps)),
      }),
      ...more,
    ],
  });
  return h;
}
