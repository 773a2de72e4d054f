// A consumer-group member that hands records over in rounds: everything one fetch returned, all
// partitions at once, so the sink can insert one large block per fetch. kafkajs stays behind
// this file; the sink sees Round and GroupConsumer only.
//
// The fence that keeps rebalances exact: kafkajs re-joins the group only after every batch
// handler of the current fetch has returned, and a partition moves to another member only once
// this member has re-joined. A round's handlers return when the round is finished (inserted and
// committed), so while an insert is in flight this member cannot give its partitions away, and
// the next owner, which reads the highest offset already in ClickHouse on assignment, sees it.
// While a round waits (a slow or unreachable ClickHouse), this file keeps the membership alive
// with heartbeats; when a heartbeat says the group is rebalancing, it aborts the generation's
// signal (finish what is in flight, start nothing new) and hands the rebalance on to kafkajs.
//
// A caller may keep work in flight after a round's handler returned (the sink inserts round n
// while round n+1 is fetched and decoded). It passes a `hold` to start(): with the fence of
// ./fence.ts in place, kafkajs's re-join and leave first abort the generation's signal and wait
// for the hold, so the fence above still covers that work. `fenced` says whether it is in place.
import type { Consumer, EachBatchPayload, IHeaders, Kafka } from 'kafkajs';
import { errorMessage, TrackhouseError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { installFence, registerHold, unregisterHold } from './fence.js';

/** A fetched record, as kafkajs gives it (no copy is made). */
export interface FetchedMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders;
  readonly timestamp: string;
}

export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly FetchedMessage[];
  /** Offset of the last record fetched (control records included); commit lastOffset + 1. */
  readonly lastOffset: number;
  readonly highWatermark: number;
}

export interface Round {
  readonly batches: readonly PartitionBatch[];
  /**
   * The generation's signal: aborted when the group starts rebalancing or the consumer is
   * stopping: finish the insert in flight, start no new attempt. `signal.reason` says which.
   * Work held past the round (see `hold` in start()) listens to it too.
   */
  readonly signal: AbortSignal;
}

export interface FetchLimits {
  /** The broker answers once it has this many bytes... */
  minBytes: number;
  /** ...or after this long. */
  maxWaitMs: number;
  maxBytes: number;
  maxBytesPerPartition: number;
}

export interface GroupConsumerOptions {
  groupId: string;
  topic: string;
  fetch: FetchLimits;
  /** Where a partition without a committed offset starts. */
  fromBeginning: boolean;
  /** Replay: read these partitions from these offsets instead of the committed ones. */
  startOffsets?: ReadonlyMap<number, number>;
  /** Partitions of the topic at start (partitions added later are consumed as well). */
  partitions: number;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  log: Logger;
}

export interface GroupConsumer {
  /**
   * Joins the group and calls onRound for every fetch with records; the round's records count as
   * consumed once the promise resolves. onAssign runs after every join with this member's
   * partitions (before any round of the new generation).
   */
  start(onRound: (round: Round) => Promise<void>, onAssign: (partitions: number[]) => void, hold?: () => Promise<void>): Promise<void>;
  /** Commits the next offset to read per partition. Throws if the group is rebalancing. */
  commit(offsets: readonly { partition: number; offset: number }[]): Promise<void>;
  /** The next fetch of these partitions starts at these offsets (records after them are read again). */
  seek(offsets: readonly { partition: number; offset: number }[]): void;
  /**
   * True when kafkajs's re-join and leave wait for the `hold` given to start(): work may then stay
   * in flight after a round's handler returned. False (another kafkajs version): it must not.
   */
  readonly fenced: boolean;
  /** Finishes the round in hand, then leaves the group. */
  stop(): Promise<void>;
  /** True once joined, false after a crash or stop. */
  readonly joined: boolean;
}

/** A round cut short: its records are not committed and come again (to this member or another). */
export class RoundAbort extends TrackhouseError {
  constructor(readonly why: 'rebalance' | 'stop') {
    super('ROUND_ABORTED', why === 'rebalance' ? 'the group is rebalancing' : 'the consumer is stopping', { retriable: true });
  }
}

interface PendingRound {
  batches: PartitionBatch[];
  payloads: EachBatchPayload[];
  done: Promise<void>;
  controller: AbortController;
}

/** A new generation's controller (after each join); a stopping consumer's is aborted from the start. */
function generationController(stopping: boolean): AbortController {
  const c = new AbortController();
  if (stopping) c.abort(new RoundAbort('stop'));
  return c;
}

/** kafkajs's test: the group is rebalancing and this member must re-join. */
export const isRebalancing = (e: unknown): boolean => {
  const type = (e as { type?: string } | null)?.type;
  return type === 'REBALANCE_IN_PROGRESS' || type === 'NOT_COORDINATOR_FOR_GROUP' || type === 'ILLEGAL_GENERATION';
};

export function createGroupConsumer(kafka: Kafka, opts: GroupConsumerOptions): GroupConsumer {
  const heartbeatMs = opts.heartbeatIntervalMs ?? 3_000;
  const consumer: Consumer = kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
    rebalanceTimeout: opts.rebalanceTimeoutMs ?? 60_000,
    heartbeatInterval: heartbeatMs,
    minBytes: opts.fetch.minBytes,
    maxBytes: opts.fetch.maxBytes,
    maxBytesPerPartition: opts.fetch.maxBytesPerPartition,
    maxWaitTimeInMs: opts.fetch.maxWaitMs,
    allowAutoTopicCreation: false,
  });
  const log = opts.log;
  const fenced = installFence();
  let collecting: PendingRound | null = null;
  const inFlight = new Set<PendingRound>();
  let stopping = false;
  let joined = false;
  let memberId: string | null = null;
  let onRound: (round: Round) => Promise<void> = async () => {};
  let hold: () => Promise<void> = async () => {};
  // One signal per generation: the rounds of a generation, and the work they left in flight, end together.
  let generation = generationController(false);
  const abortGeneration = (why: RoundAbort) => {
    if (!generation.signal.aborted) generation.abort(why);
  };
  /** What the fence runs before kafkajs re-joins or leaves: end the generation, wait for its work. */
  const beforeRejoin = async () => {
    abortGeneration(new RoundAbort(stopping ? 'stop' : 'rebalance'));
    log.info({ groupId: opts.groupId, memberId }, stopping ? 'leaving the group once the work in flight ended' : 're-joining the group once the work in flight ended');
    await hold();
  };

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    registerHold(e.payload.memberId, memberId, beforeRejoin);
    memberId = e.payload.memberId;
    generation = generationController(stopping);
    const assigned = e.payload.memberAssignment[opts.topic] ?? [];
    log.info({ groupId: opts.groupId, memberId: e.payload.memberId, partitions: assigned }, 'partitions assigned');
    assignListener([...assigned].sort((a, b) => a - b));
  });
  consumer.on(consumer.events.CRASH, (e) => {
    joined = false;
    log.error({ err: e.payload.error, restart: e.payload.restart }, 'Kafka consumer crashed');
  });
  let assignListener: (partitions: number[]) => void = () => {};

  /** Runs one round to the end, heartbeating while it waits; rejects with kafkajs's rebalance error to re-join. */
  async function runRound(round: PendingRound): Promise<void> {
    if (stopping) abortGeneration(new RoundAbort('stop'));
    let rebalance: unknown = null;
    let settled = false;
    const work = onRound({ batches: round.batches, signal: round.controller.signal }).finally(() => (settled = true));
    const heartbeat = round.payloads[0]!.heartbeat;
    try {
      while (!settled) {
        await Promise.race([work.catch(() => {}), delay(Math.min(1_000, heartbeatMs))]);
        if (settled || rebalance !== null) continue;
        try {
          await heartbeat();
        } catch (err) {
          if (isRebalancing(err)) {
            rebalance = err;
            abortGeneration(new RoundAbort('rebalance'));
            log.info({ groupId: opts.groupId }, 'group rebalancing: finishing the insert in flight before re-joining');
          } else {
            log.warn({ err: errorMessage(err) }, 'heartbeat failed; will retry');
          }
        }
      }
      try {
        await work;
      } catch (err) {
        if (rebalance !== null) throw rebalance;
        if (isRebalancing(err)) throw err;
        if (err instanceof RoundAbort && err.why === 'stop') return; // left unconsumed; redelivered after a restart
        throw err;
      }
      if (rebalance !== null) throw rebalance;
      for (const p of round.payloads) p.resolveOffset(p.batch.lastOffset());
    } finally {
      inFlight.delete(round);
    }
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    if (stopping) return; // not resolved: nothing of it counts as consumed
    const { batch } = payload;
    if (collecting === null) {
      // kafkajs calls the handler of every partition of a fetch in the same tick (concurrency
      // is at least the partition count), so one turn of the event loop gathers the whole fetch.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const round: PendingRound = {
        batches: [],
        payloads: [],
        controller: generation,
        done: gate.then(() => runRound(round)),
      };
      collecting = round;
      inFlight.add(round);
      setImmediate(() => {
        collecting = null;
        release();
      });
    }
    const round = collecting;
    round.payloads.push(payload);
    round.batches.push({
      topic: batch.topic,
      partition: batch.partition,
      messages: batch.messages,
      lastOffset: Number(batch.lastOffset()),
      highWatermark: Number(batch.highWatermark),
    });
    await round.done;
  }

  return {
    get joined() {
      return joined && !stopping;
    },
    fenced,
    async start(handler, onAssign, held) {
      onRound = handler;
      assignListener = onAssign;
      if (held) hold = held;
      await consumer.connect();
      await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // At least every partition, so every batch of a fetch joins the same round: not the count
        // at start, since partitions added to the topic later are assigned after a re-join.
        partitionsConsumedConcurrently: Math.max(1_000, opts.partitions),
        eachBatch,
      });
      if (opts.startOffsets) {
        for (const [partition, offset] of opts.startOffsets) consumer.seek({ topic: opts.topic, partition, offset: String(offset) });
      }
    },
    async commit(offsets) {
      if (offsets.length === 0) return;
      await consumer.commitOffsets(offsets.map((o) => ({ topic: opts.topic, partition: o.partition, offset: String(o.offset) })));
    },
    seek(offsets) {
      for (const o of offsets) consumer.seek({ topic: opts.topic, partition: o.partition, offset: String(o.offset) });
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      abortGeneration(new RoundAbort('stop'));
      await Promise.allSettled([...inFlight].map((r) => r.done));
      // Also here, not only in the fenced leave: without the fence, and before leaving in any case.
      await hold();
      await consumer.disconnect();
      unregisterHold(memberId);
      joined = false;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
