// npm run bench -- query: GET /v1/users/{userId}/events at 32 concurrent clients over 10 million
// events (BENCH_QUERY_ROWS to change; BENCH_QUICK=1: 50,000 events, short runs; BENCH_QUERY_BUILD_ONLY=1:
// the view build alone), served by the
// query API's view.
//
// 1. The same events go into a fresh chDB data dir (bench/query-seed.ts) and into a fresh topic of
//    the run's broker (bench/query-produce.ts, keyed and compressed as the edge writes them).
// 2. Build: `node dist/cli/main.js query` (the split deployment: ClickHouse reached through
//    CLICKHOUSE_URL, here the seeded chDB served over HTTP by bench/query-chdb-http.ts) starts on
//    an empty view and builds it from Kafka; time to /readyz 200, events/s, its CPU and RSS.
// 3. Reads, with the view built (QUERY_VIEW_DAYS covers all the data), for each deployment:
//    - split: that `trackhouse query` process alone (its ClickHouse idle: every page is in the view);
//    - all-in-one: bench/query-allinone.ts, chDB + sink + query API in one process, as `trackhouse
//      start` runs them (the sink inserts the background writes into chDB beside the reads);
//    each with 0 and BENCH_QUERY_WRITE_RATE (2000) events/s written to Kafka in the background
//    (bench/query-writer.ts), each with uniform, Zipf and hot access. wrk (or autocannon) drives 32
//    connections from this process; latency is recorded per response in microseconds (HDR).
//    Each run is measured twice, both reported (the verdict says which meets the target):
//    - closed loop at its maximum: 32 connections each sending its next request as soon as the
//      last answer is in (req/s is the server's maximum; p99 is the latency at that maximum);
//    - paced at 10,000 req/s offered (the target rate; the latency at the target, as ingest's
//      "p99 at 80 %"): the same 32 connections, wrk's Lua delay() keeping an open-loop schedule
//      (one slot every 100 µs, a connection takes the next free slot once its answer is in;
//      autocannon: overallRate). Latency counts from each send; "send lag" is how late requests
//      left against their slots: when the server holds every connection (a stall), requests leave
//      late, and their wait is in the lag, not in the latency (coordinated omission: read both).
//    The closed loop hides stalls: a 20 ms stall delays the 32 requests in flight, a fraction of a
//    percent of the run's, while at a fixed rate it delays every request due during it. First
//    matrix with both (300 k events, BENCH_QUERY_SECONDS=5, quiet host, steal 0 %, CPU profiles
//    on, 2026-12-04 05:47): closed loop 2 of 12 met, at 10 k/s offered 7 of 12 met, every miss at
//    10 k/s a run with 2000 writes/s (p99 5.8-20.4 ms, send lag p99 9-52 ms), every run without
//    writes met there (p99 1.9-4.0 ms). 1 M events, 8 s, no profiling (06:51): both measurements
//    6 of 12, the six runs without writes (at 10 k/s p99 2.9-3.8 ms), the six with 2000 writes/s
//    missing both (at 10 k/s 5.2-7.2 ms). docs/architecture/query.md, "The tail at 32 clients".
//    Before the runs of a deployment the bench waits for the hosted stream (QUERY_STREAM=on) to
//    catch up with the topic: its catch-up (20 CPU-s per 300 k events, in its own thread) ran
//    during the first split runs and was measured as theirs.
// 4. Same run: the ceiling (a uWS server writing one prepared reply of the hot runs' mean size)
//    and the old path (every page from ClickHouse, bench/query-engine.ts).
//
// The query processes (split and all-in-one) start with the product's node options
// (QUERY_NODE_OPTIONS, src/common/heap.ts: the HTTP thread's heap), as `npm start` and k8s start
// them; BENCH_QUERY_NODE_OPTIONS replaces them (`none`: V8's defaults, for a before/after), here
// and in the benches that start `trackhouse start` (bench/lib/allinone.ts: sustained, e2e).
//
// Parts of the matrix within a short lock hold: BENCH_QUERY_ONLY (a regular expression of run
// names: `^split-hot`, `writes`), BENCH_QUERY_SECONDS (per measurement, 10; quick 2),
// BENCH_QUERY_ROWS (1000000 or less for iteration).
//
// Access patterns (each request: one user + one of a few realistic request shapes):
//    uniform - users drawn uniformly from all users: nearly every request is a different user;
//    zipf    - users drawn by activity (the data's own Zipf law): a realistic mix, long tail;
//    hot     - the 500 most active users, drawn by activity: a dashboard / personalisation service.
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import * as hdr from 'hdr-histogram-js';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { track } from './lib/children.js';
import { QUERY_NODE_ARGS, sampled } from './lib/proc.js';
import { rng32, sampleRank, TRACK_EVENTS, userKeyOf, zipfCdf } from './query-data.js';
import type { BenchContext, BenchSection } from './types.js';
import { hasWrk, runWrkStream } from './lib/wrk.js';

const { Kafka, logLevel } = kafkajs();

const require = createRequire(import.meta.url);

export interface AutocannonResult {
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
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, r: AutocannonResult) => void) => AutocannonInstance;
const autocannon = require('autocannon') as Autocannon;

/**
 * The load generator of the measured runs: wrk (Debian's package) when installed, since it takes
 * a fraction of autocannon's CPU for the same requests, which on 2 cores is CPU the server
 * measured does not get; BENCH_LOADGEN=autocannon forces autocannon. Warm-ups of a fixed number
 * of requests always use autocannon.
 */
export const LOADGEN: 'wrk' | 'autocannon' = process.env.BENCH_LOADGEN === 'autocannon' || !hasWrk() ? 'autocannon' : 'wrk';

export const READ_KEY = 'bench-read-key';
export const CONNECTIONS = 32;
const PARTITIONS = 6;
let HOT_USERS = 500;
export const DATA_END_MS = Date.UTC(2026, 10, 1);
export const SEED = 42;
const TARGET_P99_MS = 5;
const TARGET_RPS = 10_000;

export type Pattern = 'uniform' | 'zipf' | 'hot';
type Deployment = 'split' | 'allinone';

interface RunResult {
  name: string;
  deployment: Deployment | 'ceiling' | 'clickhouse';
  pattern: Pattern;
  write_rate: number;
  requests: number;
  rps: number;
  mean_reply_bytes: number;
  non_2xx: number;
  errors: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  /** Pages by where they came from (the server's /metrics). */
  answers?: Record<string, number>;
  server_max_rss_mb?: number;
  /** Without the mapped view file's pages (RssAnon). */
  server_max_anon_rss_mb?: number;
  server_cpu_cores?: number;
  written_events?: number;
  /** The server's main-thread event-loop delay over the run (prom-client resets it at each scrape). */
  event_loop_ms?: { p99: number; max: number };
  /** The server's main-thread GC over the run, by kind (minor: scavenges): count and total ms. */
  gc?: Record<string, { count: number; ms: number }>;
  /** The second measurement: the same connections paced at TARGET_RPS offered (see measure()). */
  paced?: Paced;
}

/** A run paced at an offered rate: the latency at that rate (as ingest's "p99 at 80 %"). */
interface Paced {
  offered_rps: number;
  rps: number;
  non_2xx: number;
  errors: number;
  latency_ms: { p50: number; p90: number; p99: number; p999: number; max: number };
  /** wrk only: how late requests left against the schedule (p99, max; 100-µs steps). */
  send_lag_ms?: { p99: number; max: number };
  server_cpu_cores?: number;
  event_loop_ms?: { p99: number; max: number };
  gc?: Record<string, { count: number; ms: number }>;
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

/** How many of the most active users the hot pattern draws from (500; fewer for quick runs). */
export function setHotUsers(n: number): void {
  HOT_USERS = n;
}

/** Every hot request once (each hot user in each request shape): the hot runs' warm-up. */
export function hotPaths(users: number): string[] {
  const keys: string[] = [];
  for (let rank = 0; rank < Math.min(HOT_USERS, users); rank++) for (let s = 0; s < SHAPES.length; s++) keys.push(path_(rank, s));
  return keys;
}

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

export interface Child {
  proc: ChildProcess;
  exited: Promise<number | null>;
  /** The first JSON line for which `pick` returns a value. */
  line<T>(pick: (o: Record<string, unknown>) => T | undefined): Promise<T>;
  stop(): Promise<number | null>;
}

/** BENCH_PROF_DIR: every child process writes a V8 CPU profile there when it exits (node --cpu-prof). */
const PROF = process.env.BENCH_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF_DIR}`] : [];

/**
 * A Node child process. `ownSession`: in a session of its own (setsid), so with Linux's autogroup
 * scheduling it is a group of its own, sharing the cores evenly with this process's group rather
 * than thread by thread (and nice values inside it order only its own threads).
 */
export function child(ctx: BenchContext, args: string[], env: NodeJS.ProcessEnv, label: string, ownSession = false): Child {
  const proc = track(spawn(process.execPath, [...PROF, ...args], { cwd: ctx.root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: ownSession }));
  const exited = new Promise<number | null>((r) => proc.once('exit', r));
  const lines: Record<string, unknown>[] = [];
  const waiters: ((o: Record<string, unknown>) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      lines.push(o);
      for (const w of waiters) w(o);
      if ((typeof o.level === 'number' && o.level >= 50) || o.msg === 'view catching up' || o.msg === 'view caught up with the topic') ctx.log(`  ${label}: ${l.slice(0, 400)}`);
    } catch {
      /* not JSON */
    }
  });
  createInterface({ input: proc.stderr! }).on('line', (l) => ctx.log(`  ${label}: ${l}`));
  return {
    proc,
    exited,
    line<T>(pick: (o: Record<string, unknown>) => T | undefined): Promise<T> {
      return new Promise((resolve, reject) => {
        for (const o of lines) {
          const v = pick(o);
          if (v !== undefined) return resolve(v);
        }
        waiters.push((o) => {
          const v = pick(o);
          if (v !== undefined) resolve(v);
        });
        void exited.then((code) => reject(new Error(`${label} exited (${code}) before it was ready`)));
      });
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

const tsx = (ctx: BenchContext, file: string, ...args: string[]) => ['--import', 'tsx', path.join(ctx.root, 'bench', file), ...args];

export async function waitReady(port: number, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (dead) throw new Error('the query process exited before it was ready');
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The query API's trackhouse_query_* metrics summed by name, and by name and answer or route label (`name:label`). */
export async function metrics(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(trackhouse_query_[a-z_]+|trackhouse_nodejs_eventloop_lag_(?:p99|max)_seconds|trackhouse_nodejs_gc_duration_seconds_(?:sum|count))(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!m) continue;
    const label = /(?:answer|route|kind)="(\w+)"/.exec(m[2] ?? '')?.[1];
    const key = label ? `${m[1]}:${label}` : m[1]!;
    out.set(key, (out.get(key) ?? 0) + Number(m[3]));
  }
  return out;
}

/**
 * Waits until the query process's hosted stream (QUERY_STREAM=on, the default) has caught up with
 * the topic: it starts once the view has, then reads the whole topic in its own thread (about 20
 * CPU-seconds per 300 k events), which a read run would otherwise share the cores with, measuring
 * a catch-up instead of the steady state. Returns at once when the process hosts no stream.
 */
export async function waitStreamCaughtUp(port: number, timeoutMs: number): Promise<void> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let seen = false;
    let lag = 0;
    for (const m of text.matchAll(/^trackhouse_stream_lag\{[^}]*\} ([0-9.e+-]+)$/gm)) {
      seen = true;
      lag += Number(m[1]);
    }
    // No lag series yet: not hosted (QUERY_STREAM=off), or not started; the view is ready, so the stream starts within a second.
    if ((seen && lag === 0) || (!seen && !/^trackhouse_stream_/m.test(text) && Date.now() > started + 3000)) return;
    if (Date.now() > deadline) throw new Error(`the hosted stream did not catch up within ${timeoutMs} ms (lag ${lag})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** One request of a stream: a REST path (GET), or a POST of a JSON body (GraphQL). */
export type BenchRequest = string | { path: string; body: string };

/**
 * Runs the load generator (LOADGEN) for `seconds` (or autocannon for `amount` requests) over `reqs` in turn; returns totals and a µs
 * histogram of 2xx latencies. A stream is all GETs or all POSTs (JSON, GraphQL's media types).
 */
export async function load(port: number, reqs: readonly BenchRequest[], seconds: number, amount?: number, rate?: number): Promise<{ result: AutocannonResult; hist: hdr.Histogram; lag?: hdr.Histogram }> {
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const posts = typeof reqs[0] !== 'string';
  if (LOADGEN === 'wrk' && amount === undefined) {
    const r = await runWrkStream({
      url: `http://127.0.0.1:${port}`,
      requests: reqs.map((q) => (typeof q === 'string' ? { method: 'GET' as const, path: q } : { method: 'POST' as const, path: q.path, body: q.body })),
      headers: { authorization: `Bearer ${READ_KEY}`, ...(posts ? { 'content-type': 'application/json', accept: 'application/graphql-response+json' } : {}) },
      connections: CONNECTIONS,
      durationS: seconds,
      ...(rate !== undefined ? { rate } : {}),
    });
    for (const [us, n] of r.latency_us) hist.recordValueWithCount(Math.max(1, us), n);
    let lag: hdr.Histogram | undefined;
    if (rate !== undefined) {
      lag = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
      for (const [us, n] of r.schedule_lag_us) lag.recordValueWithCount(Math.max(1, us), n);
    }
    // Scaled to the asked duration: callers divide totals by it, as with autocannon's.
    const scale = seconds / r.duration_s;
    const result: AutocannonResult = {
      requests: { total: Math.round(r.requests * scale), average: r.requests / r.duration_s },
      throughput: { total: Math.round(r.bytes * scale) },
      non2xx: r.status_errors,
      errors: r.socket_errors,
      timeouts: r.timeouts,
      duration: r.duration_s,
    };
    return { result, hist, ...(lag ? { lag } : {}) };
  }
  let i = 0;
  const result = await new Promise<AutocannonResult>((resolve, reject) => {
    const inst = autocannon(
      {
        url: `http://127.0.0.1:${port}`,
        connections: CONNECTIONS,
        ...(amount === undefined ? { duration: seconds } : { amount }),
        ...(rate !== undefined ? { overallRate: rate } : {}),
        headers: { authorization: `Bearer ${READ_KEY}`, ...(posts ? { 'content-type': 'application/json', accept: 'application/graphql-response+json' } : {}) },
        ...(posts ? { method: 'POST' } : {}),
        requests: [
          {
            setupRequest: (req: { path: string; body?: string }) => {
              const r = reqs[i++ % reqs.length]!;
              if (typeof r === 'string') req.path = r;
              else {
                req.path = r.path;
                req.body = r.body;
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

interface Measure {
  name: string;
  deployment: RunResult['deployment'];
  pattern: Pattern;
  writeRate: number;
  port: number;
  pid: number;
  users: number;
  warmS: number;
  measureS: number;
  withMetrics: boolean;
  /** Also measure at TARGET_RPS offered (paced()). */
  paced?: boolean;
}

async function measure(ctx: BenchContext, m: Measure): Promise<RunResult> {
  const warmStart = performance.now();
  if (m.pattern === 'hot') {
    // Every hot request once: no cold page left for the measurement.
    const keys = hotPaths(m.users);
    await load(m.port, keys, 0, keys.length);
  } else if (m.warmS > 0) {
    await load(m.port, paths(m.pattern, m.users, 50_000, 7), m.warmS);
  }
  ctx.log(`${m.name}: warmed up in ${((performance.now() - warmStart) / 1000).toFixed(1)} s`);
  const before = m.withMetrics ? await metrics(m.port) : new Map<string, number>();
  const s = await sampled(m.pid, () => load(m.port, paths(m.pattern, m.users, 200_000, 11), m.measureS));
  const { result, hist } = s.result;
  const after = m.withMetrics ? await metrics(m.port) : new Map<string, number>();
  const q = (p: number) => Math.round(hist.getValueAtPercentile(p)) / 1000;
  const out: RunResult = {
    name: m.name,
    deployment: m.deployment,
    pattern: m.pattern,
    write_rate: m.writeRate,
    requests: result.requests.total,
    rps: Math.round(result.requests.total / m.measureS),
    mean_reply_bytes: Math.round(result.throughput.total / Math.max(1, result.requests.total)),
    non_2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latency_ms: { p50: q(50), p90: q(90), p99: q(99), p999: q(99.9), max: Math.round(hist.maxValue) / 1000, mean: Math.round(hist.mean) / 1000 },
    server_max_rss_mb: s.max_rss_mb,
    server_max_anon_rss_mb: s.max_anon_rss_mb,
    server_cpu_cores: s.cpu_cores,
  };
  if (m.withMetrics) {
    const answers: Record<string, number> = {};
    for (const a of ['view', 'view_clickhouse', 'clickhouse', 'forwarded']) {
      const d = (after.get(`trackhouse_query_events_answers_total:${a}`) ?? 0) - (before.get(`trackhouse_query_events_answers_total:${a}`) ?? 0);
      if (d > 0) answers[a] = d;
    }
    out.answers = answers;
    Object.assign(out, mainThread(before, after));
  }
  hist.destroy();
  ctx.log(`${m.name}: ${out.rps} req/s, p50 ${out.latency_ms.p50} ms, p99 ${out.latency_ms.p99} ms, RSS ${out.server_max_rss_mb} MB (anon ${out.server_max_anon_rss_mb}), ${out.server_cpu_cores} cores, event loop ${JSON.stringify(out.event_loop_ms ?? null)}`);
  if (m.paced) {
    out.paced = await paced(m);
    ctx.log(`${m.name} at ${TARGET_RPS} req/s offered: ${JSON.stringify(out.paced)}`);
  }
  return out;
}

/** The server's main thread between two scrapes: its event-loop delay (prom-client's monitor) and its GC. */
function mainThread(before: Map<string, number>, after: Map<string, number>): Pick<RunResult, 'event_loop_ms' | 'gc'> {
  const lag = (k: string) => Math.round((after.get(`trackhouse_nodejs_eventloop_lag_${k}_seconds`) ?? 0) * 1e4) / 10;
  return { event_loop_ms: { p99: lag('p99'), max: lag('max') }, gc: gcDelta(before, after) };
}

/** GC of the server's main thread between two scrapes, by kind (prom-client's nodejs_gc_duration_seconds). */
function gcText(gc: Record<string, { count: number; ms: number }>): string {
  const minor = gc.minor ?? { count: 0, ms: 0 };
  const other = Object.entries(gc).filter(([k]) => k !== 'minor');
  return `${minor.count} (${minor.ms}), ${other.reduce((n, [, v]) => n + v.count, 0)} (${Math.round(other.reduce((n, [, v]) => n + v.ms, 0) * 10) / 10})`;
}

export function gcDelta(before: Map<string, number>, after: Map<string, number>): Record<string, { count: number; ms: number }> {
  const out: Record<string, { count: number; ms: number }> = {};
  for (const kind of ['minor', 'major', 'incremental', 'weakcb']) {
    const d = (k: string) => (after.get(`trackhouse_nodejs_gc_duration_seconds_${k}:${kind}`) ?? 0) - (before.get(`trackhouse_nodejs_gc_duration_seconds_${k}:${kind}`) ?? 0);
    const count = d('count');
    if (count > 0) out[kind] = { count, ms: Math.round(d('sum') * 1e4) / 10 };
  }
  return out;
}

/**
 * The second measurement of a run: the same 32 connections paced at TARGET_RPS offered (wrk: an
 * open-loop schedule through its Lua delay(), one slot per 1/rate s, a connection taking the next
 * free slot once its answer is in; autocannon: its overallRate), a different request stream of
 * the same pattern. Latency is counted from each send; send lag says how late the requests left
 * against the schedule (when the server holds all 32 connections longer than the schedule allows,
 * requests leave late and the rate offered is not the rate served).
 */
async function paced(m: Measure): Promise<Paced> {
  const before = m.withMetrics ? await metrics(m.port) : null;
  const s = await sampled(m.pid, () => load(m.port, paths(m.pattern, m.users, 200_000, 13), m.measureS, undefined, TARGET_RPS));
  const { result, hist, lag } = s.result;
  const q = (h: hdr.Histogram, p: number) => Math.round(h.getValueAtPercentile(p)) / 1000;
  const out: Paced = {
    offered_rps: TARGET_RPS,
    rps: Math.round(result.requests.total / m.measureS),
    non_2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    latency_ms: { p50: q(hist, 50), p90: q(hist, 90), p99: q(hist, 99), p999: q(hist, 99.9), max: Math.round(hist.maxValue) / 1000 },
    server_cpu_cores: s.cpu_cores,
  };
  if (lag) {
    out.send_lag_ms = { p99: q(lag, 99), max: Math.round(lag.maxValue) / 1000 };
    lag.destroy();
  }
  if (before) {
    const after = await metrics(m.port);
    Object.assign(out, mainThread(before, after));
  }
  hist.destroy();
  return out;
}

export interface BenchData {
  /**
   * Environment of the processes started on the data: the run's broker and a fresh topic, the
   * seeded data dir, the read key, a view holding all of it (QUERY_VIEW_DAYS), ports picked free.
   */
  env: NodeJS.ProcessEnv;
  dataDir: string;
  topic: string;
  table: Record<string, number>;
  produced: { produced: number; seconds: number };
}

/**
 * The same synthetic events (bench/query-data.ts) in a fresh chDB data dir (bench/query-seed.ts)
 * and a fresh topic of the run's broker (bench/query-produce.ts, keyed as the edge writes them).
 */
export async function prepareData(ctx: BenchContext, rows: number, users: number, name = 'query'): Promise<BenchData> {
  const dataDir = path.join(ctx.workDir, 'data');
  const tag = `bench-${name}-${Date.now()}`;
  const topic = `${tag}.events`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_BROKERS: ctx.brokers.join(','),
    KAFKA_TOPIC_EVENTS: topic,
    KAFKA_TOPIC_REJECTED: `${tag}.rejected`,
    KAFKA_TOPIC_DLQ: `${tag}.dlq`,
    KAFKA_PARTITIONS: String(PARTITIONS),
    SINK_GROUP_ID: `${tag}-sink`,
    TRACKHOUSE_DATA_DIR: dataDir,
    TRACKHOUSE_READ_KEYS: READ_KEY,
    HOST: '127.0.0.1',
    QUERY_PORT: '0',
    SINK_PORT: '0',
    // The view holds all the data (it ends on DATA_END_MS and spans 90 days).
    QUERY_VIEW_DAYS: '3650',
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    LOG_LEVEL: 'info',
  };
  const kafka = new Kafka({ clientId: `bench-${name}`, brokers: ctx.brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();
  ctx.log(`seeding ${rows} events for ${users} users into chDB`);
  const seeder = child(ctx, tsx(ctx, 'query-seed.ts', dataDir, String(rows), String(users), String(SEED), String(DATA_END_MS)), env, 'seed');
  const table = await seeder.line((o) => ('rows' in o ? (o as Record<string, number>) : undefined));
  await seeder.exited;
  ctx.log(`table: ${JSON.stringify(table)}`);
  ctx.log(`producing ${rows} events to ${topic}`);
  const produceStart = performance.now();
  const PRODUCERS = 2;
  const producers = Array.from({ length: PRODUCERS }, (_, part) =>
    child(ctx, tsx(ctx, 'query-produce.ts', JSON.stringify({ brokers: ctx.brokers, topic, rows, users, seed: SEED, endMs: DATA_END_MS, part, parts: PRODUCERS })), env, `produce-${part}`),
  );
  const sentEach = await Promise.all(producers.map((p) => p.line((o) => ('produced' in o ? (o.produced as number) : undefined))));
  await Promise.all(producers.map((p) => p.exited));
  const produced = { produced: sentEach.reduce((a, b) => a + b, 0), seconds: Math.round((performance.now() - produceStart) / 100) / 10 };
  ctx.log(`produced: ${JSON.stringify(produced)}`);
  return { env, dataDir, topic, table, produced };
}

export interface SplitQuery {
  /** The seeded chDB served over HTTP (the split query's CLICKHOUSE_URL). */
  chHttp: Child;
  /** `node dist/cli/main.js query` on an empty view: it builds the view from the topic. */
  query: Child;
  /** Its port, once it listens (/readyz: 503 until the view caught up; see waitReady). */
  port: number;
  /** performance.now() when the query process was started (the view build's start). */
  startedAt: number;
}

/** The split deployment on prepared data: `trackhouse query` alone, ClickHouse through CLICKHOUSE_URL. */
export async function startSplit(ctx: BenchContext, data: BenchData): Promise<SplitQuery> {
  const chHttp = child(ctx, tsx(ctx, 'query-chdb-http.ts', data.dataDir), data.env, 'clickhouse-http');
  const chUrl = await chHttp.line((o) => (typeof o.url === 'string' ? o.url : undefined));
  const startedAt = performance.now();
  const query = child(ctx, [...QUERY_NODE_ARGS, path.join(ctx.root, 'dist/cli/main.js'), 'query'], { ...data.env, CLICKHOUSE_URL: chUrl }, 'query');
  const port = await query.line((o) => (o.msg === 'query API listening' && typeof o.port === 'number' ? o.port : undefined));
  return { chHttp, query, port, startedAt };
}

export async function run(ctx: BenchContext): Promise<BenchSection> {
  const rows = ctx.quick ? 50_000 : Number(process.env.BENCH_QUERY_ROWS ?? 10_000_000);
  const users = Math.max(1000, Math.round(rows / 20));
  const warmS = ctx.quick ? 1 : 5;
  const measureS = Number(process.env.BENCH_QUERY_SECONDS ?? (ctx.quick ? 2 : 10));
  // BENCH_QUERY_ONLY: a regular expression of the run names to run (e.g. `^split-hot`, `writes`):
  // one part of the matrix within a short lock hold. The ceiling runs always.
  const only = process.env.BENCH_QUERY_ONLY ? new RegExp(process.env.BENCH_QUERY_ONLY) : null;
  const runName = (d: Deployment, p: Pattern, w: number) => `${d}-${p}${w > 0 ? `-writes-${w}` : ''}`;
  const wanted = (d: Deployment, p: Pattern, w: number) => only === null || only.test(runName(d, p, w));
  const writeRate = Number(process.env.BENCH_QUERY_WRITE_RATE ?? 2000);
  HOT_USERS = ctx.quick ? 50 : 500;
  // 1. The events, in ClickHouse and in Kafka.
  const data = await prepareData(ctx, rows, users);
  const { env, dataDir, topic, table, produced } = data;

  // 2. Build the view: the split `trackhouse query`, on an empty view.
  const split = await startSplit(ctx, data);
  const buildStart = split.startedAt;
  const q = split.query;
  const chHttp = split.chHttp;
  let port = split.port;
  const builtIn = await sampled(q.proc.pid!, () => waitReady(port, q.exited, 3_600_000));
  const buildS = (performance.now() - buildStart) / 1000;
  const caughtUpLine = await q.line((o) => (o.msg === 'view caught up with the topic' ? (o as Record<string, unknown>) : undefined));
  const viewMetrics = await metrics(port);
  const viewFile = path.join(dataDir, 'view', 'data.mdb');
  const build = {
    events: rows,
    seconds_to_ready: Math.round(buildS * 10) / 10,
    events_per_s: Math.round(rows / buildS),
    builder_seconds: caughtUpLine.seconds,
    builder_events_per_s: caughtUpLine.eventsPerSecond,
    cpu_cores: builtIn.cpu_cores,
    max_rss_mb: builtIn.max_rss_mb,
    max_anon_rss_mb: builtIn.max_anon_rss_mb,
    view_events: viewMetrics.get('trackhouse_query_view_events') ?? 0,
    view_data_bytes: viewMetrics.get('trackhouse_query_view_bytes') ?? 0,
    view_disk_bytes: statSync(viewFile).blocks * 512,
  };
  ctx.log(`build: ${JSON.stringify(build)}`);
  if (process.env.BENCH_QUERY_BUILD_ONLY === '1') {
    // The view build alone (tuning the builder): no read runs.
    await q.stop();
    await chHttp.stop();
    return {
      name: 'query',
      results: { data: { ...table, produced }, build },
      markdown: `## Query API: view build only\n\nView build of ${rows.toLocaleString('en')} events from Kafka: ${build.seconds_to_ready} s to /readyz 200, ${build.events_per_s.toLocaleString('en')} events/s (builder thread alone: ${build.builder_seconds} s, ${Number(build.builder_events_per_s).toLocaleString('en')} events/s), ${build.cpu_cores} cores, max RSS ${build.max_rss_mb} MB (${build.max_anon_rss_mb} MB without the mapped view file), ${Math.round(build.view_disk_bytes / Math.max(1, rows))} bytes per event on disk. (BENCH_QUERY_BUILD_ONLY=1: no read runs.)`,
    };
  }

  // 3. Reads.
  const results: RunResult[] = [];
  const patterns: Pattern[] = ['uniform', 'zipf', 'hot'];
  for (const deployment of ['split', 'allinone'] as const) {
    if (deployment === 'allinone') {
      await q.stop();
      await chHttp.stop();
    }
    for (const w of [0, writeRate]) {
      if (!patterns.some((p) => wanted(deployment, p, w))) continue;
      let sut: Child;
      if (deployment === 'split') {
        sut = q;
      } else {
        sut = child(ctx, [...QUERY_NODE_ARGS, ...tsx(ctx, 'query-allinone.ts')], env, 'allinone');
        port = await sut.line((o) => (typeof o.port === 'number' && o.msg === undefined ? o.port : undefined));
      }
      await waitReady(port, sut.exited, 600_000);
      await waitStreamCaughtUp(port, 600_000);
      const writer = w > 0 ? child(ctx, tsx(ctx, 'query-writer.ts', JSON.stringify({ brokers: ctx.brokers, topic, rate: w, users, seed: SEED, endMs: DATA_END_MS })), env, 'writer') : null;
      if (writer) await writer.line((o) => ('writing' in o ? true : undefined));
      for (const pattern of patterns) {
        if (!wanted(deployment, pattern, w)) continue;
        const name = runName(deployment, pattern, w);
        ctx.log(`run ${name}`);
        results.push(await measure(ctx, { name, deployment, pattern, writeRate: w, port, pid: sut.proc.pid!, users, warmS, measureS, withMetrics: true, paced: true }));
      }
      if (writer) {
        writer.proc.kill('SIGTERM');
        const done = await writer.line((o) => ('written' in o ? (o.written as number) : undefined));
        await writer.exited;
        for (const r of results.filter((r) => r.deployment === deployment && r.write_rate === w)) r.written_events = done;
      }
      if (deployment === 'allinone') await sut.stop();
    }
  }

  // 4. Ceiling and the old path, same run.
  const hotMean = results.find((r) => r.pattern === 'hot')?.mean_reply_bytes ?? 30_000;
  const ceiling = child(ctx, tsx(ctx, 'query-ceiling.ts', String(hotMean)), env, 'ceiling');
  const ceilingPort = await ceiling.line((o) => (typeof o.port === 'number' ? o.port : undefined));
  ctx.log('run ceiling-hot');
  results.push(await measure(ctx, { name: 'ceiling-hot', deployment: 'ceiling', pattern: 'hot', writeRate: 0, port: ceilingPort, pid: ceiling.proc.pid!, users, warmS, measureS, withMetrics: false, paced: true }));
  await ceiling.stop();
  if (!ctx.quick && (only === null || only.test('clickhouse-uniform'))) {
    const engine = child(ctx, tsx(ctx, 'query-engine.ts'), env, 'engine');
    const enginePort = await engine.line((o) => (typeof o.port === 'number' && o.msg === undefined ? o.port : undefined));
    ctx.log('run clickhouse-uniform');
    results.push(await measure(ctx, { name: 'clickhouse-uniform', deployment: 'clickhouse', pattern: 'uniform', writeRate: 0, port: enginePort, pid: engine.proc.pid!, users, warmS: 2, measureS, withMetrics: true }));
    await engine.stop();
  }

  // 5. Report.
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const views = results.filter((r) => r.deployment === 'split' || r.deployment === 'allinone');
  const met = (r: RunResult) => r.latency_ms.p99 <= TARGET_P99_MS && r.rps >= TARGET_RPS && r.non_2xx === 0;
  // At the target rate: its p99, with the rate served within 2 % of the offered one (wrk's delay()
  // runs on whole-ms timers) and no error answers.
  const pacedMet = (r: RunResult) => r.paced !== undefined && r.paced.latency_ms.p99 <= TARGET_P99_MS && r.paced.rps >= TARGET_RPS * 0.98 && r.paced.non_2xx === 0;
  const pacedRuns = results.filter((r) => r.paced !== undefined);
  const ceilingRun = results.find((r) => r.name === 'ceiling-hot')!;
  const md = [
    '## Query API: per-user events from the view',
    '',
    `Data: ${rows.toLocaleString('en')} events of ${table.users?.toLocaleString('en')} users over 90 days (median ${table.median_events_per_user} events per user, max ${table.max_events_per_user}), ` +
      `in Kafka (${PARTITIONS} partitions, produced in ${produced.seconds} s) and in chDB (${mb(table.bytes_on_disk ?? 0)}).`,
    '',
    `View build (\`trackhouse query\` on an empty view, from Kafka): **${build.seconds_to_ready} s to /readyz 200, ${build.events_per_s.toLocaleString('en')} events/s** ` +
      `(builder thread alone: ${build.builder_seconds} s, ${Number(build.builder_events_per_s).toLocaleString('en')} events/s), ${build.cpu_cores} cores, max RSS ${build.max_rss_mb} MB (${build.max_anon_rss_mb} MB without the mapped view file). ` +
      `View: ${Number(build.view_events).toLocaleString('en')} events, ${mb(build.view_data_bytes)} of keys and reply JSON, ${mb(build.view_disk_bytes)} on disk ` +
      `(${Math.round(build.view_disk_bytes / Math.max(1, rows))} bytes per event). Target: 10 M events in under 60 s.`,
    '',
    '| run | deployment | access | writes/s | req/s | reply bytes | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | answers | server RSS MB (anon) | server cores | event loop p99 / max ms | target |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.name} | ${r.deployment} | ${r.pattern} | ${r.write_rate} | ${r.rps} | ${r.mean_reply_bytes} | ${r.latency_ms.p50} | ${r.latency_ms.p90} | ${r.latency_ms.p99} | ${r.latency_ms.p999} | ${r.latency_ms.max} | ` +
        `${r.answers ? Object.entries(r.answers).map(([k, v]) => `${k} ${v}`).join(', ') : '-'} | ${r.server_max_rss_mb ?? '-'}${r.server_max_anon_rss_mb !== undefined ? ` (${r.server_max_anon_rss_mb})` : ''} | ${r.server_cpu_cores ?? '-'} | ${r.event_loop_ms ? `${r.event_loop_ms.p99} / ${r.event_loop_ms.max}` : '-'} | ${views.includes(r) ? (met(r) ? 'met' : 'NOT met') : '-'} |`,
    ),
    '',
    `${CONNECTIONS} connections (${LOADGEN === 'wrk' ? 'wrk, 1 thread, closed loop, its own process' : 'autocannon, closed loop, in the bench process'}; servers in their own processes), ${measureS} s per run after a warm-up ` +
      `(hot: each of the ${Math.min(HOT_USERS, users) * SHAPES.length} hot requests once; uniform and Zipf: ${warmS} s). Request shapes: 50% newest 50 events, ` +
      `25% type=track limit 20, 10% one event name limit 20, 15% last 7 days limit 50. Access: uniform = any user; zipf = users drawn by activity; ` +
      `hot = the ${HOT_USERS} most active users. split = \`trackhouse query\` alone (CLICKHOUSE_URL: the seeded chDB served over HTTP by another process); ` +
      `allinone = chDB + sink + query API in one process (the sink inserts the background writes); both started with the node options \`${QUERY_NODE_ARGS.join(' ') || 'none'}\`. writes/s: events produced to Kafka during the runs, ` +
      `for users drawn by activity. ceiling-hot: a uWS server writing one prepared reply of the split-hot mean size (the load generator's and loopback's limit here). ` +
      `clickhouse-uniform: every page from chDB, the path before the view. event loop: the server's main-thread event-loop delay over the run (prom-client's monitorEventLoopDelay), what a request waits behind other work on that thread. Machine: ${os.cpus().length} cores, shared with other work: figures are noisy. ` +
      `${rows < 10_000_000 ? '**Not the 10 M-event target data set.**' : ''}`,
    '',
    '',
    `The same runs at ${TARGET_RPS.toLocaleString('en')} req/s offered over the same ${CONNECTIONS} connections (the latency at the target rate, as ingest's "p99 at 80 %"): ` +
      (LOADGEN === 'wrk'
        ? `wrk paced by its Lua delay(): an open-loop schedule of one request every ${1e6 / TARGET_RPS} µs, each connection taking the next slot once its answer is in; latency counted from each send; send lag: how late requests left against their slots (whole-ms timers: about 1-3 ms of it is wrk's own). `
        : `autocannon's overallRate (latency counted from each send). `) +
      `Met: p99 <= ${TARGET_P99_MS} ms with at least 98 % of the offered rate served and no error answer.`,
    '',
    `| run | offered req/s | served req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | send lag p99 / max ms | server cores | event loop p99 / max ms | main-thread GC: scavenges (ms), other (ms) | target at ${TARGET_RPS.toLocaleString('en')}/s |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...pacedRuns.map((r) => {
      const p = r.paced!;
      return `| ${r.name} | ${p.offered_rps} | ${p.rps} | ${p.latency_ms.p50} | ${p.latency_ms.p90} | ${p.latency_ms.p99} | ${p.latency_ms.p999} | ${p.latency_ms.max} | ${p.send_lag_ms ? `${p.send_lag_ms.p99} / ${p.send_lag_ms.max}` : '-'} | ${p.server_cpu_cores ?? '-'} | ${p.event_loop_ms ? `${p.event_loop_ms.p99} / ${p.event_loop_ms.max}` : '-'} | ${p.gc ? gcText(p.gc) : '-'} | ${views.includes(r) ? (pacedMet(r) ? 'met' : 'NOT met') : '-'} |`;
    }),
    '',
    `Targets at ${CONNECTIONS} clients (p99 <= ${TARGET_P99_MS} ms and >= ${TARGET_RPS.toLocaleString('en')} req/s), per measurement: ` +
      `closed loop at its maximum (p99 of the highest rate the server reaches): ${views.filter(met).length} of ${views.length} runs met` +
      `${views.some(met) ? ` (${views.filter(met).map((r) => r.name).join(', ')})` : ''}; ` +
      `at ${TARGET_RPS.toLocaleString('en')} req/s offered: ${views.filter(pacedMet).length} of ${views.length} runs met` +
      `${views.some(pacedMet) ? ` (${views.filter(pacedMet).map((r) => r.name).join(', ')})` : ''}` +
      `${views.some((r) => !pacedMet(r)) ? `; not met at ${TARGET_RPS.toLocaleString('en')}/s: ${views.filter((r) => !pacedMet(r)).map((r) => r.name).join(', ')}` : ''}. ` +
      `ceiling-hot on this machine in this run: ${ceilingRun.rps} req/s, p99 ${ceilingRun.latency_ms.p99} ms` +
      `${ceilingRun.paced ? `; at ${TARGET_RPS.toLocaleString('en')}/s p99 ${ceilingRun.paced.latency_ms.p99} ms` : ''}.` +
      `${only ? ` Only the runs matching BENCH_QUERY_ONLY=${only.source}.` : ''}`,
  ].join('\n');
  return {
    name: 'query',
    results: {
      data: { ...table, produced },
      build,
      connections: CONNECTIONS,
      node_options: QUERY_NODE_ARGS,
      warm_seconds: warmS,
      measure_seconds: measureS,
      runs: results,
      // For npm run capacity (bench/capacity.ts): a replica applies the topic at this many events
      // per CPU-second of its process (builder and decode threads), measured over the build.
      capacity: {
        query_view: {
          events_per_core_s: Math.round(rows / Math.max(0.001, build.cpu_cores * build.seconds_to_ready)),
          bytes_per_event_on_disk: Math.round(build.view_disk_bytes / Math.max(1, rows)),
          note: `view build of ${rows} events: ${build.cpu_cores} cores for ${build.seconds_to_ready} s`,
        },
      },
    },
    markdown: md,
  };
}
