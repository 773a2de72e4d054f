// npm run profile -- <single|batch> [options]: one ingest shape under load, with the server's
// CPU seconds per million events (and the broker's, when its pid is known) and, unless
// --no-prof, a V8 CPU profile of the ingest (node --cpu-prof) summarised by area and function.
//
//   --seconds N     load duration after a 3 s warm-up (default 10)
//   --threads N     INGEST_THREADS (default 1)
//   --dist DIR      the build to run (default dist/; a copy of another build's dist/ with a
//                   schemas/ folder beside it compares two builds on one broker)
//   --connections N autocannon connections (default 128 single, 32 batch)
//   --no-prof       no profiler (its sampling costs a few % of CPU)
//   --repeat N      N runs, one line each (with --no-prof: before/after comparisons)
//   --loadgen L     wrk (default when installed: far less CPU than autocannon) or autocannon
//   --rate R        R requests/s over all connections instead of as many as answered (autocannon's
//                   overallRate): requests trickling in, as from many clients at moderate traffic
//
// Broker: BENCH_KAFKA_BROKERS (and BENCH_BROKER_PID to count its CPU), else a fresh local one.
// Profiles are written to .trackhouse/profiles/ (open them in Chrome DevTools > Performance).
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { kafkajs } from '../src/kafka/kafkajs.js';
import { freePort, startLocalBroker, type LocalBroker } from '../src/localkafka/index.js';
import { cpuTimes, perMillion } from './lib/cpu.js';
import { formatSummary, summarise } from './lib/cpuprofile.js';
import { batchBodies, singleBodies } from './lib/events.js';
import { runLoad, type LoadOptions } from './lib/load.js';
import { hasWrk, runWrk } from './lib/wrk.js';
import { startServer, waitForPort } from './lib/proc.js';

const { Kafka, logLevel } = kafkajs();

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const WRITE_KEY = 'bench-write-key';
const HEADERS = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` };

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '10' },
    threads: { type: 'string', default: '1' },
    dist: { type: 'string', default: path.join(root, 'dist') },
    connections: { type: 'string' },
    'no-prof': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '1' },
    loadgen: { type: 'string' },
    rate: { type: 'string' },
  },
});
const shape = positionals[0];
if (shape !== 'single' && shape !== 'batch') throw new Error('usage: npm run profile -- <single|batch> [--seconds N] [--threads N] [--dist DIR] [--no-prof] [--repeat N]');
const batch = shape === 'batch';
const seconds = Number(values.seconds);
const connections = Number(values.connections ?? (batch ? 32 : 128));
const bodies = batch ? batchBodies(40, 100) : singleBodies(2000);
const eventsPerRequest = batch ? 100 : 1;
const log = (m: string) => process.stderr.write(`[profile] ${m}\n`);
const rate = values.rate === undefined ? undefined : Number(values.rate);
const loadgen = rate !== undefined ? 'autocannon' : (values.loadgen ?? (hasWrk() ? 'wrk' : 'autocannon'));
const load = (o: LoadOptions) => (loadgen === 'wrk' ? runWrk(o) : runLoad(o));

/** Kafka produce requests and the records in them so far, from the edge's /metrics. */
async function produceStats(port: number): Promise<{ requests: number; records: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { requests: read('trackhouse_ingest_produce_batch_records_count'), records: read('trackhouse_ingest_produce_batch_records_sum') };
}

let broker: LocalBroker | undefined;
const work = path.join(os.tmpdir(), `trackhouse-profile-${randomUUID().slice(0, 8)}`);
let brokers = process.env.BENCH_KAFKA_BROKERS?.split(',');
let brokerPid = process.env.BENCH_BROKER_PID ? Number(process.env.BENCH_BROKER_PID) : undefined;
if (!brokers) {
  log('starting a local Kafka broker');
  broker = await startLocalBroker({ dataDir: path.join(work, 'kafka'), cacheDir: path.join(root, '.trackhouse'), version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0, heapMb: 1024 });
  brokers = broker.brokers;
  brokerPid = broker.pid;
}

const profDir = path.join(root, '.trackhouse', 'profiles');
mkdirSync(profDir, { recursive: true });

try {
  for (let i = 0; i < Number(values.repeat); i++) {
    const id = randomUUID().slice(0, 8);
    const topic = `profile-${id}`;
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${topic}.events`, numPartitions: 6 }] });
    await admin.disconnect();
    const port = await freePort();
    const before = new Set(readdirSync(profDir));
    const prof = values['no-prof'] ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=ingest-${shape}-${id}.cpuprofile`];
    const server = startServer(process.execPath, [...prof, path.join(values.dist, 'cli/main.js'), 'ingest'], {
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC_EVENTS: `${topic}.events`,
      KAFKA_TOPIC_REJECTED: `${topic}.rejected`,
      KAFKA_TOPIC_DLQ: `${topic}.dlq`,
      TRACKHOUSE_WRITE_KEYS: `${WRITE_KEY}:bench`,
      TRACKHOUSE_DATA_DIR: path.join(work, 'data'),
      INGEST_PORT: String(port),
      INGEST_THREADS: values.threads,
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      LOG_LEVEL: 'warn',
    });
    try {
      await waitForPort(port, server);
      const opts = { url: `http://127.0.0.1:${port}`, path: batch ? '/v1/batch' : '/v1/track', bodies, headers: HEADERS, connections, overallRate: rate };
      await load({ ...opts, durationS: 3 });
      const produce0 = await produceStats(port);
      const ingest0 = cpuTimes(server.pid);
      const broker0 = brokerPid ? cpuTimes(brokerPid, true) : null;
      const t0 = performance.now();
      const r = await load({ ...opts, durationS: seconds });
      const ingest1 = cpuTimes(server.pid);
      const broker1 = brokerPid ? cpuTimes(brokerPid, true) : null;
      const produce1 = await produceStats(port);
      const produceRequests = produce1.requests - produce0.requests;
      const wall = (performance.now() - t0) / 1000;
      const events = r.ok * eventsPerRequest;
      const ingestCpu = ingest1.user + ingest1.system - ingest0.user - ingest0.system;
      const brokerCpu = broker0 && broker1 ? broker1.user + broker1.system - broker0.user - broker0.system : null;
      const line = {
        shape,
        dist: path.relative(root, values.dist) || '.',
        threads: Number(values.threads),
        events_per_s: Math.round(events / wall),
        p99_ms: r.latency_ms.p99,
        non_2xx: r.non_2xx + r.errors,
        loadgen,
        rate: rate ?? null,
        ingest_cores: Math.round((ingestCpu / wall) * 100) / 100,
        ingest_cpu_s_per_m: perMillion(ingestCpu, events),
        ingest_system_share: Math.round(((ingest1.system - ingest0.system) / ingestCpu) * 100) / 100,
        broker_cpu_s_per_m: brokerCpu === null ? null : perMillion(brokerCpu, events),
        produce_requests_per_s: Math.round(produceRequests / wall),
        records_per_produce: produceRequests > 0 ? Math.round((produce1.records - produce0.records) / produceRequests) : null,
        load_avg: os.loadavg().map((x) => Math.round(x * 100) / 100),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } finally {
      await server.stop();
    }
    if (!values['no-prof']) {
      const file = readdirSync(profDir).find((f) => !before.has(f) && f.includes(id));
      if (file) {
        process.stdout.write(`\n${path.join(profDir, file)}\n${formatSummary(summarise(path.join(profDir, file)))}\n`);
      } else log('no profile was written (did the server exit by a signal?)');
    }
  }
} finally {
  await broker?.stop();
  rmSync(work, { recursive: true, force: true });
}
