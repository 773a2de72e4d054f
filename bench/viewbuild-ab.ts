// A/B harness for the view build (issue #10, "10 M events build from Kafka in under 60 s"), for a
// throttled, shared machine where only same-session alternation is comparable: starts a local
// broker, produces the query bench's events (bench/query-produce.ts) once, serves an empty chDB
// over HTTP (the split query's CLICKHOUSE_URL), then builds views of that topic on request: a
// sequence of builds (old and new code alternating) under one hold of the bench lock, each a fresh
// `node <QUERY_NODE_OPTIONS> <dist>/cli/main.js query` (the node options the product starts it with) on an
// empty view, timed to /readyz 200, with a 3e8-loop before it (the machine's speed at that moment).
//
//   node --import tsx bench/viewbuild-ab.ts <rows> <controlPort>     (a copy of the old build in ./distA)
//   curl -s 'localhost:<controlPort>/batch?runs=A1|/abs/distA;B1|/abs/dist;A2|/abs/distA;B2|/abs/dist'
//   (per run: label|dist|K=V,K=V (extra env)|profile dir (node --cpu-prof of every thread)|node options in
//   place of QUERY_NODE_OPTIONS, space-separated (empty or `none`: none; left out: QUERY_NODE_OPTIONS), e.g. to A/B V8 flags)
// Per build: seconds to ready, the builder's own seconds, CPU seconds of the busiest threads (by tid).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { startLocalBroker } from '../src/localkafka/index.js';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { atInterrupt, track } from './lib/children.js';
import { queryNodeOptions } from './lib/proc.js';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const rows = Number(process.argv[2] ?? 1_000_000);
const controlPort = Number(process.argv[3] ?? 47_111);
const users = Math.max(1000, Math.round(rows / 20));
const DATA_END_MS = Date.UTC(2026, 10, 1);
const LOCK = '/tmp/trackhouse-bench.lock';
const work = mkdtempSync(path.join(os.tmpdir(), 'viewbuild-ab-'));
const log = (s: string) => process.stderr.write(`[ab ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = track(spawn(cmd, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] }));
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${c}`))));
  });
}

/** Holds the bench lock until release() (one lock for a whole A/B sequence). */
async function lock(): Promise<() => void> {
  const p = spawn('flock', [LOCK, 'sh', '-c', 'echo locked; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => createInterface({ input: p.stdout! }).on('line', (l) => l === 'locked' && resolve()));
  return () => p.stdin!.end('\n');
}

const broker = await startLocalBroker({ dataDir: path.join(work, 'kafka'), cacheDir: path.join(root, '.trackhouse'), version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0, heapMb: 1024 });
const topic = `ab-${Date.now()}.events`;
const { Kafka, logLevel } = kafkajs();
const admin = new Kafka({ clientId: 'ab', brokers: broker.brokers, logLevel: logLevel.ERROR }).admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
await admin.disconnect();
const baseEnv: NodeJS.ProcessEnv = {
  ...process.env,
  KAFKA_BROKERS: broker.brokers.join(','),
  KAFKA_TOPIC_EVENTS: topic,
  KAFKA_TOPIC_REJECTED: `${topic}.rejected`,
  KAFKA_TOPIC_DLQ: `${topic}.dlq`,
  KAFKA_PARTITIONS: '6',
  TRACKHOUSE_READ_KEYS: 'k',
  HOST: '127.0.0.1',
  QUERY_PORT: '0',
  QUERY_VIEW_DAYS: '3650',
  SHUTDOWN_DRAIN_DELAY_MS: '0',
  LOG_LEVEL: 'info',
};
log(`producing ${rows} events to ${topic} (under the lock)`);
// (produce under the lock: it loads the machine)
const t0 = performance.now();
const releaseProduce = await lock();
await Promise.all(
  [0, 1].map((part) =>
    run(process.execPath, ['--import', 'tsx', 'bench/query-produce.ts', JSON.stringify({ brokers: broker.brokers, topic, rows, users, seed: 42, endMs: DATA_END_MS, part, parts: 2 })], baseEnv),
  ),
);
releaseProduce();
log(`produced in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const chDir = path.join(work, 'ch');
await run(process.execPath, ['--import', 'tsx', 'bench/query-seed.ts', chDir, '0', '1000', '42', String(DATA_END_MS)], { ...baseEnv, TRACKHOUSE_DATA_DIR: chDir });
const ch = track(spawn(process.execPath, ['--import', 'tsx', 'bench/query-chdb-http.ts', chDir], { cwd: root, env: { ...baseEnv, TRACKHOUSE_DATA_DIR: chDir }, stdio: ['ignore', 'pipe', 'inherit'] }));
const chUrl = await new Promise<string>((resolve) => createInterface({ input: ch.stdout! }).on('line', (l) => l.includes('"url"') && resolve((JSON.parse(l) as { url: string }).url)));

/** CPU seconds per thread name of a process (utime + stime). */
function threads(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      const cpu = (Number(f[11]) + Number(f[12])) / 100;
      out[`${name}:${t}`] = Math.round(cpu * 100) / 100;
    }
  } catch {
    /* gone */
  }
  return out;
}

let busy = false;
async function build(dist: string, label: string, prof: string | null, extra: Record<string, string>, nodeArgs: string[]): Promise<Record<string, unknown>> {
  const dataDir = path.join(work, `run-${label}-${Date.now()}`);
  const args = [...nodeArgs, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), path.join(dist, 'cli/main.js'), 'query'];
  const loop = await run(process.execPath, ['-e', 'const t=performance.now();let s=0;for(let i=0;i<3e8;i++)s+=i;console.log(((performance.now()-t)/1000).toFixed(2))'], baseEnv);
  const started = performance.now();
  const p = track(spawn(process.execPath, args, { cwd: root, env: { ...baseEnv, ...extra, TRACKHOUSE_DATA_DIR: dataDir, CLICKHOUSE_URL: chUrl }, stdio: ['ignore', 'pipe', 'pipe'] }));
  let port = 0;
  let caught: Record<string, unknown> | null = null;
  const errors: string[] = [];
  /** The builder's progress logs (every 5 s): [events applied, events/s over the last 5 s]. */
  const progress: [number, number][] = [];
  createInterface({ input: p.stdout! }).on('line', (l) => {
    try {
      const o = JSON.parse(l) as Record<string, unknown>;
      if (o.msg === 'query API listening') port = o.port as number;
      if (o.msg === 'view caught up with the topic') caught = o;
      if (o.msg === 'view catching up') progress.push([o.applied as number, o.eventsPerSecond as number]);
      if (typeof o.level === 'number' && o.level >= 50) errors.push(l.slice(0, 300));
    } catch {
      /* not JSON */
    }
  });
  createInterface({ input: p.stderr! }).on('line', (l) => errors.push(l.slice(0, 300)));
  const exited = new Promise<number | null>((r) => p.once('exit', r));
  let pid = 0;
  let ready = 0;
  let cpu: Record<string, number> = {};
  let maxRss = 0;
  let maxRssAnon = 0;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`query exited: ${errors.join('\n')}`);
    if (pid === 0) {
      try {
        pid = p.pid!;
      } catch {
        /* not yet */
      }
    }
    if (pid > 0) {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const m = /VmRSS:\s+(\d+)/.exec(status);
        if (m) maxRss = Math.max(maxRss, Number(m[1]) / 1024);
        // The process's own memory: VmRSS also counts the pages of the mapped view file it touched.
        const a = /RssAnon:\s+(\d+)/.exec(status);
        if (a) maxRssAnon = Math.max(maxRssAnon, Number(a[1]) / 1024);
      } catch {
        /* gone */
      }
    }
    if (port > 0) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        await res.arrayBuffer();
        if (res.status === 200) {
          ready = performance.now();
          cpu = threads(pid);
          break;
        }
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const fromLock = (ready - started) / 1000;
  const viewFile = path.join(dataDir, 'view', 'data.mdb');
  const disk = statSync(viewFile).blocks * 512;
  process.kill(pid, 'SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
  const c = caught as Record<string, unknown> | null;
  const total = Object.values(cpu).reduce((a, b) => a + b, 0);
  return {
    label,
    dist,
    rows,
    loop3e8_s: Number(loop.trim()),
    load: os.loadavg().map((x) => Math.round(x * 100) / 100),
    seconds_to_ready: Math.round(fromLock * 10) / 10,
    builder_seconds: c?.seconds,
    builder_events_per_s: c?.eventsPerSecond,
    cpu_s: Math.round(total * 10) / 10,
    cpu_by_thread: Object.fromEntries(Object.entries(cpu).sort((a, b) => b[1] - a[1]).slice(0, 10)),
    max_rss_mb: Math.round(maxRss),
    max_rss_anon_mb: Math.round(maxRssAnon),
    disk_bytes_per_event: Math.round(disk / rows),
    progress,
    errors: errors.slice(0, 5),
    extra,
    node_options: nodeArgs,
  };
}

http
  .createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    if (u.pathname === '/batch') {
      // runs=label|dist|K=V,K=V|profDir|node options;label|dist;...: built in turn, all under one hold of the lock
      if (busy) return void res.writeHead(409).end('busy\n');
      busy = true;
      const runs = (u.searchParams.get('runs') ?? '').split(';').filter(Boolean).map((r) => r.split('|'));
      void (async () => {
        const release = await lock();
        log(`lock held: ${runs.length} builds`);
        const out: unknown[] = [];
        try {
          for (const [label, dist, env, prof, opts] of runs) {
            const extra = Object.fromEntries((env ?? '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
            const nodeArgs = queryNodeOptions(opts);
            const r = await build(dist!, label!, prof || null, extra, nodeArgs).catch((err: unknown) => ({ label, error: String(err) }));
            log(JSON.stringify(r));
            out.push(r);
          }
        } finally {
          release();
          busy = false;
        }
        res.writeHead(200).end(`${JSON.stringify(out, null, 1)}\n`);
      })();
      return;
    }
    res.writeHead(404).end('GET /batch?runs=label|dist|K=V,K=V|profDir;...\n');
  })
  .listen(controlPort, '127.0.0.1', () => log(`ready: builds on http://127.0.0.1:${controlPort}/batch?runs=label|dist;...`));

// Stopped by Ctrl-C or SIGTERM: the builds and chDB's server stop first (./lib/children.ts), then this.
atInterrupt(async () => {
  await broker.stop();
  rmSync(work, { recursive: true, force: true });
});
