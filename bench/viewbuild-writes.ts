// The view's LMDB write pattern alone (docs/architecture/view.md, "Large builds"): per event one
// ~620-byte value and two small index entries (three B-trees), users random (events/20 of them),
// `perTxn` events per transaction, the next transaction queued while the previous one commits, as
// the builder does. Prints every 500k events the rate, CPU seconds per thread since the last line,
// the events tree's depth and leaves, the free list and the file's blocks, so the cost of a growing
// view shows without Kafka or decoding. `order`: kafka (as they come) or key (sorted per
// transaction by key, as src/view/putorder.ts orders them).
//
//   flock /tmp/trackhouse-bench.lock node --import tsx bench/viewbuild-writes.ts 3000000 10000 key
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';

const events = Number(process.argv[2] ?? 3_000_000);
const perTxn = Number(process.argv[3] ?? 10_000);
const order = process.argv[4] === 'key' ? 'key' : 'kafka';
const VALUE = 620;
const users = Math.round(events / 20);
const dir = path.join(os.tmpdir(), `viewbuild-writes-${process.pid}`);
rmSync(dir, { recursive: true, force: true });
const env = open({ path: dir, maxDbs: 4, noSync: true, useWritemap: true, overlappingSync: false, noMemInit: true });
const dbs = ['events', 'by_type', 'by_event'].map((name) => env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }));
const EMPTY = Buffer.alloc(0);
const ONE = Buffer.from([1]);
const source = randomBytes(1 << 20);

/** CPU seconds per thread of this process. */
function cpu(): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync('/proc/self/task')) {
    const s = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    out.set(t, (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

const started = performance.now();
let lastAt = started;
let lastCount = 0;
let lastCpu = cpu();
let previous: Promise<unknown> = Promise.resolve();
let ts = Date.UTC(2026, 0, 1);
for (let i = 0; i < events; ) {
  const keys = Buffer.allocUnsafe(perTxn * 200);
  const values = Buffer.allocUnsafe(perTxn * VALUE);
  const puts: [number, Buffer, Buffer][] = [];
  let at = 0;
  for (let j = 0; j < perTxn && i < events; j++, i++) {
    const u = Math.floor(Math.random() * users);
    const user = `user-${u}`;
    const s = at;
    keys[at++] = user.length;
    at += keys.write(user, at, 'latin1');
    const ue = at;
    ts += 3;
    keys.writeUIntBE(ts, at, 6);
    at += 6;
    at += keys.write(randomBytes(8).toString('hex'), at, 'latin1');
    const pk = keys.subarray(s, at);
    const from = (i * 7919) % ((1 << 20) - VALUE);
    source.copy(values, j * VALUE, from, from + VALUE);
    puts.push([0, pk, values.subarray(j * VALUE, (j + 1) * VALUE)]);
    const t = at;
    at += keys.copy(keys, at, s, ue);
    keys[at++] = 1 + (u % 5);
    at += keys.copy(keys, at, ue, t);
    puts.push([1, keys.subarray(t, at), EMPTY]);
    const e = at;
    at += keys.copy(keys, at, s, ue);
    keys[at++] = 6;
    at += keys.write(`evt${u % 30}`, at, 'latin1');
    at += keys.copy(keys, at, ue, t);
    puts.push([2, keys.subarray(e, at), ONE]);
  }
  // Key order: each event's three puts stay together, ordered by the events key.
  if (order === 'key') {
    const byEvent: [number, Buffer, Buffer][][] = [];
    for (let k = 0; k < puts.length; k += 3) byEvent.push(puts.slice(k, k + 3));
    byEvent.sort((a, b) => Buffer.compare(a[0]![1], b[0]![1]));
    puts.length = 0;
    for (const e of byEvent) puts.push(...e);
  }
  const commit = env.batch(() => {
    for (const [d, k, v] of puts) void dbs[d]!.put(k, v);
  });
  await previous;
  previous = commit;
  if (i % 500_000 === 0 || i === events) {
    await previous;
    const now = performance.now();
    const c = cpu();
    const threads = [...c].map(([t, s]) => s - (lastCpu.get(t) ?? 0)).filter((s) => s > 0.05).sort((a, b) => b - a);
    lastCpu = c;
    const st = dbs[0]!.getStats() as { treeDepth: number; treeLeafPageCount: number; overflowPages: number };
    const es = env.getStats() as { lastPageNumber: number; free?: { treeLeafPageCount: number; overflowPages: number } };
    console.log(
      JSON.stringify({
        events: i,
        eventsPerSecond: Math.round((i - lastCount) / ((now - lastAt) / 1000)),
        seconds: Math.round((now - started) / 100) / 10,
        cpuSecondsByThread: threads.map((s) => Math.round(s * 100) / 100),
        cpuSeconds: Math.round(threads.reduce((a, b) => a + b, 0) * 10) / 10,
        eventsDepth: st.treeDepth,
        eventsLeaves: st.treeLeafPageCount,
        eventsOverflowPages: st.overflowPages,
        lastPage: es.lastPageNumber,
        freeList: es.free,
        diskMB: Math.round((statSync(path.join(dir, 'data.mdb')).blocks * 512) / 1e6),
      }),
    );
    lastAt = now;
    lastCount = i;
  }
}
await previous;
await env.close();
rmSync(dir, { recursive: true, force: true });
