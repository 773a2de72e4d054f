// `trackhouse sink` (chDB) killed -9 while an insert is in flight, right after a new part of
// `events` is on disk (before the views' parts, if the timing allows), several times over a
// backlog, each new process repairing what the last one cut short. Where in the insert the kill
// lands is chance (sink-partial-insert.test.ts makes the split state deterministically); wherever
// it was, at the end every record is in `events` exactly once and every rollup equals a count
// over `events`.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openClickHouse, type ClickHouseHandle } from '../../src/warehouse/index.js';
import { silentLogger } from '../../src/common/log.js';
import { createRegistry } from '../../src/common/metrics.js';
import type { Config, Env } from '../../src/config/index.js';
import { createKafka, ensureTopics } from '../../src/kafka/index.js';
import { startSink } from '../../src/sink/index.js';
import { kafkaBrokers, tempDir, testConfig, uniqueTopicEnv } from '../support/env.js';
import { capturingLogger } from '../support/log.js';
import { spawnWithPort, type PortProcess } from '../support/portproc.js';
import { caughtUp, count, expectedTally, produce, recordsIn, tally, testEvent } from './sink-helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('trackhouse sink killed -9 during inserts', () => {
  const dir = tempDir();
  const env: Env = {
    ...uniqueTopicEnv('killins'),
    KAFKA_BROKERS: kafkaBrokers().join(','),
    KAFKA_PARTITIONS: '3',
    TRACKHOUSE_DATA_DIR: dir.path,
    SINK_PORT: '0',
    LOG_LEVEL: 'info',
    SINK_SESSION_TIMEOUT_MS: '6000',
  };
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle | undefined;
  const children: PortProcess[] = [];
  const events = Array.from({ length: 20_000 }, (_, i) => testEvent(i));

  beforeAll(async () => {
    config = testConfig(dir.path, env);
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    await produce(kafka, config.kafka.topics.events, events);
    expect(await recordsIn(kafka, config.kafka.topics.events)).toBe(events.length);
  });
  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await ch?.close();
    dir.remove();
  });

  /**
   * Starts a sink process and kills it -9 in the middle of an insert: once its insert intent
   * exists and a new part of `events` is on disk (the materialized views' parts come after it),
   * or, when the parts are missed, at the next intent after that; resolves once it is gone.
   */
  async function killDuringInsert(intentFile: string): Promise<{ intentLeft: boolean }> {
    const child = spawnWithPort(['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'sink'], {
      cwd: root,
      env: { ...process.env, ...env },
      portLine: 'sink ops endpoints listening',
    });
    children.push(child);
    await child.port;
    let before: Set<string> | null = null;
    let misses = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (child.proc.exitCode !== null || child.proc.signalCode !== null) {
          clearInterval(timer);
          reject(new Error(`the sink exited before it was killed:\n${child.log.join('\n')}`));
          return;
        }
        // This process's own repair of the last one's intent ends before it consumes.
        if (!child.log.some((l) => l.includes('"msg":"sink consuming"'))) return;
        const inFlight = existsSync(intentFile);
        if (!inFlight) {
          if (before !== null) misses++;
          before = null;
          return;
        }
        const parts = eventsParts(config.dataDir);
        if (before === null) before = parts;
        else if (misses >= 3 || [...parts].some((p) => !before!.has(p))) {
          clearInterval(timer);
          child.proc.kill('SIGKILL');
          resolve();
        }
      }, 1);
    });
    expect(await child.exit).toEqual({ code: null, signal: 'SIGKILL' });
    return { intentLeft: existsSync(intentFile) };
  }

  it('counts every event once after each kill, in events and in every rollup', async () => {
    const intentFile = config.sink.intentFile!;
    let left = false;
    for (let i = 0; i < 3; i++) left = (await killDuringInsert(intentFile)).intentLeft;

    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    const registry = createRegistry('sink', false);
    const { log, lines } = capturingLogger('warn');
    const sink = await startSink({ config, kafka, clickhouse: ch.client, log, registry });
    try {
      await caughtUp(kafka, config.kafka.topics.events, config.sink.groupId);
    } finally {
      await sink.stop();
    }
    expect(await count(ch.client, 'SELECT count() - uniqExact(kafka_topic, kafka_partition, kafka_offset) FROM events')).toBe(0);
    expect(await tally(ch.client)).toEqual(expectedTally(events));
    // The last process's intent, if its kill came before the insert ended, was repaired at start.
    const repaired = (await registry.getSingleMetric('trackhouse_sink_interrupted_inserts_repaired_total')!.get()).values[0]?.value ?? 0;
    expect(repaired).toBe(left ? 1 : 0);
    expect(existsSync(intentFile)).toBe(false);
    // Its warn says how many rows of the cut-short insert had reached events (the kill came after
    // a new part of events: some did, unless the part belonged to another insert).
    const warned = lines.filter((l) => String(l.msg).startsWith('the last sink stopped during an insert'));
    expect(warned).toHaveLength(left ? 1 : 0);
    if (left) expect(warned[0]!.msg).toContain(`${String(warned[0]!.rowsRemoved)} rows of it had reached events`);
  });
});

/**
 * The committed parts of chDB's `events` table (folder names such as 202610_3_3_0): found as the
 * table folder under the store whose parts list both `properties` and `kafka_offset` columns.
 */
function eventsParts(dataDir: string): Set<string> {
  eventsDir ??= findEventsDir(path.join(dataDir, 'clickhouse', 'store'));
  if (eventsDir === undefined) return new Set();
  return new Set(readdirSync(eventsDir).filter((n) => /^\d{6}_\d+_\d+_\d+/.test(n)));
}
let eventsDir: string | undefined;

function findEventsDir(store: string): string | undefined {
  if (!existsSync(store)) return undefined;
  for (const a of readdirSync(store)) {
    for (const t of readdirSync(path.join(store, a))) {
      const table = path.join(store, a, t);
      for (const part of readdirSync(table)) {
        const columns = path.join(table, part, 'columns.txt');
        if (!/^\d{6}_/.test(part) || !existsSync(columns)) continue;
        const text = readFileSync(columns, 'utf8');
        if (text.includes('`properties`') && text.includes('`kafka_offset`')) return table;
      }
    }
  }
  return undefined;
}
