// npm run bench -- import: events/s that `trackhouse import` loads from a 1 M-line gzip NDJSON file
// of Segment track events into Kafka (acks=all, the run's broker), measured as the CLI runs it
// (a child process: `node dist/cli/main.js import <file>`), start-up and the final flush included.
// Ceilings in the same run, in this process on the same file: reading (gunzip, cut lines,
// JSON.parse each), and the importer's own work without Kafka (gunzip, cut lines, the line scanner,
// normalizeEvent, Avro into a slab: src/ingest's code from dist/). The gap between the second and
// the import is Kafka's share (kafkajs's request encoding, LZ4, the broker on the same 2 cores).
// CPU seconds of the importer and of the broker are reported per million events: they stay
// comparable on a shared machine where events/s move with the neighbours' load.
// Target (issue #13): at least 100k events/s.
import { spawn } from 'node:child_process';
import { createReadStream, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGunzip, gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { cpuSeconds } from './lib/cpu.js';
import { track } from './lib/children.js';
import type { BenchContext, BenchSection } from './types.js';

export function makeFile(file: string, lines: number): number {
  const parts: string[] = [];
  const t0 = Date.UTC(2024, 0, 1);
  for (let i = 0; i < lines; i++) {
    parts.push(
      JSON.stringify({
        type: 'track',
        messageId: `bench-${i}`,
        userId: `user-${i % 50_000}`,
        event: i % 3 === 0 ? 'Order Completed' : 'Product Viewed',
        timestamp: new Date(t0 + i * 1000).toISOString(),
        properties: { product_id: `p-${i % 997}`, price: (i % 100) + 0.99, currency: 'EUR' },
        context: { library: { name: 'analytics.js', version: '4.1.0' }, page: { path: '/shop' } },
      }),
    );
  }
  const gz = gzipSync(`${parts.join('\n')}\n`);
  writeFileSync(file, gz);
  return gz.length;
}

/** Lines of a gzip file per second, each handed to `perLine` (gunzip and line cutting included). */
async function linesPerSecond(file: string, perLine: (line: string) => void): Promise<number> {
  const t0 = performance.now();
  let carry = '';
  let n = 0;
  for await (const chunk of createReadStream(file).pipe(createGunzip({ chunkSize: 256 * 1024 }))) {
    const text = carry + (chunk as Buffer).toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      perLine(text.slice(start, nl));
      n++;
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  return n / ((performance.now() - t0) / 1000);
}

function readCeiling(file: string): Promise<number> {
  return linesPerSecond(file, (line) => JSON.parse(line));
}

/** gunzip + cut lines + what the importer does per line, without Kafka (the built modules of dist/). */
async function encodeCeiling(root: string, file: string): Promise<number> {
  const load = (m: string) => import(pathToFileURL(path.join(root, 'dist', m)).href);
  const { parseEventJson } = (await load('ingest/jsontext.js')) as typeof import('../src/ingest/jsontext.js');
  const { emptyRecord, normalizeEvent } = (await load('ingest/normalize.js')) as typeof import('../src/ingest/normalize.js');
  const { RecordSlab } = (await load('ingest/slab.js')) as typeof import('../src/ingest/slab.js');
  const { EventCodec } = (await load('schema/index.js')) as typeof import('../src/schema/index.js');
  const slab = new RecordSlab(new EventCodec());
  const rec = emptyRecord();
  const ctx = { receivedAt: Date.now(), source: 'import', sentAt: null, context: null, ip: null, msTimes: true, skew: false };
  return linesPerSecond(file, (line) => {
    if (normalizeEvent(parseEventJson(line) ?? JSON.parse(line), null, ctx, rec) === null) slab.encode(rec, 32 * 1024);
  });
}

export interface ImportRun {
  wallS: number;
  /** The importer's CPU seconds. */
  cpuS: number;
  summary: { loaded: number; rejected: number; eventsPerSecond: number };
}

/**
 * `trackhouse import` (dist/) of `file` into topics of its own (`topicPrefix`.events, ...) on
 * `brokers`: wall time, the importer's CPU, its summary line. `nodeArgs` go before the script
 * (a profiler's flags).
 */
export function runImport(o: { root: string; brokers: readonly string[]; file: string; dataDir: string; topicPrefix: string; nodeArgs?: readonly string[] }): Promise<ImportRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = track(spawn(process.execPath, [...(o.nodeArgs ?? []), path.join(o.root, 'dist/cli/main.js'), 'import', o.file, '--progress', 'off', '--restart'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: o.brokers.join(','),
        KAFKA_TOPIC_EVENTS: `${o.topicPrefix}.events`,
        KAFKA_TOPIC_REJECTED: `${o.topicPrefix}.rejected`,
        KAFKA_TOPIC_DLQ: `${o.topicPrefix}.dlq`,
        TRACKHOUSE_DATA_DIR: o.dataDir,
        LOG_LEVEL: 'warn',
      },
    }));
    let out = '';
    let err = '';
    // The child's CPU seconds, read while it runs (its /proc entry goes when it exits): the last
    // reading misses at most its final 50 ms.
    let cpuS = 0;
    const sampler = setInterval(() => (cpuS = Math.max(cpuS, cpuSeconds(p.pid!))), 50);
    p.stdout.on('data', (b: Buffer) => (out += b));
    p.stderr.on('data', (b: Buffer) => (err += b));
    p.on('error', reject);
    p.on('close', (code) => {
      clearInterval(sampler);
      if (code !== 0) return reject(new Error(`import exited ${code}: ${err}`));
      resolve({ wallS: (performance.now() - t0) / 1000, cpuS, summary: JSON.parse(out.trim().split('\n').pop()!) });
    });
  });
}

export async function run(ctx: BenchContext): Promise<BenchSection> {
  const lines = ctx.quick ? 50_000 : 1_000_000;
  const file = path.join(ctx.workDir, 'events.ndjson.gz');
  ctx.log(`import: writing ${lines} lines of gzip NDJSON`);
  const bytes = makeFile(file, lines);
  const ceiling = await readCeiling(file);
  const encode = await encodeCeiling(ctx.root, file);
  ctx.log('import: running trackhouse import');
  const load0 = os.loadavg()[0]!;
  const broker0 = ctx.brokerPid !== undefined ? cpuSeconds(ctx.brokerPid, true) : null;
  const r = await runImport({ root: ctx.root, brokers: ctx.brokers, file, dataDir: path.join(ctx.workDir, 'data'), topicPrefix: `bench-import-${Date.now()}` });
  const brokerCpu = broker0 !== null ? cpuSeconds(ctx.brokerPid!, true) - broker0 : null;
  if (r.summary.loaded !== lines) throw new Error(`imported ${r.summary.loaded} of ${lines}`);
  const wallRate = Math.round(lines / r.wallS);
  const perM = (cpu: number) => Math.round((cpu / lines) * 1e6 * 100) / 100;
  const results = {
    lines,
    file_bytes: bytes,
    events_per_s_wall: wallRate,
    events_per_s_importer: r.summary.eventsPerSecond,
    read_parse_ceiling_events_per_s: Math.round(ceiling),
    encode_ceiling_events_per_s: Math.round(encode),
    ratio_to_ceiling: Math.round((wallRate / ceiling) * 100) / 100,
    ratio_to_encode_ceiling: Math.round((wallRate / encode) * 100) / 100,
    importer_cpu_s_per_m: perM(r.cpuS),
    broker_cpu_s_per_m: brokerCpu === null ? null : perM(brokerCpu),
    target_events_per_s: 100_000,
    load_avg_1m_at_start: load0,
  };
  const markdown = [
    '## import',
    '',
    '| what | events/s |',
    '| --- | --- |',
    `| \`trackhouse import\` of ${lines.toLocaleString('en')} lines of gzip NDJSON (${(bytes / 2 ** 20).toFixed(1)} MB), process start to exit | ${wallRate.toLocaleString('en')} |`,
    `| the same, as the importer counts it (reading to last ack) | ${r.summary.eventsPerSecond.toLocaleString('en')} |`,
    `| ceiling: gunzip + cut lines + JSON.parse only, in-process | ${Math.round(ceiling).toLocaleString('en')} |`,
    `| ceiling: gunzip + cut lines + scan + normalize + Avro (the importer's work without Kafka), in-process | ${Math.round(encode).toLocaleString('en')} |`,
    '',
    `Ratio to the read ceiling ${results.ratio_to_ceiling}, to the encode ceiling ${results.ratio_to_encode_ceiling}; ` +
      `CPU seconds per million events: importer ${results.importer_cpu_s_per_m}, broker ${results.broker_cpu_s_per_m ?? 'not measured'}; ` +
      `target 100,000 events/s; 1-minute load average at start ${load0.toFixed(2)}. ` +
      'Broker included: every record acknowledged with acks=all by the run\'s broker.',
    '',
  ].join('\n');
  return { name: 'import', results, markdown };
}
