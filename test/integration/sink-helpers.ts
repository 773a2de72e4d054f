// Helpers for the sink and replay integration tests: events, producing them, reading ClickHouse
// and Kafka, and a ClickHouse client that fails on purpose. Everything runs against the real
// broker of the test run and a real chDB.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { EventCodec, userKeyOf, type EventRecord } from '../../src/schema/index.js';

const codec = new EventCodec();
const DAY = 86_400_000;
/** Events of the tests fall on a few days around this time. */
export const T0 = Date.UTC(2026, 9, 30, 12);

/**
 * Event i of a test: users, names, categories and groups cycle, so rollups have several rows;
 * event times spread over five days, arrival times (received_at) increase with i as on a server.
 */
export function testEvent(i: number, over: Partial<EventRecord> = {}): EventRecord {
  const ts = T0 + (i % 5) * DAY + i;
  const received = T0 + 5 * DAY + i * 3;
  return {
    event_id: randomUUID(),
    type: i % 7 === 0 ? 'page' : 'track',
    event: i % 7 === 0 ? null : `Event ${i % 4}`,
    user_id: i % 10 === 3 ? null : `user-${i % 37}`,
    anonymous_id: `anon-${i % 41}`,
    timestamp: ts,
    sent_at: received - 50,
    received_at: received,
    source: 'test',
    category: i % 3 === 0 ? null : `cat-${i % 3}`,
    group_id: i % 4 === 0 ? `org-${i % 8}` : null,
    name: i % 7 === 0 ? 'Home' : null,
    previous_id: null,
    properties: JSON.stringify({ i, note: 'tab\there', price: i * 1.5 }),
    traits: '{}',
    context: JSON.stringify({ ip: '10.0.0.1', page: { path: `/p/${i}` } }),
    ...over,
  };
}

/** A resend of `e`: same user and messageId, timestamps a little off (skew corrected again). */
export function resendOf(e: EventRecord, shiftMs = 3): EventRecord {
  return { ...e, timestamp: e.timestamp + shiftMs, sent_at: (e.sent_at ?? e.timestamp) + shiftMs + 1000, received_at: e.received_at + shiftMs + 1000 };
}

export type Produced = EventRecord | { key: string | null; value: Buffer | null };

/**
 * Writes the items in order, keyed like the edge does (user_id, else anonymous_id). `recordTime`
 * gives item i's Kafka record time (CreateTime); without it the producer stamps the time of sending.
 */
export async function produce(kafka: Kafka, topic: string, items: readonly Produced[], recordTime?: (i: number) => number): Promise<void> {
  // Idempotent: on a busy machine a send can time out after the broker wrote it, and a plain
  // producer's retry would write the batch again. The tests count records as events (offsets,
  // inserted rows, resends), so every item must be exactly one record.
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < items.length; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: items.slice(i, i + 500).map((it, j) => ({
          ...('event_id' in it ? { key: userKeyOf(it), value: codec.encode(it) } : { key: it.key, value: it.value }),
          ...(recordTime ? { timestamp: String(recordTime(i + j)) } : {}),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export function encode(e: EventRecord): Buffer {
  return codec.encode(e);
}

export async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({
    query,
    query_params: params,
    format: 'JSONEachRow',
    clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
  });
  return rs.json<T>();
}

export async function count(client: ClickHouseClient, query: string): Promise<number> {
  const r = await rows<Record<string, number | string>>(client, query);
  return Number(Object.values(r[0] ?? { n: 0 })[0]);
}

/**
 * What "counted once" means, read back from ClickHouse: the rows of events, their distinct
 * identities, and each rollup against the same aggregation computed from events itself.
 */
export async function tally(client: ClickHouseClient): Promise<{
  rows: number;
  identities: number;
  rollupsMatchEvents: boolean;
  byEvent: number;
  byCategory: number;
  byGroup: number;
}> {
  const identities = await count(client, 'SELECT uniqExact(user_key, event_id) FROM events');
  const rowsN = await count(client, 'SELECT count() FROM events');
  const pairs: [string, string][] = [
    [
      'SELECT toString(day) AS d, source, type, event, events, users FROM events_daily_by_event_v ORDER BY d, source, type, event',
      "SELECT toString(toDate(timestamp)) AS d, source, type, event, count() AS events, uniqExact(user_key) AS users FROM events GROUP BY d, source, type, event ORDER BY d, source, type, event",
    ],
    [
      'SELECT toString(day) AS d, source, category, events, users FROM events_daily_by_category_v ORDER BY d, source, category',
      "SELECT toString(toDate(timestamp)) AS d, source, category, count() AS events, uniqExact(user_key) AS users FROM events WHERE category != '' GROUP BY d, source, category ORDER BY d, source, category",
    ],
    [
      'SELECT toString(day) AS d, source, group_id, events, users FROM events_daily_by_group_v ORDER BY d, source, group_id',
      "SELECT toString(toDate(timestamp)) AS d, source, group_id, count() AS events, uniqExact(user_key) AS users FROM events WHERE group_id != '' GROUP BY d, source, group_id ORDER BY d, source, group_id",
    ],
  ];
  let match = true;
  for (const [rollup, direct] of pairs) {
    const a = JSON.stringify(await rows(client, rollup));
    const b = JSON.stringify(await rows(client, direct));
    if (a !== b) match = false;
  }
  return {
    rows: rowsN,
    identities,
    rollupsMatchEvents: match,
    byEvent: await count(client, 'SELECT sum(events) FROM events_daily_by_event'),
    byCategory: await count(client, 'SELECT sum(events) FROM events_daily_by_category'),
    byGroup: await count(client, 'SELECT sum(events) FROM events_daily_by_group'),
  };
}

/** The tally a set of distinct events must produce. */
export function expectedTally(events: readonly EventRecord[]) {
  return {
    rows: events.length,
    identities: events.length,
    rollupsMatchEvents: true,
    byEvent: events.length,
    byCategory: events.filter((e) => e.category).length,
    byGroup: events.filter((e) => e.group_id).length,
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function offsets(kafka: Kafka, topic: string, groupId: string): Promise<{ committed: Map<number, number>; high: Map<number, number> }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const high = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    const c = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map((c[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return { committed, high };
  } finally {
    await admin.disconnect();
  }
}

/** How many records the topic holds (sum of its partitions' high watermarks; nothing is deleted in a test). */
export async function recordsIn(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Adds partitions to a topic, as an operator does with kafka-topics.sh --alter --partitions. */
export async function growTopic(kafka: Kafka, topic: string, count: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createPartitions({ topicPartitions: [{ topic, count }] });
  } finally {
    await admin.disconnect();
  }
}

/** Resolves once the group has committed up to the high watermark of every partition. */
export function caughtUp(kafka: Kafka, topic: string, groupId: string, timeoutMs = 60_000): Promise<true> {
  return waitFor(
    `${groupId} to commit everything in ${topic}`,
    async () => {
      const { committed, high } = await offsets(kafka, topic, groupId);
      return [...high].every(([p, h]) => h === 0 || committed.get(p) === h);
    },
    timeoutMs,
  );
}

export interface Faults {
  /** While true, every insert into events is refused before it reaches ClickHouse. */
  down: boolean;
  /** This many inserts reach ClickHouse and land, then throw as a timeout would. */
  landThenFail: number;
  /** Each insert that passes waits this long first (a slow ClickHouse). */
  stallMs: number;
  /** When set, each insert waits for it first (an insert held in flight until the test lets go). */
  gate?: Promise<void>;
}

/** The real client, with inserts into events failing or stalling as `faults` says at each call. */
export function faultyClient(client: ClickHouseClient, faults: Faults): { client: ClickHouseClient; calls: { insert: number; failed: number } } {
  const calls = { insert: 0, failed: 0 };
  const wrapped = new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'insert') return Reflect.get(target, prop, receiver);
      return async (params: Parameters<ClickHouseClient['insert']>[0]) => {
        if (params.table !== 'events') return target.insert(params);
        calls.insert++;
        if (faults.down) {
          calls.failed++;
          throw new Error('injected: ClickHouse refused the connection');
        }
        if (faults.gate) await faults.gate;
        if (faults.stallMs > 0) await new Promise((r) => setTimeout(r, faults.stallMs));
        if (faults.landThenFail > 0) {
          faults.landThenFail--;
          await target.insert(params);
          calls.failed++;
          throw new Error('injected: timeout after the insert landed');
        }
        return target.insert(params);
      };
    },
  });
  return { client: wrapped, calls };
}

/**
 * The real Kafka client, except that a producer's send to `topic` fails, before reaching the
 * broker, while `faults.sendFailures` > 0 (each failure counts it down): a dead-letter topic that
 * cannot be written for a moment.
 */
export function failingSends(kafka: Kafka, topic: string, faults: { sendFailures: number }): Kafka {
  return new Proxy(kafka, {
    get(target, prop, receiver) {
      if (prop !== 'producer') return Reflect.get(target, prop, receiver);
      return (...args: Parameters<Kafka['producer']>) => {
        const producer = target.producer(...args);
        return new Proxy(producer, {
          get(p, name, r) {
            if (name !== 'send') return Reflect.get(p, name, r);
            return async (record: Parameters<typeof producer.send>[0]) => {
              if (record.topic === topic && faults.sendFailures > 0) {
                faults.sendFailures--;
                throw new Error(`injected: ${topic} cannot be written`);
              }
              return p.send(record);
            };
          },
        });
      };
    },
  });
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `trackhouse replay --from <from>` as a user runs it, from the sources, with `env` on top of this process's. */
export function cliReplay(env: Record<string, string>, from: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'replay', '--from', from], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Reads `n` records of a topic from its start, with their headers as text. */
export async function readTopic(kafka: Kafka, topic: string, n: number) {
  const consumer = kafka.consumer({ groupId: `read-${topic}-${Date.now()}` });
  const out: { key: string | null; value: Buffer | null; headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ key: message.key?.toString() ?? null, value: message.value, headers });
    },
  });
  await waitFor(`${n} records in ${topic}`, async () => out.length >= n);
  await consumer.disconnect();
  return out;
}
