// node --import tsx bench/formats-threads.ts (after npm run build; hold the bench lock): a fresh
// broker and ingest as bench/formats.ts starts them, one endpoint of benchEndpoints (EP, default 0:
// /v1/batch) at full load for SECS (60) seconds, and every 3 s the CPU jiffies of each broker and
// ingest thread, summed by thread name: what the broker does in each part of a formats run.
import path from 'node:path';
import os from 'node:os';
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { freePort, startLocalBroker } from '../src/localkafka/index.js';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { benchEndpoints } from './formats.js';
import { runLoad } from './lib/load.js';
import { startServer, waitForPort } from './lib/proc.js';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const total = Number(process.env.SECS ?? 60);
const ei = Number(process.env.EP ?? 0);
const work = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-formats-threads-'));
const broker = await startLocalBroker({ dataDir: path.join(work, 'kafka'), cacheDir: path.join(root, '.trackhouse'), version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0, heapMb: 1024 });
function descendants(pid: number): number[] {
  const all = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  const kids = new Map<number, number[]>();
  for (const p of all) { try { const st = readFileSync(`/proc/${p}/stat`, 'utf8'); const pp = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]); (kids.get(pp) ?? kids.set(pp, []).get(pp)!).push(p); } catch { /* gone */ } }
  const out = [pid]; for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]!) ?? []));
  return out;
}
function threads(pids: number[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const p of pids) { let ts: string[] = []; try { ts = readdirSync(`/proc/${p}/task`); } catch { continue; }
    for (const t of ts) { try { const st = readFileSync(`/proc/${p}/task/${t}/stat`, 'utf8'); const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')).replace(/[#\d]+$/, '').trim(); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); m.set(name, (m.get(name) ?? 0) + Number(f[11]) + Number(f[12])); } catch { /* gone */ } } }
  return m;
}
const port = await freePort();
const srv = startServer(process.execPath, [path.join(root, 'dist/cli/main.js'), 'ingest'], {
  KAFKA_BROKERS: broker.brokers.join(','), KAFKA_TOPIC_EVENTS: 't.events', KAFKA_TOPIC_REJECTED: 't.rejected', KAFKA_TOPIC_DLQ: 't.dlq',
  TRACKHOUSE_WRITE_KEYS: 'bench-write-key:bench', TRACKHOUSE_DATA_DIR: path.join(work, 'data'), INGEST_PORT: String(port), INGEST_THREADS: '1', LOG_LEVEL: 'warn',
});
try {
  await waitForPort(port, srv);
  const e = benchEndpoints(40)[ei]!;
  const bpids = descendants(broker.pid);
  let prevB = threads(bpids), prevI = threads([srv.pid]);
  const t0 = Date.now();
  const timer = setInterval(() => {
    const b = threads(bpids), i = threads([srv.pid]);
    const diff = (a: Map<string, number>, p: Map<string, number>) => [...a].map(([k, v]) => [k, v - (p.get(k) ?? 0)] as const).filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1]);
    const db = diff(b, prevB), di = diff(i, prevI);
    const sum = (d: (readonly [string, number])[]) => d.reduce((s, [, v]) => s + v, 0);
    console.log(`t=${Math.round((Date.now() - t0) / 1000)} broker ${sum(db)} [${db.slice(0, 6).map(([k, v]) => `${k}:${v}`).join(' ')}] ingest ${sum(di)} [${di.slice(0, 4).map(([k, v]) => `${k}:${v}`).join(' ')}]`);
    prevB = b; prevI = i;
  }, 3000);
  const r = await runLoad({ url: `http://127.0.0.1:${port}`, path: e.path, bodies: e.bodies, headers: e.headers, connections: 32, durationS: total });
  clearInterval(timer);
  console.log(e.name, Math.round(r.ok_per_s * 100), 'events/s');
} finally {
  await srv.stop();
  await broker.stop();
  rmSync(work, { recursive: true, force: true });
}
