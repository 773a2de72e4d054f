// The erasure list's topic: a reader that keeps an ErasureList current in memory, and the writer
// of new states. Every process that stores or accepts events starts one reader and waits until
// it has read the topic up to its end offset at start (`loaded`) before it stores anything, so no
// erased user slips through a restart.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Kafka, Producer } from 'kafkajs';
import { javaCompatiblePartitioner } from '../kafka/partitioner.js';
import { byteGroups } from '../kafka/sizes.js';
import type { Logger } from '../common/log.js';
import { createPartitionReader, type PartitionReader } from '../kafka/reader.js';
import { ErasureList, regulationRecordKey, userRecordKey, type Regulation, type UserErasure } from './list.js';

export interface ErasureReader {
  readonly list: ErasureList;
  /** Resolves once the topic has been read up to its end offset at start. */
  readonly loaded: Promise<void>;
  stop(): Promise<void>;
}

/** Reads the whole topic, then follows it. `list`: an existing list to keep current (else a new one). */
export async function startErasureReader(kafka: Kafka, topic: string, log: Logger, list: ErasureList = new ErasureList()): Promise<ErasureReader> {
  const next = new Map<number, number>();
  let reader: PartitionReader | null = null;
  let markLoaded!: () => void;
  const loaded = new Promise<void>((resolve) => (markLoaded = resolve));
  reader = createPartitionReader(kafka, {
    topics: [topic],
    groupId: `trackhouse-erasure-${os.hostname()}-${randomBytes(6).toString('hex')}`,
    position: (_, p) => next.get(p) ?? null,
    startTime: () => 0,
    maxWaitMs: 200,
    maxBytes: 4 * 1024 * 1024,
    maxBytesPerPartition: 4 * 1024 * 1024,
    log,
  });
  let ends: Map<number, number> | null = null;
  const check = () => {
    if (ends !== null && [...ends].every(([p, end]) => (next.get(p) ?? 0) >= end)) markLoaded();
  };
  await reader.start(async (batches) => {
    for (const b of batches) {
      for (const r of b.records) {
        if (r.key === null) continue;
        try {
          list.applyRecord(r.key.toString('utf8'), r.value);
        } catch (err) {
          log.error({ err, offset: r.offset }, 'an erasure list record could not be read; skipped');
        }
      }
      next.set(b.partition, b.lastOffset + 1);
    }
    check();
  });
  ends = (await reader.endOffsets()).get(topic) ?? new Map();
  check();
  void loaded.then(() => log.info({ users: list.size, regulations: list.regulations.size }, 'erasure list loaded'));
  return {
    list,
    loaded,
    stop: () => reader!.stop(),
  };
}

export interface ErasureWriter {
  /** Writes user states and regulation records (acks=all), and applies them to `list` at once. */
  write(users: readonly UserErasure[], regulations: readonly Regulation[]): Promise<void>;
  close(): Promise<void>;
}

export async function createErasureWriter(kafka: Kafka, topic: string, list: ErasureList): Promise<ErasureWriter> {
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1, createPartitioner: javaCompatiblePartitioner });
  await producer.connect();
  return {
    async write(users, regulations) {
      const messages = [
        ...users.map((u) => ({ key: userRecordKey(u.userKey), value: JSON.stringify(u) })),
        ...regulations.map((r) => ({ key: regulationRecordKey(r.id), value: JSON.stringify(r) })),
      ];
      // 5000 users of a request and its record listing them all: more than one batch may hold.
      for (const group of byteGroups(messages)) await producer.send({ topic, acks: -1, messages: group });
      // This process need not wait for its own reader to see them.
      for (const u of users) list.setUser(u.userKey, u);
      for (const r of regulations) list.regulations.set(r.id, r);
    },
    close: () => producer.disconnect(),
  };
}
