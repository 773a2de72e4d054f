// node --import tsx bench/formats-produce.ts (after npm run build; hold the bench lock): for chosen
// endpoints of bench/formats.ts, alternating on one broker and one ingest (rounds reverse the
// order, so a slot's position in time weighs on every endpoint alike), the shape of the produce
// requests the ingest sends (records and record bytes per request, from its
// trackhouse_ingest_produce_batch_* metrics), produce requests/s, events/s, and the ingest's and
// the broker's CPU per event. Env: EPS (indices into benchEndpoints, default 0,1,2), ROUNDS (2),
// SECS per measurement (6), DISTS (comma-separated dist/ folders to compare, one ingest each).
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { freePort, startLocalBroker } from '../src/localkafka/index.js';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { benchEndpoints } from './formats.js';
import { runLoad } from './lib/load.js';
import { sampled, startServer, waitForPort, words } from './lib/proc.js';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const secs = Number(process.env.SECS ?? 6);
const rounds = Number(process.env.ROUNDS ?? 2);
const names = (process.env.EPS ?? '0,1,2').split(',').map(Number);
const dists = (process.env.DISTS ?? path.join(root, 'dist')).split(',');
const work = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-formats-produce-'));
const broker = await startLocalBroker({ dataDir: path.join(work, 'kafka'), cacheDir: path.join(root, '.trackhouse'), version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0, heapMb: 1024 });
const eps = benchEndpoints(40);
const ingests: { dist: string; port: number; srv: ReturnType<typeof startServer> }[] = [];
/** The `cpu ` line of /proc/stat (the 8th number is steal). */
function steal(): number[] { return readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number); }
async function metrics(port: number): Promise<Record<string, number>> {
  const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const l of t.split('\n')) {
    const m = /^(trackhouse_ingest_produce_batch_(?:records|bytes)_(?:sum|count)|trackhouse_ingest_events_accepted_total)(?:\{[^}]*\})? ([0-9.e+]+)/.exec(l);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}
try {
  for (const [k, dist] of dists.entries()) {
    const port = await freePort();
    const srv = startServer(process.execPath, [...words(process.env.NODEFLAGS), path.join(dist, 'cli/main.js'), 'ingest'], {
      KAFKA_BROKERS: broker.brokers.join(','), KAFKA_TOPIC_EVENTS: `m${k}.events`, KAFKA_TOPIC_REJECTED: `m${k}.rejected`, KAFKA_TOPIC_DLQ: `m${k}.dlq`,
      TRACKHOUSE_WRITE_KEYS: 'bench-write-key:bench', TRACKHOUSE_DATA_DIR: path.join(work, `data${k}`), INGEST_PORT: String(port), INGEST_THREADS: '1', LOG_LEVEL: 'warn',
    });
    await waitForPort(port, srv);
    ingests.push({ dist, port, srv });
    await runLoad({ url: `http://127.0.0.1:${port}`, path: eps[0]!.path, bodies: eps[0]!.bodies, headers: eps[0]!.headers, connections: 32, durationS: 8 });
  }
  const st0 = steal();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const ei of order) for (const ing of ingests) {
      const e = eps[ei]!;
      const base = { url: `http://127.0.0.1:${ing.port}`, path: e.path, bodies: e.bodies, headers: e.headers, connections: 32 };
      await runLoad({ ...base, durationS: 2 });
      const m0 = await metrics(ing.port);
      const s = await sampled(ing.srv.pid, () => runLoad({ ...base, durationS: secs }), broker.pid);
      const m1 = await metrics(ing.port);
      const d = (k: string) => (m1[k] ?? 0) - (m0[k] ?? 0);
      const ev = s.result.ok * 100;
      const reqs = d('trackhouse_ingest_produce_batch_records_count');
      console.log([`r${r}`, path.basename(path.dirname(ing.dist)), e.name.slice(0, 22).padEnd(22), `ev/s ${Math.round(ev / s.result.duration_s)}`, `cores ${s.cpu_cores}`,
        `ing ${(s.cpu_s / ev * 1e6).toFixed(2)}`, `brk ${((s.broker_cpu_s ?? 0) / ev * 1e6).toFixed(2)}`, `prodreq/s ${Math.round(reqs / s.result.duration_s)}`,
        `rec/req ${(d('trackhouse_ingest_produce_batch_records_sum') / reqs).toFixed(1)}`, `KB/req ${(d('trackhouse_ingest_produce_batch_bytes_sum') / reqs / 1024).toFixed(1)}`,
        `B/rec ${(d('trackhouse_ingest_produce_batch_bytes_sum') / d('trackhouse_ingest_produce_batch_records_sum')).toFixed(0)}`, `p50 ${s.result.latency_ms.p50}`].join('  '));
    }
  }
  const st1 = steal();
  console.log('steal jiffies', st1[7]! - st0[7]!, 'of total', st1.reduce((a, b) => a + b, 0) - st0.reduce((a, b) => a + b, 0), 'load', os.loadavg());
} finally {
  for (const i of ingests) await i.srv.stop();
  await broker.stop();
  rmSync(work, { recursive: true, force: true });
}
