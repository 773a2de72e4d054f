// trackhouse replay: re-sinks a stretch of the events topic into ClickHouse, inserting only the
// events ClickHouse does not hold yet, so it can be run over any history, any number of times.
// The plan (./plan.ts) says where each partition starts and stops; each fetch is decoded like the
// sink does (its worker pool) and handed to the store (./store.ts), which inserts what is new.
// The replay reads through a throwaway consumer group, deleted afterwards, and never commits for
// the sink's group.
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Config } from '../config/index.js';
import { deleteGroup, topicSnapshot } from '../kafka/admin.js';
import { createGroupConsumer, type Round } from '../kafka/consumer.js';
import { startErasureReader } from '../erasure/topic.js';
import { createDecodePool, decodeFetch, type OffsetWindow, type RecordFilter } from '../sink/index.js';
import { planReplay, truncationWarning, type ReplayFrom, type TruncatedPartition } from './plan.js';
import { ReplayStore } from './store.js';

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
  /** Records of users on the erasure list: skipped, never stored again. */
  erased: number;
  durationMs: number;
}

export interface ReplayOptions {
  config: Config;
  kafka: Kafka;
  clickhouse: ClickHouseClient;
  log: Logger;
  from: ReplayFrom;
  /** The erasure list (src/erasure/), loaded; absent: read from its topic before anything is replayed. */
  erasures?: RecordFilter;
}

/** Most records and bytes per decode task, as the sink's. */
const TASK_LIMITS = { records: 4_096, bytes: 2 * 1024 * 1024 };

export async function runReplay(opts: ReplayOptions): Promise<ReplaySummary> {
  const started = performance.now();
  const { config, kafka, log } = opts;
  const topic = config.kafka.topics.events;
  const sinkGroup = config.sink.groupId;
  const run = randomBytes(5).toString('hex');
  const plan = planReplay(topic, await topicSnapshot(kafka, topic, sinkGroup, opts.from.kind === 'time' ? opts.from.ms : null), opts.from);
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
    erased: 0,
    durationMs: 0,
  };
  const todo = summary.partitions.filter((p) => p.from < p.to);
  log.info({ topic, run, ranges: summary.partitions.map((p) => `${p.partition}:${p.from}-${p.to}`), limitedBy: summary.limitedBy }, 'replay planned');
  if (todo.length === 0) {
    summary.durationMs = Math.round(performance.now() - started);
    return summary;
  }
  const byPartition = new Map(todo.map((p) => [p.partition, p]));
  // History is where erased users live on: the list is loaded before a record is replayed.
  const ownList = opts.erasures === undefined ? await startErasureReader(kafka, config.kafka.topics.regulations, log) : null;
  if (ownList !== null) await ownList.loaded;
  const erasures: RecordFilter = opts.erasures ?? ownList!.list;
  const store = new ReplayStore(opts.clickhouse, run, { baseMs: config.sink.retryBaseMs, maxMs: config.sink.retryMaxMs }, log);
  await store.createScratch();
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
      TASK_LIMITS,
      erasures,
    );
    summary.erased += decoded.erased;
    const perPartition = new Map<number, { rows: number; undecodable: number }>();
    const counts = (p: number) => {
      let e = perPartition.get(p);
      if (e === undefined) perPartition.set(p, (e = { rows: 0, undecodable: 0 }));
      return e;
    };
    const segments: Uint8Array[] = [];
    for (const c of decoded.chunks) {
      const e = counts(c.partition);
      e.rows += c.result.rows;
      e.undecodable += c.result.failures.length;
      if (c.result.rows > 0) segments.push(c.result.payload);
    }
    for (const x of decoded.empty) counts(x.partition).undecodable++;
    let inserted = new Map<number, number>();
    if (segments.length > 0) {
      await store.stageNew(segments, round.signal);
      inserted = await store.insertFresh(`replay-${run}-${seq++}`, round.signal);
    }
    for (const b of batches) {
      const r = byPartition.get(b.partition)!;
      const e = counts(b.partition);
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
    await store.dropScratch();
    await deleteGroup(kafka, groupId, log);
    await ownList?.stop();
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
