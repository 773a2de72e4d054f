// node --import tsx bench/query-ab.ts: the query API's cost per page, two builds (or more) A/B on
// one data set, for comparisons on a shared, throttled machine where absolute rates move with the
// neighbours and the host: what holds is each build's CPU per page against the other's, measured
// in turns within minutes.
//
// One split `trackhouse query` per root (BENCH_QUERY_AB_ROOTS, comma-separated project roots with
// a built dist/, default this one), each on a view of its own built from the same topic, all
// running (QUERY_STREAM=off), ClickHouse served once (idle: the views hold every event). Per round
// and access pattern (bench/query.ts's uniform, Zipf and hot, its request shapes), the roots take
// turns (the order flips between rounds and patterns): a warm-up, then wrk's 32 connections for
// BENCH_QUERY_AB_SECONDS (5). Per run: req/s, p50/p99, the host's steal share, and the server's
// CPU µs per page, of the process and of its main thread (the HTTP thread,
// /proc/<pid>/task/<pid>/stat), its main thread's scavenges and mark-compacts, and its anonymous RSS (heaps, not the
// mapped view); then the medians per root and pattern.
//
//   BENCH_QUERY_ROWS (200000), BENCH_QUERY_AB_ROUNDS (2), BENCH_QUERY_AB_WRITES (0: events/s
//   written to Kafka in the background, bench/query-writer.ts), BENCH_KAFKA_BROKERS (else a fresh
//   local broker), BENCH_PROF_DIR (each query process writes a V8 CPU profile there),
//   BENCH_QUERY_AB_RATE (requests/s: each run paced at that rate offered, wrk's open-loop schedule,
//   bench/lib/wrk.ts; the rows then give the p99 at that rate and the send lag), BENCH_QUERY_AB_ENVS
//   (`|`-separated, one per root, each `K=V K=V`: environment of that root's server on top of the
//   run's, e.g. two settings of one build: roots `A,A`, envs `QUERY_VIEW_DECODE_THREADS=1|QUERY_VIEW_DECODE_THREADS=2`;
//   for nice values, BENCH_QUERY_AB_NICE below),
//   BENCH_QUERY_AB_ARGS (`|`-separated, one per root: node options of that root's server, e.g. V8 flags;
//   unset: QUERY_NODE_OPTIONS of src/common/heap.ts for each, as the product starts them; empty or `none`: none).
//
// BENCH_QUERY_AB_NICE (e.g. `0,10,10@stream`): ONE server (the first root, its envs and args), and
// the turns are nice values of its background threads (src/common/threads.ts QUERY_BACKGROUND: the
// view's builder and decode threads, the hosted stream's; `N@a+b`: only the threads named a or b
// at N, the other background threads at 0), which the bench sets on them before each turn
// (setpriority per thread: going back to 0 takes root or CAP_SYS_NICE). With several servers each
// applies the background writes during the others' measurements, so a setting that changes how
// the process's own threads share the cores cannot be told apart that way; one server, the same
// view, alternating settings can. Each row then also gives the CPU of the main thread, the
// background threads and the others (libuv's pool, which runs lmdb-js's commits, and V8's) in
// cores, and the view's lag (records not applied) at the end of the run with the records it
// applied per second: whether the view keeps up with the writes at that setting.
// BENCH_QUERY_AB_FRESH=1 (with writes): during each measured run, freshness probes one after
// another: an event for a user of its own produced to the topic (acks=all, keyed as the edge
// keys it), then GET of that user every 5 ms until the page holds it; the time from the ack to
// that answer (the view's part of issue #10's freshness, in this split process, under the run's
// reads and writes). Their GETs (~200/s) are not in the run's latencies.
// BENCH_QUERY_AB_OWN_SESSION=1: the servers in a session of their own (setsid). Linux's autogroup
// scheduling (/proc/sys/kernel/sched_autogroup_enabled) shares the cores between sessions first,
// then between the threads of each: in the bench's session the servers' threads also compete with
// the load generator (autocannon runs in this process when wrk is missing) and the writer, so a
// lower priority of the server's background threads would give cores to the client as well, and
// the client's own delays are in the latencies measured. Each row also gives the server's
// event-loop delay (p99 and max over the run, prom-client's monitor): the HTTP thread's own.
// Hold the bench lock: flock /tmp/trackhouse-bench.lock node --import tsx bench/query-ab.ts
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import type { Producer } from 'kafkajs';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { javaCompatiblePartitioner } from '../src/kafka/partitioner.js';
import { EventCodec } from '../src/schema/index.js';
import { startLocalBroker, type LocalBroker } from '../src/localkafka/index.js';
import { atInterrupt } from './lib/children.js';
import { cpuSeconds, threadTimes } from './lib/cpu.js';
import { QUERY_BACKGROUND } from '../src/common/threads.js';
import { envPairs, queryNodeOptions, rssMb } from './lib/proc.js';
import { cpuShares, cpuSpeed, cpuTicks } from './lib/cpuspeed.js';
import { child, DATA_END_MS, gcDelta, hotPaths, load, LOADGEN, paths, prepareData, READ_KEY, SEED, setHotUsers, waitReady, waitStreamCaughtUp, metrics, type Pattern } from './query.js';
import type { BenchContext } from './types.js';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const roots = (process.env.BENCH_QUERY_AB_ROOTS ?? root).split(',').filter((r) => r !== '').map((r) => path.resolve(r));
const rows = Number(process.env.BENCH_QUERY_ROWS ?? 200_000);
const rounds = Number(process.env.BENCH_QUERY_AB_ROUNDS ?? 2);
const seconds = Number(process.env.BENCH_QUERY_AB_SECONDS ?? 5);
const writeRate = Number(process.env.BENCH_QUERY_AB_WRITES ?? 0);
const rate = process.env.BENCH_QUERY_AB_RATE ? Number(process.env.BENCH_QUERY_AB_RATE) : undefined;
const nodeArgs = (process.env.BENCH_QUERY_AB_ARGS?.split('|') ?? roots.map(() => undefined)).map(queryNodeOptions);
const envs = (process.env.BENCH_QUERY_AB_ENVS ?? '').split('|').map(envPairs);
/** A BENCH_QUERY_AB_NICE entry: `10` (every background thread at 10) or `10@stream` (those named, `+`-separated, at 10; the others at 0). */
function niceSetting(entry: string): { label: string; nice: number; names: readonly string[] } {
  const [n, only] = entry.split('@');
  const nice = Number(n);
  const names = only === undefined ? QUERY_BACKGROUND : only.split('+');
  if (!Number.isInteger(nice) || nice < 0 || nice > 19 || names.some((x) => !QUERY_BACKGROUND.includes(x))) {
    throw new Error(`BENCH_QUERY_AB_NICE: entries N or N@thread+thread (N 0-19, threads of ${QUERY_BACKGROUND.join(', ')}), comma-separated: ${entry}`);
  }
  return { label: `nice ${entry}`, nice, names };
}
const nices = process.env.BENCH_QUERY_AB_NICE ? process.env.BENCH_QUERY_AB_NICE.split(',').map(niceSetting) : null;
const fresh = process.env.BENCH_QUERY_AB_FRESH === '1' && writeRate > 0;
const ownSession = process.env.BENCH_QUERY_AB_OWN_SESSION === '1';
const users = Math.max(1000, Math.round(rows / 20));
const log = (m: string) => process.stderr.write(`[query-ab] ${m}\n`);

/** Sets the background threads of `pid` (QUERY_BACKGROUND) named in `names` to `nice`, the others to 0; returns how many were set to `nice`. */
function setBackgroundNice(pid: number, nice: number, names: readonly string[]): number {
  let n = 0;
  for (const t of threadTimes(pid)) {
    if (!QUERY_BACKGROUND.includes(t.name)) continue;
    const to = names.includes(t.name) ? nice : 0;
    os.setPriority(t.tid, to);
    if (to === nice) n++;
  }
  return n;
}

/** CPU seconds so far of `pid`'s threads: its main thread, its background threads (QUERY_BACKGROUND), the others. */
function threadGroups(pid: number): { main: number; background: number; other: number } {
  const g = { main: 0, background: 0, other: 0 };
  for (const t of threadTimes(pid)) {
    if (t.tid === pid) g.main += t.seconds;
    else if (QUERY_BACKGROUND.includes(t.name)) g.background += t.seconds;
    else g.other += t.seconds;
  }
  return g;
}

/** Freshness probes one after another until `untilMs` (performance.now()): see the header. */
async function probeFreshness(producer: Producer, topic: string, port: number, untilMs: number): Promise<{ hist: hdr.Histogram; lost: number }> {
  const codec = new EventCodec();
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let lost = 0;
  while (performance.now() < untilMs) {
    const user = `fresh-${randomUUID()}`;
    const id = randomUUID();
    const now = Date.now();
    const value = codec.encode({ event_id: id, type: 'track', event: 'Freshness Probe', user_id: user, anonymous_id: null, timestamp: now, sent_at: now, received_at: now, source: 'web', category: null, group_id: null, name: null, previous_id: null, properties: '{}', traits: '{}', context: '{}' });
    await producer.send({ topic, acks: -1, messages: [{ key: user, value }] });
    const acked = performance.now();
    let seen = false;
    while (performance.now() - acked < 10_000) {
      const res = await fetch(`http://127.0.0.1:${port}/v1/users/${user}/events?limit=1`, { headers: { authorization: `Bearer ${READ_KEY}` } });
      const text = await res.text();
      if (res.status === 200 && text.includes(id)) {
        hist.recordValue(Math.max(1, Math.round((performance.now() - acked) * 1000)));
        seen = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    if (!seen) lost++;
  }
  return { hist, lost };
}

/**
 * The machine's speed now: the session brief's 3e8-iteration loop at script level in a fresh Node
 * process (ms; ~4 s throttled, 0.45-0.75 s not), and bench/lib/cpuspeed.ts's probe.
 */
function speed(): string {
  const loop = execFileSync(process.execPath, ['-e', 'let s=0;const t=Date.now();for(let i=0;i<3e8;i++)s+=i;console.log(Date.now()-t)'], { encoding: 'utf8' }).trim();
  const probe = cpuSpeed();
  return `uptime ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, 3e8 loop ${loop} ms, probe ${probe === null ? '-' : `${probe.wall_ms} ms wall / ${probe.cpu_ms} ms CPU`}`;
}

interface Row {
  round: number;
  root: string;
  /** The root's index and its BENCH_QUERY_AB_ENVS entry (one build may run with two settings). */
  server: string;
  pattern: Pattern;
  rps: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Paced runs: p99 of how late requests left against the schedule (wrk only). */
  lag_p99: number | null;
  /**
   * This process's event-loop delay during the run, p99 (ms): with autocannon (no wrk installed)
   * the load generator runs here, and a delay of its loop delays sends and the reading of answers.
   */
  loadgen_loop_p99: number;
  /** The server's event-loop delay over the run (ms; prom-client's monitor, reset at each scrape): p99 and max. */
  server_loop: { p99: number; max: number };
  /** The server's main-thread scavenges during the run: how many, and their mean pause (ms). */
  scavenges: number;
  scavenge_mean_ms: number;
  /** Its main-thread mark-compact GCs (V8's major and incremental marking) during the run, and their total pause (ms). */
  majors: number;
  majors_ms: number;
  us_per_page: number;
  main_us_per_page: number;
  reply_bytes: number;
  /** Share of the machine's CPU time the host took during the run. */
  steal_pct: number | null;
  /** The server's anonymous resident memory after the run (MB): what a bigger young generation costs. */
  rss_mb: number;
  /** Cores used during the run by the server's main thread, its background threads (QUERY_BACKGROUND) and its other threads. */
  cores: { main: number; background: number; other: number };
  /** The view's records not applied yet at the end of the run, and records it handled per second during it. */
  view_lag: number;
  view_per_s: number;
  /** BENCH_QUERY_AB_FRESH: probes during the run, ms from the produce's ack to the page holding the event. */
  fresh: { probes: number; lost: number; p50: number; p99: number; max: number } | null;
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-query-ab-'));
  let broker: LocalBroker | undefined;
  const cleanUp = async () => {
    await broker?.stop();
    rmSync(work, { recursive: true, force: true });
  };
  // Interrupted: the servers stop first (./lib/children.ts), then this.
  atInterrupt(cleanUp);
  const out: Row[] = [];
  try {
    const external = process.env.BENCH_KAFKA_BROKERS;
    if (!external) {
      broker = await startLocalBroker({ dataDir: path.join(work, 'kafka'), cacheDir: path.join(root, '.trackhouse'), version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0, heapMb: 1024 });
    }
    const brokers = external ? external.split(',') : broker!.brokers;
    const ctx: BenchContext = { brokers, workDir: work, root, quick: false, log };
    setHotUsers(Math.min(500, users));
    const data = await prepareData(ctx, rows, users, 'ab');
    // One ClickHouse for all (idle: the views hold every event), one `trackhouse query` per root,
    // each with a view of its own, all running; the roots take turns per access pattern.
    const chHttp = child(ctx, ['--import', 'tsx', path.join(root, 'bench', 'query-chdb-http.ts'), data.dataDir], data.env, 'clickhouse-http');
    const chUrl = await chHttp.line((o) => (typeof o.url === 'string' ? o.url : undefined));
    const started = (nices === null ? roots : roots.slice(0, 1)).map((r, i) => {
      const env = { ...data.env, QUERY_STREAM: 'off', CLICKHOUSE_URL: chUrl, TRACKHOUSE_DATA_DIR: path.join(work, `query-${i}`), ...envs[i] };
      const q = child({ ...ctx, root: r }, [...(nodeArgs[i] ?? []), path.join(r, 'dist/cli/main.js'), 'query'], env, `query-${i}`, ownSession);
      const label = [String(i), ...(nodeArgs[i] ?? []), ...Object.entries(envs[i] ?? {}).map(([k, v]) => `${k}=${v}`)].join(' ');
      return { root: r, label, q, port: q.line((o) => (o.msg === 'query API listening' && typeof o.port === 'number' ? o.port : undefined)), before: () => {} };
    });
    // BENCH_QUERY_AB_NICE: the one server once per nice value, which the bench sets before each of its turns.
    const servers =
      nices === null
        ? started
        : nices.map((setting) => ({
            ...started[0]!,
            label: `${started[0]!.label} ${setting.label}`,
            before: () => {
              const n = setBackgroundNice(started[0]!.q.proc.pid!, setting.nice, setting.names);
              if (n === 0) throw new Error('no background thread found to set the nice value of');
            },
          }));
    const ports: number[] = [];
    for (const s of servers) {
      const port = await s.port;
      await waitReady(port, s.q.exited, 1_800_000);
      ports.push(port);
    }
    for (const port of new Set(ports)) await waitStreamCaughtUp(port, 600_000);
    const writer = writeRate > 0 ? child(ctx, ['--import', 'tsx', path.join(root, 'bench', 'query-writer.ts'), JSON.stringify({ brokers, topic: data.topic, rate: writeRate, users, seed: SEED, endMs: DATA_END_MS })], data.env, 'writer') : null;
    if (writer) await writer.line((o) => ('writing' in o ? true : undefined));
    let producer: Producer | null = null;
    if (fresh) {
      const { Kafka, logLevel } = kafkajs();
      producer = new Kafka({ clientId: 'bench-query-ab-fresh', brokers, logLevel: logLevel.ERROR }).producer({ allowAutoTopicCreation: false, createPartitioner: javaCompatiblePartitioner });
      await producer.connect();
    }
    log(speed());
    for (let round = 0; round < rounds; round++) {
      for (const pattern of ['uniform', 'zipf', 'hot'] as const) {
        const order = (round + (pattern === 'zipf' ? 1 : 0)) % 2 === 0 ? servers.map((_, i) => i) : servers.map((_, i) => i).reverse();
        for (const i of order) {
          const port = ports[i]!;
          const pid = servers[i]!.q.proc.pid!;
          servers[i]!.before();
          if (pattern === 'hot') {
            const keys = hotPaths(users);
            await load(port, keys, 0, keys.length);
          } else {
            await load(port, paths(pattern, users, 50_000, 7), 1);
          }
          const g0 = await metrics(port);
          const c0 = cpuSeconds(pid);
          const th0 = threadGroups(pid);
          const t0 = cpuTicks();
          const w0 = performance.now();
          const loop = monitorEventLoopDelay({ resolution: 10 });
          loop.enable();
          const probes = producer ? probeFreshness(producer, data.topic, port, w0 + seconds * 1000) : null;
          const { result, hist, lag } = await load(port, paths(pattern, users, 200_000, 11 + round), seconds, undefined, rate);
          loop.disable();
          const freshness = probes ? await probes : null;
          const wall = (performance.now() - w0) / 1000;
          const cpu = cpuSeconds(pid) - c0;
          const th1 = threadGroups(pid);
          const mainCpu = th1.main - th0.main;
          const cores = (k: 'main' | 'background' | 'other') => Math.round(((th1[k] - th0[k]) / wall) * 100) / 100;
          const shares = cpuShares(t0, cpuTicks());
          const g1 = await metrics(port);
          const gc = gcDelta(g0, g1);
          const none = { count: 0, ms: 0 };
          const minor = gc.minor ?? none;
          const major = gc.major ?? none;
          const incremental = gc.incremental ?? none;
          const n = result.requests.total;
          const row: Row = {
            round,
            root: servers[i]!.root,
            server: servers[i]!.label,
            pattern,
            rps: Math.round(n / seconds),
            p50: Math.round(hist.getValueAtPercentile(50)) / 1000,
            p99: Math.round(hist.getValueAtPercentile(99)) / 1000,
            p999: Math.round(hist.getValueAtPercentile(99.9)) / 1000,
            max: Math.round(hist.maxValue) / 1000,
            lag_p99: lag ? Math.round(lag.getValueAtPercentile(99)) / 1000 : null,
            loadgen_loop_p99: Math.round(loop.percentile(99) / 1e4) / 100,
            server_loop: { p99: Math.round((g1.get('trackhouse_nodejs_eventloop_lag_p99_seconds') ?? 0) * 1e5) / 100, max: Math.round((g1.get('trackhouse_nodejs_eventloop_lag_max_seconds') ?? 0) * 1e5) / 100 },
            scavenges: minor.count,
            scavenge_mean_ms: Math.round((minor.ms / Math.max(1, minor.count)) * 100) / 100,
            majors: major.count + incremental.count,
            majors_ms: Math.round((major.ms + incremental.ms) * 10) / 10,
            us_per_page: Math.round((cpu / n) * 1e7) / 10,
            main_us_per_page: Math.round((mainCpu / n) * 1e7) / 10,
            reply_bytes: Math.round(result.throughput.total / Math.max(1, n)),
            steal_pct: shares?.steal_pct ?? null,
            rss_mb: Math.round(rssMb(pid).anon),
            cores: { main: cores('main'), background: cores('background'), other: cores('other') },
            view_lag: g1.get('trackhouse_query_view_lag_records') ?? 0,
            view_per_s: Math.round(((g1.get('trackhouse_query_view_records_total') ?? 0) - (g0.get('trackhouse_query_view_records_total') ?? 0)) / wall),
            fresh: freshness
              ? {
                  probes: freshness.hist.totalCount,
                  lost: freshness.lost,
                  p50: Math.round(freshness.hist.getValueAtPercentile(50)) / 1000,
                  p99: Math.round(freshness.hist.getValueAtPercentile(99)) / 1000,
                  max: Math.round(freshness.hist.maxValue) / 1000,
                }
              : null,
          };
          hist.destroy();
          freshness?.hist.destroy();
          lag?.destroy();
          if (result.non2xx > 0 || result.errors > 0) log(`  ${result.non2xx} non-2xx, ${result.errors} errors`);
          out.push(row);
          log(JSON.stringify(row));
        }
      }
      log(speed());
    }
    await producer?.disconnect();
    if (writer) {
      writer.proc.kill('SIGTERM');
      await writer.exited;
    }
    for (const s of started) await s.q.stop();
    await chHttp.stop();
  } finally {
    await cleanUp();
  }
  const lines = [
    `${rate ? `Paced: ${rate} req/s offered (${LOADGEN === 'wrk' ? "wrk's open-loop schedule" : "autocannon's overallRate, in this process: no send lag"}). ` : 'Closed loop. '}${writeRate} events/s written in the background. Load generator: ${LOADGEN}.`,
    '',
    '| server | root | access | round | req/s | p50 ms | p99 ms | p99.9 ms | max ms | send lag p99 ms | load generator loop delay p99 ms | server loop delay p99 / max ms | scavenges (mean ms) | mark-compacts (total ms) | CPU µs/page (process) | main thread µs/page | cores main / background / other | view lag at end (records) | view records/s | freshness probes (lost): p50 / p99 / max ms | reply bytes | steal % | anon RSS MB |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of out) lines.push(`| ${r.server} | ${r.root} | ${r.pattern} | ${r.round} | ${r.rps} | ${r.p50} | ${r.p99} | ${r.p999} | ${r.max} | ${r.lag_p99 ?? '-'} | ${r.loadgen_loop_p99} | ${r.server_loop.p99} / ${r.server_loop.max} | ${r.scavenges} (${r.scavenge_mean_ms}) | ${r.majors} (${r.majors_ms}) | ${r.us_per_page} | ${r.main_us_per_page} | ${r.cores.main} / ${r.cores.background} / ${r.cores.other} | ${r.view_lag} | ${r.view_per_s} | ${r.fresh ? `${r.fresh.probes} (${r.fresh.lost}): ${r.fresh.p50} / ${r.fresh.p99} / ${r.fresh.max}` : '-'} | ${r.reply_bytes} | ${r.steal_pct ?? '-'} | ${r.rss_mb} |`);
  lines.push('', '| access | server | median CPU µs/page (process) | median main thread µs/page | median req/s | median p99 ms | median p99.9 ms | median send lag p99 ms | median scavenges (mean ms) | median anon RSS MB |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)]!;
  for (const pattern of ['uniform', 'zipf', 'hot'] as const) {
    for (const s of [...new Set(out.map((o) => o.server))]) {
      const rs = out.filter((o) => o.pattern === pattern && o.server === s);
      if (rs.length === 0) continue;
      lines.push(`| ${pattern} | ${s} | ${med(rs.map((o) => o.us_per_page))} | ${med(rs.map((o) => o.main_us_per_page))} | ${med(rs.map((o) => o.rps))} | ${med(rs.map((o) => o.p99))} | ${med(rs.map((o) => o.p999))} | ${rate ? med(rs.map((o) => o.lag_p99 ?? 0)) : '-'} | ${med(rs.map((o) => o.scavenges))} (${med(rs.map((o) => o.scavenge_mean_ms))}) | ${med(rs.map((o) => o.rss_mb))} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
