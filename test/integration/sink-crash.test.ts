// `trackhouse sink` as its own process: ops endpoints, a graceful SIGTERM mid-stream, and a
// SIGKILL between an insert and its commit (the SINK_TEST_KILL_AFTER_INSERTS hook). Then the
// same chDB data dir is opened here and drained by an in-process sink: every event is counted
// once in events and in every rollup.
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
import { caughtUp, count, expectedTally, offsets, produce, recordsIn, tally, testEvent, waitFor } from './sink-helpers.js';
import { spawnWithPort, type PortProcess } from '../support/portproc.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

type Child = PortProcess;

function spawnSink(env: Env): Child {
  return spawnWithPort(['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'sink'], {
    cwd: root,
    env: { ...process.env, ...env },
    portLine: 'sink ops endpoints listening',
  });
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of one /metrics scrape (comment lines left out). */
async function scrape(port: number): Promise<Sample[]> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Sample[] = [];
  for (const m of text.matchAll(/^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/gm)) {
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with that name and labels (besides the component label); throws if there is none. */
function sample(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return found[0]!.value;
}

async function checkMetricsMidStream(port: number, kafka: Kafka, topic: string, group: string): Promise<void> {
  // One scrape, mid-stream: the counters agree with each other exactly, the ones nothing
  // happened to are 0, and each partition's lag lies between what was produced and what was
  // still uncommitted right after the scrape.
  const samples = await scrape(port);
  const after = await offsets(kafka, topic, group);
  const rows = sample(samples, 'trackhouse_sink_rows_inserted_total');
  expect(rows).toBeGreaterThan(0);
  expect(sample(samples, 'trackhouse_sink_insert_rows_sum')).toBe(rows);
  const inserts = sample(samples, 'trackhouse_sink_insert_rows_count');
  expect(inserts).toBeGreaterThan(0);
  expect(sample(samples, 'trackhouse_sink_insert_duration_seconds_count')).toBe(inserts);
  expect(sample(samples, 'trackhouse_sink_insert_rows_bucket', { le: '+Inf' })).toBe(inserts);
  expect(sample(samples, 'trackhouse_sink_insert_failures_total')).toBe(0);
  for (const code of ['RECORD_UNDECODABLE', 'EVENT_OUT_OF_RANGE', 'RECORD_EMPTY']) {
    expect(sample(samples, 'trackhouse_sink_dlq_records_total', { code })).toBe(0);
  }
  // Every event is distinct, so nothing is a resend; a redelivery can happen (a rebalance on a
  // loaded machine makes a round's records come again), so that series need only be there.
  expect(sample(samples, 'trackhouse_sink_duplicates_skipped_total', { reason: 'resent' })).toBe(0);
  expect(Number.isInteger(sample(samples, 'trackhouse_sink_duplicates_skipped_total', { reason: 'redelivered' }))).toBe(true);
  expect(sample(samples, 'trackhouse_sink_waiting_for_clickhouse')).toBe(0);
  expect(samples.filter((s) => s.name === 'trackhouse_sink_consumer_lag').map((s) => s.labels.partition).sort()).toEqual(['0', '1', '2']);
  for (const [p, high] of after.high) {
    const lag = sample(samples, 'trackhouse_sink_consumer_lag', { partition: String(p) });
    expect(lag).toBeLessThanOrEqual(high);
    expect(lag).toBeGreaterThanOrEqual(high - Math.max(0, after.committed.get(p) ?? 0));
  }
}

describe('trackhouse sink process', () => {
  const dir = tempDir();
  const env: Env = {
    ...uniqueTopicEnv('crash'),
    KAFKA_BROKERS: kafkaBrokers().join(','),
    KAFKA_PARTITIONS: '3',
    TRACKHOUSE_DATA_DIR: dir.path,
    SINK_PORT: '0',
    LOG_LEVEL: 'info',
    // Small fetches, so there are many rounds and a signal lands in the middle of the stream.
    SINK_BATCH_BYTES: String(64 * 1024),
    SINK_BATCH_MS: '50',
    // The killed member blocks its partitions until the group drops it.
    SINK_SESSION_TIMEOUT_MS: '6000',
  };
  let config: Config;
  let kafka: Kafka;
  let ch: ClickHouseHandle | undefined;
  const children: Child[] = [];
  const events = Array.from({ length: 12_000 }, (_, i) => testEvent(i));
  const topic = env.KAFKA_TOPIC_EVENTS!;
  const group = env.SINK_GROUP_ID!;

  beforeAll(async () => {
    // The in-process sink that drains at the end fetches normal-sized batches.
    config = testConfig(dir.path, { ...env, SINK_BATCH_BYTES: '', SINK_BATCH_MS: '' });
    kafka = createKafka(config.kafka, silentLogger());
    await ensureTopics(kafka, config.kafka);
    await produce(kafka, topic, events);
    // The checks below count records as events (committed offsets against rows in ClickHouse), so
    // each event must be exactly one record: no send of the producer was written twice.
    expect(await recordsIn(kafka, topic)).toBe(events.length);
  });
  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await ch?.close();
    dir.remove();
  });

  it('serves /healthz, /readyz and /metrics, and on SIGTERM commits what it inserted, leaves the group and exits 0', async () => {
    const child = spawnSink(env);
    children.push(child);
    const port = await child.port;
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await waitFor('sink to be ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
    const ready = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as { checks: Record<string, string> };
    expect(ready.checks).toEqual({ clickhouse: 'ok', kafka: 'ok' });
    await waitFor('first rows, and the lag of each partition read from the broker', async () => {
      const s = await scrape(port);
      return sample(s, 'trackhouse_sink_rows_inserted_total') > 0 && s.filter((x) => x.name === 'trackhouse_sink_consumer_lag').length === 3;
    });
    try {
      await checkMetricsMidStream(port, kafka, topic, group);
    } catch (err) {
      // The next test needs the chDB data dir this process holds.
      child.proc.kill('SIGKILL');
      await child.exit;
      throw err;
    }
    child.proc.kill('SIGTERM');
    expect(await child.exit).toEqual({ code: 0, signal: null });
    // Everything it inserted, it committed before leaving (every record here is an event).
    const stopped = child.log.find((l) => l.includes('"msg":"sink stopped"'));
    const { committed } = await offsets(kafka, topic, group);
    expect((JSON.parse(stopped!) as { rowsInserted: number }).rowsInserted).toBe([...committed.values()].reduce((a, b) => a + Math.max(0, b), 0));
    const admin = kafka.admin();
    await admin.connect();
    const group0 = (await admin.describeGroups([group])).groups[0]!;
    await admin.disconnect();
    expect(group0.members).toEqual([]); // left at once, not after a session timeout
  });

  it('killed after an insert and before its commit, loses nothing and counts nothing twice', async () => {
    // However far the first process got, the second one has records to insert.
    const more = Array.from({ length: 2000 }, (_, i) => testEvent(100_000 + i));
    await produce(kafka, topic, more);
    events.push(...more);
    expect(await recordsIn(kafka, topic)).toBe(events.length);
    const before = await offsets(kafka, topic, group);
    const child = spawnSink({ ...env, SINK_TEST_KILL_AFTER_INSERTS: '1' });
    children.push(child);
    expect(await child.exit).toEqual({ code: null, signal: 'SIGKILL' });
    const after = await offsets(kafka, topic, group);
    expect(after.committed).toEqual(before.committed); // it died before committing

    ch = await openClickHouse(config.clickhouse, config.dataDir);
    await migrate(ch.client, silentLogger());
    // Everything committed by the graceful stop is in ClickHouse exactly once...
    const committedRows = [...before.committed.values()].reduce((a, b) => a + Math.max(0, b), 0);
    const where = [...before.committed].map(([p, o]) => `(kafka_partition = ${p} AND kafka_offset < ${Math.max(0, o)})`).join(' OR ');
    expect(await count(ch.client, `SELECT count() FROM events WHERE ${where}`)).toBe(committedRows);
    // ...and the killed process did insert rows it never committed.
    expect(await count(ch.client, `SELECT count() FROM events WHERE NOT (${where})`)).toBeGreaterThan(0);

    const registry = createRegistry('sink', false);
    const sink = await startSink({ config, kafka, clickhouse: ch.client, log: silentLogger(), registry });
    try {
      await caughtUp(kafka, topic, group);
      // The check README's Upgrading section gives: no (partition, offset) is in events twice.
      expect(await count(ch.client, 'SELECT count() - uniqExact(kafka_topic, kafka_partition, kafka_offset) FROM events')).toBe(0);
      expect(await tally(ch.client)).toEqual(expectedTally(events));
      const skipped = (await registry.getSingleMetric('trackhouse_sink_duplicates_skipped_total')!.get()).values;
      expect(skipped.find((v) => v.labels.reason === 'redelivered')!.value).toBeGreaterThan(0);
    } finally {
      await sink.stop();
    }
  });
});
