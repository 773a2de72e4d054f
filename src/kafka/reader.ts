// A reader of chosen partitions of some topics, at positions its caller keeps (with its own data,
// in its own store), not at offsets committed to a shared consumer group: the one reader of the
// processors that keep state derived from a topic, the stream processor (src/stream/: every
// partition of the events, rejected and alerts topics, each replica complete) and the query API's
// per-user view (src/view/: the partitions of its shard of the events topic).
//
// kafkajs has no manual assignment, so the reader is the only member of a consumer group of its
// own (a group id no other process uses, a new one per start): it is assigned every partition, or
// with `holds` those it selects (its own assigner), is never rebalanced against anyone, and never
// commits. Partitions added to a topic while it runs are read too: kafkajs re-joins when its
// metadata (refreshed every KAFKA_METADATA_MAX_AGE_MS) shows them, and the assignment of that join
// is taken from the topic's partitions as they are then (a new partition from its first record).
// After every join it seeks each partition to the caller's position (or, for a partition
// the caller has never read, to the first record at or after `startTime`, Kafka's record time), so
// a re-join for any reason (a new partition, a missed heartbeat) never rewinds or skips. Records
// come in rounds: every partition batch of one fetch together, as src/kafka/consumer.ts does for
// the sink.
import type { Consumer, EachBatchPayload, IHeaders, Kafka, PartitionAssigner } from 'kafkajs';
import { settledWithin } from '../common/wait.js';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { partitionOffsets } from './admin.js';
import { TRANSIENT } from './client.js';
import { kafkajs } from './kafkajs.js';

export interface ReadRecord {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: IHeaders;
  /** Kafka record time, ms as text. */
  readonly timestamp: string;
}

export interface ReadBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly ReadRecord[];
  /** Offset of the last record fetched, control records included: the partition goes on at lastOffset + 1. */
  readonly lastOffset: number;
  /** The partition's end offset when the broker answered. */
  readonly highWatermark: number;
}

export interface PartitionReaderOptions {
  topics: readonly string[];
  /** A group id only this reader uses. */
  groupId: string;
  /**
   * Which partitions to read, asked at every join of every partition the topic has then (so a
   * partition added later is asked about too); absent: every partition of every topic.
   */
  holds?(topic: string, partition: number): boolean;
  /** The next offset to read, or null for a partition never read (it starts at startTime). */
  position(topic: string, partition: number): number | null;
  /** Kafka record time (ms) a never-read partition of `topic` starts at; 0 for its first record. */
  startTime(topic: string): number;
  /** Told where each partition starts after a join (null: its earliest record, offset unknown yet). */
  onSeek?(topic: string, partition: number, offset: number | null): void;
  maxWaitMs: number;
  maxBytes: number;
  maxBytesPerPartition: number;
  /** The broker gives up on a silent reader after this long (default 15 s). */
  sessionTimeoutMs?: number;
  /** Told when kafkajs's consumer crashed (it restarts itself): the reader is not following. */
  onCrash?(): void;
  /** Told after each join, the first, every one after a crash and after partitions were added: reading again. */
  onJoin?(): void;
  /**
   * Fetch the next round while the caller handles this one (at most one round ahead). Without
   * it, a partition's next fetch waits until onRound resolved, so the broker's turnaround is
   * idle time for a reader that spends its CPU handling rounds. The caller must accept records
   * again that it already handled (a re-join seeks to its position, which a round fetched ahead
   * has not moved yet): the stream processor skips offsets below its position.
   */
  prefetch?: boolean;
  log: Logger;
}

export interface PartitionReader {
  /**
   * Starts reading; onRound gets every non-empty batch of a fetch together. The next fetch of a
   * partition waits until onRound resolved.
   */
  start(onRound: (batches: readonly ReadBatch[]) => Promise<void>): Promise<void>;
  /** End offsets (the next offset to be written) of every partition of the topics, asked now. */
  endOffsets(): Promise<Map<string, Map<number, number>>>;
  /** Partitions assigned (all of each topic), once joined. */
  assigned(): ReadonlyMap<string, readonly number[]>;
  /**
   * With `holds`: each topic's partition count at the last join, from the metadata the assignment
   * was chosen from (so also counting partitions `holds` did not select). Set before onJoin is told,
   * so before any record of that join is fetched; empty without `holds`.
   */
  partitionCounts(): ReadonlyMap<string, number>;
  stop(): Promise<void>;
}

const SELECTED = 'TrackhouseSelectedPartitions';

/**
 * Gives the group's first member (the reader's group has one) the partitions `holds` selects among
 * those each topic has at this join: kafkajs's leader refreshes the metadata just before it assigns.
 * `counted` is told each topic's partition count as of that metadata.
 */
export function selectingAssigner(holds: (topic: string, partition: number) => boolean, counted?: (topic: string, partitionCount: number) => void): PartitionAssigner {
  const { AssignerProtocol } = kafkajs();
  return ({ cluster }) => ({
    name: SELECTED,
    version: 0,
    async assign({ members, topics }) {
      const assignment: Record<string, number[]> = {};
      for (const t of topics) {
        const all = cluster.findTopicPartitionMetadata(t).map((m) => m.partitionId);
        counted?.(t, all.length);
        assignment[t] = all.filter((p) => holds(t, p)).sort((a, b) => a - b);
      }
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: i === 0 ? assignment : {}, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return { name: SELECTED, metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

export function createPartitionReader(kafka: Kafka, opts: PartitionReaderOptions): PartitionReader {
  const log = opts.log;
  // Alone in its group: nothing to rebalance against. The session must outlast a long pause (a
  // large store write) yet stay short: after a crash kafkajs joins again as a new member, and the
  // join waits until the broker has dropped the old one; at 60 s that kept the view ClickHouse's
  // for a minute after each broker return.
  const sessionTimeout = opts.sessionTimeoutMs ?? 15_000;
  /** Partition counts the assigner saw at the join being made; taken at its GROUP_JOIN. */
  const counting = new Map<string, number>();
  let partitionCounts: ReadonlyMap<string, number> = new Map();
  const consumer: Consumer = kafka.consumer({
    groupId: opts.groupId,
    sessionTimeout,
    rebalanceTimeout: sessionTimeout,
    heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
    ...(opts.holds ? { partitionAssigners: [selectingAssigner(opts.holds, (t, n) => counting.set(t, n))] } : {}),
    // kafkajs restarts a crashed consumer with its backoff, up to 30 s between attempts by
    // default: after a broker outage the reader came back ~50 s after the broker did. A reader
    // holds no group state worth sparing the broker, so it retries at most 3 s apart.
    retry: { initialRetryTime: 300, maxRetryTime: 3_000, retries: 10 },
    minBytes: 1,
    maxBytes: opts.maxBytes,
    maxBytesPerPartition: opts.maxBytesPerPartition,
    maxWaitTimeInMs: opts.maxWaitMs,
    allowAutoTopicCreation: false,
  });
  const offsets = partitionOffsets(kafka);
  let assignment = new Map<string, number[]>();
  /** Start offsets by time, looked up once at start for every partition then known. */
  const byTime = new Map<string, Map<number, number>>();
  let stopping = false;

  let collecting: { batches: ReadBatch[]; done: Promise<void>; wait: Promise<void> } | null = null;
  /** The last round's handling (rounds are handled one after another, in fetch order). */
  let previous: Promise<void> = Promise.resolve();
  let onRound: (batches: readonly ReadBatch[]) => Promise<void> = async () => {};

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const before = assignment;
    assignment = new Map(Object.entries(e.payload.memberAssignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
    partitionCounts = new Map(counting);
    for (const [topic, partitions] of before.size === 0 ? [] : assignment) {
      const known = new Set(before.get(topic) ?? []);
      const added = partitions.filter((p) => !known.has(p));
      if (added.length > 0) log.info({ topic, partitions: added, groupId: opts.groupId }, 'partitions added to the topic while reading: reading them too, from their first record');
    }
    const seeks: Record<string, Record<number, number | string>> = {};
    for (const [topic, partitions] of assignment) {
      for (const p of partitions) {
        const pos = opts.position(topic, p) ?? byTime.get(topic)?.get(p) ?? null;
        // A partition that appeared after start (the topic grew) is read from its beginning.
        const offset = pos === null ? -2 : pos;
        consumer.seek({ topic, partition: p, offset: String(offset) });
        opts.onSeek?.(topic, p, offset === -2 ? null : offset);
        (seeks[topic] ??= {})[p] = offset === -2 ? 'earliest' : offset;
      }
    }
    log.info({ groupId: opts.groupId, seeks }, 'reading every partition from the stored positions');
    opts.onJoin?.();
  });
  consumer.on(consumer.events.CRASH, (e) => {
    const err = errorMessage(e.payload.error);
    // A group coordinator still loading on a broker that just started: kafkajs restarts the reader, routinely.
    const routine = e.payload.restart && TRANSIENT.test(err);
    log[routine ? 'info' : 'error']({ err, restart: e.payload.restart }, routine ? 'Kafka reader restarting: the broker is not ready for its group yet' : 'Kafka reader crashed');
    opts.onCrash?.();
  });

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    if (stopping) return;
    const { batch } = payload;
    if (collecting === null) {
      // kafkajs calls the handler of every partition of a fetch in the same tick, so one turn of
      // the event loop gathers the whole fetch into one round.
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      // prefetch: a round is handled after the one before it, even if that one failed (its
      // failure reaches kafkajs through the handlers waiting on it, and the records are read
      // again after the restart that follows). Without, the round before is already handled.
      const prev = opts.prefetch ? previous : Promise.resolve();
      const after = gate.then(() => prev.catch(() => {}));
      const round: { batches: ReadBatch[]; done: Promise<void>; wait: Promise<void> } = { batches: [], done: after.then(() => onRound(round.batches)), wait: Promise.resolve() };
      // prefetch: this fetch's handlers return once the round before it is handled (so kafkajs
      // fetches the next round while this one is handled); else once this one is.
      round.wait = opts.prefetch ? gate.then(() => prev) : round.done;
      round.done.catch(() => {}); // observed through `wait` (here or by the next round)
      previous = round.done;
      collecting = round;
      setImmediate(() => {
        collecting = null;
        release();
      });
    }
    const round = collecting;
    round.batches.push({
      topic: batch.topic,
      partition: batch.partition,
      records: batch.messages,
      lastOffset: Number(batch.lastOffset()),
      highWatermark: Number(batch.highWatermark),
    });
    await round.wait;
  }

  return {
    async start(handler) {
      onRound = handler;
      for (const topic of opts.topics) {
        // A topic created a moment ago may not be served by its leader yet.
        const known = await retried(() => offsets.atTime(topic, Math.max(0, opts.startTime(topic))));
        const ends = await retried(() => offsets.ends(topic));
        // -1: no record at or after that time; start at the end.
        for (const [p, off] of known) if (off < 0) known.set(p, ends.get(p) ?? 0);
        byTime.set(topic, known);
      }
      await consumer.connect();
      for (const topic of opts.topics) await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: true, partitionsConsumedConcurrently: 1_000, eachBatch });
    },
    async endOffsets() {
      const out = new Map<string, Map<number, number>>();
      for (const topic of opts.topics) out.set(topic, await retried(() => offsets.ends(topic)));
      return out;
    },
    assigned: () => assignment,
    partitionCounts: () => partitionCounts,
    async stop() {
      if (stopping) return;
      stopping = true;
      // Each step is bounded: after a broker restart kafkajs can retry a leave or an admin call for
      // longer than the process's whole stop bound, and a reader has nothing to flush (it never
      // commits; its owner keeps the positions), so what it leaves behind loses nothing.
      await settledWithin(consumer.disconnect(), STOP_STEP_MS);
      // Empty now and without offsets; the broker would expire it, this just tidies at once.
      await settledWithin(offsets.deleteGroup(opts.groupId), STOP_STEP_MS);
      await settledWithin(offsets.close(), STOP_STEP_MS);
    },
  };
}

const STOP_STEP_MS = 3_000;

const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER']);

/** Retries what fails because a new topic's partitions are not served yet (up to ~10 s). */
async function retried<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (err) {
      const type = (err as { type?: string }).type;
      if (i >= 20 || type === undefined || !NOT_YET.has(type)) throw err;
      await new Promise((r) => setTimeout(r, 100 + 50 * i));
    }
  }
}
