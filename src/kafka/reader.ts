// A reader of chosen partitions of a topic, starting where the caller says, that never commits
// offsets to Kafka: for processors that keep their offsets with their state (src/state/), like the
// query API's view. The same rounds as the sink's consumer (./consumer.ts: every partition of a
// fetch at once, heartbeats while a round runs).
//
// kafkajs has no manual assignment, so the reader is the one member of a consumer group of its
// own (a random group id per process start: two readers never share, and a restarted process never
// waits for its old self's session to expire). Its partition assigner gives that member exactly
// the partitions asked for, and every join seeks each of them to the offset the caller's state
// holds, so a re-join (coordinator moved, metadata changed) resumes from the state, not from
// Kafka. Nothing is committed; Kafka forgets an empty group that never committed.
import { randomBytes } from 'node:crypto';
import type { Kafka, PartitionAssigner } from 'kafkajs';
import type { Logger } from '../common/log.js';
import { createGroupConsumer, type FetchLimits, type Round } from './consumer.js';
import { kafkajs } from './kafkajs.js';

export interface PartitionReaderOptions {
  topic: string;
  /** Partitions to read. */
  partitions: readonly number[];
  /** Partitions of the topic (every batch of one fetch joins the same round). */
  partitionCount: number;
  /** Where to read each partition from, asked at every join; absent: the earliest offset kept. */
  startOffsets: () => ReadonlyMap<number, number>;
  fetch: FetchLimits;
  /** Prefix of the private group's id (shows up in the broker's group list). */
  groupPrefix: string;
  sessionTimeoutMs?: number;
  log: Logger;
}

export interface PartitionReader {
  /** Reads until stop(); onRound gets every fetch that returned records. */
  start(onRound: (round: Round) => Promise<void>): Promise<void>;
  stop(): Promise<void>;
  readonly groupId: string;
}

const NAME = 'TrackhouseFixedPartitions';

/** Gives the group's first member exactly `partitions` of `topic` (the group has one member). */
export function fixedAssigner(topic: string, partitions: readonly number[]): PartitionAssigner {
  return () => ({
    name: NAME,
    version: 0,
    async assign({ members }) {
      return members.map((m, i) => ({
        memberId: m.memberId,
        memberAssignment: kafkajs().AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: i === 0 ? { [topic]: [...partitions] } : {},
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return { name: NAME, metadata: kafkajs().AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
  });
}

export function createPartitionReader(kafka: Kafka, opts: PartitionReaderOptions): PartitionReader {
  const groupId = `${opts.groupPrefix}-${randomBytes(6).toString('hex')}`;
  // The group has one member: its session timeout only says when the broker gives up on a silent
  // reader, so it can be long enough never to cut a busy one off.
  const sessionTimeoutMs = opts.sessionTimeoutMs ?? 60_000;
  const consumer = createGroupConsumer(kafka, {
    groupId,
    topic: opts.topic,
    partitions: opts.partitionCount,
    fetch: opts.fetch,
    fromBeginning: true,
    sessionTimeoutMs,
    heartbeatIntervalMs: Math.min(3_000, Math.floor(sessionTimeoutMs / 3)),
    rebalanceTimeoutMs: sessionTimeoutMs,
    partitionAssigners: [fixedAssigner(opts.topic, opts.partitions)],
    seekOnJoin: (assigned) => {
      const wanted = opts.startOffsets();
      const seeks = new Map<number, number>();
      for (const p of assigned) {
        const at = wanted.get(p);
        if (at !== undefined) seeks.set(p, at);
      }
      return seeks;
    },
    log: opts.log,
  });
  return {
    groupId,
    start: (onRound) => consumer.start(onRound, () => {}),
    stop: () => consumer.stop(),
  };
}
