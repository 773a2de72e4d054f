// The stream processor's own CPU per event, without Kafka: the benchmark's events and 10 rules
// fed to StreamProcessor's round handler in fetch-sized rounds, with the real LMDB store and its
// commits. What `npm run bench -- alerts` measures minus the Kafka client's reading (its read
// ceiling), with far less noise, for comparing builds while working on the hot path.
//
//   node --import tsx bench/alerts-cpu.ts [--events N] [--repeat N] [--prof DIR]
//
// prints one JSON line per repeat: {"events":N,"cpu_us_per_event":U,"wall_s":S}.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Session } from 'node:inspector/promises';
import { silentLogger } from '../src/common/log.js';
import { loadConfig } from '../src/config/index.js';
import type { ReadBatch, ReadRecord } from '../src/kafka/index.js';
import { EventCodec, userKeyOf } from '../src/schema/index.js';
import { Notifier } from '../src/stream/notifier.js';
import { StreamProcessor } from '../src/stream/processor.js';
import { openStore } from '../src/stream/store.js';
import { loadStreamRules } from '../src/stream/index.js';
import { benchRules } from './alerts.js';
import { eventFactory } from './sink-events.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '300000' },
    repeat: { type: 'string', default: '3' },
    prof: { type: 'string' },
    // For finding where the time goes: fewer rules (the first N), no sum property.
    rules: { type: 'string', default: '10' },
    sums: { type: 'string', default: 'price' },
  },
});
const n = Number(values.events);
const PARTITIONS = 6;
const PER_BATCH = 2_500;
/** event_id is the first field: 5-byte header, 1-byte length (36), then the 36 characters. */
const ID_AT = 6;

const dir = mkdtempSync(path.join(os.tmpdir(), 'trackhouse-alerts-cpu-'));
try {
  const rulesFile = path.join(dir, 'rules.json');
  writeFileSync(rulesFile, JSON.stringify({ rules: benchRules('http://127.0.0.1:9999/hook').slice(0, Number(values.rules)) }));
  const codec = new EventCodec();
  const factory = eventFactory(7);
  const templates: { key: Buffer; value: Buffer; ts: string }[] = [];
  for (let i = 0; i < Math.min(n, 100_000); i++) {
    const e = factory.next();
    templates.push({ key: Buffer.from(userKeyOf(e)), value: codec.encode(e), ts: String(e.received_at) });
  }

  for (let rep = 0; rep < Number(values.repeat); rep++) {
    const storeDir = path.join(dir, `store-${rep}`);
    const config = loadConfig({
      KAFKA_BROKERS: '127.0.0.1:9',
      ...(values.rules !== '0' ? { TRACKHOUSE_ALERTS: rulesFile } : {}),
      VOLUME_SUM_PROPERTIES: values.sums,
      STREAM_DIR: storeDir,
      STREAM_ALLOWED_LATENESS_MS: String(2 * 3_600_000),
      ...(process.env.STREAM_COMMIT_INTERVAL_MS ? { STREAM_COMMIT_INTERVAL_MS: process.env.STREAM_COMMIT_INTERVAL_MS } : {}),
    });
    const rules = loadStreamRules(config);
    const store = openStore(config.stream.dir);
    const log = silentLogger();
    const notifier = new Notifier({ dbs: store.dbs, rules, log, topic: 'alerts', webhook: config.stream.webhook, killBeforeCall: 0 });
    const p = new StreamProcessor({ config, kafka: null as never, store, rules, log, metrics: () => null, notifier });
    p.evaluator.load();
    p.evaluator.ensureGlobalGroups();
    notifier.load();
    // Rounds as a fetch gives them: every partition's batch of PER_BATCH records together.
    const rounds: ReadBatch[][] = [];
    const offsets = new Array<number>(PARTITIONS).fill(0);
    let made = 0;
    while (made < n) {
      const round: ReadBatch[] = [];
      for (let part = 0; part < PARTITIONS && made < n; part++) {
        const records: ReadRecord[] = [];
        for (let i = 0; i < PER_BATCH && made < n; i++, made++) {
          const t = templates[made % templates.length]!;
          // A fresh event_id per record past the templates (as bench/sink-load.ts writes them):
          // a repeated id is a client resend, which the processor skips.
          let value = t.value;
          if (made >= templates.length) {
            value = Buffer.from(t.value);
            value.write(made.toString(16).padStart(18, '0'), ID_AT + 18, 'latin1');
          }
          records.push({ offset: String(offsets[part]!++), key: t.key, value, timestamp: t.ts });
        }
        round.push({ topic: config.kafka.topics.events, partition: part, records, lastOffset: offsets[part]! - 1, highWatermark: offsets[part]! });
      }
      rounds.push(round);
    }
    // A reader that is assigned the 6 partitions, none caught up: the watermark moves with the
    // records' arrival times (and windows become final) as in the real process.
    const inner = p as unknown as { reader: unknown; ends: Map<string, number>; round(b: readonly ReadBatch[]): Promise<void> };
    inner.reader = { assigned: () => new Map([[config.kafka.topics.events, Array.from({ length: PARTITIONS }, (_, i) => i)]]), stop: async () => {} };
    for (let part = 0; part < PARTITIONS; part++) inner.ends.set(`${config.kafka.topics.events}\u0000${part}`, offsets[part]! + 1);
    const handler = inner.round.bind(p);
    const session = values.prof && rep === Number(values.repeat) - 1 ? new Session() : null;
    if (session) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    }
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const r of rounds) {
      await handler(r);
      // Let the commit's promise settle between rounds, as the reader's fetches do.
      await new Promise((res) => setImmediate(res));
    }
    await p.stop();
    const c = process.cpuUsage(c0);
    const wall = (performance.now() - t0) / 1000;
    if (session) {
      const { profile } = await session.post('Profiler.stop');
      const file = path.join(values.prof!, `alerts-cpu-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      process.stderr.write(`profile: ${file}\n`);
    }
    process.stdout.write(`${JSON.stringify({ events: n, cpu_us_per_event: Math.round(((c.user + c.system) / n) * 100) / 100, wall_s: Math.round(wall * 100) / 100 })}\n`);
    await store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
