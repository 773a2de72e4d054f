// npm run bench -- query: latency of GET /v1/users/{userId}/events at 32 concurrent clients over a
// table of 10 million events (BENCH_QUERY_ROWS to change; BENCH_QUICK=1: 50,000 rows, short runs).
//
// 1. A child process seeds a fresh chDB data dir (bench/query-seed.ts) and reports its size.
// 2. Each run starts the system under test as its own process on that dir, warms it up, then
//    drives it with autocannon (32 connections, closed loop) from this process:
//    - engine alone: `node dist/cli/main.js query`, exactly as deployed: no change feed, no cache;
//    - with cache: bench/query-server.ts, the same built query API with a change feed, as in the
//      all-in-one; optionally a stand-in sink writes W events/s and publishes their users, so hot
//      users' entries are invalidated while we measure.
// 3. Latency is recorded per response in microseconds (HDR histogram; autocannon's own histogram
//    has 1 ms resolution), cache outcomes are read from the server's /metrics.
//
// BENCH_QUERY_WRITE_RATES (default 50,200): events/s the stand-in sink writes in the cached
// hot runs with writes, one run per rate.
//
// Access patterns (each request: one user + one of a few realistic request shapes):
//    uniform - users drawn uniformly from all users: nearly every request is a different user;
//    zipf    - users drawn by activity (the data's own Zipf law): a realistic mix, long tail;
//    hot     - the 500 most active users, drawn by activity: a dashboard / personalisation service.
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as hdr from 'hdr-histogram-js';
import { rng32, sampleRank, TRACK_EVENTS, userKeyOf, zipfCdf } from './query-data.js';
import type { BenchContext, BenchSection } from './types.js';

const require = createRequire(import.meta.url);

interface AutocannonResult {
  requests: { total: number; average: number };
  throughput: { total: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
}
interface AutocannonInstance {
  on(event: 'response', fn: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}
type Autocannon = ((opts: Record<string, unknown>, cb: (err: Error | null, r: AutocannonResult) => void) => AutocannonInstance) & {
  track?: unknown;
};
const autocannon = require('autocannon') as Autocannon;

export const READ_KEY = 'bench-read-key';
export const CONNECTIONS = 32;
/** Hot set: the most active users (fewer in a quick run, so its warm-up stays short). */
let HOT_USERS = 500;
export const DATA_END_MS = Date.UTC(2026, 10, 1);
export const SEED = 42;

export type Pattern = 'uniform' | 'zipf' | 'hot';

/** The hot set's size (bench/graphql.ts shares these request streams). */
export function setHotUsers(n: number): void {
  HOT_USERS = n;
}

interface RunSpec {
  name: string;
  server: 'engine' | 'cache' | 'ceiling';
  pattern: Pattern;
  writeRate: number;
  /** Ceiling only: bytes of the prepared reply. */
  bodyBytes?: number;
}

interface RunResult {
  name: string;
  server: string;
  pattern: Pattern;
  write_rate: number;
  requests: number;
  rps: number;
  mean_reply_bytes: number;
  non_2xx: number;
  errors: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  cache?: { hits: number; misses: number; joined: number; exact: number; hit_ratio: number; users: number; bytes: number };
  clickhouse_ms?: { mean: number };
  written_events?: number;
}

// Request shapes: a timeline (newest 50), a short feed of track events, one event name, last week.
const SHAPES = [
  'limit=50',
  'type=track&limit=20',
  `event=${encodeURIComponent(TRACK_EVENTS[0])}&limit=20`,
  `from=${new Date(DATA_END_MS - 7 * 86_400_000).toISOString()}&to=${new Date(DATA_END_MS).toISOString()}&limit=50`,
];
const SHAPE_WEIGHTS = [0.5, 0.25, 0.1, 0.15];
const path_ = (rank: number, shape: number) => `/v1/users/${encodeURIComponent(userKeyOf(rank))}/events?${SHAPES[shape]}`;

/** A stream of request paths for one access pattern (deterministic for a seed). */
export function paths(pattern: Pattern, users: number, count: number, seed: number): string[] {
  const cdf = zipfCdf(users);
  const r = rng32(seed);
  const hotMass = cdf[Math.min(HOT_USERS, users) - 1]!;
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const rank = pattern === 'uniform' ? Math.floor(r() * users) : sampleRank(cdf, pattern === 'hot' ? r() * hotMass : r());
    let x = r();
    let shape = 0;
    while (shape < SHAPES.length - 1 && x >= SHAPE_WEIGHTS[shape]!) x -= SHAPE_WEIGHTS[shape++]!;
    out[i] = path_(rank, shape);
  }
  return out;
}

/** Every request the hot pattern can make, once: fetching them all warms the cache completely. */
export function hotKeys(users: number): string[] {
  const out: string[] = [];
  for (let rank = 0; rank < Math.min(HOT_USERS, users); rank++) for (let s = 0; s < SHAPES.length; s++) out.push(path_(rank, s));
  return out;
}

export function spawnLogged(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }, log: (m: string) => void): ChildProcess {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  createInterface({ input: child.stderr! }).on('line', (l) => log(`  ${l}`));
  return child;
}

export function firstJsonLine<T>(child: ChildProcess, pick: (o: Record<string, unknown>) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        const v = pick(JSON.parse(line) as Record<string, unknown>);
        if (v !== undefined) resolve(v);
      } catch {
        /* not JSON */
      }
    });
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before it was ready`)));
  });
}

export async function seed(ctx: BenchContext, dataDir: string, rows: number, users: number): Promise<Record<string, number>> {
  const child = spawnLogged(
    process.execPath,
    ['--import', 'tsx', path.join(ctx.root, 'bench/query-seed.ts'), dataDir, String(rows), String(users), String(SEED), String(DATA_END_MS)],
    { cwd: ctx.root, env: { ...process.env } },
    ctx.log,
  );
  const stats = firstJsonLine(child, (o) => ('rows' in o ? (o as Record<string, number>) : undefined));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`seeding failed (exit ${code})`);
  return stats;
}

async function metrics(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(trackhouse_query_[a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m) continue;
    const result = /result="(\w+)"/.exec(m[2] ?? '')?.[1];
    const key = result ? `${m[1]}:${result}` : m[1]!;
    if (/outcome="error"|route="(rollups|other)"/.test(m[2] ?? '')) continue;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

/** Runs autocannon for `seconds` (or `amount` requests); returns totals and a µs histogram of 2xx latencies. */
async function load(port: number, reqs: string[], seconds: number, amount?: number): Promise<{ result: AutocannonResult; hist: hdr.Histogram }> {
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let i = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const inst = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        ...(amount === undefined ? { duration: seconds } : { amount }),
        headers: { authorization: `Bearer ${READ_KEY}` },
        requests: [
          {
            setupRequest: (req: { path: string }) => {
              req.path = reqs[i++ % reqs.length]!;
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

async function runOne(ctx: BenchContext, spec: RunSpec, dataDir: string, users: number, warmS: number, measureS: number): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TRACKHOUSE_DATA_DIR: dataDir,
    TRACKHOUSE_READ_KEYS: READ_KEY,
    HOST: '127.0.0.1',
    QUERY_PORT: '0',
    LOG_LEVEL: 'info',
    BENCH_WRITE_RATE: String(spec.writeRate),
    BENCH_USERS: String(users),
    BENCH_SEED: String(SEED),
    BENCH_END_MS: String(DATA_END_MS),
  };
  const child =
    spec.server === 'engine'
      ? spawnLogged(process.execPath, [path.join(ctx.root, 'dist/cli/main.js'), 'query'], { cwd: ctx.root, env }, () => {})
      : spec.server === 'ceiling'
        ? spawnLogged(process.execPath, ['--import', 'tsx', path.join(ctx.root, 'bench/query-ceiling.ts'), String(spec.bodyBytes ?? 1024)], { cwd: ctx.root, env }, ctx.log)
        : spawnLogged(process.execPath, ['--import', 'tsx', path.join(ctx.root, 'bench/query-server.ts')], { cwd: ctx.root, env }, ctx.log);
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const tail: Record<string, unknown>[] = [];
  const port = await firstJsonLine(child, (o) => {
    tail.push(o);
    if (typeof o.port === 'number' && (spec.server !== 'engine' || o.msg === 'query API listening')) return o.port;
    return undefined;
  });
  try {
    // Warm-up. Hot runs fetch every hot request once, as a long-running server would have: the
    // measurement then sees the steady state (misses only from invalidations). Others warm briefly.
    const warmStart = performance.now();
    if (spec.server !== 'engine' && spec.pattern === 'hot') {
      const keys = hotKeys(users);
      await load(port, keys, 0, keys.length);
    } else if (warmS > 0) {
      await load(port, paths(spec.pattern, users, 50_000, 7), warmS);
    }
    ctx.log(`${spec.name}: warmed up in ${((performance.now() - warmStart) / 1000).toFixed(1)} s`);
    const before = spec.server === 'ceiling' ? new Map<string, number>() : await metrics(port);
    const { result, hist } = await load(port, paths(spec.pattern, users, 200_000, 11), measureS);
    const after = spec.server === 'ceiling' ? new Map<string, number>() : await metrics(port);
    const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    const q = (p: number) => Math.round(hist.getValueAtPercentile(p)) / 1000;
    const out: RunResult = {
      name: spec.name,
      server:
        spec.server === 'engine'
          ? 'node dist/cli/main.js query (no feed, no cache)'
          : spec.server === 'ceiling'
            ? 'bench/query-ceiling.ts (uWS, one prepared reply)'
            : 'bench/query-server.ts (dist query API + change feed)',
      pattern: spec.pattern,
      write_rate: spec.writeRate,
      requests: result.requests.total,
      rps: Math.round(result.requests.total / measureS),
      mean_reply_bytes: Math.round(result.throughput.total / Math.max(1, result.requests.total)),
      non_2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      latency_ms: { p50: q(50), p90: q(90), p99: q(99), p999: q(99.9), max: Math.round(hist.maxValue) / 1000, mean: Math.round(hist.mean) / 1000 },
    };
    const chCount = d('trackhouse_query_clickhouse_duration_seconds_count');
    if (chCount > 0) out.clickhouse_ms = { mean: Math.round((d('trackhouse_query_clickhouse_duration_seconds_sum') / chCount) * 1e5) / 100 };
    if (spec.server === 'cache') {
      const hits = d('trackhouse_query_cache_requests_total:hit');
      const misses = d('trackhouse_query_cache_requests_total:miss');
      const joined = d('trackhouse_query_cache_requests_total:joined');
      const exact = d('trackhouse_query_cache_requests_total:exact');
      out.cache = {
        hits,
        misses,
        joined,
        exact,
        hit_ratio: Math.round((hits / Math.max(1, hits + misses + joined + exact)) * 10_000) / 10_000,
        users: after.get('trackhouse_query_cache_users') ?? 0,
        bytes: after.get('trackhouse_query_cache_bytes') ?? 0,
      };
    }
    return out;
  } finally {
    child.kill('SIGTERM');
    const code = await exited;
    const last = tail.find((o) => 'written' in o);
    if (last) ctx.log(`${spec.name}: writer ${JSON.stringify(last)}`);
    if (code !== 0) ctx.log(`${spec.name}: server exited with ${code}`);
  }
}

/** The issue's target, p99 <= 5 ms at 32 concurrent clients, run by run. */
function target(results: readonly RunResult[]): string {
  const verdict = (r: RunResult) => `${r.name} ${r.latency_ms.p99} ms (${r.latency_ms.p99 <= 5 ? 'met' : 'NOT met'})`;
  const ceiling = results.find((r) => r.name === 'ceiling-hot');
  return (
    `Target p99 <= 5 ms at ${CONNECTIONS} clients: ${results.filter((r) => r !== ceiling).map(verdict).join(', ')}.` +
    (ceiling ? ` The measurement's own floor here (ceiling-hot, a server that only writes a prepared reply): p99 ${ceiling.latency_ms.p99} ms.` : '')
  );
}

export async function run(ctx: BenchContext): Promise<BenchSection> {
  const rows = ctx.quick ? 50_000 : Number(process.env.BENCH_QUERY_ROWS ?? 10_000_000);
  const users = Math.max(1000, Math.round(rows / 20));
  const warmS = ctx.quick ? 1 : 8;
  const measureS = ctx.quick ? 1.5 : 10;
  const zipfWarmS = ctx.quick ? 1 : 60;
  // Write rates for users drawn by activity (so mostly the hot users): with write-through the
  // cached windows take the new rows in, so hits should not depend on the rate.
  const writeRates = (process.env.BENCH_QUERY_WRITE_RATES ?? '200,2000').split(',').map(Number).filter((n) => n > 0);
  HOT_USERS = ctx.quick ? 50 : 500;
  const dataDir = path.join(ctx.workDir, 'data');

  ctx.log(`seeding ${rows} events for ${users} users`);
  const table = await seed(ctx, dataDir, rows, users);
  ctx.log(`table: ${JSON.stringify(table)}`);

  const specs: RunSpec[] = [
    { name: 'engine-uniform', server: 'engine', pattern: 'uniform', writeRate: 0 },
    { name: 'engine-zipf', server: 'engine', pattern: 'zipf', writeRate: 0 },
    { name: 'cache-hot', server: 'cache', pattern: 'hot', writeRate: 0 },
    { name: 'ceiling-hot', server: 'ceiling', pattern: 'hot', writeRate: 0 },
    ...writeRates.map((w): RunSpec => ({ name: `cache-hot-writes-${w}`, server: 'cache', pattern: 'hot', writeRate: w })),
    { name: 'cache-zipf', server: 'cache', pattern: 'zipf', writeRate: 0 },
  ];
  const results: RunResult[] = [];
  for (const spec of specs) {
    if (spec.server === 'ceiling') {
      // Same reply size as the cached API served on average (headers included; close enough).
      spec.bodyBytes = results.find((r) => r.name === 'cache-hot')?.mean_reply_bytes ?? 30_000;
    }
    ctx.log(`run ${spec.name}`);
    // A Zipf-drawn run with the cache warms for a minute, as a server that has been up a while; the
    // engine runs need no warm-up beyond the first queries.
    const warm = spec.server === 'engine' ? Math.min(2, warmS) : spec.pattern === 'zipf' ? zipfWarmS : warmS;
    const r = await runOne(ctx, spec, dataDir, users, warm, measureS);
    ctx.log(`${spec.name}: ${r.rps} req/s, p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms${r.cache ? `, hit ratio ${r.cache.hit_ratio}` : ''}`);
    results.push(r);
  }

  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const md = [
    '## Query API: per-user events',
    '',
    `Table \`events\`: ${table.rows?.toLocaleString('en')} rows, ${mb(table.bytes_on_disk ?? 0)} on disk (${mb(table.uncompressed_bytes ?? 0)} uncompressed), ` +
      `${table.parts} parts in ${table.partitions} monthly partitions, ${table.users?.toLocaleString('en')} users ` +
      `(median ${table.median_events_per_user} events, max ${table.max_events_per_user}); seeded in ${table.insert_seconds} s.`,
    '',
    '| run | server | access | writes/s | req/s | reply bytes | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | cache hit | ClickHouse mean ms |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.server.split(' (')[0]} | ${r.pattern} | ${r.write_rate} | ${r.rps} | ${r.mean_reply_bytes} | ${r.latency_ms.p50} | ${r.latency_ms.p90} | ${r.latency_ms.p99} | ${r.latency_ms.p999} | ${r.latency_ms.max} | ` +
        `${r.cache ? `${(r.cache.hit_ratio * 100).toFixed(1)}%` : '-'} | ${r.clickhouse_ms?.mean ?? '-'} |`,
    ),
    '',
    `${CONNECTIONS} connections (autocannon, closed loop, in the bench process; server in its own process), ${measureS} s per run after a warm-up ` +
      `(hot runs: every one of the ${Math.min(HOT_USERS, users) * SHAPES.length} hot requests fetched once, as a long-running server would have; cache-zipf: ${zipfWarmS} s of the same traffic; engine runs 2 s). ` +
      `Request shapes: 50% newest 50 events, 25% type=track limit 20, 10% one event name limit 20, 15% last 7 days limit 50. ` +
      `Access: uniform = any user; zipf = users drawn by activity; hot = the ${HOT_USERS} most active users. ` +
      `Cached runs use a change feed; "writes/s" is a stand-in sink inserting that many events/s for users drawn by activity and publishing each batch with its rows, as the sink does (cached windows take them in). ` +
      `ceiling-hot: a uWS server answering every request with one prepared reply of the size cache-hot served on average (the load generator's and loopback's own limit here). ` +
      `Machine: ${os.cpus().length} cores, shared: figures are noisy unless the machine is quiet. ${rows < 10_000_000 ? '**Not the 10M-row target table.**' : ''}`,
    '',
    target(results),
  ].join('\n');
  return { name: 'query', results: { table, connections: CONNECTIONS, warm_seconds: warmS, measure_seconds: measureS, runs: results }, markdown: md };
}

