// npm run bench -- graphql: a page of one user's events through GraphQL (POST /graphql, user.events
// as a connection) against the same page through REST (GET /v1/users/{id}/events), on one query
// server, at 32 concurrent clients (autocannon, closed loop): p50/p99 and req/s side by side and
// their ratios. Table: BENCH_GRAPHQL_ROWS events (1,000,000; BENCH_QUICK=1: 50,000).
//
// The same request streams as `npm run bench -- query` (bench/query.ts), each REST request
// translated into the GraphQL query asking for every field the REST reply has:
//   hot   - the most active users through the cache (bench/query-server.ts: the dist query API with
//           a change feed, as in the all-in-one): GraphQL's own cost at its most visible;
//   zipf  - users drawn by activity on `trackhouse query` (no cache: every page reads ClickHouse).
// REST and GraphQL alternate (REST, GraphQL, REST, GraphQL) on one server process, so drift in the
// shared machine's load falls on both; each side's figures are from its two runs together.
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as hdr from 'hdr-histogram-js';
import { CONNECTIONS, DATA_END_MS, firstJsonLine, hotKeys, paths, READ_KEY, SEED, seed, setHotUsers, spawnLogged, type Pattern } from './query.js';
import type { BenchContext, BenchSection } from './types.js';

const require = createRequire(import.meta.url);
interface AutocannonResult {
  requests: { total: number };
  throughput: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: AutocannonResult) => void) => {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
};
const autocannon = require('autocannon') as Autocannon;

/** Every field of a REST event, the edge's cursor and the page info: what a REST page carries. */
export const PAGE_QUERY =
  'query Page($id: String!, $first: Int, $type: EventType, $event: String, $from: String, $to: String) { user(id: $id) { events(first: $first, type: $type, event: $event, from: $from, to: $to) { ' +
  'edges { cursor node { eventId type event userId anonymousId timestamp receivedAt source category groupId properties traits context name previousId } } pageInfo { hasNextPage endCursor } } } }';

/** A REST path of bench/query.ts as the GraphQL request asking for the same page. */
export function graphqlBody(restPath: string): string {
  const [p, q = ''] = restPath.split('?');
  const id = decodeURIComponent(p!.split('/')[3]!);
  const variables: Record<string, unknown> = { id };
  for (const [k, v] of new URLSearchParams(q)) {
    if (k === 'limit') variables.first = Number(v);
    else variables[k] = v;
  }
  return JSON.stringify({ query: PAGE_QUERY, variables });
}

type Api = 'rest' | 'graphql';

async function drive(port: number, api: Api, reqs: string[], seconds: number, amount?: number): Promise<{ result: AutocannonResult; hist: hdr.Histogram }> {
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const bodies = api === 'graphql' ? reqs.map(graphqlBody) : [];
  let i = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const inst = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        ...(amount === undefined ? { duration: seconds } : { amount }),
        headers: { authorization: `Bearer ${READ_KEY}`, ...(api === 'graphql' ? { 'content-type': 'application/json', accept: 'application/graphql-response+json' } : {}) },
        requests: [
          {
            setupRequest: (req: { path: string; method: string; body?: string }) => {
              const n = i++ % reqs.length;
              if (api === 'rest') req.path = reqs[n]!;
              else {
                req.path = '/graphql';
                req.method = 'POST';
                req.body = bodies[n]!;
              }
              return req;
            },
          },
        ],
      },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
    inst.on('response', (_c, status, _b, ms) => {
      if (status >= 200 && status < 300) hist.recordValue(Math.max(1, Math.round(ms * 1000)));
    });
  });
  return { result, hist };
}

/** One request of each API for the same page must carry the same events; else the comparison is void. */
async function sameAnswers(port: number, reqs: readonly string[]): Promise<void> {
  const headers = { authorization: `Bearer ${READ_KEY}` };
  for (const p of reqs) {
    const rest = (await (await fetch(`http://127.0.0.1:${port}${p}`, { headers })).json()) as { events: { event_id: string }[]; next_cursor: string | null };
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: graphqlBody(p) });
    const g = (await res.json()) as { data?: { user: { events: { edges: { node: { eventId: string } }[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } } } }; errors?: unknown };
    const ids = g.data?.user.events.edges.map((e) => e.node.eventId);
    if (res.status !== 200 || g.errors || JSON.stringify(ids) !== JSON.stringify(rest.events.map((e) => e.event_id))) {
      throw new Error(`GraphQL and REST disagree on ${p}: ${JSON.stringify(g).slice(0, 500)}`);
    }
    if (rest.next_cursor !== null && g.data!.user.events.pageInfo.endCursor !== rest.next_cursor) throw new Error(`cursors differ on ${p}`);
  }
}

interface Side {
  requests: number;
  rps: number;
  mean_reply_bytes: number;
  non_2xx: number;
  errors: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number };
}

interface Pair {
  name: string;
  server: string;
  pattern: Pattern;
  rest: Side;
  graphql: Side;
  ratio: { rps: number; p50: number; p99: number };
  p99_difference_ms: number;
  load_avg: number[];
}

async function pair(ctx: BenchContext, name: string, server: 'cache' | 'engine', pattern: Pattern, dataDir: string, users: number, warmS: number, measureS: number): Promise<Pair> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TRACKHOUSE_DATA_DIR: dataDir,
    TRACKHOUSE_READ_KEYS: READ_KEY,
    HOST: '127.0.0.1',
    QUERY_PORT: '0',
    LOG_LEVEL: 'info',
    QUERY_STREAM: 'off',
    BENCH_WRITE_RATE: '0',
    BENCH_USERS: String(users),
    BENCH_SEED: String(SEED),
    BENCH_END_MS: String(DATA_END_MS),
  };
  const child =
    server === 'engine'
      ? spawnLogged(process.execPath, [path.join(ctx.root, 'dist/cli/main.js'), 'query'], { cwd: ctx.root, env }, () => {})
      : spawnLogged(process.execPath, ['--import', 'tsx', path.join(ctx.root, 'bench/query-server.ts')], { cwd: ctx.root, env }, ctx.log);
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const port = await firstJsonLine(child, (o) => (typeof o.port === 'number' && (server !== 'engine' || o.msg === 'query API listening') ? o.port : undefined));
  try {
    const measured = paths(pattern, users, 200_000, 11);
    await sameAnswers(port, measured.slice(0, 40));
    // Warm-up through both APIs (hot: every hot request once through each, so both see a warm cache).
    if (server === 'cache' && pattern === 'hot') {
      const keys = hotKeys(users);
      await drive(port, 'rest', keys, 0, keys.length);
      await drive(port, 'graphql', keys, 0, keys.length);
    } else {
      await drive(port, 'rest', paths(pattern, users, 50_000, 7), warmS);
      await drive(port, 'graphql', paths(pattern, users, 50_000, 8), warmS);
    }
    const hists: Record<Api, hdr.Histogram[]> = { rest: [], graphql: [] };
    const totals: Record<Api, { requests: number; bytes: number; non2xx: number; errors: number }> = {
      rest: { requests: 0, bytes: 0, non2xx: 0, errors: 0 },
      graphql: { requests: 0, bytes: 0, non2xx: 0, errors: 0 },
    };
    const load: number[] = [];
    for (const api of ['rest', 'graphql', 'rest', 'graphql'] as const) {
      load.push(os.loadavg()[0]!);
      const { result, hist } = await drive(port, api, measured, measureS);
      hists[api].push(hist);
      const t = totals[api];
      t.requests += result.requests.total;
      t.bytes += result.throughput.total;
      t.non2xx += result.non2xx;
      t.errors += result.errors + result.timeouts;
      ctx.log(`${name} ${api}: ${Math.round(result.requests.total / measureS)} req/s, p50 ${hist.getValueAtPercentile(50) / 1000} ms, p99 ${hist.getValueAtPercentile(99) / 1000} ms`);
    }
    const side = (api: Api): Side => {
      const h = hists[api][0]!;
      h.add(hists[api][1]!);
      const q = (p: number) => Math.round(h.getValueAtPercentile(p)) / 1000;
      const t = totals[api];
      return {
        requests: t.requests,
        rps: Math.round(t.requests / (2 * measureS)),
        mean_reply_bytes: Math.round(t.bytes / Math.max(1, t.requests)),
        non_2xx: t.non2xx,
        errors: t.errors,
        latency_ms: { p50: q(50), p90: q(90), p99: q(99), p999: q(99.9), max: Math.round(h.maxValue) / 1000 },
      };
    };
    const rest = side('rest');
    const graphql = side('graphql');
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return {
      name,
      server: server === 'engine' ? 'node dist/cli/main.js query (no cache)' : 'bench/query-server.ts (dist query API + change feed)',
      pattern,
      rest,
      graphql,
      ratio: { rps: r2(graphql.rps / rest.rps), p50: r2(graphql.latency_ms.p50 / rest.latency_ms.p50), p99: r2(graphql.latency_ms.p99 / rest.latency_ms.p99) },
      p99_difference_ms: Math.round((graphql.latency_ms.p99 - rest.latency_ms.p99) * 1000) / 1000,
      load_avg: load.map((l) => Math.round(l * 10) / 10),
    };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function run(ctx: BenchContext): Promise<BenchSection> {
  const rows = ctx.quick ? 50_000 : Number(process.env.BENCH_GRAPHQL_ROWS ?? 1_000_000);
  const users = Math.max(1000, Math.round(rows / 20));
  const warmS = ctx.quick ? 1 : 5;
  const measureS = ctx.quick ? 1.5 : 10;
  setHotUsers(ctx.quick ? 50 : 500);
  const dataDir = path.join(ctx.workDir, 'data');
  ctx.log(`seeding ${rows} events for ${users} users`);
  const table = await seed(ctx, dataDir, rows, users);
  const uptime = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const pairs: Pair[] = [];
  pairs.push(await pair(ctx, 'cache-hot', 'cache', 'hot', dataDir, users, warmS, measureS));
  pairs.push(await pair(ctx, 'engine-zipf', 'engine', 'zipf', dataDir, users, warmS, measureS));
  const row = (p: Pair, api: Api) => {
    const s = p[api];
    return `| ${p.name} | ${api === 'rest' ? 'REST' : 'GraphQL'} | ${s.rps} | ${s.mean_reply_bytes} | ${s.latency_ms.p50} | ${s.latency_ms.p90} | ${s.latency_ms.p99} | ${s.latency_ms.p999} | ${s.non_2xx + s.errors} |`;
  };
  const md = [
    '## GraphQL against REST: one page of a user`s events',
    '',
    `Table: ${table.rows?.toLocaleString('en')} events, ${table.users?.toLocaleString('en')} users. Load average at start: ${uptime.join(', ')}.`,
    '',
    '| run | API | req/s | reply bytes | p50 ms | p90 ms | p99 ms | p99.9 ms | failed |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...pairs.flatMap((p) => [row(p, 'rest'), row(p, 'graphql')]),
    '',
    '| run | GraphQL/REST req/s | p50 ratio | p99 ratio | p99 GraphQL - REST (ms) | load average during the runs |',
    '| --- | --- | --- | --- | --- | --- |',
    ...pairs.map((p) => `| ${p.name} | ${p.ratio.rps} | ${p.ratio.p50} | ${p.ratio.p99} | ${p.p99_difference_ms} | ${p.load_avg.join(', ')} |`),
    '',
    `${CONNECTIONS} connections (autocannon, closed loop, in the bench process; server in its own process). REST: GET /v1/users/{id}/events; GraphQL: POST /graphql, ` +
      'user.events with every field of a REST event, each edge`s cursor and pageInfo, the same page parameters as variables. ' +
      `Each side: two runs of ${measureS} s, alternating REST, GraphQL, REST, GraphQL on one server process. ` +
      'cache-hot: the 500 most active users through the cache (the per-user path at its cheapest, where GraphQL`s own cost shows most); engine-zipf: users drawn by activity, no cache (every page reads chDB). ' +
      `Before measuring, 40 pages are fetched through both APIs and must carry the same events and cursors. Machine: ${os.cpus().length} cores, shared: figures are indicative.`,
    '',
    `Target: GraphQL p99 within 1 ms of REST's: ${pairs.map((p) => `${p.name} ${p.p99_difference_ms} ms (${p.p99_difference_ms <= 1 ? 'met' : 'NOT met'})`).join(', ')}.`,
  ].join('\n');
  return { name: 'graphql', results: { table, connections: CONNECTIONS, measure_seconds: measureS, load_avg_at_start: uptime, pairs }, markdown: md };
}
