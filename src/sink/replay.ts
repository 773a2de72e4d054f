// trackhouse replay: re-sinks a stretch of the events topic into ClickHouse, inserting only the
// events ClickHouse does not hold yet, so it can be run over any history, any number of times.
//
// How: each fetch is decoded like the sink does, loaded into a scratch table, and
//   INSERT INTO events SELECT ... FROM scratch WHERE (user_key, event_id) NOT IN events
// (per fetch, first occurrence only) runs inside ClickHouse. Materialized views see only the
// rows that really are new, so rollups stay exact. The replay reads through a throwaway consumer
// group and never commits for the sink's group. Where it stops: the high watermark of each
// partition when it started, or, while a sink group is active, that group's committed offset,
// so the two never insert the same record at once (what the sink has not committed is the sink's).
//
// A time in --from is Kafka's record time (CreateTime: when the ingest produced the record, about
// its received_at; LogAppendTime if the topic is set so), never the event's own timestamp.
// Where --from reaches back before what Kafka still holds (retention.ms, deleted records), the
// replay starts at the earliest offset left and says so in the log and the summary.
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { errorMessage, TrackhouseError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseIsoTime } from '../common/time.js';
import type { Config } from '../config/index.js';
import { createGroupConsumer, type Round } from '../kafka/consumer.js';
import { retrying } from './backoff.js';
import { decodeFetch, type OffsetWindow } from './decode.js';
import { createDecodePool } from './pool.js';
import { EVENT_COLUMNS } from './rows.js';
import { insertSettings } from './store.js';
import { Readable } from 'node:stream';

export type ReplayFrom = { kind: 'time'; ms: number } | { kind: 'offsets'; offsets: ReadonlyMap<number, number> };

export class ReplayArgumentError extends TrackhouseError {
  constructor(message: string) {
    super('REPLAY_ARGUMENT_INVALID', message);
  }
}

const FROM_FORMS =
  'an ISO 8601 time with a zone (2026-11-01T00:00:00Z, 2026-11-01T01:00:00+01:00), a date (2026-11-01, midnight UTC), ' +
  'or partition:offset pairs (0:1200,3:0)';

/**
 * `--from`: an ISO 8601 time with an explicit zone, a date (midnight UTC), or
 * partition:offset[,partition:offset...]. A time without a zone is refused, not read as local time.
 */
export function parseReplayFrom(text: string): ReplayFrom {
  const s = text.trim();
  if (/^\d+:\d+(,\d+:\d+)*$/.test(s)) {
    const offsets = new Map<number, number>();
    for (const pair of s.split(',')) {
      const [p, o] = pair.split(':').map(Number) as [number, number];
      if (offsets.has(p)) throw new ReplayArgumentError(`--from names partition ${p} twice`);
      offsets.set(p, o);
    }
    return { kind: 'offsets', offsets };
  }
  const ms = parseIsoTime(s);
  if (typeof ms === 'string') {
    // Say why only when it looked like a time; anything else just gets the accepted forms.
    const why = /^\d{4}-\d{2}-\d{2}/.test(s) ? `${ms}; ` : '';
    throw new ReplayArgumentError(`--from "${text}": ${why}expected ${FROM_FORMS}`);
  }
  return { kind: 'time', ms };
}

export interface ReplayPartition {
  partition: number;
  /** First offset replayed. */
  from: number;
  /** Replay stops before this offset. */
  to: number;
  read: number;
  inserted: number;
  /** Decoded but already in ClickHouse (same user_key and event_id), or repeated within the replay. */
  present: number;
  undecodable: number;
}

/** A partition where --from asked for records Kafka no longer holds. */
export interface TruncatedPartition {
  partition: number;
  /** The low watermark at start: the earliest offset still held, where the replay began. */
  earliest: number;
  /** The offset --from asked for; null for a time (the broker cannot tell what the gone records held). */
  requested: number | null;
}

export interface ReplaySummary {
  topic: string;
  /** Why `to` is below the high watermark on some partitions, if it is. */
  limitedBy: 'high watermark' | 'sink group committed offsets';
  partitions: ReplayPartition[];
  /**
   * Partitions whose history before `earliest` is gone (retention.ms or deleted records) although
   * --from reaches back before it: what those records held cannot be replayed. Empty when none.
   */
  truncated: TruncatedPartition[];
  /** What a person should read about `truncated`, or null. */
  warning: string | null;
  read: number;
  inserted: number;
  present: number;
  undecodable: number;
  durationMs: number;
}

export interface ReplayOptions {
  config: Config;
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  log: Logger;
  from: ReplayFrom;
}

export async function runReplay(opts: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const { config, kafka, clickhouse: client, log } = opts;
  const topic = config.kafka.topics.events;
  const sinkGroup = config.sink.groupId;
  const run = randomBytes(5).toString('hex');
  const plan = await planRanges(kafka, topic, sinkGroup, opts.from);
  const warning = truncationWarning(topic, plan.truncated);
  if (warning !== null) log.warn({ topic, truncated: plan.truncated }, warning);
  const summary: ReplaySummary = {
    topic,
    limitedBy: plan.sinkActive ? 'sink group committed offsets' : 'high watermark',
    partitions: plan.ranges.map((r) => ({ ...r, read: 0, inserted: 0, present: 0, undecodable: 0 })),
    truncated: plan.truncated,
    warning,
    read: 0,
    inserted: 0,
    present: 0,
    undecodable: 0,
    durationMs: 0,
  };
  const todo = summary.partitions.filter((p) => p.from < p.to);
  log.info({ topic, run, ranges: summary.partitions.map((p) => `${p.partition}:${p.from}-${p.to}`), limitedBy: summary.limitedBy }, 'replay planned');
  if (todo.length === 0) {
    summary.durationMs = Math.round(performance.now() - started);
    return summary;
  }
  const byPartition = new Map(todo.map((p) => [p.partition, p]));
  const staging = `trackhouse_replay_${run}`;
  const fresh = `trackhouse_replay_${run}_new`;
  const cols = EVENT_COLUMNS.join(', ');
  const userKey = "if(user_id != '', user_id, anonymous_id)";
  const backoff = { baseMs: config.sink.retryBaseMs, maxMs: config.sink.retryMaxMs };
  const call = <T>(what: string, signal: AbortSignal, fn: () => Promise<T>) =>
    retrying(fn, { ...backoff, signal, onRetry: (err, attempt, wait) => log.warn({ what, attempt, retryInMs: wait, err: errorMessage(err) }, 'ClickHouse call failed; retrying') });
  const noToken = { insert_deduplication_token: '' };
  for (const t of [staging, fresh]) {
    await client.command({ query: `CREATE TABLE ${t} ENGINE = Memory AS SELECT ${cols} FROM events WHERE 0`, clickhouse_settings: noToken });
  }
  const pool = createDecodePool(config.sink.workers);
  const groupId = `${sinkGroup}.replay.${run}`;
  let seq = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const remaining = new Set(todo.map((p) => p.partition));

  async function onRound(round: Round): Promise<void> {
    const batches = round.batches.filter((b) => byPartition.has(b.partition));
    if (batches.length === 0) return;
    const decoded = await decodeFetch(
      pool,
      batches,
      (p): OffsetWindow => {
        const r = byPartition.get(p)!;
        return { after: r.from - 1, before: r.to };
      },
      { records: 4_096, bytes: 2 * 1024 * 1024 },
    );
    const perPartition = new Map<number, { rows: number; undecodable: number }>();
    const segments: Uint8Array[] = [];
    for (const c of decoded.chunks) {
      const e = perPartition.get(c.partition) ?? { rows: 0, undecodable: 0 };
      e.rows += c.result.rows;
      e.undecodable += c.result.failures.length;
      perPartition.set(c.partition, e);
      if (c.result.rows > 0) segments.push(c.result.payload);
    }
    for (const x of decoded.empty) {
      const e = perPartition.get(x.partition) ?? { rows: 0, undecodable: 0 };
      e.undecodable++;
      perPartition.set(x.partition, e);
    }
    let inserted = new Map<number, number>();
    if (segments.length > 0) {
      await call('replay: stage rows', round.signal, async () => {
        await client.command({ query: `TRUNCATE TABLE ${staging}`, clickhouse_settings: noToken });
        await client.command({ query: `TRUNCATE TABLE ${fresh}`, clickhouse_settings: noToken });
        await client.insert({
          table: staging,
          columns: [...EVENT_COLUMNS],
          format: 'TabSeparated',
          values: Readable.from(segments, { objectMode: false }),
          clickhouse_settings: noToken,
        });
        // Only what ClickHouse does not hold yet, each event once (its first offset wins).
        await client.command({
          query: `INSERT INTO ${fresh} (${cols})
                  SELECT ${cols} FROM ${staging}
                  WHERE (${userKey}, event_id) NOT IN (
                    SELECT user_key, event_id FROM events WHERE user_key IN (SELECT ${userKey} FROM ${staging}))
                  ORDER BY kafka_partition, kafka_offset
                  LIMIT 1 BY ${userKey}, event_id`,
          clickhouse_settings: noToken,
        });
      });
      const token = `replay-${run}-${seq++}`;
      inserted = await call('replay: insert new rows', round.signal, async () => {
        const rs = await client.query({
          query: `SELECT kafka_partition, count() AS n FROM ${fresh} GROUP BY kafka_partition`,
          format: 'JSONEachRow',
          clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
        });
        const counts = new Map((await rs.json<{ kafka_partition: number; n: number }>()).map((r) => [Number(r.kafka_partition), Number(r.n)]));
        // A fixed order on one thread makes the same blocks on a retry, so the token drops a
        // retry whose first attempt landed.
        await client.command({
          query: `INSERT INTO events (${cols}) SELECT ${cols} FROM ${fresh} ORDER BY kafka_partition, kafka_offset`,
          clickhouse_settings: { ...insertSettings(token), max_threads: 1, max_insert_threads: '1' },
        });
        return counts;
      });
    }
    for (const b of batches) {
      const r = byPartition.get(b.partition)!;
      const e = perPartition.get(b.partition) ?? { rows: 0, undecodable: 0 };
      const ins = inserted.get(b.partition) ?? 0;
      r.read += e.rows + e.undecodable;
      r.undecodable += e.undecodable;
      r.inserted += ins;
      r.present += e.rows - ins;
      if (b.lastOffset + 1 >= r.to && remaining.delete(b.partition) && remaining.size === 0) finish();
    }
    log.info({ read: decoded.chunks.reduce((n, c) => n + c.records.length, 0), inserted: [...inserted.values()].reduce((a, b) => a + b, 0) }, 'replay progress');
  }

  const consumer = createGroupConsumer(kafka, {
    groupId,
    topic,
    partitions: plan.partitions,
    fromBeginning: false,
    startOffsets: new Map(todo.map((p) => [p.partition, p.from])),
    fetch: { minBytes: 1, maxBytes: config.sink.batchBytes, maxBytesPerPartition: Math.max(1024 * 1024, Math.ceil(config.sink.batchBytes / plan.partitions)), maxWaitMs: 500 },
    log,
  });
  try {
    await consumer.start(onRound, () => {});
    await finished;
  } finally {
    await consumer.stop().catch((err: unknown) => log.warn({ err: errorMessage(err) }, 'replay consumer did not stop cleanly'));
    await pool.destroy();
    for (const t of [staging, fresh]) {
      await client.command({ query: `DROP TABLE IF EXISTS ${t}`, clickhouse_settings: noToken }).catch(() => {});
    }
    await deleteGroup(kafka, groupId, log);
  }
  for (const p of summary.partitions) {
    summary.read += p.read;
    summary.inserted += p.inserted;
    summary.present += p.present;
    summary.undecodable += p.undecodable;
  }
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}

interface Plan {
  partitions: number;
  sinkActive: boolean;
  ranges: { partition: number; from: number; to: number }[];
  truncated: TruncatedPartition[];
}

function truncationWarning(topic: string, truncated: readonly TruncatedPartition[]): string | null {
  if (truncated.length === 0) return null;
  const where = truncated.map((t) => `${t.partition} (from ${t.earliest}${t.requested === null ? '' : `, not ${t.requested}`})`).join(', ');
  return (
    `--from reaches back before what Kafka still holds of ${topic}: the history before the low watermark is gone ` +
    `(retention.ms or deleted records) and cannot be replayed; replaying partitions ${where} from the earliest offset still held`
  );
}

async function planRanges(kafka: Kafka, topic: string, sinkGroup: string, from: ReplayFrom): Promise<Plan> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const watermarks = await admin.fetchTopicOffsets(topic);
    const bounds = new Map(watermarks.map((w) => [w.partition, { low: Number(w.low), high: Number(w.high) }]));
    let starts: Map<number, number>;
    const truncated: TruncatedPartition[] = [];
    if (from.kind === 'time') {
      const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, from.ms);
      // -1: no record at or after that time: nothing to replay there.
      starts = new Map(byTime.map((o) => [o.partition, Number(o.offset) < 0 ? bounds.get(o.partition)!.high : Number(o.offset)]));
      // The first record at or after the time is the first one left (or none is, and all are
      // gone): the records below it were older than it, so some may have been at or after the time.
      for (const [partition, start] of starts) {
        const { low } = bounds.get(partition)!;
        if (low > 0 && start === low) truncated.push({ partition, earliest: low, requested: null });
      }
    } else {
      for (const p of from.offsets.keys()) {
        if (!bounds.has(p)) throw new ReplayArgumentError(`--from names partition ${p}, but ${topic} has partitions 0-${bounds.size - 1}`);
      }
      starts = new Map(from.offsets);
      for (const [partition, start] of starts) {
        const { low } = bounds.get(partition)!;
        if (start < low) truncated.push({ partition, earliest: low, requested: start });
      }
    }
    truncated.sort((a, b) => a.partition - b.partition);
    const described = await admin.describeGroups([sinkGroup]);
    const sinkActive = (described.groups[0]?.members.length ?? 0) > 0;
    const committed = new Map<number, number>();
    if (sinkActive) {
      const offsets = await admin.fetchOffsets({ groupId: sinkGroup, topics: [topic] });
      for (const p of offsets[0]?.partitions ?? []) committed.set(p.partition, Number(p.offset));
    }
    const ranges = [...starts]
      .sort(([a], [b]) => a - b)
      .map(([partition, start]) => {
        const { low, high } = bounds.get(partition)!;
        const fromOffset = Math.min(Math.max(start, low), high);
        // An active sink owns everything it has not committed yet (all of it, if it committed nothing).
        const c = committed.get(partition) ?? -1;
        const to = sinkActive ? Math.min(high, Math.max(c, fromOffset)) : high;
        return { partition, from: fromOffset, to };
      });
    return { partitions: bounds.size, sinkActive, ranges, truncated };
  } finally {
    await admin.disconnect();
  }
}

async function deleteGroup(kafka: Kafka, groupId: string, log: Logger): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch (err) {
    log.warn({ groupId, err: errorMessage(err) }, 'could not delete the replay consumer group; it expires on its own');
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
