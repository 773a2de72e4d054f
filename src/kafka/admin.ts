// The reads (and the deletes of groups) of Kafka's admin API the sink, replay and the stream's
// partition reader need, so kafkajs's admin client stays inside src/kafka/: partition counts,
// watermarks, committed offsets, offsets by record time, a group's members.
import type { Kafka } from 'kafkajs';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/log.js';

type Admin = ReturnType<Kafka['admin']>;

async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

export type Watermarks = ReadonlyMap<number, { low: number; high: number }>;

export interface TopicOffsets {
  /** Per partition: earliest offset held, and the next offset to be written. */
  watermarks: Watermarks;
  /** Per partition: the group's committed offset (the next to read); absent or -1 if none. */
  committed: ReadonlyMap<number, number>;
}

const watermarksOf = (offsets: { partition: number; low: string; high: string }[]): Watermarks =>
  new Map(offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }]));

const committedOf = (groupOffsets: { partitions: { partition: number; offset: string }[] }[]): Map<number, number> =>
  new Map((groupOffsets[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));

export function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    return meta.topics[0]?.partitions.length ?? 1;
  });
}

export interface OffsetsSource {
  read(): Promise<TopicOffsets>;
  close(): Promise<void>;
}

/** Reads watermarks and the group's committed offsets through one admin client, connected on first use. */
export function brokerOffsets(kafka: Kafka, topic: string, groupId: string): OffsetsSource {
  let admin: Admin | null = null;
  let connected: Promise<void> | null = null;
  return {
    async read() {
      admin ??= kafka.admin();
      const a = admin;
      connected ??= a.connect().catch((err: unknown) => {
        connected = null;
        throw err;
      });
      await connected;
      const [topicOffsets, groupOffsets] = await Promise.all([a.fetchTopicOffsets(topic), a.fetchOffsets({ groupId, topics: [topic] })]);
      return { watermarks: watermarksOf(topicOffsets), committed: committedOf(groupOffsets) };
    },
    async close() {
      if (admin && connected) await admin.disconnect();
    },
  };
}

/** Offsets of topics' partitions through one admin client, connected on first use (the partition reader's). */
export interface PartitionOffsets {
  /** Per partition, the first offset stamped at or after `time` (ms; 0: the earliest held), -1 where there is none. */
  atTime(topic: string, time: number): Promise<Map<number, number>>;
  /** Per partition, the next offset to be written. */
  ends(topic: string): Promise<Map<number, number>>;
  /** Deletes a consumer group; a failure is ignored (an empty group expires on its own). */
  deleteGroup(groupId: string): Promise<void>;
  close(): Promise<void>;
}

export function partitionOffsets(kafka: Kafka): PartitionOffsets {
  let admin: Admin | null = null;
  let connected: Promise<void> | null = null;
  const ready = async (): Promise<Admin> => {
    admin ??= kafka.admin();
    const a = admin;
    connected ??= a.connect().catch((err: unknown) => {
      connected = null;
      throw err;
    });
    await connected;
    return a;
  };
  return {
    async atTime(topic, time) {
      const a = await ready();
      return new Map((await a.fetchTopicOffsetsByTimestamp(topic, time)).map((o) => [o.partition, Number(o.offset)]));
    },
    async ends(topic) {
      const a = await ready();
      return new Map((await a.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.high)]));
    },
    async deleteGroup(groupId) {
      const a = await ready().catch(() => null);
      await a?.deleteGroups([groupId]).catch(() => {});
    },
    async close() {
      if (admin && connected) await admin.disconnect().catch(() => {});
    },
  };
}

/** What Kafka says about a topic at one moment, for planning a replay. */
export interface TopicSnapshot {
  watermarks: Watermarks;
  /** With `atTime`: per partition, the first offset stamped at or after it (-1: none). */
  offsetsAtTime: ReadonlyMap<number, number> | null;
  /** The group has members now. */
  groupActive: boolean;
  /** The group's committed offsets, read only when it is active. */
  committed: ReadonlyMap<number, number>;
}

export function topicSnapshot(kafka: Kafka, topic: string, groupId: string, atTime: number | null): Promise<TopicSnapshot> {
  return withAdmin(kafka, async (admin) => {
    const watermarks = watermarksOf(await admin.fetchTopicOffsets(topic));
    const offsetsAtTime = atTime === null ? null : new Map((await admin.fetchTopicOffsetsByTimestamp(topic, atTime)).map((o) => [o.partition, Number(o.offset)]));
    const described = await admin.describeGroups([groupId]);
    const groupActive = (described.groups[0]?.members.length ?? 0) > 0;
    const committed = groupActive ? committedOf(await admin.fetchOffsets({ groupId, topics: [topic] })) : new Map<number, number>();
    return { watermarks, offsetsAtTime, groupActive, committed };
  });
}

/** Deletes a consumer group (a replay's throwaway one); a failure is logged, as the group expires on its own. */
export async function deleteGroup(kafka: Kafka, groupId: string, log: Logger): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch (err) {
    log.warn({ groupId, err: errorMessage(err) }, 'could not delete the consumer group; it expires on its own');
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
