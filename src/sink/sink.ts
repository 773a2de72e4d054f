// The sink: Kafka -> decode workers -> ClickHouse, effectively once.
//
// One fetch is one round (src/kafka/consumer.ts): records at or below their partition's floor
// are skipped unread, the rest are decoded in the worker pool, resends are dropped against each
// partition's window, undecodable records go to the DLQ, the rows are inserted in blocks of at
// most SINK_BATCH_ROWS / SINK_BATCH_BYTES with a deduplication token, and only then are the
// offsets committed. Rounds overlap: round n+1 is fetched and decoded while round n inserts
// (RoundHandler below). See docs/architecture/sink.md for the guarantees and their limits.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Kafka } from 'kafkajs';
import { errorMessage, TrackhouseError } from '../common/errors.js';
import type { ReadinessCheck } from '../common/http.js';
import { makeOwnPrivateDir } from '../common/privatedir.js';
import type { Logger } from '../common/log.js';
import type { Registry } from '../common/metrics.js';
import type { Config } from '../config/index.js';
import { brokerOffsets, partitionCount } from '../kafka/admin.js';
import { createGroupConsumer, isRebalancing, RoundAbort, type GroupConsumer, type PartitionBatch, type Round } from '../kafka/consumer.js';
import { createDeadLetterProducer, type DeadLetter, type DeadLetterProducer } from '../kafka/dlq.js';
import { ensureTopics } from '../kafka/topics.js';
import { startErasureReader } from '../erasure/topic.js';
import { deadLetter } from './deadletter.js';
import { buildBlocks, type Block } from './blocks.js';
import { decodeFetch, type Chunk, type RecordFilter } from './decode.js';
import { LagProbe } from './lag.js';
import { createSinkMetrics, type SinkMetrics } from './metrics.js';
import { PartitionStates } from './partitions.js';
import { createDecodePool, type DecodePool } from './pool.js';
import { SinkStore } from './sinkstore.js';
import { blockIntent, removeIntent, writeIntent } from './intent.js';
import { repairInterruptedInsert } from './repair.js';

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
  /**
   * The erasure list (src/erasure/), loaded: records of erased users are never inserted. Absent:
   * the sink reads the list's topic itself (and waits until it is loaded before consuming).
   */
  erasures?: RecordFilter;
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
  // chDB: an insert the last process died in the middle of is undone before any floor is read.
  if (cfg.intentFile !== null) {
    makeOwnPrivateDir(path.dirname(cfg.intentFile));
    await repairInterruptedInsert(cfg.intentFile, topic, store, log, metrics);
  }
  const states = new PartitionStates(store, { events: cfg.dedupWindowEvents, ms: cfg.dedupWindowMs }, log, {
    count: partitions,
    // Asked after every assignment: partitions added to the topic move users' keys (src/sink/partitions.ts).
    now: () => partitionCount(kafka, topic),
  });
  // No record is stored before the erasure list is known: an erased user must not come back.
  const ownList = opts.erasures === undefined ? await startErasureReader(kafka, config.kafka.topics.regulations, log) : null;
  if (ownList !== null) await ownList.loaded;
  const erasures: RecordFilter = opts.erasures ?? ownList!.list;
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
      erasures,
      intentFile: cfg.intentFile,
      topic,
    });
    await consumer.start(
      (round) => rounds.handle(round),
      (assigned) => {
        states.assigned(assigned);
        // Only this member's partitions; the new owner reports the others.
        lag.assigned(assigned);
      },
      () => rounds.drain(),
    );
    log.info({ topic, groupId: cfg.groupId, partitions, workers: cfg.workers, workersFrom: cfg.workersFrom, overlap: consumer.fenced }, 'sink consuming');
  } catch (err) {
    await consumer?.stop().catch(() => {});
    await dlq?.close().catch(() => {});
    await pool.destroy();
    await lag.close();
    await ownList?.stop();
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
        await Promise.allSettled([producer.close(), pool.destroy(), lag.close(), ownList?.stop()]);
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
  erasures: RecordFilter;
  /** chDB: the insert intent written before each insert and removed after it (src/sink/intent.ts). */
  intentFile: string | null;
  topic: string;
}

/** A round past decoding: its dead letters, insert blocks and commit, run while the next round decodes. */
interface Stage {
  batches: readonly PartitionBatch[];
  partitions: readonly number[];
  blocks: readonly Block[];
  letters: DeadLetter[];
  signal: AbortSignal;
  t0: number;
  tDecoded: number;
}

/** A stage that failed: its partitions are re-checked and read again from where it started. */
interface Failure {
  err: unknown;
  partitions: readonly number[];
  /** partition -> first offset of the failed round. */
  from: Map<number, number>;
}

/**
 * Runs the rounds as a two-step pipeline: while round n's dead letters, inserts and commit run
 * (the stage), round n+1 is fetched, skipped and decoded; its handler then waits for stage n
 * before starting its own, so at most one stage is in flight and two fetches are held. Stages run
 * in round order, so commits only move forward.
 *
 * Why this keeps "effectively once": a round's handler returns once its stage has started, so
 * kafkajs may want to re-join while a stage is in flight; the consumer's fence (src/kafka/fence.ts)
 * makes the re-join wait for drain(), so no insert is in flight when this member gives up its
 * partitions, exactly as when rounds did not overlap. Without the fence (another kafkajs
 * version), each handler waits for its own stage: rounds do not overlap.
 *
 * A stage that fails (its signal aborted by a rebalance or a stop, a dead letter that could not
 * be sent, a commit refused) is not retried by itself: the next round's handler finds the failure,
 * rewinds the consumer to where the failed round started, marks its partitions for a re-check
 * against ClickHouse (floor and window) and fails, so kafkajs reads the records again. On a
 * re-join, drain() does the same without the rewind: the group's committed offsets are the rewind.
 */
class RoundHandler {
  /** Per process start: a token can never match a block written by an earlier life of the table. */
  private readonly tokenPrefix = `sink-${randomBytes(6).toString('hex')}`;
  private inserts = 0;
  /** The stage in flight; never rejects (a failure is kept in `failure`). */
  private inFlight: Promise<void> = Promise.resolve();
  private failure: Failure | null = null;

  constructor(private readonly d: RoundDeps) {}

  /** Waits for the stage in flight; a failed one's partitions are re-checked before their next use. */
  async drain(): Promise<void> {
    await this.inFlight;
    if (this.failure) {
      this.d.states.markDirty(this.failure.partitions);
      this.failure = null;
    }
  }

  async handle(round: Round): Promise<void> {
    const { batches, signal } = round;
    const { states, metrics } = this.d;
    metrics.rounds.inc();
    const partitions = batches.map((b) => b.partition);
    let touched = false;
    const t0 = performance.now();
    try {
      await states.ensure(partitions, signal);
      const decoded = await decodeFetch(
        this.d.pool,
        batches,
        (p) => ({ after: states.get(p).floor, before: Infinity }),
        this.d.limits,
        this.d.erasures,
      );
      const tDecoded = performance.now();
      // The previous round's stage must have ended before this round touches the windows and
      // floors it uses; a rebalance or stop does not wait for it here (the fence does).
      await settledOrAborted(this.inFlight, signal);
      if (signal.aborted) throw signal.reason;
      if (this.failure) this.rewind(batches);
      if (decoded.filtered > 0) metrics.duplicates.inc({ reason: 'redelivered' }, decoded.filtered);
      if (decoded.erased > 0) metrics.erased.inc(decoded.erased);
      for (const c of decoded.chunks) metrics.workerHeap.set({ thread: String(c.result.threadId) }, c.result.heapUsed);
      const letters = this.deadLetters(decoded.chunks, decoded.empty);
      touched = true;
      const { blocks, resent } = buildBlocks(decoded.chunks, (p) => states.get(p).window, {
        rows: this.d.insertRows,
        bytes: this.d.insertBytes,
        tokenPrefix: this.tokenPrefix,
      });
      if (resent > 0) metrics.duplicates.inc({ reason: 'resent' }, resent);
      const stage: Stage = { batches, partitions, blocks, letters, signal, t0, tDecoded };
      this.inFlight = this.runStage(stage).catch((err: unknown) => {
        const from = new Map(batches.map((b) => [b.partition, Number(b.messages[0]!.offset)]));
        this.failure = { err, partitions, from };
        if (err instanceof RoundAbort || isRebalancing(err)) return; // a re-join or stop follows
        this.d.log.error({ err, partitions }, 'round failed; its records will be read again');
        // Read them again even if no further record arrives to find the failure (see rewind()).
        this.d.consumer.seek([...from].map(([partition, offset]) => ({ partition, offset })));
      });
      if (!this.d.consumer.fenced) {
        // No fence: the stage must end before kafkajs may re-join, so this handler waits for it.
        await this.inFlight;
        if (this.failure) this.rewind([]);
      }
    } catch (err) {
      // The windows took in rows that never reached a stage: rebuild them from ClickHouse.
      if (touched) states.markDirty(partitions);
      if (!(err instanceof RoundAbort) && !isRebalancing(err) && !(err instanceof StageFailed)) {
        this.d.log.error({ err, partitions }, 'round failed; its records will be read again');
      }
      throw err;
    }
  }

  /**
   * The previous stage failed: read its records (and this round's) again from where it started,
   * after a re-check of the partitions against ClickHouse. Throws, so this round is not consumed.
   */
  private rewind(batches: readonly PartitionBatch[]): never {
    const f = this.failure!;
    this.failure = null;
    const from = new Map(f.from);
    for (const b of batches) if (!from.has(b.partition)) from.set(b.partition, Number(b.messages[0]!.offset));
    this.d.states.markDirty([...from.keys()]);
    this.d.consumer.seek([...from].map(([partition, offset]) => ({ partition, offset })));
    throw f.err instanceof RoundAbort || isRebalancing(f.err) ? f.err : new StageFailed(f.err);
  }

  private async runStage(s: Stage): Promise<void> {
    const { states, metrics } = this.d;
    const tStart = performance.now();
    // Dead letters first: the offsets are committed only once their copies are durable.
    if (s.letters.length > 0) {
      await this.d.dlq.send(s.letters);
      for (const l of s.letters) metrics.deadLetters.inc({ code: String(l.headers['trackhouse.error.code']) });
      this.d.log.warn({ records: s.letters.length }, 'undecodable records sent to the dead-letter topic');
    }
    const intent = this.d.intentFile;
    for (const block of s.blocks) {
      if (intent !== null) writeIntent(intent, blockIntent(this.d.topic, block.token, block.ranges));
      await this.d.store.insert(block, s.signal);
      // Only once ClickHouse confirmed it: an insert that failed may have landed in part, and the
      // next insert's intent (the same records read again, from no later) replaces this one.
      if (intent !== null) removeIntent(intent);
      for (const [p, [, top]] of block.ranges) {
        const st = states.get(p);
        if (top > st.floor) st.floor = top;
      }
      this.inserts++;
      await this.d.hooks?.afterInsert?.({ inserts: this.inserts, rows: block.rows });
    }
    const tInserted = performance.now();
    await this.d.consumer.commit(s.batches.map((b) => ({ partition: b.partition, offset: b.lastOffset + 1 })));
    if (this.d.log.isLevelEnabled('debug')) {
      this.d.log.debug(
        {
          records: s.batches.reduce((n, b) => n + b.messages.length, 0),
          rows: s.blocks.reduce((n, b) => n + b.rows, 0),
          inserts: s.blocks.length,
          decodeMs: Math.round(s.tDecoded - s.t0),
          // Waiting for the previous round's stage (the overlap: decode ran meanwhile).
          waitMs: Math.round(tStart - s.tDecoded),
          insertMs: Math.round(tInserted - tStart),
          commitMs: Math.round(performance.now() - tInserted),
        },
        'fetch sunk',
      );
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

/** The previous round's stage failed (logged there); this round is dropped and both are read again. */
class StageFailed extends TrackhouseError {
  constructor(cause: unknown) {
    super('SINK_ROUND_FAILED', `the previous round failed: ${errorMessage(cause)}`, { retriable: true, cause });
  }
}

/** Resolves when `p` settled or `signal` aborted, whichever is first. */
function settledOrAborted(p: Promise<unknown>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    p.then(done, done);
  });
}
