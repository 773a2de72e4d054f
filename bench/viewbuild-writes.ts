// The view's LMDB write pattern alone (docs/architecture/view.md, "Large builds"): per event one
// ~620-byte value and two small index entries (three B-trees), users random (events/20 of them),
// `perTxn` events per transaction, the next transaction queued while the previous one commits, as
// the builder does. Prints every 500k events the rate, CPU seconds per thread since the last line,
// the events tree's depth and leaves, the free list and the file's blocks, so the cost of a growing
// view shows without Kafka or decoding. `order`: kafka (as they come) or key (sorted per
// transaction by key, as src/view/putorder.ts orders them), or log: the layout a next step could
// take (docs/architecture/view.md, "Large builds"): each value appended to a `log` database keyed
// by a growing 8-byte position (LMDB append puts: the last leaf only, each page written once,
// full), and three small index entries in key order, each valued with the position: U T I ->
// position (the events key space), U y T I -> position (by_type), U E T I -> position (by_event).
// Each line also says what the writes cost the kernel since the last line, per event: bytes this
// process dirtied (/proc/self/io write_bytes, counted as pages are dirtied: 4 KiB per page), bytes
// the disk holding the file was sent (/proc/diskstats: every process's writes, so read it on a
// quiet disk), and the dirty and under-write-back memory at that moment (/proc/vmstat).
//
//   flock /tmp/trackhouse-bench.lock node --import tsx bench/viewbuild-writes.ts 3000000 10000 key
//   flock /tmp/trackhouse-bench.lock node --import tsx bench/viewbuild-writes.ts 6000000 40000 log
//   flock /tmp/trackhouse-bench.lock node --import tsx bench/viewbuild-writes.ts 6000000 40000 key noreadahead
//   flock /tmp/trackhouse-bench.lock node --import tsx bench/viewbuild-writes.ts 3000000 1000 colo
// LMDB is opened as the view opens it (no write map) unless `writemap` follows the order; `colo`
// puts the three key spaces in one tree (docs/architecture/view.md, "Under a steady load").
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';

const events = Number(process.argv[2] ?? 3_000_000);
const perTxn = Number(process.argv[3] ?? 10_000);
const order = process.argv[4] === 'key' || process.argv[4] === 'log' || process.argv[4] === 'colo' ? process.argv[4] : 'kafka';
const log = order === 'log';
// colo: the three key spaces in one database, a tag byte after the user key (U 0 T I, U 1 y T I,
// U 2 E T I), so an event's three puts land in its user's part of one tree.
const colo = order === 'colo';
const VALUE = 620;
const users = Math.round(events / 20);
const dir = path.join(os.tmpdir(), `viewbuild-writes-${process.pid}`);
rmSync(dir, { recursive: true, force: true });
// `noreadahead` (5th argument): LMDB's MDB_NORDAHEAD, madvise(MADV_RANDOM) on the map: page faults read
// (and the page cache holds) single pages, not readahead-sized folios.
const noReadAhead = process.argv.slice(5).includes('noreadahead');
// `writemap`: LMDB's write map (the view opened LMDB so until 2026-12-04); without it, as the view now.
const useWritemap = process.argv.slice(5).includes('writemap');
const env = open({ path: dir, maxDbs: 5, noSync: true, useWritemap, overlappingSync: false, noMemInit: true, pageSize: 4096, ...({ noReadAhead } as object) });
const dbs = ['events', 'by_type', 'by_event', 'log'].map((name) => env.openDB<Buffer, Buffer>({ name, keyEncoding: 'binary', encoding: 'binary' }));
// lmdb-js 2.9 takes put options (append: MDB_APPEND) in the version argument; its types do not say so.
const APPEND = { append: true } as unknown as number;
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

/** Bytes this process has dirtied in the page cache so far (write_bytes counts pages as they are dirtied). */
function dirtied(): number {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** The block device holding `file` (its name in /proc/diskstats) by major:minor. */
function device(file: string): string | undefined {
  const dev = statSync(file).dev;
  const major = Math.floor(dev / 256) & 0xfff;
  const minor = (dev & 0xff) | ((Math.floor(dev / 1048576) & 0xfff) << 8);
  for (const l of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const f = l.trim().split(/\s+/);
    if (Number(f[0]) === major && Number(f[1]) === minor) return f[2];
  }
  return undefined;
}
const disk = device(os.tmpdir());

/** Bytes written to the disk so far (sectors of 512 bytes), every process's. */
function diskWritten(): number {
  for (const l of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const f = l.trim().split(/\s+/);
    if (f[2] === disk) return Number(f[9]) * 512;
  }
  return 0;
}

/** Dirty and under-write-back memory now, MB. */
function vmstat(): { dirtyMB: number; writebackMB: number } {
  const v = readFileSync('/proc/vmstat', 'utf8');
  const get = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(v)?.[1] ?? 0);
  return { dirtyMB: Math.round((get('nr_dirty') * 4096) / 1e6), writebackMB: Math.round((get('nr_writeback') * 4096) / 1e6) };
}

const started = performance.now();
let lastDirtied = dirtied();
let lastDisk = diskWritten();
let position = 0;
let nextReport = 500_000;
let lastAt = started;
let lastCount = 0;
let lastCpu = cpu();
let previous: Promise<unknown> = Promise.resolve();
let ts = Date.UTC(2026, 0, 1);
for (let i = 0; i < events; ) {
  const keys = Buffer.allocUnsafe(perTxn * 200);
  const values = Buffer.allocUnsafe(perTxn * VALUE);
  const puts: [number, Buffer, Buffer][] = [];
  const logPuts: [Buffer, Buffer][] = [];
  let at = 0;
  for (let j = 0; j < perTxn && i < events; j++, i++) {
    const u = Math.floor(Math.random() * users);
    const user = `user-${u}`;
    const s = at;
    keys[at++] = user.length;
    at += keys.write(user, at, 'latin1');
    if (colo) keys[at++] = 0;
    const ue = at;
    ts += 3;
    keys.writeUIntBE(ts, at, 6);
    at += 6;
    at += keys.write(randomBytes(8).toString('hex'), at, 'latin1');
    const pk = keys.subarray(s, at);
    const from = (i * 7919) % ((1 << 20) - VALUE);
    source.copy(values, j * VALUE, from, from + VALUE);
    const value = values.subarray(j * VALUE, (j + 1) * VALUE);
    // log: the value goes to the log now (positions grow: LMDB appends), the index entries carry its position.
    const pos = log ? Buffer.allocUnsafe(8) : EMPTY;
    if (log) {
      pos.writeUIntBE(position++, 2, 6);
      pos[0] = pos[1] = 0;
      logPuts.push([pos, value]);
    }
    puts.push([0, pk, log ? pos : value]);
    const t = at;
    at += keys.copy(keys, at, s, ue);
    if (colo) keys[at - 1] = 1;
    keys[at++] = 1 + (u % 5);
    at += keys.copy(keys, at, ue, t);
    puts.push([1, keys.subarray(t, at), log ? pos : EMPTY]);
    const e = at;
    at += keys.copy(keys, at, s, ue);
    if (colo) keys[at - 1] = 2;
    keys[at++] = 6;
    at += keys.write(`evt${u % 30}`, at, 'latin1');
    at += keys.copy(keys, at, ue, t);
    puts.push([2, keys.subarray(e, at), log ? pos : ONE]);
  }
  // Key order: each event's three puts stay together, ordered by the events key.
  if (colo) puts.sort((a, b) => Buffer.compare(a[1], b[1]));
  else if (order !== 'kafka') {
    const byEvent: [number, Buffer, Buffer][][] = [];
    for (let k = 0; k < puts.length; k += 3) byEvent.push(puts.slice(k, k + 3));
    byEvent.sort((a, b) => Buffer.compare(a[0]![1], b[0]![1]));
    puts.length = 0;
    for (const e of byEvent) puts.push(...e);
  }
  const commit = env.batch(() => {
    for (const [k, v] of logPuts) void dbs[3]!.put(k, v, APPEND);
    for (const [d, k, v] of puts) void dbs[colo ? 0 : d]!.put(k, v);
  });
  await previous;
  previous = commit;
  if (i >= nextReport || i === events) {
    nextReport += 500_000;
    await previous;
    const now = performance.now();
    const c = cpu();
    const threads = [...c].map(([t, s]) => s - (lastCpu.get(t) ?? 0)).filter((s) => s > 0.05).sort((a, b) => b - a);
    lastCpu = c;
    const d = dirtied();
    const w = diskWritten();
    const n = i - lastCount;
    const st = dbs[0]!.getStats() as { treeDepth: number; treeLeafPageCount: number; overflowPages: number };
    const es = env.getStats() as { lastPageNumber: number; free?: { treeLeafPageCount: number; overflowPages: number } };
    console.log(
      JSON.stringify({
        events: i,
        eventsPerSecond: Math.round((i - lastCount) / ((now - lastAt) / 1000)),
        seconds: Math.round((now - started) / 100) / 10,
        cpuSecondsByThread: threads.map((s) => Math.round(s * 100) / 100),
        cpuSeconds: Math.round(threads.reduce((a, b) => a + b, 0) * 10) / 10,
        dirtiedKBPerEvent: Math.round((d - lastDirtied) / n / 102.4) / 10,
        diskWrittenKBPerEvent: Math.round((w - lastDisk) / n / 102.4) / 10,
        ...vmstat(),
        eventsDepth: st.treeDepth,
        eventsLeaves: st.treeLeafPageCount,
        eventsOverflowPages: st.overflowPages,
        ...(log ? { logLeaves: (dbs[3]!.getStats() as { treeLeafPageCount: number }).treeLeafPageCount } : {}),
        lastPage: es.lastPageNumber,
        freeList: es.free,
        diskMB: Math.round((statSync(path.join(dir, 'data.mdb')).blocks * 512) / 1e6),
      }),
    );
    lastAt = now;
    lastCount = i;
    lastDirtied = d;
    lastDisk = w;
  }
}
await previous;
await env.close();
rmSync(dir, { recursive: true, force: true });
