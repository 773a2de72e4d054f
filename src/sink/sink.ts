// The sink: Kafka -> decode workers -> ClickHouse, effectively once.
//
// One fetch is one round (src/kafka/consumer.ts): records at or below their partition's floor
// are skipped unread, the rest are decoded in the worker pool, resends are dropped against each
// partition's window, undecodable records go to the DLQ, the rows are inserted in blocks of at
// most SINK_BATCH_ROWS / SINK_BATCH_BYTES with a deduplication token, and only then are the
// offsets committed. See docs/architecture/sink.md for the guarantees and their limits.
import { randomBytes } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import type { ReadinessCheck } from '../common/http.js';
import type { Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import type { Config } from '../config/index.js';
import { brokerOffsets, partitionCount } from '../kafka/admin.js';
import { createGroupConsumer, isRebalancing, RoundAbort, type GroupConsumer, type PartitionBatch, type Round } from '../kafka/consumer.js';
import { createDeadLetterProducer, type DeadLetter, type DeadLetterProducer } from '../kafka/dlq.js';
import { ensureTopics } from '../kafka/topics.js';
import { deadLetter } from './deadletter.js';
import { buildBlocks } from './blocks.js';
import { decodeFetch, type Chunk } from './decode.js';
import { LagProbe } from './lag.js';
import { createSinkMetrics, type SinkMetrics } from './metrics.js';
import { PartitionStates } from './partitions.js';
import { createDecodePool, type DecodePool } from './pool.js';
import { SinkStore } from './sinkstore.js';

/** Test-only fault injection; production leaves it out. */
export interface SinkHooks {
  /** Runs after ClickHouse confirmed an insert, before anything is committed. */
  afterInsert?(info: { inserts: number; rows: number }): void | Promise<void>;
}

export interface SinkOptions {
  config: Config;
  kafka: Kafka;
  /** Not closed by the sink: the caller owns it (the all-in-one shares it with the query API). */
  clickhouse: ClickHouseClient;
  log: Logger;
  registry: Registry;
  hooks?: SinkHooks;
}

export interface RunningSink {
  /** Finishes the fetch in hand (insert, commit), leaves the group, stops the workers. */
  stop(): Promise<void>;
  /** For /readyz: ClickHouse answers, and this member is in the group. */
  readonly checks: readonly ReadinessCheck[];
  readonly metrics: SinkMetrics;
}

/** Most records and bytes per decode task: small enough to spread a fetch over the workers. */
const TASK_RECORDS = 4_096;
const TASK_BYTES = 2 * 1024 * 1024;

export async function startSink(opts: SinkOptions): Promise<RunningSink> {
  const { config, kafka, log } = opts;
  const cfg = config.sink;
  const topic = config.kafka.topics.events;
  // Read at scrape time, so the lag gauge is current also while rounds cannot commit.
  const lag = new LagProbe(brokerOffsets(kafka, topic, cfg.groupId), { maxAgeMs: 1_000, waitMs: 1_000 }, log);
  const metrics = createSinkMetrics(opts.registry, () => lag.lag());
  await ensureTopics(kafka, config.kafka, log);
  const partitions = await partitionCount(kafka, topic);
  const store = new SinkStore(opts.clickhouse, topic, { baseMs: cfg.retryBaseMs, maxMs: cfg.retryMaxMs }, log, metrics);
  const states = new PartitionStates(store, { events: cfg.dedupWindowEvents, ms: cfg.dedupWindowMs }, log);
  const pool = createDecodePool(cfg.workers);
  let dlq: DeadLetterProducer | undefined;
  let consumer: GroupConsumer | undefined;
  try {
    dlq = await createDeadLetterProducer(kafka, config.kafka.topics.dlq, config.kafka.compression);
    consumer = createGroupConsumer(kafka, {
      groupId: cfg.groupId,
      topic,
      partitions,
      fromBeginning: true,
      sessionTimeoutMs: cfg.sessionTimeoutMs,
      heartbeatIntervalMs: Math.min(3_000, Math.floor(cfg.sessionTimeoutMs / 3)),
      // The broker holds a fetch until half a batch is there or SINK_BATCH_MS passed: that is the
      // time bound of a batch, and so of freshness. Not a full batch: the per-partition and
      // record-batch limits keep a response just under maxBytes, so minBytes = maxBytes made the
      // broker wait out SINK_BATCH_MS on every fetch, even with a backlog (a third of a drain).
      fetch: {
        minBytes: Math.floor(cfg.batchBytes / 2),
        maxBytes: cfg.batchBytes,
        maxBytesPerPartition: Math.max(1024 * 1024, Math.ceil(cfg.batchBytes / partitions)),
        maxWaitMs: cfg.batchMs,
      },
      log,
    });
    const rounds = new RoundHandler({
      consumer,
      store,
      states,
      pool,
      dlq,
      metrics,
      log,
      groupId: cfg.groupId,
      limits: { records: Math.min(TASK_RECORDS, cfg.batchRows), bytes: Math.min(TASK_BYTES, cfg.batchBytes) },
      insertRows: cfg.batchRows,
      // SINK_BATCH_BYTES bounds the fetch (Kafka bytes); its TabSeparated is about 10 % larger and
      // should still go in as one insert. The bound here only guards against pathological rows.
      insertBytes: cfg.batchBytes * 2,
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
    });
    await consumer.start(
      (round) => rounds.handle(round),
      (assigned) => {
        states.assigned(assigned);
        // Only this member's partitions; the new owner reports the others.
        lag.assigned(assigned);
      },
    );
    log.info({ topic, groupId: cfg.groupId, partitions, workers: cfg.workers }, 'sink consuming');
  } catch (err) {
    await consumer?.stop().catch(() => {});
    await dlq?.close().catch(() => {});
    await pool.destroy();
    await lag.close();
    throw err;
  }
  const running = consumer;
  const producer = dlq;
  let stopped: Promise<void> | undefined;
  return {
    metrics,
    checks: [
      {
        name: 'clickhouse',
        check: () => store.ping(),
      },
      {
        name: 'kafka',
        async check() {
          if (!running.joined) throw new Error(`not a member of consumer group ${cfg.groupId}`);
        },
      },
    ],
    stop() {
      stopped ??= (async () => {
        await running.stop();
        await Promise.allSettled([producer.close(), pool.destroy(), lag.close()]);
        const rows = (await metrics.rowsInserted.get()).values[0]?.value ?? 0;
        log.info({ rowsInserted: rows }, 'sink stopped');
      })();
      return stopped;
    },
  };
}

interface RoundDeps {
  consumer: GroupConsumer;
  store: SinkStore;
  states: PartitionStates;
  pool: DecodePool;
  dlq: DeadLetterProducer;
  metrics: SinkMetrics;
  log: Logger;
  groupId: string;
  limits: { records: number; bytes: number };
  insertRows: number;
  insertBytes: number;
  hooks?: SinkHooks;
}

class RoundHandler {
  /** Per process start: a token can never match a block written by an earlier life of the table. */
  private readonly tokenPrefix = `sink-${randomBytes(6).toString('hex')}`;
  private inserts = 0;

  constructor(private readonly d: RoundDeps) {}

  async handle(round: Round): Promise<void> {
    const { batches, signal } = round;
    const { states, metrics } = this.d;
    metrics.rounds.inc();
    const partitions = batches.map((b) => b.partition);
    let landed = false;
    const t0 = performance.now();
    let tDecoded = 0;
    let tInserted = 0;
    try {
      await states.ensure(partitions, signal);
      const decoded = await decodeFetch(
        this.d.pool,
        batches,
        (p) => ({ after: states.get(p).floor, before: Infinity }),
        this.d.limits,
      );
      if (decoded.filtered > 0) metrics.duplicates.inc({ reason: 'redelivered' }, decoded.filtered);
      tDecoded = performance.now();
      for (const c of decoded.chunks) metrics.workerHeap.set({ thread: String(c.result.threadId) }, c.result.heapUsed);
      const letters = this.deadLetters(decoded.chunks, decoded.empty);
      const { blocks, resent } = buildBlocks(decoded.chunks, (p) => states.get(p).window, {
        rows: this.d.insertRows,
        bytes: this.d.insertBytes,
        tokenPrefix: this.tokenPrefix,
      });
      if (resent > 0) metrics.duplicates.inc({ reason: 'resent' }, resent);
      // Dead letters first: the offsets are committed only once their copies are durable.
      if (letters.length > 0) {
        await this.d.dlq.send(letters);
        for (const l of letters) metrics.deadLetters.inc({ code: String(l.headers['trackhouse.error.code']) });
        this.d.log.warn({ records: letters.length }, 'undecodable records sent to the dead-letter topic');
      }
      for (const block of blocks) {
        await this.d.store.insert(block, signal);
        for (const [p, [, top]] of block.ranges) {
          const s = states.get(p);
          if (top > s.floor) s.floor = top;
        }
        this.inserts++;
        await this.d.hooks?.afterInsert?.({ inserts: this.inserts, rows: block.rows });
      }
      landed = true;
      tInserted = performance.now();
      await this.d.consumer.commit(batches.map((b) => ({ partition: b.partition, offset: b.lastOffset + 1 })));
      if (this.d.log.isLevelEnabled('debug')) {
        this.d.log.debug(
          {
            records: batches.reduce((n, b) => n + b.messages.length, 0),
            rows: blocks.reduce((n, b) => n + b.rows, 0),
            inserts: blocks.length,
            decodeMs: Math.round(tDecoded - t0),
            insertMs: Math.round(tInserted - tDecoded),
            commitMs: Math.round(performance.now() - tInserted),
          },
          'fetch sunk',
        );
      }
    } catch (err) {
      // The windows took in rows that may not have landed: rebuild them from ClickHouse.
      if (!landed) states.markDirty(partitions);
      if (!(err instanceof RoundAbort) && !isRebalancing(err)) {
        this.d.log.error({ err, partitions }, 'round failed; its records will be read again');
      }
      throw err;
    }
  }

  private deadLetters(chunks: readonly Chunk[], empty: readonly { topic: string; partition: number; record: PartitionBatch['messages'][number] }[]): DeadLetter[] {
    const out: DeadLetter[] = [];
    const origin = (topic: string, partition: number) => ({ topic, partition, groupId: this.d.groupId });
    for (const e of empty) {
      out.push(deadLetter(e.record, origin(e.topic, e.partition), { code: 'RECORD_EMPTY', message: 'record has no value' }));
    }
    for (const c of chunks) {
      for (const f of c.result.failures) out.push(deadLetter(c.records[f.index]!, origin(c.topic, c.partition), f));
    }
    return out;
  }
}
