// npm run profile:import [-- options]: `trackhouse import` of the bench's gzip NDJSON file (as
// bench/import.ts makes it) against one broker, with the importer's and the broker's CPU seconds
// and, unless --no-prof, a V8 CPU profile of the importer (node --cpu-prof) summarised by area
// and function. Run it under the bench lock (flock /tmp/trackhouse-bench.lock ...).
//
//   --lines N      lines in the file (default 1000000)
//   --repeat N     N imports on the same broker and file, one line each
//   --no-prof      no profiler (its sampling costs a few % of CPU)
//
// Broker: BENCH_KAFKA_BROKERS (and BENCH_BROKER_PID to count its CPU), else a fresh local one.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOCAL_KAFKA_VERSION } from '../src/config/index.js';
import { startLocalBroker, type LocalBroker } from '../src/localkafka/index.js';
import { makeFile, runImport } from './import.js';
import { cpuSeconds } from './lib/cpu.js';
import { formatSummary, summarise } from './lib/cpuprofile.js';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    repeat: { type: 'string', default: '1' },
    'no-prof': { type: 'boolean', default: false },
  },
});
const lines = Number(values.lines);
const log = (m: string) => process.stderr.write(`[profile-import] ${m}\n`);

const work = path.join(os.tmpdir(), `trackhouse-profile-import-${randomUUID().slice(0, 8)}`);
mkdirSync(work, { recursive: true });
let broker: LocalBroker | undefined;
let brokers = process.env.BENCH_KAFKA_BROKERS?.split(',');
let brokerPid = process.env.BENCH_BROKER_PID ? Number(process.env.BENCH_BROKER_PID) : undefined;
const profDir = path.join(root, '.trackhouse', 'profiles');
mkdirSync(profDir, { recursive: true });

try {
  if (!brokers) {
    log('starting a local Kafka broker');
    broker = await startLocalBroker({ dataDir: path.join(work, 'kafka'), cacheDir: path.join(root, '.trackhouse'), version: LOCAL_KAFKA_VERSION, port: 0, controllerPort: 0, heapMb: 1024 });
    brokers = broker.brokers;
    brokerPid = broker.pid;
  }
  const file = path.join(work, 'events.ndjson.gz');
  log(`writing ${lines} lines`);
  makeFile(file, lines);
  for (let i = 0; i < Number(values.repeat); i++) {
    const id = randomUUID().slice(0, 8);
    // A folder per run: node writes one profile per thread (the main thread and the reading thread).
    const runDir = path.join(profDir, `import-${id}`);
    const prof = values['no-prof'] ? [] : ['--cpu-prof', `--cpu-prof-dir=${runDir}`];
    const broker0 = brokerPid === undefined ? 0 : cpuSeconds(brokerPid, true);
    const { wallS: wall, cpuS: childCpu, summary } = await runImport({ root, brokers, file, dataDir: path.join(work, 'data'), topicPrefix: `profile-import-${id}`, nodeArgs: prof });
    const brokerCpu = brokerPid === undefined ? 0 : cpuSeconds(brokerPid, true) - broker0;
    process.stdout.write(
      `${JSON.stringify({
        lines,
        loaded: summary.loaded,
        events_per_s_wall: Math.round(lines / wall),
        events_per_s_importer: summary.eventsPerSecond,
        wall_s: Math.round(wall * 100) / 100,
        importer_cpu_s: Math.round(childCpu * 100) / 100,
        broker_cpu_s: Math.round(brokerCpu * 100) / 100,
        load_avg: os.loadavg().map((x) => Math.round(x * 100) / 100),
      })}\n`,
    );
    if (!values['no-prof']) {
      for (const f of readdirSync(runDir).sort()) process.stdout.write(`\n${path.join(runDir, f)}\n${formatSummary(summarise(path.join(runDir, f)))}\n`);
    }
  }
} finally {
  await broker?.stop();
  rmSync(work, { recursive: true, force: true });
}
